#!/usr/bin/env bash
# Records what llama.cpp's convert_hf_to_gguf.py writes for the test checkpoints into
# Tests/ConversionTests/Fixtures/llama-cpp-convert.json (see convert_fixture.py).
#
#   scripts/reference/make-convert-fixtures.sh LLAMA_CPP_DIR [WORK_DIR]
#
# Needs Python with gguf, numpy, torch, transformers, sentencepiece and protobuf (the
# converter's own requirements; not needed by the tests), the F32 models under models/derived
# (the conversion tests make them) and ../shared/tools/make_hf_checkpoint.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
LC=${1:?usage: make-convert-fixtures.sh LLAMA_CPP_DIR [WORK_DIR]}
WORK=${2:-$(mktemp -d)}
PY=${PYTHON:-python3}
TOOL=../shared/tools/make_hf_checkpoint.py
M=${QUANTKIT_MODELS:-models}/derived
for m in smollm2 qwen25 gemma3; do
  [ -f "$WORK/$m/config.json" ] || "$PY" "$TOOL" "$M/$m-F32.gguf" "$WORK/$m"
done
[ -f "$WORK/smollm2-bf16/config.json" ] || "$PY" "$TOOL" "$M/smollm2-F32.gguf" "$WORK/smollm2-bf16" --dtype bf16
conv() {  # NAME DIR OUTTYPE
  [ -f "$WORK/ref-$1.gguf" ] || PYTHONPATH="$LC/gguf-py" "$PY" "$LC/convert_hf_to_gguf.py" "$WORK/$2" --outtype "$3" --outfile "$WORK/ref-$1.gguf"
}
conv smollm2-f32 smollm2 f32; conv qwen25-f32 qwen25 f32; conv gemma3-f32 gemma3 f32
conv smollm2-f16 smollm2 f16; conv smollm2-bf16 smollm2 bf16; conv smollm2-q8_0 smollm2 q8_0; conv gemma3-q8_0 gemma3 q8_0
conv smollm2bf16-auto smollm2-bf16 auto; conv smollm2bf16-f32 smollm2-bf16 f32
args=()
for n in smollm2-f32 qwen25-f32 gemma3-f32 smollm2-f16 smollm2-bf16 smollm2-q8_0 gemma3-q8_0 smollm2bf16-auto smollm2bf16-f32; do
  args+=("$n=$WORK/ref-$n.gguf")
done
"$PY" scripts/reference/convert_fixture.py Tests/ConversionTests/Fixtures/llama-cpp-convert.json "${args[@]}"
echo "wrote Tests/ConversionTests/Fixtures/llama-cpp-convert.json (work files in $WORK)"
