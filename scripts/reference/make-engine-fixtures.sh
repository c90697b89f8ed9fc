#!/usr/bin/env bash
# Records llama.cpp's own numbers for the engine tests (Tests/InferenceTests/Fixtures/llama-cpp-reference.json):
# llama-perplexity's PPL and --kl-divergence statistics, and llama.cpp's greedy tokens, on the three
# real models at F32, Q8_0, Q4_0 and Q4_K_M (made with llama-quantize from the F32 dequantization).
#
#   scripts/reference/make-engine-fixtures.sh LLAMA_BIN_DIR [WORK_DIR]
#
# LLAMA_BIN_DIR holds llama-perplexity, llama-quantize and libllama.so built from the
# llama-cpp-python==0.3.36 sdist (vendor/llama.cpp, CPU). Models come from scripts/fetch-models.sh.
set -euo pipefail
BIN="$1"; WORK="${2:-/tmp/qk-engine-ref}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
TEXT="$MODELS/text/eng/history.txt"
CTX=512; CHUNKS=4
mkdir -p "$WORK"
INC="$(dirname "$BIN")/../include"
[[ -x "$WORK/llama_greedy" ]] || gcc -O2 -o "$WORK/llama_greedy" "$ROOT/scripts/reference/llama_greedy.c" \
    -I"$BIN/../../include" -I"$BIN/../../ggml/include" -L"$BIN" -lllama -Wl,-rpath,"$BIN"
declare -A SRC=([smollm2]=SmolLM2-135M-Instruct.Q4_1.gguf [gemma3]=gemma-3-270m-q4_k_m.gguf [qwen25]=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
for m in smollm2 gemma3 qwen25; do
    src="$MODELS/${SRC[$m]}"
    [[ -s "$WORK/$m-F32.gguf" ]] || "$BIN/llama-quantize" --allow-requantize "$src" "$WORK/$m-F32.gguf" F32 > "$WORK/$m-F32.qlog" 2>&1
    for t in Q8_0 Q4_0 Q4_K_M; do
        [[ -s "$WORK/$m-$t.gguf" ]] || "$BIN/llama-quantize" "$WORK/$m-F32.gguf" "$WORK/$m-$t.gguf" $t > "$WORK/$m-$t.qlog" 2>&1
    done
    [[ -s "$WORK/$m-F32.ppl" ]] || "$BIN/llama-perplexity" -m "$WORK/$m-F32.gguf" -f "$TEXT" -c $CTX --chunks $CHUNKS -b $CTX -t 2 \
        --kl-divergence-base "$WORK/$m-F32.logits" > "$WORK/$m-F32.ppl" 2>&1
    [[ -s "$WORK/$m-orig.ppl" ]] || "$BIN/llama-perplexity" -m "$src" -f "$TEXT" -c $CTX --chunks $CHUNKS -b $CTX -t 2 > "$WORK/$m-orig.ppl" 2>&1
    for t in Q8_0 Q4_0 Q4_K_M; do
        [[ -s "$WORK/$m-$t.kld" ]] || "$BIN/llama-perplexity" -m "$WORK/$m-$t.gguf" -c $CTX -b $CTX -t 2 \
            --kl-divergence-base "$WORK/$m-F32.logits" --kl-divergence > "$WORK/$m-$t.kld" 2>&1
    done
    [[ -s "$WORK/$m.greedy" ]] || for f in F32 orig; do
        model="$WORK/$m-F32.gguf"; [[ $f == orig ]] && model="$src"
        echo "== $f"
        "$WORK/llama_greedy" "$model" 32 "The capital of France is" "Once upon a time, in a small village," \
            "def fibonacci(n):" 2>/dev/null
    done > "$WORK/$m.greedy"
done
python3 "$ROOT/scripts/reference/collect_engine_fixtures.py" "$WORK" "$ROOT/Tests/InferenceTests/Fixtures/llama-cpp-reference.json" $CTX $CHUNKS
