// Activation row conversion (F32 → Q8_0 / Q8_1 / Q8_K / F16 / BF16), bit-identical with what
// ggml's x86 CPU backend produces on an AVX2 machine:
// - Q8_0, Q8_1: ggml's AVX2 quantize_row_q8_0/1: d = max|x|/127, values round(x·(127/max|x|))
//   to nearest even (not the _ref's roundf with 1/d).
// - Q8_K: quantize_row_q8_K_ref (ggml uses the reference on x86): scale −127/x_max where x_max is
//   the first value of largest magnitude, values rounded to nearest even and capped at 127.
// - F16: F16C round-to-nearest-even. BF16: ggml's scalar round-to-nearest-even (NaN kept quiet).
#include "internal.h"
#include <math.h>

#pragma clang fp contract(off)

#ifdef QK_X86

QK_INLINE float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/// Rounds 32 floats (already scaled) to int8 in natural order; returns the int32 sum in *sum.
QK_INLINE __m256i round_pack32(__m256 v0, __m256 v1, __m256 v2, __m256 v3, int *sum) {
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(v2, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(v3, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (sum) *sum = qk_hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
    i0 = _mm256_packs_epi32(i0, i1);
    i2 = _mm256_packs_epi32(i2, i3);
    i0 = _mm256_packs_epi16(i0, i2);
    return _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

QK_AVX2 static void quantize_q8_01(const float *x, void *vy, int64_t n, int with_sum) {
    const int64_t nb = n / 32;
    uint8_t *y = vy;
    const size_t bsz = with_sum ? 36 : 34;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < nb; i++, x += 32, y += bsz) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 ma = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
        ma = _mm256_max_ps(ma, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        const float amax = hmax_ps(ma);
        const float d = amax / 127.f;
        const qk_half dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        int sum = 0;
        __m256i q = round_pack32(_mm256_mul_ps(v0, id), _mm256_mul_ps(v1, id), _mm256_mul_ps(v2, id),
                                 _mm256_mul_ps(v3, id), with_sum ? &sum : NULL);
        memcpy(y, &dh, 2);
        if (with_sum) {
            const qk_half sh = _cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT);
            memcpy(y + 2, &sh, 2);
        }
        _mm256_storeu_si256((__m256i *)(y + bsz - 32), q);
    }
}

QK_AVX2 static void quantize_q8_K(const float *x, void *vy, int64_t n) {
    const int64_t nb = n / 256;
    blk_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < nb; i++, x += 256) {
        __m256 ma = _mm256_setzero_ps();
        for (int j = 0; j < 256; j += 8) ma = _mm256_max_ps(ma, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
        const float amax = hmax_ps(ma);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(blk_q8_K));
            continue;
        }
        // the first value whose magnitude is the maximum (the reference's strict '>' scan)
        const __m256 am = _mm256_set1_ps(amax);
        float xmax = 0;
        for (int j = 0; j < 256; j += 8) {
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), am, _CMP_EQ_OQ));
            if (mask) { xmax = x[j + __builtin_ctz(mask)]; break; }
        }
        const float iscale = -127.f / xmax;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i cap = _mm256_set1_epi32(127);
        for (int j = 0; j < 256; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k));
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), cap);
            }
            __m256i a = _mm256_packs_epi32(q[0], q[1]);
            __m256i b = _mm256_packs_epi32(q[2], q[3]);
            a = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), a);
            // bsums of the two 16-value groups
            __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), a);           // pairs
            __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));           // quads (8 × int32)
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm_setzero_si128());
            __m128i g = _mm256_extracti128_si256(s32, 1);
            int s0 = _mm_extract_epi32(h, 0) + _mm_extract_epi32(h, 1) + _mm_extract_epi32(h, 2) + _mm_extract_epi32(h, 3);
            int s1 = _mm_extract_epi32(g, 0) + _mm_extract_epi32(g, 1) + _mm_extract_epi32(g, 2) + _mm_extract_epi32(g, 3);
            y[i].bsums[j / 16] = (int16_t)s0;
            y[i].bsums[j / 16 + 1] = (int16_t)s1;
        }
        y[i].d = 1 / iscale;
    }
}

QK_AVX2 static void to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

static inline uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

QK_AVX2 static void to_bf16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absmask), inf);
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                                         _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
        r = _mm256_srli_epi32(r, 16);
        __m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
        r = _mm256_blendv_epi8(r, qn, nan);
        // pack 8 × u32 (< 65536) into 8 × u16
        __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
        _mm_storeu_si128((__m128i *)(y + i), _mm_packus_epi32(lo, hi));
    }
    for (; i < n; i++) y[i] = f2bf(x[i]);
}

int qk_quantize_row_avx2(int act_type, const float *x, void *dst, int64_t n) {
    switch (act_type) {
    case QK_Q8_0: quantize_q8_01(x, dst, n, 0); return 1;
    case QK_Q8_1: quantize_q8_01(x, dst, n, 1); return 1;
    case QK_Q8_K: quantize_q8_K(x, dst, n); return 1;
    case QK_F16: to_f16(x, dst, n); return 1;
    case QK_BF16: to_bf16(x, dst, n); return 1;
    case QK_F32: memcpy(dst, x, (size_t)n * 4); return 1;
    default: return 0;
    }
}

#else
int qk_quantize_row_avx2(int act_type, const float *x, void *dst, int64_t n) {
    (void)act_type; (void)x; (void)dst; (void)n;
    return 0;
}
#endif
