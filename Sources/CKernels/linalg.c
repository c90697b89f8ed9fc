// Dense linear algebra behind GPTQ: the input second moment H += X^T X (float) and the
// upper-triangular factor U of inverse(H) = U^T U (double). Each has a portable loop and an
// AVX2 + FMA path (register tiles, vector dots) chosen at run time.
#include "internal.h"
#include <math.h>
#include <stdlib.h>

// ------------------------------------------------------------------------------ X^T X

static void syrk_plain(const float *x, int tokens, int n, int ld, float *h, int i0, int i1) {
    for (int i = i0; i < i1; i++) {
        float *hr = h + (size_t)i * n;
        for (int t = 0; t < tokens; t++) {
            const float *xt = x + (size_t)t * ld;
            const float xi = xt[i];
            if (xi == 0) continue;
            for (int j = i; j < n; j++) hr[j] += xi * xt[j];
        }
    }
}

#ifdef QK_X86
/// 4 rows × 16 columns of H per register tile, summed over every token before touching memory.
QK_AVX2 static void syrk_avx2(const float *x, int tokens, int n, int ld, float *h, int i0, int i1) {
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
        const int jstart = i & ~15;
        int j = jstart;
        for (; j + 16 <= n; j += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            const float *xt = x;
            for (int t = 0; t < tokens; t++, xt += ld) {
                const __m256 v0 = _mm256_loadu_ps(xt + j), v1 = _mm256_loadu_ps(xt + j + 8);
                __m256 s = _mm256_broadcast_ss(xt + i);
                a00 = _mm256_fmadd_ps(s, v0, a00); a01 = _mm256_fmadd_ps(s, v1, a01);
                s = _mm256_broadcast_ss(xt + i + 1);
                a10 = _mm256_fmadd_ps(s, v0, a10); a11 = _mm256_fmadd_ps(s, v1, a11);
                s = _mm256_broadcast_ss(xt + i + 2);
                a20 = _mm256_fmadd_ps(s, v0, a20); a21 = _mm256_fmadd_ps(s, v1, a21);
                s = _mm256_broadcast_ss(xt + i + 3);
                a30 = _mm256_fmadd_ps(s, v0, a30); a31 = _mm256_fmadd_ps(s, v1, a31);
            }
            float *h0 = h + (size_t)i * n + j;
            _mm256_storeu_ps(h0, _mm256_add_ps(_mm256_loadu_ps(h0), a00));
            _mm256_storeu_ps(h0 + 8, _mm256_add_ps(_mm256_loadu_ps(h0 + 8), a01));
            h0 += n;
            _mm256_storeu_ps(h0, _mm256_add_ps(_mm256_loadu_ps(h0), a10));
            _mm256_storeu_ps(h0 + 8, _mm256_add_ps(_mm256_loadu_ps(h0 + 8), a11));
            h0 += n;
            _mm256_storeu_ps(h0, _mm256_add_ps(_mm256_loadu_ps(h0), a20));
            _mm256_storeu_ps(h0 + 8, _mm256_add_ps(_mm256_loadu_ps(h0 + 8), a21));
            h0 += n;
            _mm256_storeu_ps(h0, _mm256_add_ps(_mm256_loadu_ps(h0), a30));
            _mm256_storeu_ps(h0 + 8, _mm256_add_ps(_mm256_loadu_ps(h0 + 8), a31));
        }
        // Columns past the last full tile.
        for (int r = 0; r < 4; r++) {
            float *hr = h + (size_t)(i + r) * n;
            for (int t = 0; t < tokens; t++) {
                const float *xt = x + (size_t)t * ld;
                const float xi = xt[i + r];
                for (int jj = j; jj < n; jj++) hr[jj] += xi * xt[jj];
            }
        }
    }
    if (i < i1) syrk_plain(x, tokens, n, ld, h, i, i1);
}
#endif

void qk_syrk_upper(const float *x, int tokens, int n, int ld, float *h, int i0, int i1) {
#ifdef QK_X86
    if (qk_cpu_has_avx2()) { syrk_avx2(x, tokens, n, ld, h, i0, i1); return; }
#endif
    syrk_plain(x, tokens, n, ld, h, i0, i1);
}

// ------------------------------------------------------------------------------ vector helpers

/// out[r] = sum over k < len of a_r[k] * b[k], for four rows a_r sharing b.
typedef void (*dot4_fn)(const double *b, const double *a0, const double *a1, const double *a2, const double *a3,
                        int len, double *out);
/// acc_r[k] -= c[r] * m[k] for k < len, four rows acc_r sharing m.
typedef void (*axpy4_fn)(const double *m, double *acc, size_t stride, const double *c, int len);

static void dot4_plain(const double *b, const double *a0, const double *a1, const double *a2, const double *a3,
                       int len, double *out) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int k = 0; k < len; k++) { s0 += a0[k] * b[k]; s1 += a1[k] * b[k]; s2 += a2[k] * b[k]; s3 += a3[k] * b[k]; }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

static void axpy4_plain(const double *m, double *acc, size_t stride, const double *c, int len) {
    for (int r = 0; r < 4; r++) {
        double *a = acc + r * stride;
        const double cr = c[r];
        for (int k = 0; k < len; k++) a[k] -= cr * m[k];
    }
}

#ifdef QK_X86
QK_INLINE double hsum4(__m256d v) {
    __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
    lo = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

QK_AVX2 static void dot4_avx2(const double *b, const double *a0, const double *a1, const double *a2, const double *a3,
                              int len, double *out) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int k = 0;
    for (; k + 4 <= len; k += 4) {
        const __m256d v = _mm256_loadu_pd(b + k);
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a0 + k), v, s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(a1 + k), v, s1);
        s2 = _mm256_fmadd_pd(_mm256_loadu_pd(a2 + k), v, s2);
        s3 = _mm256_fmadd_pd(_mm256_loadu_pd(a3 + k), v, s3);
    }
    double t0 = hsum4(s0), t1 = hsum4(s1), t2 = hsum4(s2), t3 = hsum4(s3);
    for (; k < len; k++) { t0 += a0[k] * b[k]; t1 += a1[k] * b[k]; t2 += a2[k] * b[k]; t3 += a3[k] * b[k]; }
    out[0] = t0; out[1] = t1; out[2] = t2; out[3] = t3;
}

QK_AVX2 static void axpy4_avx2(const double *m, double *acc, size_t stride, const double *c, int len) {
    const __m256d c0 = _mm256_set1_pd(c[0]), c1 = _mm256_set1_pd(c[1]), c2 = _mm256_set1_pd(c[2]), c3 = _mm256_set1_pd(c[3]);
    double *a0 = acc, *a1 = acc + stride, *a2 = acc + 2 * stride, *a3 = acc + 3 * stride;
    int k = 0;
    for (; k + 4 <= len; k += 4) {
        const __m256d v = _mm256_loadu_pd(m + k);
        _mm256_storeu_pd(a0 + k, _mm256_fnmadd_pd(c0, v, _mm256_loadu_pd(a0 + k)));
        _mm256_storeu_pd(a1 + k, _mm256_fnmadd_pd(c1, v, _mm256_loadu_pd(a1 + k)));
        _mm256_storeu_pd(a2 + k, _mm256_fnmadd_pd(c2, v, _mm256_loadu_pd(a2 + k)));
        _mm256_storeu_pd(a3 + k, _mm256_fnmadd_pd(c3, v, _mm256_loadu_pd(a3 + k)));
    }
    for (; k < len; k++) { a0[k] -= c[0] * m[k]; a1[k] -= c[1] * m[k]; a2[k] -= c[2] * m[k]; a3[k] -= c[3] * m[k]; }
}
#endif

// ------------------------------------------------------------------------------ Cholesky, inverse

/// Lower Cholesky factor in place (row-major; the upper part is left as it was), four rows at a
/// time so that each finished row is read once per four rows that need it.
static int cholesky_lower(double *a, int n, dot4_fn dot4) {
    double s[4];
    for (int i0 = 0; i0 < n; i0 += 4) {
        const int ib = n - i0 < 4 ? n - i0 : 4;
        double *r[4];
        for (int k = 0; k < 4; k++) r[k] = a + (size_t)(i0 + (k < ib ? k : 0)) * n;
        for (int j = 0; j < i0; j++) {
            const double *lj = a + (size_t)j * n;
            dot4(lj, r[0], r[1], r[2], r[3], j, s);
            for (int k = 0; k < ib; k++) r[k][j] = (r[k][j] - s[k]) / lj[j];
        }
        for (int jj = 0; jj < ib; jj++) {
            const int j = i0 + jj;
            double *lj = a + (size_t)j * n;
            dot4(lj, lj, lj, lj, lj, j, s);
            const double d = lj[j] - s[0];
            if (!(d > 0) || !isfinite(d)) return j + 1;
            lj[j] = sqrt(d);
            for (int k = jj + 1; k < ib; k++) {
                double *li = a + (size_t)(i0 + k) * n;
                dot4(lj, li, li, li, li, j, s);
                li[j] = (li[j] - s[0]) / lj[j];
            }
        }
    }
    return 0;
}

/// Inverse of the lower-triangular L in place: row i of M = L^-1 is
/// (e_i - sum over k < i of L[i][k] * M[k]) / L[i][i], built four rows at a time.
static int invert_lower(double *a, int n, axpy4_fn axpy4) {
    double *acc = malloc(sizeof(double) * 4 * (size_t)n);
    if (!acc) return -1;
    double c[4];
    for (int i0 = 0; i0 < n; i0 += 4) {
        const int ib = n - i0 < 4 ? n - i0 : 4;
        for (int k = 0; k < 4 * n; k++) acc[k] = 0;
        for (int k = 0; k < ib; k++) acc[(size_t)k * n + i0 + k] = 1;
        for (int k = 0; k < i0; k++) {
            for (int r = 0; r < 4; r++) c[r] = r < ib ? a[(size_t)(i0 + r) * n + k] : 0;
            axpy4(a + (size_t)k * n, acc, (size_t)n, c, k + 1);
        }
        for (int kk = 0; kk < ib; kk++) {
            const int i = i0 + kk;
            double *ak = acc + (size_t)kk * n;
            double *li = a + (size_t)i * n;
            for (int kp = 0; kp < kk; kp++) {
                const double cf = li[i0 + kp];
                const double *m = a + (size_t)(i0 + kp) * n;   // already M
                for (int q = 0; q <= i0 + kp; q++) ak[q] -= cf * m[q];
            }
            const double dinv = 1.0 / li[i];
            for (int q = 0; q <= i; q++) li[q] = ak[q] * dinv;
        }
    }
    free(acc);
    return 0;
}

static void reverse(double *a, size_t count) {
    for (size_t i = 0, j = count - 1; i < j; i++, j--) { const double t = a[i]; a[i] = a[j]; a[j] = t; }
}

int qk_cholesky_inverse_upper(double *a, int n) {
    dot4_fn dot4 = dot4_plain;
    axpy4_fn axpy4 = axpy4_plain;
#ifdef QK_X86
    if (qk_cpu_has_avx2()) { dot4 = dot4_avx2; axpy4 = axpy4_avx2; }
#endif
    const size_t count = (size_t)n * n;
    if (n <= 0) return 0;
    // J H J (J reverses the order): Cholesky L L^T of it, M = L^-1, then U = J M J.
    reverse(a, count);
    const int bad = cholesky_lower(a, n, dot4);
    if (bad) return bad;
    if (invert_lower(a, n, axpy4) != 0) return n + 1;
    for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) a[(size_t)i * n + j] = 0;
    reverse(a, count);
    return 0;
}
