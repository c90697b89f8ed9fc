#!/usr/bin/env bash
# Quantization throughput, QuantKit vs ggml's own ggml_quantize_chunk, on the same rows, in one run.
#   bench/quantize-throughput.sh LIBGGML_BASE_SO [TYPES] [THREADS]
# LIBGGML_BASE_SO: libggml-base.so from a llama.cpp build (e.g. the one vendored in the
# llama-cpp-python==0.3.36 sdist: cmake -B build -DBUILD_SHARED_LIBS=ON && cmake --build build).
# Input: ROWS (default 256) × 4096 Gaussian and Laplace weights (4 MiB of F32), plus an imatrix.
set -euo pipefail
cd "$(dirname "$0")/.."
LIB=${1:?path to libggml-base.so}
TYPES=${2:-Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ4_NL,IQ4_XS,IQ3_XXS,IQ3_S,IQ2_XXS,IQ2_XS,IQ2_S,IQ1_S,IQ1_M,TQ1_0,TQ2_0,MXFP4,F16,BF16}
THREADS=${3:-1,$(nproc)}
SECONDS_PER=${SECONDS_PER:-1}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK" "${ROWS:-256}" <<'PY'
import sys, numpy as np, gguf
d = sys.argv[1]
rng = np.random.default_rng(0)
rows, n = int(sys.argv[2]), 4096
x = np.concatenate([rng.standard_normal((rows // 2, n)), rng.laplace(size=(rows // 2, n))]).astype(np.float32) * 0.02
w = gguf.GGUFWriter(f"{d}/input.gguf", "bench"); w.add_tensor("bench.weight", x)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
w = gguf.GGUFWriter(f"{d}/imatrix.gguf", "imatrix")
w.add_string("general.type", "imatrix"); w.add_array("imatrix.datasets", ["random"])
w.add_uint32("imatrix.chunk_count", 1); w.add_uint32("imatrix.chunk_size", 512)
w.add_tensor("bench.weight.in_sum2", (rng.random((1, n)) ** 2 * 10).astype(np.float32))
w.add_tensor("bench.weight.counts", np.ones((1, 1), np.float32))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
PY
swift build -c release --product quant >/dev/null
QUANT=$(swift build -c release --show-bin-path)/quant
for mode in plain imatrix; do
  extra=(); [ $mode = imatrix ] && extra=(--imatrix "$WORK/imatrix.gguf")
  "$QUANT" bench-formats --input "$WORK/input.gguf" "${extra[@]}" --types "$TYPES" --threads "$THREADS" --seconds "$SECONDS_PER" --json > "$WORK/ours-$mode.json"
  python3 bench/ggml_quantize_bench.py --lib "$LIB" --input "$WORK/input.gguf" "${extra[@]}" --types "$TYPES" --threads "$THREADS" --seconds "$SECONDS_PER" > "$WORK/ggml-$mode.json"
done
python3 - "$WORK" "${ROWS:-256}" <<'PY'
import json, sys
d = sys.argv[1]
print(f"{'type':8} {'mode':8} {'thr':>3} {'QuantKit MB/s':>14} {'ggml MB/s':>10} {'ratio':>6}")
for mode in ("plain", "imatrix"):
    ours = {(r["type"], r["threads"]): r["mb_per_s"] for r in json.load(open(f"{d}/ours-{mode}.json"))}
    ref = {(r["type"], r["threads"]): r["mb_per_s"] for r in json.load(open(f"{d}/ggml-{mode}.json"))}
    for k in ours:
        if k in ref:
            print(f"{k[0]:8} {mode:8} {k[1]:>3} {ours[k]:>14.1f} {ref[k]:>10.1f} {ours[k] / ref[k]:>6.2f}")
PY
