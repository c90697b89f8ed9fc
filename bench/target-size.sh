#!/usr/bin/env bash
# Quantizing to a target size (`quant quantize --target-size`) against llama.cpp's hand-written mixes.
#
# For each model: an importance matrix made by llama-imatrix on the calibration text; reference
# logits of the F32 model on a *different* evaluation text; every llama.cpp mix below quantized by
# llama-quantize without and with that imatrix; ours at the file sizes of llama's Q2_K, Q3_K_M,
# IQ4_XS and Q4_K_M (with the same imatrix). Every file's mean KL divergence against the F32
# model is measured by llama-perplexity (so llama.cpp loads each of our files), and a table and a
# PNG plot (KLD vs file size) are made by bench/target_size_report.py.
#
#   LLAMA_BIN_DIR=…/llama.cpp/build/bin bench/target-size.sh QUANT_BIN [MODEL…]
#
# MODEL names models/derived/MODEL-F32.gguf (default: smollm2 qwen25 gemma3).
# Environment: CALIB (models/text/eng/philosophy.txt), EVAL (models/text/eng/history.txt),
# CALIB_CHUNKS (8), EVAL_CHUNKS (4: the KLD runs use every chunk of the base logits), CTX (512), THREADS (all), WORK (/tmp/qk-target-size),
# SKIP_OURS (set: only llama.cpp's files), QUANT_ARGS (extra `quant quantize` options),
# EXTRA_MIXES (more llama.cpp mixes to measure after the targets, e.g. "Q3_K_S Q3_K_L Q4_K_S Q4_0 IQ4_NL").
# Results accumulate in $WORK/results.tsv (a row already there is not measured again).
set -euo pipefail
QUANT="$(realpath "$1")"; shift
MODELS_LIST=("$@"); [[ ${#MODELS_LIST[@]} -gt 0 ]] || MODELS_LIST=(smollm2 qwen25 gemma3)
B="${LLAMA_BIN_DIR:?set LLAMA_BIN_DIR to the llama.cpp build/bin directory}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
CALIB="${CALIB:-$MODELS/text/eng/philosophy.txt}"; EVAL="${EVAL:-$MODELS/text/eng/history.txt}"
CALIB_CHUNKS="${CALIB_CHUNKS:-8}"; EVAL_CHUNKS="${EVAL_CHUNKS:-4}"; CTX="${CTX:-512}"
THREADS="${THREADS:-$(nproc)}"
WORK="${WORK:-/tmp/qk-target-size}"; mkdir -p "$WORK"
RESULTS="$WORK/results.tsv"
[[ -s "$RESULTS" ]] || printf 'model\tmaker\tname\tbytes\tkld\tppl\tseconds\n' > "$RESULTS"
TARGETS=(Q2_K Q3_K_M IQ4_XS Q4_K_M)

have() { awk -F'\t' -v m="$1" -v k="$2" -v n="$3" '$1==m && $2==k && $3==n {f=1} END {exit !f}' "$RESULTS"; }
kld() {  # model file → "kld<TAB>ppl"
    "$B/llama-perplexity" -m "$2" --kl-divergence-base "$WORK/$1/base.logits" --kl-divergence -c "$CTX" \
        -t "$THREADS" > "$2.kld.log" 2>&1
    local k p
    k=$(awk '/^Mean +KLD:/ {print $3; exit}' "$2.kld.log")
    p=$(awk '/^Mean PPL.Q. / {print $4; exit}' "$2.kld.log")
    [[ -n "$k" ]] || { echo "llama-perplexity failed on $2 - see $2.kld.log" >&2; exit 1; }
    printf '%s\t%s' "$k" "$p"
}
record() {  # model maker name file seconds
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(stat -c %s "$4")" "$(kld "$1" "$4")" "$5" >> "$RESULTS"
    tail -1 "$RESULTS"
}
now() { date +%s.%N; }

for m in "${MODELS_LIST[@]}"; do
    F32="$MODELS/derived/$m-F32.gguf"; W="$WORK/$m"; mkdir -p "$W"
    [[ -s "$W/imatrix.gguf" ]] || "$B/llama-imatrix" -m "$F32" -f "$CALIB" -c "$CTX" --chunks "$CALIB_CHUNKS" -b "$CTX" -t "$THREADS" \
        -o "$W/imatrix.gguf" > "$W/imatrix.log" 2>&1
    [[ -s "$W/base.logits" ]] || "$B/llama-perplexity" -m "$F32" -f "$EVAL" -c "$CTX" --chunks "$EVAL_CHUNKS" -t "$THREADS" \
        --kl-divergence-base "$W/base.logits" > "$W/base.log" 2>&1
    llama_mix() {  # maker mix: quantize with llama-quantize (refused mixes are skipped), measure, delete
        local maker="$1" t="$2" f="$W/$1-$2.gguf" im=()
        [[ "$maker" == llama-imatrix ]] && im=(--imatrix "$W/imatrix.gguf")
        have "$m" "$maker" "$t" && return 0
        if "$B/llama-quantize" "${im[@]}" "$F32" "$f" "$t" "$THREADS" > "$f.qlog" 2>&1; then record "$m" "$maker" "$t" "$f" 0; fi
        rm -f "$f"
    }
    for t in "${TARGETS[@]}"; do
        llama_mix llama "$t"
        llama_mix llama-imatrix "$t"
        [[ -n "${SKIP_OURS:-}" ]] && continue
        have "$m" quant "$t" && continue
        # The target: the smaller of llama's files of that mix without and with the imatrix.
        size=$(awk -F'\t' -v m="$m" -v n="$t" '$1==m && ($2=="llama" || $2=="llama-imatrix") && $3==n {print $4}' "$RESULTS" | sort -n | head -1)
        t0=$(now)
        "$QUANT" quantize --quiet --imatrix "$W/imatrix.gguf" --sensitivity-text "$CALIB" --measurements "$W/measurements.json" \
            --target-size "$size" ${QUANT_ARGS:-} \
            --plan-out "$W/quant-$t.plan" "$F32" "$W/quant-$t.gguf" > "$W/quant-$t.qlog" 2>&1
        record "$m" quant "$t" "$W/quant-$t.gguf" "$(echo "$(now) - $t0" | bc)"
        rm -f "$W/quant-$t.gguf"
    done
    # More llama.cpp mixes, for "the best llama.cpp file at or under the target size".
    for t in ${EXTRA_MIXES:-}; do llama_mix llama "$t"; llama_mix llama-imatrix "$t"; done
done
[[ -n "${SKIP_OURS:-}" ]] || python3 "$ROOT/bench/target_size_report.py" "$RESULTS" --out "$WORK"
