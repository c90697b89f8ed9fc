#!/usr/bin/env bash
# `quant bench` vs `llama-bench` on the same GGUF files, threads and machine, in one run:
# prompt processing (pp512) and generation (tg128) tokens/s, mean ± sd, and our/their ratio.
#
#   bench/engine-vs-llama-bench.sh LLAMA_BIN_DIR MODEL.gguf...
#
# Env: THREADS (default: all cores), REPS (default 3), PP (512), TG (128).
set -euo pipefail
BIN="$1"; shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
THREADS="${THREADS:-$(nproc)}"; REPS="${REPS:-3}"; PP="${PP:-512}"; TG="${TG:-128}"
swift build -c release --product quant --package-path "$ROOT" >/dev/null
QUANT="$(swift build -c release --show-bin-path --package-path "$ROOT")/quant"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
printf "| model | test | llama-bench t/s | quant t/s | ratio |\n|---|---|---:|---:|---:|\n"
for m in "$@"; do
    "$BIN/llama-bench" -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o json > "$TMP/llama.json" 2>/dev/null
    "$QUANT" bench -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" --json > "$TMP/quant.json"
    python3 - "$m" "$TMP/llama.json" "$TMP/quant.json" "$PP" "$TG" <<'PY'
import json, os, sys
name, llama, quant, pp, tg = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), int(sys.argv[4]), int(sys.argv[5])
theirs = {}
for r in llama:
    test = f"pp{r['n_prompt']}" if r["n_prompt"] > 0 else f"tg{r['n_gen']}"
    theirs[test] = (r["avg_ts"], r["stddev_ts"])
for r in quant:
    t = theirs.get(r["test"])
    if t is None: continue
    print(f"| {os.path.basename(name)} | {r['test']} | {t[0]:.2f} ± {t[1]:.2f} | {r['mean']:.2f} ± {r['standardDeviation']:.2f} | {r['mean']/t[0]:.2f} |")
PY
done
