#!/usr/bin/env bash
# Sets up (Python reference readers, real models) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi
scripts/setup.sh
swift build -c release --build-tests
# SmolLM2 dequantized to F32: several suites read it, so it is made before any of them runs
# (written under a temporary name and renamed by `quant quantize`).
M="${QUANTKIT_MODELS:-models}"
mkdir -p "$M/derived"
[ -s "$M/derived/smollm2-F32.gguf" ] || "$(swift build -c release --show-bin-path)/quant" quantize --quiet --allow-requantize \
  "$M/SmolLM2-135M-Instruct.Q4_1.gguf" "$M/derived/smollm2-F32.gguf" F32
swift test -c release --skip-build
