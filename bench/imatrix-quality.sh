#!/usr/bin/env bash
# Importance matrices end to end, and against llama-imatrix:
#  1. `quant imatrix` on calibration text (and, with LLAMA_BIN_DIR, llama-imatrix on the same
#     model, text and chunks: wall time of both, the ratio, and how far the values differ);
#  2. each file type quantized from the F32 model with and without that matrix (types that need
#     one are refused without it, as llama-quantize refuses them);
#  3. perplexity and KL divergence against the F32 model on a *different* text.
#
#   bench/imatrix-quality.sh QUANT_BIN F32_MODEL.gguf [TYPE…]
#
# Environment: CALIB (default models/text/eng/philosophy.txt), EVAL (models/text/eng/history.txt),
# CALIB_CHUNKS (32), EVAL_CHUNKS (16), CTX (512), THREADS (all), LLAMA_BIN_DIR (optional), WORK.
set -euo pipefail
QUANT="$1"; F32="$2"; shift 2
TYPES=("$@"); [[ ${#TYPES[@]} -gt 0 ]] || TYPES=(IQ4_XS Q4_K_M Q3_K_M Q2_K Q2_K_S IQ3_XXS IQ3_XS IQ2_M IQ2_XS IQ2_XXS IQ1_M IQ1_S)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
CALIB="${CALIB:-$MODELS/text/eng/philosophy.txt}"; EVAL="${EVAL:-$MODELS/text/eng/history.txt}"
CALIB_CHUNKS="${CALIB_CHUNKS:-32}"; EVAL_CHUNKS="${EVAL_CHUNKS:-16}"; CTX="${CTX:-512}"
T=(); [[ -n "${THREADS:-}" ]] && T=(-t "$THREADS")
NAME="$(basename "$F32" .gguf)"
WORK="${WORK:-/tmp/qk-imatrix-quality/$NAME}"; mkdir -p "$WORK"
now() { date +%s.%N; }

if [[ -s "$WORK/quant.imatrix.gguf" ]]; then
    echo "quant imatrix: reusing $WORK/quant.imatrix.gguf"
else
    t0=$(now)
    "$QUANT" imatrix -m "$F32" -f "$CALIB" -c "$CTX" --chunks "$CALIB_CHUNKS" "${T[@]}" -o "$WORK/quant.imatrix.gguf" > "$WORK/imatrix.log" 2>&1
    t_ours=$(echo "$(now) - $t0" | bc)
    echo "quant imatrix: $CALIB_CHUNKS chunks of $CTX in ${t_ours} s ($(grep -o 'PPL = [0-9.]*' "$WORK/imatrix.log"))"
fi
if [[ -n "${LLAMA_BIN_DIR:-}" && ! -s "$WORK/llama.imatrix.gguf" && -n "${t_ours:-}" ]]; then
    t0=$(now)
    "$LLAMA_BIN_DIR/llama-imatrix" -m "$F32" -f "$CALIB" -c "$CTX" --chunks "$CALIB_CHUNKS" -b "$CTX" ${THREADS:+-t $THREADS} \
        -o "$WORK/llama.imatrix.gguf" > "$WORK/llama-imatrix.log" 2>&1
    t_llama=$(echo "$(now) - $t0" | bc)
    echo "llama-imatrix: ${t_llama} s ($(grep -o 'PPL = [0-9.]*' "$WORK/llama-imatrix.log")); time ratio llama/quant = $(echo "scale=2; $t_llama / $t_ours" | bc)"
    python3 - "$WORK/quant.imatrix.gguf" "$WORK/llama.imatrix.gguf" <<'PY'
import sys, numpy as np
from gguf import GGUFReader
a, b = ({t.name: np.asarray(t.data, dtype=np.float64).ravel() for t in GGUFReader(p).tensors} for p in sys.argv[1:3])
rel = np.concatenate([np.abs(a[k] - b[k]) / np.maximum(np.abs(b[k]), 1e-30) for k in b if k.endswith('.in_sum2')])
print(f"values: same tensors {set(a) == set(b)}, counts equal {all(np.array_equal(a[k], b[k]) for k in b if k.endswith('.counts'))}, "
      f"relative difference median {np.median(rel):.2e}, 99.9% {np.percentile(rel, 99.9):.2e}, max {rel.max():.2e}")
PY
fi

[[ -s "$WORK/base.logits" ]] || "$QUANT" perplexity -m "$F32" -f "$EVAL" -c "$CTX" --chunks "$EVAL_CHUNKS" "${T[@]}" --save-logits "$WORK/base.logits" > "$WORK/base.log" 2>&1
echo "F32: $(grep -o 'PPL = [0-9.]* +/- [0-9.]*' "$WORK/base.log")"
echo
echo "| type | MiB (no imatrix) | PPL | mean KLD | same top | MiB (imatrix) | PPL | mean KLD | same top |"
echo "|---|---|---|---|---|---|---|---|---|"
measure() {  # file → "MiB | PPL | KLD | top"
    local f="$1"
    "$QUANT" perplexity -m "$f" --kl-divergence "$WORK/base.logits" --chunks "$EVAL_CHUNKS" "${T[@]}" --json > "$f.kld.json" 2> /dev/null
    python3 - "$f" "$f.kld.json" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[2])); k = r["kl"]
print(f"{os.path.getsize(sys.argv[1]) / 2**20:.1f} | {r['perplexity']:.4f} | {k['meanKLD']['value']:.5f} | {100 * k['sameTop']['value']:.2f}%")
PY
}
for t in "${TYPES[@]}"; do
    plain="—|—|—|—"; imat="—|—|—|—"
    if "$QUANT" quantize --quiet "$F32" "$WORK/$t.gguf" "$t" > "$WORK/$t.qlog" 2>&1; then plain="$(measure "$WORK/$t.gguf")"; fi
    if "$QUANT" quantize --quiet --imatrix "$WORK/quant.imatrix.gguf" "$F32" "$WORK/$t-imat.gguf" "$t" > "$WORK/$t-imat.qlog" 2>&1; then
        imat="$(measure "$WORK/$t-imat.gguf")"
    fi
    echo "| $t | $plain | $imat |"
    rm -f "$WORK/$t.gguf" "$WORK/$t-imat.gguf"
done
