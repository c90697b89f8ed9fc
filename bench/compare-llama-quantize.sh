#!/usr/bin/env bash
# QuantKit's `quant quantize` against llama.cpp's `llama-quantize` on the real models, in one run:
# byte identity of the output files, wall time and peak RSS, at equal thread counts.
#   bench/compare-llama-quantize.sh LLAMA_BIN_DIR [TYPES] [MODELS]
# LLAMA_BIN_DIR holds llama-quantize and llama-imatrix (llama.cpp as vendored in the PyPI sdist
# llama-cpp-python==0.3.36). Each model is first dequantized to F32 (by llama-quantize, and
# checked identical to ours), an imatrix is computed with llama-imatrix on English text, then
# every type is quantized by both tools without and with the imatrix (IMATRIX_ONLY=1: with it only,
# for the types llama-quantize refuses to make without one, e.g. IQ2_XS, Q2_K_S).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?directory with llama-quantize and llama-imatrix}
TYPES=${2:-Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 Q3_K_M Q2_K IQ4_XS}
MODELS=${3:-SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
THREADS=${THREADS:-$(nproc)}
M=${QUANTKIT_MODELS:-$PWD/models}
W=${WORK:-$PWD/out/compare}
mkdir -p "$W"
swift build -c release --product quant >/dev/null
Q=$(swift build -c release --show-bin-path)/quant
python3 -c "import sys,glob; sys.stdout.buffer.write(b''.join(open(f,'rb').read() for f in sorted(glob.glob(sys.argv[1]+'/text/eng/*.txt')))[:300000])" "$M" > "$W/calib.txt"
measure() { /usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" > "$W/last.log" 2>&1 || { tail -5 "$W/last.log"; return 1; }; cat "$W/time.txt"; }
printf "%-28s %-8s %-4s %-9s %8s %8s %10s %10s\n" model type imat identical "llama s" "ours s" "llama MB" "ours MB"
for model in $MODELS; do
  base=${model%.gguf}
  [ -f "$W/$base-f32.gguf" ] || "$BIN/llama-quantize" --allow-requantize "$M/$model" "$W/$base-f32.gguf" F32 > /dev/null 2>&1
  "$Q" quantize --quiet --allow-requantize "$M/$model" "$W/$base-f32-ours.gguf" F32 > /dev/null
  cmp -s "$W/$base-f32.gguf" "$W/$base-f32-ours.gguf" && echo "$base F32 dequantization: identical" || echo "$base F32 dequantization: DIFFERS"
  rm -f "$W/$base-f32-ours.gguf"
  [ -f "$W/$base.imatrix.gguf" ] || "$BIN/llama-imatrix" -m "$W/$base-f32.gguf" -f "$W/calib.txt" -o "$W/$base.imatrix.gguf" -c 512 --chunks 8 -t "$THREADS" > /dev/null 2>&1
  for t in $TYPES; do
    for im in $([ -n "${IMATRIX_ONLY:-}" ] && echo yes || echo no yes); do
      extra=(); [ $im = yes ] && extra=(--imatrix "$W/$base.imatrix.gguf")
      read -r lt lm < <(measure "$BIN/llama-quantize" "${extra[@]}" "$W/$base-f32.gguf" "$W/ref.gguf" "$t" "$THREADS")
      read -r ot om < <(measure "$Q" quantize --quiet -t "$THREADS" "${extra[@]}" "$W/$base-f32.gguf" "$W/ours.gguf" "$t")
      same=no; cmp -s "$W/ref.gguf" "$W/ours.gguf" && same=yes
      printf "%-28s %-8s %-4s %-9s %8.2f %8.2f %10.1f %10.1f\n" "$base" "$t" "$im" "$same" "$lt" "$ot" "$(echo "$lm/1024" | bc -l)" "$(echo "$om/1024" | bc -l)"
    done
  done
done
