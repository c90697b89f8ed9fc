#!/usr/bin/env bash
# The main job end to end on a real small model: fetch SmolLM2-135M, build quant, inspect the
# model, dequantize it to F32, quantize it to several types (the i-quants with an importance
# matrix collected from calibration text), measure each against F32, chat, benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi
MODELS=${QUANTKIT_MODELS:-$PWD/models}
scripts/setup.sh --only smollm2 --only text
swift build -c release --product quant
QUANT=$(swift build -c release --show-bin-path)/quant
SRC=$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
"$QUANT" inspect "$SRC"
echo
"$QUANT" quantize --allow-requantize --pure "$SRC" "$OUT/smollm2-f32.gguf" F32
for t in Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 IQ4_XS Q3_K_M Q2_K; do
  "$QUANT" quantize "$OUT/smollm2-f32.gguf" "$OUT/smollm2-$t.gguf" "$t"
done
# An importance matrix from calibration text (not the evaluation text below), then the
# i-quants and Q2_K_S that need one, and IQ4_XS again with it.
"$QUANT" imatrix -m "$OUT/smollm2-f32.gguf" -f "$MODELS/text/eng/philosophy.txt" --chunks 8 -o "$OUT/smollm2.imatrix.gguf"
"$QUANT" imatrix --in-file "$OUT/smollm2.imatrix.gguf" --show-statistics | tail -n 8
for t in IQ4_XS IQ3_XXS IQ2_M Q2_K_S; do
  "$QUANT" quantize --imatrix "$OUT/smollm2.imatrix.gguf" "$OUT/smollm2-f32.gguf" "$OUT/smollm2-$t-imat.gguf" "$t"
done
ls -la "$OUT"

# What quantization did: perplexity and KL divergence of each quant against the F32 model on
# English prose (4 chunks of 512 tokens), as llama-perplexity measures them.
TEXT=$MODELS/text/eng/history.txt
"$QUANT" perplexity -m "$OUT/smollm2-f32.gguf" -f "$TEXT" --chunks 4 --save-logits "$OUT/smollm2-f32.logits"
printf "\n| type | size | PPL | mean KLD | same top |\n|---|---:|---:|---:|---:|\n"
for t in Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 IQ4_XS Q3_K_M Q2_K IQ4_XS-imat IQ3_XXS-imat IQ2_M-imat Q2_K_S-imat; do
  "$QUANT" perplexity -m "$OUT/smollm2-$t.gguf" --kl-divergence "$OUT/smollm2-f32.logits" --json 2>/dev/null \
    | python3 -c "import json,os,sys; r=json.load(sys.stdin); k=r['kl']; print(f\"| $t | {os.path.getsize('$OUT/smollm2-$t.gguf')/2**20:.1f} MiB | {r['perplexity']:.3f} | {k['meanKLD']['value']:.5f} | {100*k['sameTop']['value']:.1f}% |\")"
done
echo
"$QUANT" generate -m "$OUT/smollm2-Q4_K_M.gguf" --chat -p "Name three uses of copper." -n 64 --temp 0
echo
"$QUANT" bench -m "$OUT/smollm2-Q4_K_M.gguf" -r 3
