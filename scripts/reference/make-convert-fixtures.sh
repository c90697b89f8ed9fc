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
# Qwen3: SmolLM2's checkpoint presented as a Qwen3 model (head_dim 64, per-head q/k norms added
# in a second shard); Tests/ConversionTests builds the same directory.
if [ ! -f "$WORK/qwen3/config.json" ]; then
  mkdir -p "$WORK/qwen3"
  for f in tokenizer.json tokenizer_config.json generation_config.json; do ln -sf "$WORK/smollm2/$f" "$WORK/qwen3/$f"; done
  ln -sf "$WORK/smollm2/model.safetensors" "$WORK/qwen3/model-00001-of-00002.safetensors"
  "$PY" - "$WORK" <<'PY'
import json, struct, sys
import numpy as np
w = sys.argv[1]
cfg = json.load(open(f"{w}/smollm2/config.json"))
cfg.update(architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=64)
for k in ("pretraining_tp", "mlp_bias", "attention_bias"):
    cfg.pop(k, None)
json.dump(cfg, open(f"{w}/qwen3/config.json", "w"), indent=2)
names = [f"model.layers.{b}.self_attn.{q}_norm.weight" for b in range(cfg["num_hidden_layers"]) for q in "qk"]
header, blobs, off = {}, [], 0
for i, n in enumerate(sorted(names)):
    raw = (np.arange(64, dtype=np.float32) % 7 * np.float32(0.125) + np.float32(0.5 + i % 3)).astype(np.float32).tobytes()
    header[n] = {"dtype": "F32", "shape": [64], "data_offsets": [off, off + len(raw)]}
    blobs.append(raw); off += len(raw)
hdr = json.dumps(header, separators=(",", ":")).encode(); hdr += b" " * (-len(hdr) % 8)
open(f"{w}/qwen3/model-00002-of-00002.safetensors", "wb").write(struct.pack("<Q", len(hdr)) + hdr + b"".join(blobs))
first = json.loads(open(f"{w}/smollm2/model.safetensors", "rb").read(8 + struct.unpack("<Q", open(f"{w}/smollm2/model.safetensors", "rb").read(8))[0])[8:])
wm = {n: "model-00001-of-00002.safetensors" for n in first if n != "__metadata__"}
wm.update({n: "model-00002-of-00002.safetensors" for n in names})
json.dump({"metadata": {}, "weight_map": wm}, open(f"{w}/qwen3/model.safetensors.index.json", "w"))
PY
fi
# Llama 3.1-style rope scaling on SmolLM2 (the converter computes a rope_freqs tensor).
if [ ! -f "$WORK/smollm2-rope/config.json" ]; then
  mkdir -p "$WORK/smollm2-rope"
  for f in tokenizer.json tokenizer_config.json generation_config.json model.safetensors; do ln -sf "$WORK/smollm2/$f" "$WORK/smollm2-rope/$f"; done
  "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); c["rope_scaling"]={"rope_type":"llama3","factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":2048}; json.dump(c,open(sys.argv[2],"w"),indent=2)' "$WORK/smollm2/config.json" "$WORK/smollm2-rope/config.json"
fi
conv() {  # NAME DIR OUTTYPE
  [ -f "$WORK/ref-$1.gguf" ] || PYTHONPATH="$LC/gguf-py" "$PY" "$LC/convert_hf_to_gguf.py" "$WORK/$2" --outtype "$3" --outfile "$WORK/ref-$1.gguf"
}
conv smollm2-f32 smollm2 f32; conv qwen25-f32 qwen25 f32; conv gemma3-f32 gemma3 f32
conv smollm2-f16 smollm2 f16; conv smollm2-bf16 smollm2 bf16; conv smollm2-q8_0 smollm2 q8_0; conv gemma3-q8_0 gemma3 q8_0
conv smollm2bf16-auto smollm2-bf16 auto; conv smollm2bf16-f32 smollm2-bf16 f32; conv qwen3-f32 qwen3 f32; conv smollm2rope-f32 smollm2-rope f32
args=()
for n in smollm2-f32 qwen25-f32 gemma3-f32 smollm2-f16 smollm2-bf16 smollm2-q8_0 gemma3-q8_0 smollm2bf16-auto smollm2bf16-f32 qwen3-f32 smollm2rope-f32; do
  args+=("$n=$WORK/ref-$n.gguf")
done
"$PY" scripts/reference/convert_fixture.py Tests/ConversionTests/Fixtures/llama-cpp-convert.json "${args[@]}"
echo "wrote Tests/ConversionTests/Fixtures/llama-cpp-convert.json (work files in $WORK)"
