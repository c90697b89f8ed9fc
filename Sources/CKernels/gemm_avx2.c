// Tiled matmul (several weight rows × several tokens per pass) and the driver behind
// qk_matmul_avx2.
//
// Weights are decoded 8 rows at a time into a "panel" in which 8 rows are interleaved in 4-value
// groups: the 32 bytes of group g hold values 4g…4g+3 of rows 0…7. One vpmaddubsw of a panel
// group with 4 activation bytes broadcast to every lane then yields the partial sums of 8 rows at
// once; scales multiply 8 rows per vector op, and the 8 results of a token are stored without any
// horizontal reduction. A panel is decoded once per block of tokens (whose activations stay in
// L2) and reused by every token of the block, 4 tokens per pass so each loaded weight vector
// feeds 4 multiplies.
#include "decode.h"
#include "kinds.h"
#include <stdlib.h>

#ifdef QK_X86

typedef float (*qk_dot_fn)(int, const void *, const void *);
qk_dot_fn qk_fused_dot(int type);   // dot_avx2.c
typedef float (*qk_gemv32_fn)(int, const void *, const void *, const float *, const float *);
qk_gemv32_fn qk_gemv32(int type, int *act_type);
void qk_act_scales(int act_type, int nb, const void *a, float *dy, float *sy);

enum {
    P32_BYTES = 320,                    // 256 values | d[8] | m[8]
    P256_BYTES = 2880,                  // 2048 values | sc[16][8][2] | mn[8][8][2] | D[8] | M[8]
    P256_SC = 2048, P256_MN = 2560, P256_D = 2816, P256_M = 2848,
};

// ------------------------------------------------------------------------------ panel builders

/// P32 panel of 8 rows (missing rows are zero) — values and scales decoded inline per kind.
QK_INLINE void build_p32_kind(const int kind, const uint8_t *w, size_t rb, int rows, int nb, uint8_t *panel) {
    const int bsz = kind_bsz(kind);
    const __m256i lut = kind_lut(kind);
    const uint8_t *rp[8];
    for (int r = 0; r < 8; r++) rp[r] = w + (size_t)(r < rows ? r : 0) * rb;
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    for (int b = 0; b < nb; b++) {
        __m256i v[8];
        for (int r = 0; r < 8; r++) v[r] = kind_values(kind, rp[r] + (size_t)b * bsz, lut);
        qk_transpose8_epi32(v);
        uint8_t *P = panel + (size_t)b * P32_BYTES;
        for (int g = 0; g < 8; g++) _mm256_storeu_si256((__m256i *)(P + 32 * g), v[g]);
        // scales of the 8 rows: rows are rb apart (rows ≥ `rows` repeat row 0 and get zero scales)
        __m256 m8;
        __m256 d8;
        if (rows == 8) d8 = kind_scales8(kind, w + (size_t)b * bsz, rb, &m8);
        else {
            float d[8], m[8];
            for (int r = 0; r < 8; r++) {
                const uint8_t *xb = rp[r] + (size_t)b * bsz;
                if (kind == K_MXFP4) { d[r] = qk_e8m0_half(xb[0]); m[r] = -12.0f * d[r]; }
                else {
                    d[r] = qk_h2f(*(const qk_half *)xb);
                    m[r] = kind == K_Q4_1 || kind == K_Q5_1 ? qk_h2f(*(const qk_half *)(xb + 2)) : kind == K_Q4_0 ? -8.0f * d[r] : kind == K_Q5_0 ? -16.0f * d[r] : 0;
                }
            }
            d8 = _mm256_loadu_ps(d);
            m8 = _mm256_loadu_ps(m);
        }
        _mm256_storeu_ps((float *)(P + 256), _mm256_and_ps(d8, keep));
        _mm256_storeu_ps((float *)(P + 288), _mm256_and_ps(m8, keep));
    }
}

#define DEF_BUILD32(K) \
    QK_AVX2 static void build_p32_##K(const uint8_t *w, size_t rb, int rows, int nb, uint8_t *panel) { build_p32_kind(K, w, rb, rows, nb, panel); }
DEF_BUILD32(K_Q4_0) DEF_BUILD32(K_Q4_1) DEF_BUILD32(K_Q5_0) DEF_BUILD32(K_Q5_1) DEF_BUILD32(K_Q8_0) DEF_BUILD32(K_IQ4_NL) DEF_BUILD32(K_MXFP4)
typedef void (*build32_fn)(const uint8_t *, size_t, int, int, uint8_t *);
static const build32_fn BUILD32[7] = {build_p32_K_Q4_0, build_p32_K_Q4_1, build_p32_K_Q5_0, build_p32_K_Q5_1,
                                      build_p32_K_Q8_0, build_p32_K_IQ4_NL, build_p32_K_MXFP4};

QK_AVX2 static void build_p256(const qk_p256_info *info, const uint8_t *w, size_t rb, int rows, int nsb, uint8_t *panel) {
    const int bsz = info->block_bytes;
    _Alignas(32) uint8_t q[8][256];
    int16_t sc[8][16], mn[8][16];
    float D[8], M[8];
    for (int sb = 0; sb < nsb; sb++) {
        for (int r = 0; r < 8; r++) {
            if (r < rows) info->dec(w + r * rb + (size_t)sb * bsz, q[r], sc[r], mn[r], &D[r], &M[r]);
            else {
                memset(q[r], 0, 256); memset(sc[r], 0, 32); memset(mn[r], 0, 32);
                D[r] = M[r] = 0;
            }
        }
        uint8_t *P = panel + (size_t)sb * P256_BYTES;
        for (int c = 0; c < 8; c++) {
            __m256i v[8];
            for (int r = 0; r < 8; r++) v[r] = _mm256_load_si256((const __m256i *)(q[r] + 32 * c));
            qk_transpose8_epi32(v);
            for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)(P + 32 * (8 * c + i)), v[i]);
        }
        // scales: vector j, lane r = (sc[r][j], sc[r][j]); offsets: vector i, lane r = (mn[r][2i], mn[r][2i+1])
        __m256i lo[8], hi[8], mv[8];
        for (int r = 0; r < 8; r++) {
            const __m256i R = _mm256_loadu_si256((const __m256i *)sc[r]);
            lo[r] = _mm256_unpacklo_epi16(R, R);   // j = 0…3 | 8…11
            hi[r] = _mm256_unpackhi_epi16(R, R);   // j = 4…7 | 12…15
            mv[r] = _mm256_loadu_si256((const __m256i *)mn[r]);
        }
        qk_transpose8_epi32(lo);
        qk_transpose8_epi32(hi);
        qk_transpose8_epi32(mv);
        __m256i *S = (__m256i *)(P + P256_SC), *Mn = (__m256i *)(P + P256_MN);
        for (int i = 0; i < 4; i++) {
            _mm256_storeu_si256(S + i, lo[i]);
            _mm256_storeu_si256(S + 4 + i, hi[i]);
            _mm256_storeu_si256(S + 8 + i, lo[4 + i]);
            _mm256_storeu_si256(S + 12 + i, hi[4 + i]);
        }
        for (int i = 0; i < 8; i++) _mm256_storeu_si256(Mn + i, mv[i]);
        memcpy(P + P256_D, D, 32);
        memcpy(P + P256_M, M, 32);
    }
}

// ------------------------------------------------------------------------------ microkernels

/// T tokens × 8 rows over nb blocks of a P32 panel. act[t] points at token t's first Q8_0/Q8_1
/// block (stride astride, values at aqoff); da/sa hold d_a and S_a per block (token stride nb).
QK_INLINE void kern_p32(const uint8_t *panel, int nb, const int T, const uint8_t *const *act, const int astride,
                        const int aqoff, const float *da, const float *sa, const int VM, const int SGN, __m256 *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *P = panel + (size_t)b * P32_BYTES;
        const __m256 dw = _mm256_loadu_ps((const float *)(P + 256));
        __m256i w[8], aw[8];
        for (int g = 0; g < 8; g++) {
            w[g] = _mm256_loadu_si256((const __m256i *)(P + 32 * g));
            if (SGN) aw[g] = _mm256_abs_epi8(w[g]);
        }
        for (int t = 0; t < T; t++) {
            const uint8_t *a = act[t] + (size_t)b * astride + aqoff;
            __m256i i32;
            if (SGN) {
                i32 = _mm256_setzero_si256();
                for (int g = 0; g < 8; g++) {
                    __m256i p = _mm256_maddubs_epi16(aw[g], _mm256_sign_epi8(qk_bcast32(a + 4 * g), w[g]));
                    i32 = _mm256_add_epi32(i32, _mm256_madd_epi16(p, ones));
                }
            } else if (VM == 8) {
                __m256i s = _mm256_maddubs_epi16(w[0], qk_bcast32(a));
                for (int g = 1; g < 8; g++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[g], qk_bcast32(a + 4 * g)));
                i32 = _mm256_madd_epi16(s, ones);
            } else {
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], qk_bcast32(a)), _mm256_maddubs_epi16(w[1], qk_bcast32(a + 4)));
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(w[2], qk_bcast32(a + 8)), _mm256_maddubs_epi16(w[3], qk_bcast32(a + 12)));
                __m256i s2 = _mm256_add_epi16(_mm256_maddubs_epi16(w[4], qk_bcast32(a + 16)), _mm256_maddubs_epi16(w[5], qk_bcast32(a + 20)));
                __m256i s3 = _mm256_add_epi16(_mm256_maddubs_epi16(w[6], qk_bcast32(a + 24)), _mm256_maddubs_epi16(w[7], qk_bcast32(a + 28)));
                i32 = _mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(s0, s1), ones), _mm256_madd_epi16(_mm256_add_epi16(s2, s3), ones));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_mul_ps(dw, _mm256_set1_ps(da[t * nb + b])), acc[t]);
            if (!SGN) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps((const float *)(P + 288)), _mm256_set1_ps(sa[t * nb + b]), acc[t]);
        }
    }
}

/// T tokens × 8 rows over nsb super-blocks of a P256 panel; act[t] = token t's Q8_K row.
QK_INLINE void kern_p256(const uint8_t *panel, int nsb, const int T, const blk_q8_K *const *act, const int VM,
                         const int SGN, const int MIN, __m256 *acc) {
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int sb = 0; sb < nsb; sb++) {
        const uint8_t *P = panel + (size_t)sb * P256_BYTES;
        __m256i isum[4];
        for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 16; j++) {
            const __m256i sc = _mm256_loadu_si256((const __m256i *)(P + P256_SC + 32 * j));
            __m256i w[4], aw[4];
            for (int g = 0; g < 4; g++) {
                w[g] = _mm256_loadu_si256((const __m256i *)(P + 32 * (4 * j + g)));
                if (SGN) aw[g] = _mm256_abs_epi8(w[g]);
            }
            for (int t = 0; t < T; t++) {
                const int8_t *a = act[t][sb].qs + 16 * j;
                __m256i p[4];
                for (int g = 0; g < 4; g++)
                    p[g] = SGN ? _mm256_maddubs_epi16(aw[g], _mm256_sign_epi8(qk_bcast32(a + 4 * g), w[g]))
                               : _mm256_maddubs_epi16(w[g], qk_bcast32(a + 4 * g));
                if (VM == 4) {
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3])), sc));
                } else if (VM == 2) {
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(p[0], p[1]), sc),
                                                                         _mm256_madd_epi16(_mm256_add_epi16(p[2], p[3]), sc)));
                } else {
                    __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p[0], sc), _mm256_madd_epi16(p[1], sc));
                    s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(p[2], sc), _mm256_madd_epi16(p[3], sc)));
                    isum[t] = _mm256_add_epi32(isum[t], s);
                }
            }
        }
        const __m256 D = _mm256_loadu_ps((const float *)(P + P256_D));
        for (int t = 0; t < T; t++) {
            const __m256 dy = _mm256_set1_ps(act[t][sb].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(D, dy), acc[t]);
            if (MIN) {
                __m256i im = _mm256_setzero_si256();
                for (int i = 0; i < 8; i++)
                    im = _mm256_add_epi32(im, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(P + P256_MN + 32 * i)),
                                                                qk_bcast32(&act[t][sb].bsums[2 * i])));
                const __m256 M = _mm256_loadu_ps((const float *)(P + P256_M));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im), _mm256_mul_ps(M, dy), acc[t]);
            }
        }
    }
}

// Instantiations with compile-time T and variant flags.
#define DEF_P32(NAME, T, VM, SGN) \
    QK_AVX2 static void NAME(const uint8_t *p, int nb, const uint8_t *const *a, int as, int ao, const float *da, const float *sa, __m256 *acc) { \
        kern_p32(p, nb, T, a, as, ao, da, sa, VM, SGN, acc); }
DEF_P32(p32_u8_1, 1, 8, 0) DEF_P32(p32_u8_2, 2, 8, 0) DEF_P32(p32_u8_3, 3, 8, 0) DEF_P32(p32_u8_4, 4, 8, 0)
DEF_P32(p32_u4_1, 1, 4, 0) DEF_P32(p32_u4_2, 2, 4, 0) DEF_P32(p32_u4_3, 3, 4, 0) DEF_P32(p32_u4_4, 4, 4, 0)
DEF_P32(p32_s_1, 1, 1, 1) DEF_P32(p32_s_2, 2, 1, 1) DEF_P32(p32_s_3, 3, 1, 1) DEF_P32(p32_s_4, 4, 1, 1)
typedef void (*p32_kern_fn)(const uint8_t *, int, const uint8_t *const *, int, int, const float *, const float *, __m256 *);
static const p32_kern_fn P32_KERNS[3][4] = {
    {p32_u8_1, p32_u8_2, p32_u8_3, p32_u8_4},
    {p32_u4_1, p32_u4_2, p32_u4_3, p32_u4_4},
    {p32_s_1, p32_s_2, p32_s_3, p32_s_4},
};

#define DEF_P256(NAME, T, VM, SGN, MIN) \
    QK_AVX2 static void NAME(const uint8_t *p, int nsb, const blk_q8_K *const *a, __m256 *acc) { \
        kern_p256(p, nsb, T, a, VM, SGN, MIN, acc); }
DEF_P256(p256_4_1, 1, 4, 0, 1) DEF_P256(p256_4_2, 2, 4, 0, 1) DEF_P256(p256_4_3, 3, 4, 0, 1) DEF_P256(p256_4_4, 4, 4, 0, 1)
DEF_P256(p256_2_1, 1, 2, 0, 1) DEF_P256(p256_2_2, 2, 2, 0, 1) DEF_P256(p256_2_3, 3, 2, 0, 1) DEF_P256(p256_2_4, 4, 2, 0, 1)
DEF_P256(p256_1_1, 1, 1, 0, 1) DEF_P256(p256_1_2, 2, 1, 0, 1) DEF_P256(p256_1_3, 3, 1, 0, 1) DEF_P256(p256_1_4, 4, 1, 0, 1)
DEF_P256(p256_s_1, 1, 1, 1, 0) DEF_P256(p256_s_2, 2, 1, 1, 0) DEF_P256(p256_s_3, 3, 1, 1, 0) DEF_P256(p256_s_4, 4, 1, 1, 0)
typedef void (*p256_kern_fn)(const uint8_t *, int, const blk_q8_K *const *, __m256 *);
static const p256_kern_fn P256_KERNS[4][4] = {
    {p256_4_1, p256_4_2, p256_4_3, p256_4_4},
    {p256_2_1, p256_2_2, p256_2_3, p256_2_4},
    {p256_1_1, p256_1_2, p256_1_3, p256_1_4},
    {p256_s_1, p256_s_2, p256_s_3, p256_s_4},
};

// ------------------------------------------------------------------------------ gemv for decoded types

QK_INLINE __m256i scale_pair16(const int16_t *s, int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(s[a])), _mm_set1_epi16(s[b]), 1);
}

/// Dot product through the P256 decoder (the i-quants and TQ1_0 have no fused kernel).
QK_AVX2 float qk_dot_decoded256(int type, int n, const void *vw, const void *va) {
    const qk_p256_info *info = qk_p256(type);
    const uint8_t *w = vw;
    const blk_q8_K *y = va;
    const int nsb = n / 256;
    _Alignas(32) uint8_t q[256];
    _Alignas(32) int16_t sc[16], mn[16];
    float D, M;
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int sb = 0; sb < nsb; sb++) {
        info->dec(w + (size_t)sb * info->block_bytes, q, sc, mn, &D, &M);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i v = _mm256_load_si256((const __m256i *)(q + 32 * c)), a = qk_loadu(y[sb].qs + 32 * c);
            __m256i p = info->is_signed ? qk_mul_i8_pairs(v, a) : _mm256_maddubs_epi16(v, a);
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale_pair16(sc, 2 * c, 2 * c + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(D * y[sb].d), acc);
        if (info->has_min) accm += M * y[sb].d * (float)qk_hsum_epi32(_mm256_madd_epi16(_mm256_load_si256((const __m256i *)mn), qk_loadu(y[sb].bsums)));
    }
    return qk_hsum_ps(acc) + accm;
}

static qk_dot_fn dot_for(int type) {
    qk_dot_fn f = qk_fused_dot(type);
    return f ? f : NULL;
}

int qk_supports_avx2(int type) {
    return dot_for(type) != NULL || qk_p256(type) != NULL;
}

float qk_dot_avx2(int type, int n, const void *w, const void *a) {
    qk_dot_fn f = dot_for(type);
    if (f) return f(n, w, a);
    return qk_dot_decoded256(type, n, w, a);
}

// ------------------------------------------------------------------------------ driver

QK_AVX2 static void store_rows(float *out, size_t os, int64_t t, int64_t r, int rows, __m256 v) {
    float *o = out + (size_t)t * os + r;
    if (rows == 8) { _mm256_storeu_ps(o, v); return; }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (int i = 0; i < rows; i++) o[i] = tmp[i];
}

/// Tokens per block: their activation rows should stay in L2 while every panel passes over them.
static int token_block(size_t a_row_bytes, int tokens) {
    size_t tb = (256u << 10) / (a_row_bytes ? a_row_bytes : 1);
    if (tb < 16) tb = 16;
    tb = (tb + 3) & ~(size_t)3;
    return tb > (size_t)tokens ? tokens : (int)tb;
}

QK_AVX2 static void matmul_p32(int info_type, const qk_p32_info *info, int n, const uint8_t *w, size_t rb, int64_t r0, int64_t r1,
                               const uint8_t *a, size_t arb, int tokens, float *out, size_t os) {
    const int nb = n / 32;
    const int q81 = info->act_type == QK_Q8_1;
    const int astride = q81 ? 36 : 34, aqoff = q81 ? 4 : 2;
    const int TB = token_block(arb, tokens);
    uint8_t *panel = aligned_alloc(64, ((size_t)nb * P32_BYTES + 63) & ~(size_t)63);
    float *da = malloc(sizeof(float) * (size_t)TB * nb);
    float *sa = malloc(sizeof(float) * (size_t)TB * nb);
    const p32_kern_fn *kerns = P32_KERNS[info->is_signed ? 2 : info->vm == 8 ? 0 : 1];
    const __m256i ones8 = _mm256_set1_epi8(1);
    for (int t0 = 0; t0 < tokens; t0 += TB) {
        const int tb = tokens - t0 < TB ? tokens - t0 : TB;
        for (int t = 0; t < tb; t++) {
            const uint8_t *row = a + (size_t)(t0 + t) * arb;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = row + (size_t)b * astride;
                const float d = qk_h2f(*(const qk_half *)blk);
                da[t * nb + b] = d;
                if (q81) sa[t * nb + b] = qk_h2f(*(const qk_half *)(blk + 2));
                else {
                    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, qk_loadu(blk + 2)), _mm256_set1_epi16(1));
                    sa[t * nb + b] = d * (float)qk_hsum_epi32(s);
                }
            }
        }
        for (int64_t p0 = r0; p0 < r1; p0 += 8) {
            const int rows = r1 - p0 < 8 ? (int)(r1 - p0) : 8;
            BUILD32[kind_of(info_type)](w + (size_t)p0 * rb, rb, rows, nb, panel);
            for (int t = 0; t < tb; t += 4) {
                const int T = tb - t < 4 ? tb - t : 4;
                const uint8_t *act[4];
                for (int i = 0; i < T; i++) act[i] = a + (size_t)(t0 + t + i) * arb;
                __m256 acc[4];
                kerns[T - 1](panel, nb, act, astride, aqoff, da + (size_t)t * nb, sa + (size_t)t * nb, acc);
                for (int i = 0; i < T; i++) store_rows(out, os, t0 + t + i, p0, rows, acc[i]);
            }
        }
    }
    free(sa);
    free(da);
    free(panel);
}

QK_AVX2 static void matmul_p256(const qk_p256_info *info, int n, const uint8_t *w, size_t rb, int64_t r0, int64_t r1,
                                const uint8_t *a, size_t arb, int tokens, float *out, size_t os) {
    const int nsb = n / 256;
    const int TB = token_block(arb, tokens);
    uint8_t *panel = aligned_alloc(64, (size_t)nsb * P256_BYTES);
    const p256_kern_fn *kerns = P256_KERNS[info->is_signed ? 3 : info->vm == 4 ? 0 : info->vm == 2 ? 1 : 2];
    for (int t0 = 0; t0 < tokens; t0 += TB) {
        const int tb = tokens - t0 < TB ? tokens - t0 : TB;
        for (int64_t p0 = r0; p0 < r1; p0 += 8) {
            const int rows = r1 - p0 < 8 ? (int)(r1 - p0) : 8;
            build_p256(info, w + (size_t)p0 * rb, rb, rows, nsb, panel);
            for (int t = 0; t < tb; t += 4) {
                const int T = tb - t < 4 ? tb - t : 4;
                const blk_q8_K *act[4];
                for (int i = 0; i < T; i++) act[i] = (const blk_q8_K *)(a + (size_t)(t0 + t + i) * arb);
                __m256 acc[4];
                kerns[T - 1](panel, nsb, act, acc);
                for (int i = 0; i < T; i++) store_rows(out, os, t0 + t + i, p0, rows, acc[i]);
            }
        }
    }
    free(panel);
}

/// Loads 8 weights of a float row (F32, F16 or BF16) as F32.
QK_INLINE __m256 ldw(const int type, const uint8_t *row, int k) {
    if (type == QK_F32) return _mm256_loadu_ps((const float *)row + k);
    if (type == QK_F16) return _mm256_cvtph_ps(qk_loadu128((const uint16_t *)row + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(qk_loadu128((const uint16_t *)row + k)), 16));
}

QK_INLINE float ldw1(int type, const uint8_t *row, int k) {
    if (type == QK_F32) return ((const float *)row)[k];
    uint16_t h = ((const uint16_t *)row)[k];
    if (type == QK_F16) return qk_h2f(h);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/// RM weight rows × RN tokens, dot products over n (row-major: no panel; 12 accumulators).
QK_INLINE void kern_float(const int type, const int RM, const int RN, int n, const uint8_t *w, size_t rb,
                          const float *const *act, float *res /* RN × RM */) {
    __m256 acc[4][3];
    for (int i = 0; i < RM; i++)
        for (int j = 0; j < RN; j++) acc[i][j] = _mm256_setzero_ps();
    const int n8 = n & ~7;
    for (int k = 0; k < n8; k += 8) {
        __m256 a[3];
        for (int j = 0; j < RN; j++) a[j] = _mm256_loadu_ps(act[j] + k);
        for (int i = 0; i < RM; i++) {
            const __m256 x = ldw(type, w + i * rb, k);
            for (int j = 0; j < RN; j++) acc[i][j] = _mm256_fmadd_ps(x, a[j], acc[i][j]);
        }
    }
    for (int i = 0; i < RM; i++)
        for (int j = 0; j < RN; j++) {
            float s = qk_hsum_ps(acc[i][j]);
            for (int k = n8; k < n; k++) s += ldw1(type, w + i * rb, k) * act[j][k];
            res[j * 4 + i] = s;
        }
}

#define DEF_FLOAT(T, TN) \
    QK_AVX2 static void kf_##TN##_43(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 4, 3, n, w, rb, a, r); } \
    QK_AVX2 static void kf_##TN##_42(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 4, 2, n, w, rb, a, r); } \
    QK_AVX2 static void kf_##TN##_41(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 4, 1, n, w, rb, a, r); } \
    QK_AVX2 static void kf_##TN##_13(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 1, 3, n, w, rb, a, r); } \
    QK_AVX2 static void kf_##TN##_12(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 1, 2, n, w, rb, a, r); } \
    QK_AVX2 static void kf_##TN##_11(int n, const uint8_t *w, size_t rb, const float *const *a, float *r) { kern_float(T, 1, 1, n, w, rb, a, r); }
DEF_FLOAT(QK_F32, f32) DEF_FLOAT(QK_F16, f16) DEF_FLOAT(QK_BF16, bf16)
typedef void (*kf_fn)(int, const uint8_t *, size_t, const float *const *, float *);
// [type][RM==4 ? 0 : 1][RN-1]
static const kf_fn KF[3][2][3] = {
    {{kf_f32_41, kf_f32_42, kf_f32_43}, {kf_f32_11, kf_f32_12, kf_f32_13}},
    {{kf_f16_41, kf_f16_42, kf_f16_43}, {kf_f16_11, kf_f16_12, kf_f16_13}},
    {{kf_bf16_41, kf_bf16_42, kf_bf16_43}, {kf_bf16_11, kf_bf16_12, kf_bf16_13}},
};

QK_AVX2 static void matmul_pf(int type, int n, const uint8_t *w, size_t rb, int64_t r0, int64_t r1,
                              const uint8_t *a, size_t arb, int tokens, float *out, size_t os) {
    const int ti = type == QK_F32 ? 0 : type == QK_F16 ? 1 : 2;
    // 48 tokens (a multiple of the 3-token tile): with k in chunks, what must stay in L2 is 48 ×
    // one k-chunk of activations (192 KB), not 48 whole rows
    const int TB = tokens < 48 ? tokens : 48;
    float *conv = type == QK_F32 ? NULL : malloc(sizeof(float) * (size_t)TB * n);
    for (int t0 = 0; t0 < tokens; t0 += TB) {
        const int tb = tokens - t0 < TB ? tokens - t0 : TB;
        if (conv) {   // activations F16/BF16 → F32 once per token block
            for (int t = 0; t < tb; t++) {
                const uint8_t *src = a + (size_t)(t0 + t) * arb;
                float *dst = conv + (size_t)t * n;
                int k = 0;
                for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, ldw(type, src, k));
                for (; k < n; k++) dst[k] = ldw1(type, src, k);
            }
        }
        // k in chunks so a 4-row weight slice stays in L1 while every token of the block passes
        enum { KC = 1024 };
        const int esz = type == QK_F32 ? 4 : 2;
        _Alignas(32) float wbuf[4 * KC];
        for (int64_t p0 = r0; p0 < r1; p0 += 4) {
            const int rm = r1 - p0 < 4 ? 1 : 4;
            for (int64_t p = p0; p < p0 + 4 && p < r1; p += rm) {
                for (int k0 = 0; k0 < n; k0 += KC) {
                    const int kn = n - k0 < KC ? n - k0 : KC;
                    // F16/BF16 weights: convert the 4-row slice to F32 once for all tokens of the block
                    // (with few tokens, converting on the fly inside the tile is cheaper)
                    const uint8_t *ws = w + (size_t)p * rb + (size_t)k0 * esz;
                    size_t wrb = rb;
                    int kt = ti;
                    if (ti != 0 && tb > 3) {
                        for (int i = 0; i < rm; i++) {
                            int k = 0;
                            for (; k + 8 <= kn; k += 8) _mm256_store_ps(wbuf + i * KC + k, ldw(type, ws + i * rb, k));
                            for (; k < kn; k++) wbuf[i * KC + k] = ldw1(type, ws + i * rb, k);
                        }
                        ws = (const uint8_t *)wbuf;
                        wrb = KC * sizeof(float);
                        kt = 0;
                    }
                    for (int t = 0; t < tb; t += 3) {
                        const int rn = tb - t < 3 ? tb - t : 3;
                        const float *act[3];
                        for (int j = 0; j < rn; j++)
                            act[j] = (conv ? conv + (size_t)(t + j) * n : (const float *)(a + (size_t)(t0 + t + j) * arb)) + k0;
                        float res[12];
                        KF[kt][rm == 4 ? 0 : 1][rn - 1](kn, ws, wrb, act, res);
                        for (int j = 0; j < rn; j++)
                            for (int i = 0; i < rm; i++) {
                                float *o = out + (size_t)(t0 + t + j) * os + p + i;
                                *o = k0 ? *o + res[j * 4 + i] : res[j * 4 + i];
                            }
                    }
                }
                if (rm == 4) break;
            }
        }
    }
    free(conv);
}

void qk_matmul_avx2_ex(int type, int n, const void *w, size_t rb, int64_t r0, int64_t r1,
                       const void *a, size_t arb, int tokens, float *out, size_t os, int tiled_min_tokens) {
    if (r1 <= r0 || tokens <= 0) return;
    const uint8_t *W = w, *A = a;
    if (tokens >= tiled_min_tokens) {
        const qk_p32_info *i32 = qk_p32(type);
        if (i32) { matmul_p32(type, i32, n, W, rb, r0, r1, A, arb, tokens, out, os); return; }
        const qk_p256_info *i256 = qk_p256(type);
        if (i256) { matmul_p256(i256, n, W, rb, r0, r1, A, arb, tokens, out, os); return; }
        if (type == QK_F32 || type == QK_F16 || type == QK_BF16) { matmul_pf(type, n, W, rb, r0, r1, A, arb, tokens, out, os); return; }
    }
    int at;
    qk_gemv32_fn g = qk_gemv32(type, &at);
    if (g) {   // activation scales once per token, then every row
        const int nb = n / 32;
        float *sc = malloc(sizeof(float) * 2 * (size_t)nb * tokens);
        for (int t = 0; t < tokens; t++) qk_act_scales(at, nb, A + (size_t)t * arb, sc + (size_t)2 * t * nb, sc + (size_t)(2 * t + 1) * nb);
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *row = W + (size_t)r * rb;
            for (int t = 0; t < tokens; t++)
                out[(size_t)t * os + r] = g(n, row, A + (size_t)t * arb, sc + (size_t)2 * t * nb, sc + (size_t)(2 * t + 1) * nb);
        }
        free(sc);
        return;
    }
    qk_dot_fn f = dot_for(type);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = W + (size_t)r * rb;
        for (int t = 0; t < tokens; t++) {
            const uint8_t *act = A + (size_t)t * arb;
            out[(size_t)t * os + r] = f ? f(n, row, act) : qk_dot_decoded256(type, n, row, act);
        }
    }
}

/// Tokens from which the tiled path beats one dot product per row (measured on Zen 1 with
/// 4096-long rows): building a panel costs about one gemv pass for the block-32 types and about
/// three for the super-block types, after which each token costs about half a gemv pass. Float
/// weights always tile (4×1 register tiles already beat a dot per row: activation loads are shared).
static int tiled_threshold(int type) {
    if (type == QK_F32 || type == QK_F16 || type == QK_BF16) return 1;
    if (qk_p32(type)) return 3;
    return 6;
}

void qk_matmul_avx2(int type, int n, const void *w, size_t rb, int64_t r0, int64_t r1,
                    const void *a, size_t arb, int tokens, float *out, size_t os) {
    qk_matmul_avx2_ex(type, n, w, rb, r0, r1, a, arb, tokens, out, os, tiled_threshold(type));
}

#else
int qk_supports_avx2(int type) { (void)type; return 0; }
float qk_dot_avx2(int type, int n, const void *w, const void *a) { (void)type; (void)n; (void)w; (void)a; return 0; }
void qk_matmul_avx2_ex(int type, int n, const void *w, size_t rb, int64_t r0, int64_t r1,
                       const void *a, size_t arb, int tokens, float *out, size_t os, int m) {
    (void)type; (void)n; (void)w; (void)rb; (void)r0; (void)r1; (void)a; (void)arb; (void)tokens; (void)out; (void)os; (void)m;
}
void qk_matmul_avx2(int type, int n, const void *w, size_t rb, int64_t r0, int64_t r1,
                    const void *a, size_t arb, int tokens, float *out, size_t os) {
    qk_matmul_avx2_ex(type, n, w, rb, r0, r1, a, arb, tokens, out, os, 4);
}
#endif
