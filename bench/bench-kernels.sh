#!/usr/bin/env bash
# Matmul kernels: QuantKit (Sources/CKernels) vs ggml's CPU backend, same process, 1 thread.
# usage: bench/bench-kernels.sh [check|bench] [TYPES|all] [n] [rows] [gemm_tokens] [seconds]
#   LLAMA_DIR (default /work/ref/llama-cpp-python/vendor/llama.cpp) must hold a built llama.cpp
#   (build/bin/libggml*.so) — see bench/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
llama=${LLAMA_DIR:-/work/ref/llama-cpp-python/vendor/llama.cpp}
out=${TMPDIR:-/tmp}/qk-kernels-vs-ggml
cc=${CC:-clang}
$cc -O3 -std=gnu11 -o "$out" "$here/kernels_vs_ggml.c" "$root"/Sources/CKernels/*.c \
    -I"$root/Sources/CKernels/include" -I"$llama/ggml/include" \
    -L"$llama/build/bin" -Wl,-rpath,"$llama/build/bin" -lggml -lggml-base -lggml-cpu -lm
exec "$out" "${@:-check}"
