#!/usr/bin/env bash
# Records llama.cpp's importance-matrix outputs for Tests/CalibrationTests/Fixtures:
#  - llama-imatrix's matrices for SmolLM2-135M and Qwen2.5-0.5B at F32 and Q8_0 (4 chunks of 512
#    tokens of history.txt) and its --show-statistics output for one of them;
#  - llama-imatrix's legacy conversion and merges of those files (sha256);
#  - llama-quantize's IQ4_XS, IQ3_XXS, IQ2_XS and Q2_K_S files with the F32 matrix (sha256 of the
#    tensor data, imatrix metadata), for SmolLM2 (tested) and Qwen2.5 (recorded).
#
#   scripts/reference/make-imatrix-fixtures.sh LLAMA_BIN_DIR [WORK_DIR]
#
# LLAMA_BIN_DIR holds llama-imatrix and llama-quantize built from the llama-cpp-python==0.3.36
# sdist (vendor/llama.cpp, CPU). Models come from scripts/fetch-models.sh.
set -euo pipefail
BIN="$1"; WORK="${2:-/tmp/qk-imatrix-ref}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
TEXT="$MODELS/text/eng/history.txt"
FIX="$ROOT/Tests/CalibrationTests/Fixtures"
mkdir -p "$WORK" "$FIX"
declare -A SRC=([smollm2]=SmolLM2-135M-Instruct.Q4_1.gguf [qwen25]=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
for m in smollm2 qwen25; do
    [[ -s "$WORK/$m-F32.gguf" ]] || "$BIN/llama-quantize" --allow-requantize "$MODELS/${SRC[$m]}" "$WORK/$m-F32.gguf" F32 > "$WORK/$m-F32.qlog" 2>&1
    [[ -s "$WORK/$m-Q8_0.gguf" ]] || "$BIN/llama-quantize" "$WORK/$m-F32.gguf" "$WORK/$m-Q8_0.gguf" Q8_0 > "$WORK/$m-Q8_0.qlog" 2>&1
    for t in F32 Q8_0; do
        [[ -s "$FIX/llama-$m-$t.imatrix.gguf" ]] || "$BIN/llama-imatrix" -m "$WORK/$m-$t.gguf" -f "$TEXT" -c 512 --chunks 4 -b 512 -t 2 \
            -o "$FIX/llama-$m-$t.imatrix.gguf" > "$WORK/$m-$t.imatrix.log" 2>&1
    done
    for t in IQ4_XS IQ3_XXS IQ2_XS Q2_K_S; do
        [[ -s "$WORK/$m-$t.gguf" ]] || "$BIN/llama-quantize" --imatrix "$FIX/llama-$m-F32.imatrix.gguf" "$WORK/$m-F32.gguf" \
            "$WORK/$m-$t.gguf" $t > "$WORK/$m-$t.qlog" 2>&1
    done
done
# Conversions and merges (llama-imatrix wants -m even when it only merges).
IM="$BIN/llama-imatrix -m $WORK/smollm2-F32.gguf"
A="$FIX/llama-smollm2-F32.imatrix.gguf"; B="$FIX/llama-smollm2-Q8_0.imatrix.gguf"
$IM --in-file "$A" --output-format dat -o "$WORK/conv.dat" > /dev/null 2>&1
$IM --in-file "$A" --in-file "$B" -o "$WORK/conv-merge.gguf" > /dev/null 2>&1
$IM --in-file "$A" --in-file "$B" --output-format dat -o "$WORK/conv-merge.dat" > /dev/null 2>&1
$IM --in-file "$WORK/conv.dat" --in-file "$B" -o "$WORK/conv-merge-dat.gguf" > /dev/null 2>&1
# --show-statistics logs through a thread that may lose lines at exit: retry until complete.
for i in $(seq 1 40); do
    $IM --in-file "$A" --show-statistics 2>&1 | sed -E 's/^[0-9.]+ I //' | grep -v '^\s*$' > "$WORK/stats.txt" || true
    [[ $(grep -c . "$WORK/stats.txt") -ge 245 ]] && break
done
cp "$WORK/stats.txt" "$FIX/llama-smollm2-F32.statistics.txt"
python3 "$ROOT/scripts/reference/collect_imatrix_fixtures.py" "$WORK" "$FIX/llama-cpp-imatrix.json"
