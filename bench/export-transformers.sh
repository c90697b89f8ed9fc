#!/usr/bin/env bash
# quant export checked in transformers (CPU): SmolLM2-135M exported as compressed-tensors
# (symmetric, group 64, 4-bit) with RTN, AWQ and GPTQ (calibrated on philosophy.txt), loaded
# with transformers + compressed-tensors and evaluated on history.txt. Needs torch, so it makes
# its own virtual environment (several GB; EXPORT_VENV to reuse one) and is not part of CI.
#
#   bench/export-transformers.sh [CHUNKS]      (default 16 chunks of 512 tokens)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODELS=${QUANTKIT_MODELS:-$ROOT/models}
WORK=${EXPORT_WORK:-${TMPDIR:-/tmp}/quantkit-export-bench}
VENV=${EXPORT_VENV:-$WORK/venv}
CHUNKS=${1:-16}
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, transformers, compressed_tensors" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check torch transformers compressed-tensors accelerate numpy
fi
source bench/export-common.sh
for m in rtn awq gptq; do
  extra=()
  [ "$m" = rtn ] || extra=(--calibration "$CAL")
  /usr/bin/time -v "$QUANT" export "$SRC" -o "$WORK/smollm2-ct-$m" --format compressed-tensors --bits 4 --group-size 64 --sym \
    --method "$m" "${extra[@]}" --quiet --json > "$WORK/export-$m.json" 2> "$WORK/export-$m.time"
  echo "$m: $(grep -o '"seconds" : [0-9.]*' "$WORK/export-$m.json"), peak RSS $(grep 'Maximum resident' "$WORK/export-$m.time" | awk '{print $NF}') KB"
done
"$VENV/bin/python" bench/export_transformers.py --source "$SRC" --rtn "$WORK/smollm2-ct-rtn" --awq "$WORK/smollm2-ct-awq" \
  --gptq "$WORK/smollm2-ct-gptq" --text "$MODELS/text/eng/history.txt" --chunks "$CHUNKS"
