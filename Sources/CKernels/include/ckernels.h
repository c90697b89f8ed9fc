#ifndef QK_CKERNELS_H
#define QK_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Returns 1 when the CPU supports AVX2 + FMA + F16C (the fast paths), else 0.
int qk_cpu_has_avx2(void);

// ---------------------------------------------------------------------------------------------
// Format tables (ggml-common.h), shared by the Swift references and the C kernels.
// ---------------------------------------------------------------------------------------------
const uint8_t  *qk_table_ksigns_iq2xs(void);   // 128
const uint64_t *qk_table_iq2xxs_grid(void);    // 256
const uint64_t *qk_table_iq2xs_grid(void);     // 512
const uint64_t *qk_table_iq2s_grid(void);      // 1024
const uint32_t *qk_table_iq3xxs_grid(void);    // 256
const uint32_t *qk_table_iq3s_grid(void);      // 512
const uint64_t *qk_table_iq1s_grid(void);      // 2048
const int8_t   *qk_table_kvalues_iq4nl(void);  // 16
const int8_t   *qk_table_kvalues_mxfp4(void);  // 16

// ---------------------------------------------------------------------------------------------
// AVX2 kernels. Call only when qk_cpu_has_avx2() returned 1. Types are ggml type ids.
// ---------------------------------------------------------------------------------------------

/// Converts one activation row of n floats into `act_type` (8 Q8_0, 9 Q8_1, 15 Q8_K, 1 F16,
/// 30 BF16, 0 F32), bit-identical to ggml's x86 CPU backend. Returns 0 for other types.
int qk_quantize_row_avx2(int act_type, const float *x, void *dst, int64_t n);

/// Whether `qk_dot_avx2` / `qk_matmul_avx2` handle weights of `type`.
int qk_supports_avx2(int type);

/// Dot product of one weight row of `type` with one converted activation row, n elements.
float qk_dot_avx2(int type, int n, const void *w, const void *a);

/// out[t*out_stride + r] = dot(weight row r, activation row t), r in [r0, r1), t < tokens.
/// Weight row r at w + r*w_row_bytes; activation row t at a + t*a_row_bytes.
/// Few tokens: one dot product per row and token. From 3 tokens (block-32 types) or 6 (super-block
/// types): 8 weight rows at a time are decoded into an interleaved integer panel that every token
/// of an L2-sized block reuses, 4 tokens per pass. Float weights: 4-row × 3-token register tiles.
/// Single-threaded and reentrant; scratch is malloc'd per call.
void qk_matmul_avx2(int type, int n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                    const void *a, size_t a_row_bytes, int tokens, float *out, size_t out_stride);

/// Same, with the token count from which the tiled path is used given explicitly: 1 forces it, a
/// huge value forces one dot product per row. For tests and benchmarks.
void qk_matmul_avx2_ex(int type, int n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                       const void *a, size_t a_row_bytes, int tokens, float *out, size_t out_stride,
                       int tiled_min_tokens);

// ---------------------------------------------------------------------------------------------
// Dense linear algebra for calibration (GPTQ): portable, with AVX2 paths chosen at run time.
// Not bit-exact with anything; results differ from a naive loop only by summation order.
// ---------------------------------------------------------------------------------------------

/// h[i*n + j] += sum over t < tokens of x[t*ld + i] * x[t*ld + j], for rows i in [i0, i1) and
/// every j >= i (the upper triangle; some entries just below the diagonal are touched too and
/// are meaningless). Single-threaded: split [0, n) in row ranges across threads.
void qk_syrk_upper(const float *x, int tokens, int n, int ld, float *h, int i0, int i1);

/// Replaces the symmetric positive-definite n x n matrix `a` (row-major) by the upper-triangular
/// U with inverse(a) = U^T U (zeros below the diagonal) — GPTQ's factor — through one Cholesky
/// factorization of the reversed matrix and one triangular inverse. Returns 0, or k + 1 when
/// the matrix is not positive definite at pivot k (then `a` holds garbage).
int qk_cholesky_inverse_upper(double *a, int n);

#endif
