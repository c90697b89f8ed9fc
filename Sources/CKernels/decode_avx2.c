// Block decoders into the two canonical integer forms the tiled kernels (and the generic gemv for
// the i-quants) consume:
//
// P32 (weights on Q8_0 / Q8_1 activations, blocks of 32): 32 values v (u8, or s8 when `signed`),
//   a scale d and an offset coefficient m:  block dot = d·d_a·Σ v·a + m·S_a,
//   where S_a = d_a·Σa (Q8_0: computed; Q8_1: the block's s). Decoded by kinds.h.
//
// P256 (weights on Q8_K activations, super-blocks of 256): 256 values v (u8, or s8 for IQ4_XS),
//   sixteen int16 scales sc (one per 16 values), sixteen int16 offsets mn, floats D and M:
//   super-block dot = D·d_a·Σ_j sc_j·Σ_{i∈j} v_i·a_i + M·d_a·Σ_j mn_j·bsum_j.
//
// Every decoder reproduces the reference's integers exactly (offsets are folded into mn or m).
#include "decode.h"

#ifdef QK_X86

// P32 values and scales are decoded inline by the panel builder (kinds.h: kind_values,
// kind_scales8), shared with the gemv kernels.

// ------------------------------------------------------------------------------------ P256

QK_AVX2 void qk_dec256_q4_K(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_q4_K *x = (const blk_q4_K *)b;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int j = 0; j < 4; j++) {
        __m256i bits = qk_loadu(x->qs + 32 * j);
        _mm256_storeu_si256((__m256i *)(q + 64 * j), _mm256_and_si256(bits, m4));
        _mm256_storeu_si256((__m256i *)(q + 64 * j + 32), _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
    }
    uint8_t s[8], m[8];
    qk_scale_min_k4(x->scales, s, m);
    for (int j = 0; j < 8; j++) {
        sc[2 * j] = sc[2 * j + 1] = s[j];
        mn[2 * j] = mn[2 * j + 1] = m[j];
    }
    *D = qk_h2f(x->d);
    *M = -qk_h2f(x->dmin);
}

QK_AVX2 void qk_dec256_q5_K(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_q5_K *x = (const blk_q5_K *)b;
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    const __m256i hb = qk_loadu(x->qh);
    for (int j = 0; j < 4; j++) {
        __m256i bits = qk_loadu(x->qs + 32 * j);
        __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hb, 2 * j), 4), b4);
        __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hb, 2 * j + 1), 4), b4);
        _mm256_storeu_si256((__m256i *)(q + 64 * j), _mm256_or_si256(_mm256_and_si256(bits, m4), h0));
        _mm256_storeu_si256((__m256i *)(q + 64 * j + 32), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1));
    }
    uint8_t s[8], m[8];
    qk_scale_min_k4(x->scales, s, m);
    for (int j = 0; j < 8; j++) {
        sc[2 * j] = sc[2 * j + 1] = s[j];
        mn[2 * j] = mn[2 * j + 1] = m[j];
    }
    *D = qk_h2f(x->d);
    *M = -qk_h2f(x->dmin);
}

/// Q6_K: v = the raw 6-bit value (value v − 32): mn = 32·sc, M = −D.
QK_AVX2 void qk_dec256_q6_K(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_q6_K *x = (const blk_q6_K *)b;
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    for (int j = 0; j < 2; j++) {
        __m256i l1 = qk_loadu(x->ql + 64 * j), l2 = qk_loadu(x->ql + 64 * j + 32), h = qk_loadu(x->qh + 32 * j);
        uint8_t *o = q + 128 * j;
        _mm256_storeu_si256((__m256i *)(o), _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4)));
        _mm256_storeu_si256((__m256i *)(o + 32), _mm256_or_si256(_mm256_and_si256(l2, m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4)));
        _mm256_storeu_si256((__m256i *)(o + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4)));
        _mm256_storeu_si256((__m256i *)(o + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4)));
    }
    for (int j = 0; j < 16; j++) {
        sc[j] = x->scales[j];
        mn[j] = (int16_t)(32 * x->scales[j]);
    }
    *D = qk_h2f(x->d);
    *M = -*D;
}

/// Q3_K: v = 2 low bits + 4·hbit ∈ 0…7 (value v − 4): mn = 4·sc, M = −D.
QK_AVX2 void qk_dec256_q3_K(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_q3_K *x = (const blk_q3_K *)b;
    const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
    const __m256i hm = qk_loadu(x->hmask);
    for (int j = 0; j < 2; j++) {
        const __m256i bits = qk_loadu(x->qs + 32 * j);
        for (int k = 0; k < 4; k++) {
            const int g = 4 * j + k;
            __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
            __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hm, g), 2), b2);
            _mm256_storeu_si256((__m256i *)(q + 32 * g), _mm256_or_si256(lo, h));
        }
    }
    int8_t s[16];
    qk_scales_q3k(x->scales, s);
    for (int j = 0; j < 16; j++) {
        sc[j] = s[j];
        mn[j] = (int16_t)(4 * s[j]);
    }
    *D = qk_h2f(x->d);
    *M = -*D;
}

QK_AVX2 void qk_dec256_q2_K(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_q2_K *x = (const blk_q2_K *)b;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int j = 0; j < 2; j++) {
        const __m256i bits = qk_loadu(x->qs + 32 * j);
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256((__m256i *)(q + 32 * (4 * j + k)), _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3));
    }
    for (int j = 0; j < 16; j++) {
        sc[j] = x->scales[j] & 0xF;
        mn[j] = x->scales[j] >> 4;
    }
    *D = qk_h2f(x->d);
    *M = -qk_h2f(x->dmin);
}

/// IQ4_XS: signed values (kvalues_iq4nl), scale ls − 32 per 32; no offset.
QK_AVX2 void qk_dec256_iq4_xs(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq4_xs *x = (const blk_iq4_xs *)b;
    const __m128i t = _mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl);
    const __m256i lut = _mm256_inserti128_si256(_mm256_castsi128_si256(t), t, 1);
    for (int ib = 0; ib < 8; ib++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * ib), _mm256_shuffle_epi8(lut, qk_nibbles32(x->qs + 16 * ib)));
        const int ls = ((x->scales_l[ib / 2] >> (4 * (ib & 1))) & 0xF) | (((x->scales_h >> (2 * ib)) & 3) << 4);
        sc[2 * ib] = sc[2 * ib + 1] = (int16_t)(ls - 32);
        mn[2 * ib] = mn[2 * ib + 1] = 0;
    }
    *D = qk_h2f(x->d);
    *M = 0;
}

QK_AVX2 void qk_dec256_tq2_0(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_tq2_0 *x = (const blk_tq2_0 *)b;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int j = 0; j < 2; j++) {
        const __m256i bits = qk_loadu(x->qs + 32 * j);
        for (int l = 0; l < 4; l++)
            _mm256_storeu_si256((__m256i *)(q + 128 * j + 32 * l), _mm256_and_si256(_mm256_srli_epi16(bits, 2 * l), m3));
    }
    for (int j = 0; j < 16; j++) sc[j] = mn[j] = 1;
    *D = qk_h2f(x->d);
    *M = -*D;
}

/// Base-3 digit of every byte: ((q·m mod 256)·3) >> 8, m = 3^l.
QK_INLINE __m256i tq1_digit(__m256i q, int m) {
    const __m256i lo8 = _mm256_set1_epi16(0xFF), mul = _mm256_set1_epi16((short)m), three = _mm256_set1_epi16(3);
    const __m256i ve = _mm256_and_si256(_mm256_mullo_epi16(_mm256_and_si256(q, lo8), mul), lo8);
    const __m256i vo = _mm256_and_si256(_mm256_mullo_epi16(_mm256_srli_epi16(q, 8), mul), lo8);
    const __m256i de = _mm256_srli_epi16(_mm256_mullo_epi16(ve, three), 8);
    const __m256i dd = _mm256_srli_epi16(_mm256_mullo_epi16(vo, three), 8);
    return _mm256_or_si256(de, _mm256_slli_epi16(dd, 8));
}

/// TQ1_0: base-3 digits (value digit − 1), digit l of byte q is ((q·3^l mod 256)·3) >> 8.
QK_AVX2 void qk_dec256_tq1_0(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_tq1_0 *x = (const blk_tq1_0 *)b;
    static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
    // qs[0..31]: 5 digits × 32; qs[32..47]: 5 digits × 16; qh[0..3]: 4 digits × 4
    const __m256i a = qk_loadu(x->qs);
    const __m256i c = _mm256_castsi128_si256(qk_loadu128(x->qs + 32));
    for (int l = 0; l < 5; l++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * l), tq1_digit(a, pow3[l]));
        _mm_storeu_si128((__m128i *)(q + 160 + 16 * l), _mm256_castsi256_si128(tq1_digit(c, pow3[l])));
    }
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < 4; j++) {
            uint8_t v = (uint8_t)(x->qh[j] * pow3[l]);
            q[240 + l * 4 + j] = (uint8_t)(((uint16_t)v * 3) >> 8);
        }
    for (int j = 0; j < 16; j++) sc[j] = mn[j] = 1;
    *D = qk_h2f(x->d);
    *M = -*D;
}

/// Stores sign(grid) + off for 32 values: grid magnitudes q, ±1 sign bytes s.
QK_INLINE void put32(uint8_t *q, __m256i grid, __m256i s, int off) {
    _mm256_storeu_si256((__m256i *)q, _mm256_add_epi8(_mm256_sign_epi8(grid, s), _mm256_set1_epi8((char)off)));
}

/// IQ2 values ±{8, 25, 43} stored + 43; scales 2s+1; D = d/8.
QK_AVX2 void qk_dec256_iq2_xxs(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq2_xxs *x = (const blk_iq2_xxs *)b;
    for (int ib = 0; ib < 8; ib++) {
        uint32_t a[2];
        memcpy(a, x->qs + 4 * ib, 8);
        const uint8_t *idx = (const uint8_t *)&a[0];
        const __m256i s = _mm256_set_epi64x((long long)qk_signs64[(a[1] >> 21) & 127], (long long)qk_signs64[(a[1] >> 14) & 127],
                                            (long long)qk_signs64[(a[1] >> 7) & 127], (long long)qk_signs64[a[1] & 127]);
        put32(q + 32 * ib, grid4x64(qk_iq2xxs_grid, idx[0], idx[1], idx[2], idx[3]), s, 43);
        const int16_t ls = (int16_t)(2 * (a[1] >> 28) + 1);
        sc[2 * ib] = sc[2 * ib + 1] = ls;
        mn[2 * ib] = mn[2 * ib + 1] = (int16_t)(43 * ls);
    }
    *D = 0.125f * qk_h2f(x->d);
    *M = -*D;
}

QK_AVX2 void qk_dec256_iq2_xs(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq2_xs *x = (const blk_iq2_xs *)b;
    for (int ib = 0; ib < 8; ib++) {
        const uint16_t *v = x->qs + 4 * ib;
        const __m256i s = _mm256_set_epi64x((long long)qk_signs64[v[3] >> 9], (long long)qk_signs64[v[2] >> 9],
                                            (long long)qk_signs64[v[1] >> 9], (long long)qk_signs64[v[0] >> 9]);
        put32(q + 32 * ib, grid4x64(qk_iq2xs_grid, v[0] & 511, v[1] & 511, v[2] & 511, v[3] & 511), s, 43);
        const int16_t l1 = (int16_t)(2 * (x->scales[ib] & 0xF) + 1), l2 = (int16_t)(2 * (x->scales[ib] >> 4) + 1);
        sc[2 * ib] = l1; sc[2 * ib + 1] = l2;
        mn[2 * ib] = (int16_t)(43 * l1); mn[2 * ib + 1] = (int16_t)(43 * l2);
    }
    *D = 0.125f * qk_h2f(x->d);
    *M = -*D;
}

QK_AVX2 void qk_dec256_iq2_s(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq2_s *x = (const blk_iq2_s *)b;
    const uint8_t *qs = x->qs, *signs = x->qs + 32;
    for (int ib = 0; ib < 8; ib++) {
        const int qh = x->qh[ib];
        const __m256i g = grid4x64(qk_iq2s_grid, qs[4 * ib] | ((qh << 8) & 0x300), qs[4 * ib + 1] | ((qh << 6) & 0x300),
                                   qs[4 * ib + 2] | ((qh << 4) & 0x300), qs[4 * ib + 3] | ((qh << 2) & 0x300));
        put32(q + 32 * ib, g, signs_from_bits(signs + 4 * ib), 43);
        const int16_t l1 = (int16_t)(2 * (x->scales[ib] & 0xF) + 1), l2 = (int16_t)(2 * (x->scales[ib] >> 4) + 1);
        sc[2 * ib] = l1; sc[2 * ib + 1] = l2;
        mn[2 * ib] = (int16_t)(43 * l1); mn[2 * ib + 1] = (int16_t)(43 * l2);
    }
    *D = 0.125f * qk_h2f(x->d);
    *M = -*D;
}

/// IQ3_XXS values ±{4…62} stored + 62; D = d/4.
QK_AVX2 void qk_dec256_iq3_xxs(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq3_xxs *x = (const blk_iq3_xxs *)b;
    const uint8_t *gas = x->qs + 64;
    for (int ib = 0; ib < 8; ib++) {
        uint32_t aux;
        memcpy(&aux, gas + 4 * ib, 4);
        const uint8_t *g = x->qs + 8 * ib;
        const __m256i grid = _mm256_set_epi32((int)qk_iq3xxs_grid[g[7]], (int)qk_iq3xxs_grid[g[6]], (int)qk_iq3xxs_grid[g[5]], (int)qk_iq3xxs_grid[g[4]],
                                              (int)qk_iq3xxs_grid[g[3]], (int)qk_iq3xxs_grid[g[2]], (int)qk_iq3xxs_grid[g[1]], (int)qk_iq3xxs_grid[g[0]]);
        const __m256i s = _mm256_set_epi64x((long long)qk_signs64[(aux >> 21) & 127], (long long)qk_signs64[(aux >> 14) & 127],
                                            (long long)qk_signs64[(aux >> 7) & 127], (long long)qk_signs64[aux & 127]);
        put32(q + 32 * ib, grid, s, 62);
        const int16_t ls = (int16_t)(2 * (aux >> 28) + 1);
        sc[2 * ib] = sc[2 * ib + 1] = ls;
        mn[2 * ib] = mn[2 * ib + 1] = (int16_t)(62 * ls);
    }
    *D = 0.25f * qk_h2f(x->d);
    *M = -*D;
}

/// IQ3_S values ±{1…15} stored + 15; scales 2s+1 per 32.
QK_AVX2 void qk_dec256_iq3_s(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq3_s *x = (const blk_iq3_s *)b;
    for (int ib = 0; ib < 8; ib++) {
        const uint8_t *qs = x->qs + 8 * ib;
        const int qh = x->qh[ib];
        int idx[8];
        for (int l = 0; l < 8; l++) idx[l] = qs[l] | ((qh << (8 - l)) & 256);
        const __m256i grid = _mm256_set_epi32((int)qk_iq3s_grid[idx[7]], (int)qk_iq3s_grid[idx[6]], (int)qk_iq3s_grid[idx[5]], (int)qk_iq3s_grid[idx[4]],
                                              (int)qk_iq3s_grid[idx[3]], (int)qk_iq3s_grid[idx[2]], (int)qk_iq3s_grid[idx[1]], (int)qk_iq3s_grid[idx[0]]);
        put32(q + 32 * ib, grid, signs_from_bits(x->signs + 4 * ib), 15);
        const int16_t ls = (int16_t)(2 * ((x->scales[ib / 2] >> (4 * (ib & 1))) & 0xF) + 1);
        sc[2 * ib] = sc[2 * ib + 1] = ls;
        mn[2 * ib] = mn[2 * ib + 1] = (int16_t)(15 * ls);
    }
    *D = qk_h2f(x->d);
    *M = -*D;
}

/// IQ1_S: value ls·(g + δ/8), g ∈ {−1, 0, 1}, δ = ±1: v = 8g + δ stored + 9, D = d/8.
QK_AVX2 void qk_dec256_iq1_s(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq1_s *x = (const blk_iq1_s *)b;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int ib = 0; ib < 8; ib++) {
        const uint16_t qh = x->qh[ib];
        const int delta = qh & 0x8000 ? -1 : 1;
        const uint8_t *qs = x->qs + 4 * ib;
        const __m256i g = grid4x64(qk_iq1s_grid, qs[0] | ((qh << 8) & 0x700), qs[1] | ((qh << 5) & 0x700),
                                   qs[2] | ((qh << 2) & 0x700), qs[3] | ((qh >> 1) & 0x700));
        _mm256_storeu_si256((__m256i *)(q + 32 * ib), _mm256_add_epi8(_mm256_sign_epi8(eight, g), _mm256_set1_epi8((char)(delta + 9))));
        const int16_t ls = (int16_t)(2 * ((qh >> 12) & 7) + 1);
        sc[2 * ib] = sc[2 * ib + 1] = ls;
        mn[2 * ib] = mn[2 * ib + 1] = (int16_t)(9 * ls);
    }
    *D = 0.125f * qk_h2f(x->d);
    *M = -*D;
}

QK_AVX2 void qk_dec256_iq1_m(const uint8_t *b, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M) {
    const blk_iq1_m *x = (const blk_iq1_m *)b;
    uint16_t s4[4];
    memcpy(s4, x->scales, 8);
    const uint16_t scale = (uint16_t)((s4[0] >> 12) | ((s4[1] >> 8) & 0x00f0) | ((s4[2] >> 4) & 0x0f00) | (s4[3] & 0xf000));
    const __m256i eight = _mm256_set1_epi8(8);
    for (int ib = 0; ib < 8; ib++) {
        const uint8_t *qh = x->qh + 2 * ib, *qs = x->qs + 4 * ib;
        const __m256i g = grid4x64(qk_iq1s_grid, qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                                   qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700));
        const __m256i off = _mm256_set_epi64x(0x0101010101010101LL * ((qh[1] & 0x80) ? 8 : 10), 0x0101010101010101LL * ((qh[1] & 0x08) ? 8 : 10),
                                              0x0101010101010101LL * ((qh[0] & 0x80) ? 8 : 10), 0x0101010101010101LL * ((qh[0] & 0x08) ? 8 : 10));
        _mm256_storeu_si256((__m256i *)(q + 32 * ib), _mm256_add_epi8(_mm256_sign_epi8(eight, g), off));
        const int16_t l1 = (int16_t)(2 * ((s4[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1);
        const int16_t l2 = (int16_t)(2 * ((s4[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1);
        sc[2 * ib] = l1; sc[2 * ib + 1] = l2;
        mn[2 * ib] = (int16_t)(9 * l1); mn[2 * ib + 1] = (int16_t)(9 * l2);
    }
    *D = 0.125f * qk_h2f(scale);
    *M = -*D;
}

const qk_p256_info *qk_p256(int type) {
    static const qk_p256_info t_q4_K = {qk_dec256_q4_K, 144, 4, 0, 1};
    static const qk_p256_info t_q5_K = {qk_dec256_q5_K, 176, 4, 0, 1};
    static const qk_p256_info t_q6_K = {qk_dec256_q6_K, 210, 2, 0, 1};
    static const qk_p256_info t_q3_K = {qk_dec256_q3_K, 110, 4, 0, 1};
    static const qk_p256_info t_q2_K = {qk_dec256_q2_K, 84, 4, 0, 1};
    static const qk_p256_info t_iq4_xs = {qk_dec256_iq4_xs, 136, 1, 1, 0};
    static const qk_p256_info t_tq1_0 = {qk_dec256_tq1_0, 54, 4, 0, 1};
    static const qk_p256_info t_tq2_0 = {qk_dec256_tq2_0, 66, 4, 0, 1};
    static const qk_p256_info t_iq2_xxs = {qk_dec256_iq2_xxs, 66, 1, 0, 1};
    static const qk_p256_info t_iq2_xs = {qk_dec256_iq2_xs, 74, 1, 0, 1};
    static const qk_p256_info t_iq2_s = {qk_dec256_iq2_s, 82, 1, 0, 1};
    static const qk_p256_info t_iq3_xxs = {qk_dec256_iq3_xxs, 98, 1, 0, 1};
    static const qk_p256_info t_iq3_s = {qk_dec256_iq3_s, 110, 4, 0, 1};
    static const qk_p256_info t_iq1_s = {qk_dec256_iq1_s, 50, 4, 0, 1};
    static const qk_p256_info t_iq1_m = {qk_dec256_iq1_m, 56, 4, 0, 1};
    switch (type) {
    case QK_Q4_K: return &t_q4_K;
    case QK_Q5_K: return &t_q5_K;
    case QK_Q6_K: return &t_q6_K;
    case QK_Q3_K: return &t_q3_K;
    case QK_Q2_K: return &t_q2_K;
    case QK_IQ4_XS: return &t_iq4_xs;
    case QK_TQ1_0: return &t_tq1_0;
    case QK_TQ2_0: return &t_tq2_0;
    case QK_IQ2_XXS: return &t_iq2_xxs;
    case QK_IQ2_XS: return &t_iq2_xs;
    case QK_IQ2_S: return &t_iq2_s;
    case QK_IQ3_XXS: return &t_iq3_xxs;
    case QK_IQ3_S: return &t_iq3_s;
    case QK_IQ1_S: return &t_iq1_s;
    case QK_IQ1_M: return &t_iq1_m;
    default: return NULL;
    }
}

const qk_p32_info *qk_p32(int type) {
    static const qk_p32_info t_q4_0 = {18, 8, 0, QK_Q8_0};
    static const qk_p32_info t_q4_1 = {20, 8, 0, QK_Q8_1};
    static const qk_p32_info t_q5_0 = {22, 4, 0, QK_Q8_0};
    static const qk_p32_info t_q5_1 = {24, 4, 0, QK_Q8_1};
    static const qk_p32_info t_q8_0 = {34, 1, 1, QK_Q8_0};
    static const qk_p32_info t_iq4_nl = {18, 1, 1, QK_Q8_0};
    static const qk_p32_info t_mxfp4 = {17, 4, 0, QK_Q8_0};
    switch (type) {
    case QK_Q4_0: return &t_q4_0;
    case QK_Q4_1: return &t_q4_1;
    case QK_Q5_0: return &t_q5_0;
    case QK_Q5_1: return &t_q5_1;
    case QK_Q8_0: return &t_q8_0;
    case QK_IQ4_NL: return &t_iq4_nl;
    case QK_MXFP4: return &t_mxfp4;
    default: return NULL;
    }
}

#endif
