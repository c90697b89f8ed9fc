#!/usr/bin/env bash
# Records llama.cpp's outputs on the tiny mixture-of-experts model (scripts/make_tiny_moe.py) for
# Tests/CalibrationTests/Fixtures: llama-imatrix's matrix (per-expert sums and counts; 4 chunks of
# 256 tokens of history.txt), the perplexity llama-perplexity reports on 8 such chunks, and the
# tensor-data sha256 of llama-quantize's IQ2_XS, IQ3_XXS, IQ4_XS and Q2_K_S files made with that
# matrix.
#   scripts/reference/make-moe-fixtures.sh LLAMA_BIN_DIR [WORK_DIR]
set -euo pipefail
BIN="$1"; WORK="${2:-/tmp/qk-moe-ref}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
TEXT="$MODELS/text/eng/history.txt"
FIX="$ROOT/Tests/CalibrationTests/Fixtures"
mkdir -p "$WORK"
M="$WORK/tiny-moe.gguf"
python3 "$ROOT/scripts/make_tiny_moe.py" "$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf" "$M"
"$BIN/llama-imatrix" -m "$M" -f "$TEXT" -c 256 --chunks 4 -b 256 -t 2 -o "$FIX/llama-tinymoe-F32.imatrix.gguf" > "$WORK/imatrix.log" 2>&1
"$BIN/llama-perplexity" -m "$M" -f "$TEXT" -c 256 --chunks 8 -t 2 > "$WORK/ppl.log" 2>&1
for t in IQ2_XS IQ3_XXS IQ4_XS Q2_K_S; do
    "$BIN/llama-quantize" --imatrix "$FIX/llama-tinymoe-F32.imatrix.gguf" "$M" "$WORK/tiny-moe-$t.gguf" $t > "$WORK/$t.log" 2>&1
done
python3 - "$WORK" "$FIX/llama-cpp-tinymoe.json" <<'PY'
import hashlib, json, re, sys
import gguf
work, out = sys.argv[1:]
def data_sha(p):
    off = gguf.GGUFReader(p).data_offset
    with open(p, "rb") as f:
        f.seek(off)
        return hashlib.sha256(f.read()).hexdigest()
ppl = lambda log: float(re.findall(r"Final estimate: PPL = ([0-9.]+)", open(log).read())[-1])
rec = {
    "model_sha256": hashlib.sha256(open(f"{work}/tiny-moe.gguf", "rb").read()).hexdigest(),
    "imatrix_perplexity": ppl(f"{work}/imatrix.log"),
    "perplexity_8x256": ppl(f"{work}/ppl.log"),
    "quantize": {t: data_sha(f"{work}/tiny-moe-{t}.gguf") for t in ["IQ2_XS", "IQ3_XXS", "IQ4_XS", "Q2_K_S"]},
}
json.dump(rec, open(out, "w"), indent=1)
print(json.dumps(rec, indent=1))
PY
