#!/usr/bin/env bash
# `quant quantize` vs `llama-quantize` on a large model: a synthetic F16 GGUF with Llama-2-7B's
# shapes (13.5 GB, bench/make_synthetic_llama.py), same threads, one run each, in one invocation:
# wall time, peak RSS (both from /usr/bin/time) and byte identity of the outputs.
#   bench/quantize-synthetic-7b.sh LLAMA_BIN_DIR [TYPES] (default: Q4_K_M Q8_0)
# Environment: THREADS (default: all cores), WORK (default: out/synthetic; needs ~25 GB free).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?directory with llama-quantize}
TYPES=${2:-Q4_K_M Q8_0}
THREADS=${THREADS:-$(nproc)}
W=${WORK:-$PWD/out/synthetic}
mkdir -p "$W"
swift build -c release --product quant >/dev/null
Q=$(swift build -c release --show-bin-path)/quant
SRC="$W/llama-7b-f16.gguf"
[ -s "$SRC" ] || python3 bench/make_synthetic_llama.py "$SRC"
echo "input: $(du -h "$SRC" | cut -f1) F16, $THREADS threads"
measure() { /usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" > "$W/last.log" 2>&1 || { tail -5 "$W/last.log"; return 1; }; cat "$W/time.txt"; }
printf "%-8s %-9s %9s %9s %7s %10s %10s %7s\n" type identical "llama s" "ours s" ratio "llama MiB" "ours MiB" ratio
for t in $TYPES; do
  read -r lt lm < <(measure "$BIN/llama-quantize" "$SRC" "$W/ref.gguf" "$t" "$THREADS")
  read -r ot om < <(measure "$Q" quantize --quiet -t "$THREADS" "$SRC" "$W/ours.gguf" "$t")
  same=no; cmp -s "$W/ref.gguf" "$W/ours.gguf" && same=yes
  printf "%-8s %-9s %9.1f %9.1f %7.2f %10.0f %10.0f %7.2f\n" "$t" "$same" "$lt" "$ot" "$(echo "$ot/$lt" | bc -l)" \
    "$(echo "$lm/1024" | bc -l)" "$(echo "$om/1024" | bc -l)" "$(echo "$om/$lm" | bc -l)"
  rm -f "$W/ref.gguf" "$W/ours.gguf"
done
