#!/usr/bin/env bash
# `quant convert` against llama.cpp's convert_hf_to_gguf.py on the same Hugging Face checkpoint:
# wall time, peak RSS, and whether the tensors and metadata (outside general.*) are identical.
#   bench/convert-vs-llama.sh LLAMA_CPP_DIR [MODEL] [OUTTYPE]
# MODEL is smollm2, qwen25 (default) or gemma3: its F32 derivation (models/derived/MODEL-F32.gguf,
# made by the conversion tests) is rebuilt into a checkpoint by ../shared/tools/make_hf_checkpoint.py.
# PYTHON must have llama.cpp's converter requirements (torch, transformers, sentencepiece,
# protobuf, numpy); LLAMA_CPP_DIR is llama.cpp as vendored in the PyPI sdist llama-cpp-python==0.3.36.
set -euo pipefail
cd "$(dirname "$0")/.."
LC=${1:?directory of llama.cpp (with convert_hf_to_gguf.py and gguf-py)}
MODEL=${2:-qwen25}
OUTTYPE=${3:-f16}
PY=${PYTHON:-python3}
M=${QUANTKIT_MODELS:-$PWD/models}
W=${WORK:-$PWD/out/convert}
mkdir -p "$W"
swift build -c release --product quant >/dev/null
Q=$(swift build -c release --show-bin-path)/quant
CK="$W/hf-$MODEL"
[ -f "$CK/config.json" ] || python3 ../shared/tools/make_hf_checkpoint.py "$M/derived/$MODEL-F32.gguf" "$CK" >/dev/null
# Warm the page cache so both read the checkpoint from memory.
cat "$CK"/*.safetensors > /dev/null
measure() {  # LABEL CMD... → "seconds peak_kB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" > "$W/$label.log" 2>&1 || { tail -5 "$W/$label.log"; return 1; }
  cat "$W/time.txt"
}
read -r ls lk < <(measure llama env PYTHONPATH="$LC/gguf-py" "$PY" "$LC/convert_hf_to_gguf.py" "$CK" --outtype "$OUTTYPE" --outfile "$W/llama.gguf")
read -r qs qk < <(measure ours "$Q" convert "$CK" -o "$W/ours.gguf" --outtype "$OUTTYPE" --quiet)
same=$(python3 - "$W/ours.gguf" "$W/llama.gguf" <<'PY'
import sys
from gguf import GGUFReader
a, b = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2])
kv = lambda r: [(k, [t.name for t in f.types], f.contents()) for k, f in r.fields.items() if not k.startswith(("GGUF.", "general."))]
ts = lambda r: [(t.name, t.tensor_type, t.data.tobytes()) for t in r.tensors]
print("identical" if kv(a) == kv(b) and ts(a) == ts(b) else "DIFFERENT")
PY
)
printf "%-8s %-6s %10s %10s %12s %12s %8s %8s  %s\n" model type "llama s" "ours s" "llama MB" "ours MB" "time x" "RSS x" "output"
awk -v m="$MODEL" -v t="$OUTTYPE" -v ls="$ls" -v qs="$qs" -v lk="$lk" -v qk="$qk" -v s="$same" 'BEGIN {
  printf "%-8s %-6s %10.2f %10.2f %12.0f %12.0f %8.2f %8.2f  %s\n", m, t, ls, qs, lk/1024, qk/1024, qs/ls, qk/lk, s }'
