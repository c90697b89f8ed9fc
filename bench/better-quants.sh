#!/usr/bin/env bash
# `--method search` and `--method gptq` against llama-quantize, judged by llama.cpp itself:
#  1. statistics on calibration text: GPTQ's Hessians (saved once, reused for every type) and an
#     importance matrix (so llama-quantize can be given the same calibration data);
#  2. per type: llama-quantize without and with that imatrix, `quant quantize --method search`
#     and `--method gptq` (same per-tensor types, hence same size);
#  3. every file measured by llama-perplexity --kl-divergence against the F32 model on a
#     *different* text; the gptq and search files also by `quant perplexity` (same PPL expected).
#
#   LLAMA_BIN_DIR=… bench/better-quants.sh QUANT_BIN F32_MODEL.gguf [TYPE…]
#
# Environment: CALIB (models/text/eng/philosophy.txt), EVAL (models/text/eng/history.txt),
# CALIB_CHUNKS (32), EVAL_CHUNKS (16), CTX (512), THREADS (all), WORK; LLAMA_IMATRIX=0 skips the
# llama-quantize --imatrix rows, QUANT_PPL_METHODS ("search gptq") says which files `quant
# perplexity` re-measures, METHODS ("search gptq") which of ours are made (a large model on a small
# machine: fewer runs; the Hessians are only collected for gptq, the imatrix only for LLAMA_IMATRIX).
set -euo pipefail
QUANT="$1"; F32="$2"; shift 2
TYPES=("$@"); [[ ${#TYPES[@]} -gt 0 ]] || TYPES=(Q4_0 Q3_K_M Q2_K IQ4_XS Q4_K_M)
: "${LLAMA_BIN_DIR:?set LLAMA_BIN_DIR to the llama.cpp build/bin directory}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
CALIB="${CALIB:-$MODELS/text/eng/philosophy.txt}"; EVAL="${EVAL:-$MODELS/text/eng/history.txt}"
CALIB_CHUNKS="${CALIB_CHUNKS:-32}"; EVAL_CHUNKS="${EVAL_CHUNKS:-16}"; CTX="${CTX:-512}"
T=(); [[ -n "${THREADS:-}" ]] && T=(-t "$THREADS")
NAME="$(basename "$F32" .gguf)"
WORK="${WORK:-/tmp/qk-better-quants/$NAME}"; mkdir -p "$WORK"
now() { date +%s.%N; }
secs() { printf "%.1f" "$(echo "$(now) - $1" | bc)"; }

[[ -s "$WORK/imatrix.gguf" || "${LLAMA_IMATRIX:-1}" == 0 ]] || "$QUANT" imatrix -m "$F32" -f "$CALIB" -c "$CTX" --chunks "$CALIB_CHUNKS" "${T[@]}" \
    -o "$WORK/imatrix.gguf" > "$WORK/imatrix.log" 2>&1
[[ -s "$WORK/base.kld" ]] || "$LLAMA_BIN_DIR/llama-perplexity" -m "$F32" -f "$EVAL" -c "$CTX" --chunks "$EVAL_CHUNKS" \
    ${THREADS:+-t $THREADS} --kl-divergence-base "$WORK/base.kld" > "$WORK/base.log" 2>&1
[[ -s "$WORK/base.logits" ]] || "$QUANT" perplexity -m "$F32" -f "$EVAL" -c "$CTX" --chunks "$EVAL_CHUNKS" "${T[@]}" \
    --save-logits "$WORK/base.logits" > "$WORK/base-quant.log" 2>&1
if [[ ! -s "$WORK/hessians.gguf" && " ${METHODS:-search gptq} " == *" gptq "* ]]; then
    t0=$(now)
    "$QUANT" quantize --quiet --method gptq --calibration "$CALIB" --calibration-chunks "$CALIB_CHUNKS" --calibration-ctx "$CTX" \
        --save-hessians "$WORK/hessians.gguf" --dry-run "$F32" /dev/null Q8_0 "${T[@]}" > "$WORK/hessians.log" 2>&1
    echo "Hessians: $CALIB_CHUNKS chunks of $CTX tokens in $(secs "$t0") s, $(du -m "$WORK/hessians.gguf" | cut -f1) MiB"
fi

llama_kld() {  # file → "PPL | KLD | same-top"
    "$LLAMA_BIN_DIR/llama-perplexity" -m "$1" --kl-divergence-base "$WORK/base.kld" --kl-divergence -c "$CTX" \
        --chunks "$EVAL_CHUNKS" ${THREADS:+-t $THREADS} > "$1.kld" 2>&1
    awk '/^Mean PPL\(Q\)  /{p=$4} /^Mean    KLD:/{k=$3} /^Same top p:/{s=$4} END{printf "%.4f | %.5f | %.2f%%", p, k, s}' "$1.kld"
}
quant_ppl() {
    "$QUANT" perplexity -m "$1" --kl-divergence "$WORK/base.logits" --chunks "$EVAL_CHUNKS" "${T[@]}" --json 2> /dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.4f (KLD %.5f)" % (r["perplexity"], r["kl"]["meanKLD"]["value"]))' 
}
mib() { printf "%.2f" "$(echo "$(stat -c %s "$1") / 1048576" | bc -l)"; }

echo "| type | method | MiB | PPL (llama) | mean KLD (llama) | same top | KLD ratio | PPL in quant | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in "${TYPES[@]}"; do
    t0=$(now); "$LLAMA_BIN_DIR/llama-quantize" "$F32" "$WORK/llama-$t.gguf" "$t" ${THREADS:+$THREADS} > "$WORK/llama-$t.log" 2>&1; tl=$(secs "$t0")
    ref=$(llama_kld "$WORK/llama-$t.gguf"); refk=$(echo "$ref" | cut -d'|' -f2)
    echo "| $t | llama-quantize | $(mib "$WORK/llama-$t.gguf") | $ref | 1.00 | | $tl |"
    rm -f "$WORK/llama-$t.gguf"
    if [[ "${LLAMA_IMATRIX:-1}" != 0 ]]; then
    t0=$(now); "$LLAMA_BIN_DIR/llama-quantize" --imatrix "$WORK/imatrix.gguf" "$F32" "$WORK/llama-imat-$t.gguf" "$t" ${THREADS:+$THREADS} \
        > "$WORK/llama-imat-$t.log" 2>&1; tl=$(secs "$t0")
    r=$(llama_kld "$WORK/llama-imat-$t.gguf"); k=$(echo "$r" | cut -d'|' -f2)
    echo "| $t | llama-quantize --imatrix | $(mib "$WORK/llama-imat-$t.gguf") | $r | $(echo "scale=2; $k / $refk" | bc) | | $tl |"
    rm -f "$WORK/llama-imat-$t.gguf"
    fi
    for m in ${METHODS:-search gptq}; do
        extra=(); [[ $m == gptq ]] && extra=(--hessians "$WORK/hessians.gguf")
        t0=$(now); "$QUANT" quantize --quiet --method "$m" "${extra[@]}" "${T[@]}" "$F32" "$WORK/$m-$t.gguf" "$t" > "$WORK/$m-$t.log" 2>&1; tq=$(secs "$t0")
        r=$(llama_kld "$WORK/$m-$t.gguf"); k=$(echo "$r" | cut -d'|' -f2)
        qp="–"; [[ " ${QUANT_PPL_METHODS:-search gptq} " == *" $m "* ]] && qp=$(quant_ppl "$WORK/$m-$t.gguf")
        echo "| $t | $m | $(mib "$WORK/$m-$t.gguf") | $r | $(echo "scale=2; $k / $refk" | bc) | $qp | $tq |"
        rm -f "$WORK/$m-$t.gguf"
    done
done
