#!/usr/bin/env bash
# The main job end to end on a real small model: fetch SmolLM2-135M, build quant, inspect the
# model, dequantize it to F32, and quantize it to each supported type.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi
MODELS=${QUANTKIT_MODELS:-$PWD/models}
scripts/setup.sh --only smollm2
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
ls -la "$OUT"
