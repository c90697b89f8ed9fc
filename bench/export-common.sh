# Sourced by the export benches (export-transformers.sh, export-gptqmodel.sh): builds quant and
# makes SmolLM2-135M's HF checkpoint from the derived F32 GGUF. Needs ROOT, MODELS and WORK;
# sets QUANT, SRC (the checkpoint) and CAL (calibration text).
TOOL=$ROOT/../shared/tools/make_hf_checkpoint.py
[ -f "$TOOL" ] || TOOL=/work/shared/tools/make_hf_checkpoint.py
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --product quant >/dev/null
QUANT=$ROOT/.build/release/quant
SRC=$WORK/smollm2-hf
[ -f "$SRC/model.safetensors" ] || python3 "$TOOL" "$MODELS/derived/smollm2-F32.gguf" "$SRC"
CAL=$MODELS/text/eng/philosophy.txt
