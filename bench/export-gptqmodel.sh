#!/usr/bin/env bash
# quant export's GPTQ and AWQ layouts loaded by a real client: transformers + gptqmodel on CPU
# (the loader transformers uses for both). SmolLM2-135M (HF fixture) exported as GPTQ (symmetric)
# and AWQ (asymmetric), group 64, 4-bit, RTN and calibrated; each loaded and run on 64 tokens,
# logits compared with the numpy decoder's weights (bench/gptqmodel_load.py). Needs torch, so it
# makes its own virtual environment (GPTQMODEL_VENV to reuse one) and is not part of CI.
#
#   bench/export-gptqmodel.sh
#
# gptqmodel 7.7.0 is an sdist that pins a newer torch than the CPU wheel pip finds here; it is
# pure Python (kernels are built or picked at run time), so it is installed without that pin.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODELS=${QUANTKIT_MODELS:-$ROOT/models}
WORK=${EXPORT_WORK:-${TMPDIR:-/tmp}/quantkit-gptqmodel}
VENV=${GPTQMODEL_VENV:-$WORK/venv}
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, transformers, optimum, gptqmodel" 2>/dev/null; then
  python3 -m venv "$VENV"
  PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
  "${PIP[@]}" torch transformers accelerate numpy safetensors optimum
  "$VENV/bin/pip" download --quiet --no-deps --no-binary :all: gptqmodel==7.7.0 -d "$WORK/sdist"
  tar -xzf "$WORK/sdist/gptqmodel-7.7.0.tar.gz" -C "$WORK/sdist"
  grep -v '^torch\b' "$WORK/sdist/gptqmodel-7.7.0/requirements.txt" > "$WORK/requirements-no-torch.txt"
  "${PIP[@]}" -r "$WORK/requirements-no-torch.txt"
  "${PIP[@]}" --no-deps "$WORK/sdist/gptqmodel-7.7.0.tar.gz"
fi
source bench/export-common.sh
"$QUANT" export "$SRC" -o "$WORK/gptq-rtn" --format gptq --bits 4 --group-size 64 --sym --method rtn --quiet
"$QUANT" export "$SRC" -o "$WORK/gptq-gptq" --format gptq --bits 4 --group-size 64 --sym --method gptq --calibration "$CAL" --quiet
"$QUANT" export "$SRC" -o "$WORK/awq-rtn" --format awq --bits 4 --group-size 64 --asym --method rtn --quiet
"$QUANT" export "$SRC" -o "$WORK/awq-awq" --format awq --bits 4 --group-size 64 --asym --method awq --calibration "$CAL" --quiet
"$VENV/bin/python" bench/gptqmodel_load.py --source "$SRC" --text "$MODELS/text/eng/history.txt" \
  "$WORK/gptq-rtn" "$WORK/gptq-gptq" "$WORK/awq-rtn" "$WORK/awq-awq"
