// Fused AVX2 dot products of one weight row with one converted activation row (the gemv path).
// Same integer math as ggml's generic ggml_vec_dot_*: block integer sums are exact; only the
// order of the float accumulation differs.
#include "internal.h"

#ifdef QK_X86

// ---------------------------------------------------------------- block-32 types (Q8_0 / Q8_1)

QK_AVX2 static float dot_q8_0(int n, const void *vx, const void *vy) {
    const blk_q8_0 *x = vx, *y = vy;
    const int nb = n / 32;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i p0 = _mm256_madd_epi16(qk_mul_i8_pairs(qk_loadu(x[i].qs), qk_loadu(y[i].qs)), ones);
        __m256i p1 = _mm256_madd_epi16(qk_mul_i8_pairs(qk_loadu(x[i + 1].qs), qk_loadu(y[i + 1].qs)), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i + 1].d) * qk_h2f(y[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        __m256i p0 = _mm256_madd_epi16(qk_mul_i8_pairs(qk_loadu(x[i].qs), qk_loadu(y[i].qs)), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1));
}

/// Q4_0: values q−8 with q the nibble; Σ(q−8)·y = Σq·y − 8·Σy, both from maddubs on unsigned q.
QK_AVX2 static float dot_q4_0(int n, const void *vx, const void *vy) {
    const blk_q4_0 *x = vx;
    const blk_q8_0 *y = vy;
    const int nb = n / 32;
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i off = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i q0 = _mm256_sub_epi8(qk_nibbles32(x[i].qs), off);
        __m256i q1 = _mm256_sub_epi8(qk_nibbles32(x[i + 1].qs), off);
        __m256i p0 = _mm256_madd_epi16(qk_mul_i8_pairs(q0, qk_loadu(y[i].qs)), ones16);
        __m256i p1 = _mm256_madd_epi16(qk_mul_i8_pairs(q1, qk_loadu(y[i + 1].qs)), ones16);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i + 1].d) * qk_h2f(y[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        __m256i q0 = _mm256_sub_epi8(qk_nibbles32(x[i].qs), off);
        __m256i p0 = _mm256_madd_epi16(qk_mul_i8_pairs(q0, qk_loadu(y[i].qs)), ones16);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1));
}

QK_AVX2 static float dot_q4_1(int n, const void *vx, const void *vy) {
    const blk_q4_1 *x = vx;
    const blk_q8_1 *y = vy;
    const int nb = n / 32;
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs = 0;
    int i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(qk_nibbles32(x[i].qs), qk_loadu(y[i].qs)), ones16);
        __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(qk_nibbles32(x[i + 1].qs), qk_loadu(y[i + 1].qs)), ones16);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i + 1].d) * qk_h2f(y[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
        summs += qk_h2f(x[i].m) * qk_h2f(y[i].s) + qk_h2f(x[i + 1].m) * qk_h2f(y[i + 1].s);
    }
    for (; i < nb; i++) {
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(qk_nibbles32(x[i].qs), qk_loadu(y[i].qs)), ones16);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        summs += qk_h2f(x[i].m) * qk_h2f(y[i].s);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1)) + summs;
}

/// Q5_0: (nibble | hbit<<4) − 16, built signed in one OR: a clear high bit ORs in 0xF0 (= −16).
QK_AVX2 static float dot_q5_0(int n, const void *vx, const void *vy) {
    const blk_q5_0 *x = vx;
    const blk_q8_0 *y = vy;
    const int nb = n / 32;
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i hi = _mm256_set1_epi8((char)0xF0);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i q = _mm256_or_si256(qk_nibbles32(x[i].qs), _mm256_andnot_si256(qk_bits32(x[i].qh), hi));
        __m256i p = _mm256_madd_epi16(qk_mul_i8_pairs(q, qk_loadu(y[i].qs)), ones16);
        __m256 v = _mm256_mul_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p));
        if (i & 1) acc1 = _mm256_add_ps(acc1, v); else acc0 = _mm256_add_ps(acc0, v);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1));
}

QK_AVX2 static float dot_q5_1(int n, const void *vx, const void *vy) {
    const blk_q5_1 *x = vx;
    const blk_q8_1 *y = vy;
    const int nb = n / 32;
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i b4 = _mm256_set1_epi8(0x10);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs = 0;
    for (int i = 0; i < nb; i++) {
        __m256i q = _mm256_or_si256(qk_nibbles32(x[i].qs), _mm256_and_si256(qk_bits32(x[i].qh), b4));
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, qk_loadu(y[i].qs)), ones16);
        __m256 v = _mm256_mul_ps(_mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p));
        if (i & 1) acc1 = _mm256_add_ps(acc1, v); else acc0 = _mm256_add_ps(acc0, v);
        summs += qk_h2f(x[i].m) * qk_h2f(y[i].s);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1)) + summs;
}

/// IQ4_NL and MXFP4: nibbles index a 16-entry int8 table (one shuffle), then signed products.
QK_AVX2 static inline float dot_lut4_q8_0(int n, const uint8_t *x, size_t bsz, int mx, const blk_q8_0 *y, const int8_t *table) {
    const int nb = n / 32;
    const __m128i t128 = _mm_loadu_si128((const __m128i *)table);
    const __m256i lut = _mm256_inserti128_si256(_mm256_castsi128_si256(t128), t128, 1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, x += bsz) {
        const float dx = mx ? qk_e8m0_half(x[0]) : qk_h2f(*(const qk_half *)x);
        __m256i q = _mm256_shuffle_epi8(lut, qk_nibbles32(x + (mx ? 1 : 2)));
        __m256i p = _mm256_madd_epi16(qk_mul_i8_pairs(q, qk_loadu(y[i].qs)), ones16);
        __m256 v = _mm256_mul_ps(_mm256_set1_ps(dx * qk_h2f(y[i].d)), _mm256_cvtepi32_ps(p));
        if (i & 1) acc1 = _mm256_add_ps(acc1, v); else acc0 = _mm256_add_ps(acc0, v);
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1));
}

QK_AVX2 static float dot_iq4_nl(int n, const void *vx, const void *vy) {
    return dot_lut4_q8_0(n, vx, 18, 0, vy, qk_kvalues_iq4nl);
}

QK_AVX2 static float dot_mxfp4(int n, const void *vx, const void *vy) {
    return dot_lut4_q8_0(n, vx, 17, 1, vy, qk_kvalues_mxfp4);
}

// ---------------------------------------------------------------- K-quants (Q8_K)

/// Σ_j bsums[j]·v[j] for 16 int16 values v (one per 16-value group).
QK_INLINE __m256i bsum_dot(const blk_q8_K *y, __m256i v16) {
    return _mm256_madd_epi16(qk_loadu(y->bsums), v16);
}

/// Broadcasts int16 scale pairs: returns [s[a] ×8 | s[b] ×8] (int16 lanes) for the 16-lane layout
/// of a maddubs result over 32 values that span two 16-value groups a, b.
QK_INLINE __m256i scale_pair(const int16_t *s, int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(s[a])), _mm_set1_epi16(s[b]), 1);
}

QK_AVX2 static float dot_q4_K(int n, const void *vx, const void *vy) {
    const blk_q4_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        qk_scale_min_k4(x[i].scales, sc, mn);
        const float dy = y[i].d;
        // mins: Σ_j m_{j/2}·bsums[j]
        __m128i mn8 = _mm_loadl_epi64((const __m128i *)mn);
        __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));   // each min twice
        accm -= dy * qk_h2f(x[i].dmin) * (float)qk_hsum_epi32(bsum_dot(&y[i], mn16));
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i bits = qk_loadu(q4 + 32 * j);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            __m256i pl = _mm256_maddubs_epi16(lo, qk_loadu(q8 + 64 * j));
            __m256i ph = _mm256_maddubs_epi16(hi, qk_loadu(q8 + 64 * j + 32));
            pl = _mm256_madd_epi16(pl, _mm256_set1_epi16(sc[2 * j]));
            ph = _mm256_madd_epi16(ph, _mm256_set1_epi16(sc[2 * j + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc) + accm;
}

QK_AVX2 static float dot_q5_K(int n, const void *vx, const void *vy) {
    const blk_q5_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i b4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        qk_scale_min_k4(x[i].scales, sc, mn);
        const float dy = y[i].d;
        __m128i mn8 = _mm_loadl_epi64((const __m128i *)mn);
        __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
        accm -= dy * qk_h2f(x[i].dmin) * (float)qk_hsum_epi32(bsum_dot(&y[i], mn16));
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        const __m256i hbits = qk_loadu(x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i bits = qk_loadu(q4 + 32 * j);
            // high bit of value 64j+l is bit 2j of qh[l]; of value 64j+32+l, bit 2j+1
            __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * j), 4), b4);
            __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * j + 1), 4), b4);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
            __m256i pl = _mm256_maddubs_epi16(lo, qk_loadu(q8 + 64 * j));
            __m256i ph = _mm256_maddubs_epi16(hi, qk_loadu(q8 + 64 * j + 32));
            pl = _mm256_madd_epi16(pl, _mm256_set1_epi16(sc[2 * j]));
            ph = _mm256_madd_epi16(ph, _mm256_set1_epi16(sc[2 * j + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc) + accm;
}

/// Q6_K: unsigned 6-bit q, value q − 32; the −32 is applied once per super-block through bsums.
QK_AVX2 static float dot_q6_K(int n, const void *vx, const void *vy) {
    const blk_q6_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(qk_loadu128(x[i].scales));
        int16_t s[16];
        _mm256_storeu_si256((__m256i *)s, sc16);
        __m256i sumi = _mm256_slli_epi32(bsum_dot(&y[i], sc16), 5);
        sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
        for (int j = 0; j < 2; j++) {
            __m256i l1 = qk_loadu(ql + 64 * j), l2 = qk_loadu(ql + 64 * j + 32), h = qk_loadu(qh + 32 * j);
            __m256i v0 = _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            __m256i v1 = _mm256_or_si256(_mm256_and_si256(l2, m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            __m256i v2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            __m256i v3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            const int8_t *y8 = q8 + 128 * j;
            const int g = 8 * j;
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(v0, qk_loadu(y8)), scale_pair(s, g + 0, g + 1));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(v1, qk_loadu(y8 + 32)), scale_pair(s, g + 2, g + 3));
            __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(v2, qk_loadu(y8 + 64)), scale_pair(s, g + 4, g + 5));
            __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(v3, qk_loadu(y8 + 96)), scale_pair(s, g + 6, g + 7));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc);
}

/// Q3_K: unsigned v = (2 low bits) + 4·hbit ∈ 0…7, value v − 4; the −4 goes through bsums.
QK_AVX2 static float dot_q3_K(int n, const void *vx, const void *vy) {
    const blk_q3_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        int8_t s8[16];
        qk_scales_q3k(x[i].scales, s8);
        const __m256i sc16 = _mm256_cvtepi8_epi16(qk_loadu128(s8));
        int16_t s[16];
        _mm256_storeu_si256((__m256i *)s, sc16);
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(bsum_dot(&y[i], sc16), 2));
        const __m256i hm = qk_loadu(x[i].hmask);
        const int8_t *q8 = y[i].qs;
        for (int j = 0; j < 2; j++) {
            const __m256i bits = qk_loadu(x[i].qs + 32 * j);
            for (int k = 0; k < 4; k++) {
                const int sh = 4 * j + k;   // hmask bit of this 32-value group
                __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hm, sh), 2), b2);
                __m256i v = _mm256_or_si256(lo, h);
                const int g = 2 * sh;
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, qk_loadu(q8 + 32 * sh)), scale_pair(s, g, g + 1));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc);
}

QK_AVX2 static float dot_q2_K(int n, const void *vx, const void *vy) {
    const blk_q2_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int i = 0; i < nb; i++) {
        const __m128i sc8 = qk_loadu128(x[i].scales);
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_srli_epi16(_mm_andnot_si128(_mm_set1_epi8(0x0F), sc8), 4));
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(0x0F)));
        int16_t s[16];
        _mm256_storeu_si256((__m256i *)s, sc16);
        const float dy = y[i].d;
        accm -= dy * qk_h2f(x[i].dmin) * (float)qk_hsum_epi32(bsum_dot(&y[i], mins16));
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 2; j++) {
            const __m256i bits = qk_loadu(x[i].qs + 32 * j);
            for (int k = 0; k < 4; k++) {
                const int grp = 4 * j + k;
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, qk_loadu(q8 + 32 * grp)), scale_pair(s, 2 * grp, 2 * grp + 1));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc) + accm;
}

QK_AVX2 static float dot_iq4_xs(int n, const void *vx, const void *vy) {
    const blk_iq4_xs *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m128i t128 = _mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl);
    const __m256i lut = _mm256_inserti128_si256(_mm256_castsi128_si256(t128), t128, 1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        uint16_t h = x[i].scales_h;
        const uint8_t *qs = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib & 1))) & 0xF) | (((h >> (2 * ib)) & 3) << 4);
            __m256i q = _mm256_shuffle_epi8(lut, qk_nibbles32(qs + 16 * ib));
            __m256i p = _mm256_madd_epi16(qk_mul_i8_pairs(q, qk_loadu(q8 + 32 * ib)), _mm256_set1_epi16((int16_t)(ls - 32)));
            sumi = _mm256_add_epi32(sumi, p);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc);
}

QK_AVX2 static float dot_tq2_0(int n, const void *vx, const void *vy) {
    const blk_tq2_0 *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        // value q − 1: Σ q·y − Σ y
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), bsum_dot(&y[i], ones16));
        __m256i s16 = _mm256_setzero_si256();
        for (int j = 0; j < 2; j++) {
            const __m256i bits = qk_loadu(x[i].qs + 32 * j);
            for (int l = 0; l < 4; l++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * l), m3);
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(v, qk_loadu(y[i].qs + 128 * j + 32 * l)));
            }
        }
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s16, ones16));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(acc);
}

// ---------------------------------------------------------------- plain floats

QK_AVX2 static float dot_f32(int n, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float s = qk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

QK_INLINE __m256 ld_f16(const uint16_t *p) { return _mm256_cvtph_ps(qk_loadu128(p)); }
QK_INLINE __m256 ld_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(qk_loadu128(p)), 16));
}
static inline float bf2f(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

QK_AVX2 static float dot_f16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(ld_f16(x + i), ld_f16(y + i), a0);
        a1 = _mm256_fmadd_ps(ld_f16(x + i + 8), ld_f16(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(ld_f16(x + i + 16), ld_f16(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(ld_f16(x + i + 24), ld_f16(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(ld_f16(x + i), ld_f16(y + i), a0);
    float s = qk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += _cvtsh_ss(x[i]) * _cvtsh_ss(y[i]);
    return s;
}

QK_AVX2 static float dot_bf16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(ld_bf16(x + i), ld_bf16(y + i), a0);
        a1 = _mm256_fmadd_ps(ld_bf16(x + i + 8), ld_bf16(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(ld_bf16(x + i + 16), ld_bf16(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(ld_bf16(x + i + 24), ld_bf16(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(ld_bf16(x + i), ld_bf16(y + i), a0);
    float s = qk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += bf2f(x[i]) * bf2f(y[i]);
    return s;
}

// ---------------------------------------------------------------- dispatch

typedef float (*qk_dot_fn)(int, const void *, const void *);
float qk_dot_decoded256(int type, int n, const void *w, const void *a);   // gemm_avx2.c

qk_dot_fn qk_fused_dot(int type) {
    switch (type) {
    case QK_F32: return dot_f32;
    case QK_F16: return dot_f16;
    case QK_BF16: return dot_bf16;
    case QK_Q8_0: return dot_q8_0;
    case QK_Q4_0: return dot_q4_0;
    case QK_Q4_1: return dot_q4_1;
    case QK_Q5_0: return dot_q5_0;
    case QK_Q5_1: return dot_q5_1;
    case QK_IQ4_NL: return dot_iq4_nl;
    case QK_MXFP4: return dot_mxfp4;
    case QK_Q2_K: return dot_q2_K;
    case QK_Q3_K: return dot_q3_K;
    case QK_Q4_K: return dot_q4_K;
    case QK_Q5_K: return dot_q5_K;
    case QK_Q6_K: return dot_q6_K;
    case QK_IQ4_XS: return dot_iq4_xs;
    case QK_TQ2_0: return dot_tq2_0;
    default: return NULL;
    }
}

#endif
