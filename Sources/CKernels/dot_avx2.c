// Fused AVX2 dot products of one weight row with one converted activation row (the gemv path).
// Same integer math as ggml's generic ggml_vec_dot_*: block integer sums are exact; only the
// order of the float accumulation differs.
#include "kinds.h"
#include <stdlib.h>

#ifdef QK_X86

// ---------------------------------------------------------------- block-32 types (Q8_0 / Q8_1)
//
// Activation scales are converted once per activation row (qk_act_scales: d_a and S_a = d_a·Σa
// per block), weight scales 8 blocks at a time; each block then costs an unpack, one vpmaddubsw
// (signed types: two vpsignb more), one vpmaddwd, a convert and an FMA with a broadcast load.
// Offsets (Q4_0's −8, Q5_0's −16, MXFP4's −12, Q4_1/Q5_1's m) go through S_a, 8 blocks per FMA.

/// d_a and S_a = d_a·Σa (Q8_0, computed exactly) or the stored s (Q8_1) of nb activation blocks.
QK_AVX2 void qk_act_scales(int act_type, int nb, const void *a, float *dy, float *sy) {
    const uint8_t *p = a;
    if (act_type == QK_Q8_1) {
        for (int b = 0; b < nb; b++, p += 36) {
            dy[b] = qk_h2f(*(const qk_half *)p);
            sy[b] = qk_h2f(*(const qk_half *)(p + 2));
        }
        return;
    }
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int b = 0; b < nb; b++, p += 34) {
        dy[b] = qk_h2f(*(const qk_half *)p);
        sy[b] = dy[b] * (float)qk_hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, qk_loadu(p + 2)), ones16));
    }
}

QK_INLINE float gemv32(const int kind, int nb, const uint8_t *x, const uint8_t *y, const int ysz, const float *dy, const float *sy) {
    const int bsz = kind_bsz(kind);
    const int sgn = kind_signed(kind);
    const int yq = ysz == 36 ? 4 : 2;
    __m256i lut = _mm256_setzero_si256();
    if (kind == K_IQ4_NL || kind == K_MXFP4) {
        __m128i t = _mm_loadu_si128((const __m128i *)(kind == K_IQ4_NL ? qk_kvalues_iq4nl : qk_kvalues_mxfp4));
        if (kind == K_MXFP4) t = _mm_add_epi8(t, _mm_set1_epi8(12));
        lut = _mm256_inserti128_si256(_mm256_castsi128_si256(t), t, 1);
    }
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *xb = x + (size_t)b * bsz, *yb = y + (size_t)b * ysz;
        qk_prefetch(xb, 1024, 8 * bsz);
        __m256 m8;
        const __m256 d8 = kind_scales8(kind, xb, bsz, &m8);
        const __m256 sc8 = _mm256_mul_ps(d8, _mm256_loadu_ps(dy + b));
        if (!sgn) accm = _mm256_fmadd_ps(m8, _mm256_loadu_ps(sy + b), accm);
        __m256i p[8];
        for (int i = 0; i < 8; i++) {
            const __m256i v = kind_values(kind, xb + i * bsz, lut), a = qk_loadu(yb + i * ysz + yq);
            p[i] = _mm256_madd_epi16(sgn ? qk_mul_i8_pairs(v, a) : _mm256_maddubs_epi16(v, a), ones16);
        }
        // the 8 block sums into one vector (exact int32), then one convert and one FMA
        const __m256i h01 = _mm256_hadd_epi32(p[0], p[1]), h23 = _mm256_hadd_epi32(p[2], p[3]);
        const __m256i h45 = _mm256_hadd_epi32(p[4], p[5]), h67 = _mm256_hadd_epi32(p[6], p[7]);
        const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
        const __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20), _mm256_permute2x128_si256(h0123, h4567, 0x31));
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), sc8, acc0);
    }
    float tail = 0;
    for (; b < nb; b++) {
        const uint8_t *xb = x + (size_t)b * bsz;
        float d, m;
        if (kind == K_MXFP4) { d = qk_e8m0_half(xb[0]); m = -12.0f * d; }
        else {
            d = qk_h2f(*(const qk_half *)xb);
            m = kind == K_Q4_1 || kind == K_Q5_1 ? qk_h2f(*(const qk_half *)(xb + 2)) : kind == K_Q4_0 ? -8.0f * d : kind == K_Q5_0 ? -16.0f * d : 0;
        }
        const __m256i v = kind_values(kind, xb, lut), a = qk_loadu(y + (size_t)b * ysz + yq);
        const __m256i p = _mm256_madd_epi16(sgn ? qk_mul_i8_pairs(v, a) : _mm256_maddubs_epi16(v, a), ones16);
        tail += d * dy[b] * (float)qk_hsum_epi32(p) + m * sy[b];
    }
    return qk_hsum_ps(_mm256_add_ps(acc0, acc1)) + qk_hsum_ps(accm) + tail;
}

#define DEF_GEMV32(NAME, KIND, YSZ) \
    QK_AVX2 static float gemv_##NAME(int n, const void *x, const void *y, const float *dy, const float *sy) { \
        return gemv32(KIND, n / 32, x, y, YSZ, dy, sy); }
DEF_GEMV32(q4_0, K_Q4_0, 34) DEF_GEMV32(q4_1, K_Q4_1, 36) DEF_GEMV32(q5_0, K_Q5_0, 34) DEF_GEMV32(q5_1, K_Q5_1, 36)
DEF_GEMV32(q8_0, K_Q8_0, 34) DEF_GEMV32(iq4_nl, K_IQ4_NL, 34) DEF_GEMV32(mxfp4, K_MXFP4, 34)

typedef float (*qk_gemv32_fn)(int, const void *, const void *, const float *, const float *);

/// The block-32 gemv kernel of `type` and its activation type, or NULL.
qk_gemv32_fn qk_gemv32(int type, int *act_type) {
    switch (type) {
    case QK_Q4_0: *act_type = QK_Q8_0; return gemv_q4_0;
    case QK_Q4_1: *act_type = QK_Q8_1; return gemv_q4_1;
    case QK_Q5_0: *act_type = QK_Q8_0; return gemv_q5_0;
    case QK_Q5_1: *act_type = QK_Q8_1; return gemv_q5_1;
    case QK_Q8_0: *act_type = QK_Q8_0; return gemv_q8_0;
    case QK_IQ4_NL: *act_type = QK_Q8_0; return gemv_iq4_nl;
    case QK_MXFP4: *act_type = QK_Q8_0; return gemv_mxfp4;
    default: return NULL;
    }
}

/// Single dot product through the gemv kernel (scales converted here).
QK_AVX2 static float dot32(int type, int n, const void *x, const void *y) {
    int at;
    qk_gemv32_fn f = qk_gemv32(type, &at);
    const int nb = n / 32;
    float sbuf[2 * 512];
    float *dy = nb <= 512 ? sbuf : malloc(sizeof(float) * 2 * (size_t)nb);
    float *sy = dy + nb;
    qk_act_scales(at, nb, y, dy, sy);
    float r = f(n, x, y, dy, sy);
    if (dy != sbuf) free(dy);
    return r;
}

#define DEF_DOT32(NAME, TYPE) \
    QK_AVX2 static float dot_##NAME(int n, const void *x, const void *y) { return dot32(TYPE, n, x, y); }
DEF_DOT32(q4_0, QK_Q4_0) DEF_DOT32(q4_1, QK_Q4_1) DEF_DOT32(q5_0, QK_Q5_0) DEF_DOT32(q5_1, QK_Q5_1)
DEF_DOT32(q8_0, QK_Q8_0) DEF_DOT32(iq4_nl, QK_IQ4_NL) DEF_DOT32(mxfp4, QK_MXFP4)

// ---------------------------------------------------------------- K-quants (Q8_K)

/// Σ_j bsums[j]·v[j] for 16 int16 values v (one per 16-value group).
QK_INLINE __m256i bsum_dot(const blk_q8_K *y, __m256i v16) {
    return _mm256_madd_epi16(qk_loadu(y->bsums), v16);
}

/// Sixteen int16 scales (one per 16 values) → for the 32-value group g (0…7) the vector
/// [s_2g ×8 | s_2g+1 ×8] matching the 16 int16 lanes of a vpmaddubsw over the group.
/// `dup[0]` = [s0…s7 | s0…s7], `dup[1]` = [s8…s15 | s8…s15] (see scales_dup).
QK_INLINE __m256i group_scales(const __m256i dup[2], int g) {
    const int a = (2 * g) % 8, b = (2 * g + 1) % 8;
    const __m256i mask = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a))),
                                                 _mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b)), 1);
    return _mm256_shuffle_epi8(dup[g / 4], mask);
}

QK_INLINE void scales_dup(__m256i s16, __m256i dup[2]) {
    const __m128i lo = _mm256_castsi256_si128(s16), hi = _mm256_extracti128_si256(s16, 1);
    dup[0] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), lo, 1);
    dup[1] = _mm256_inserti128_si256(_mm256_castsi128_si256(hi), hi, 1);
}

/// Q4_K / Q5_K scales and mins as int16: [sc0…sc7 | m0…m7] (ggml's 32-bit unpacking trick).
QK_INLINE __m256i k4_scales_mins(const uint8_t *q) {
    uint32_t u[4];
    memcpy(u, q, 12);
    const uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
    u[3] = ((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4);
    const uint32_t aux = u[1] & m1;
    u[1] = (u[2] & m2) | (((u[0] >> 6) & m3) << 4);
    u[2] = aux;
    u[0] &= m1;
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
}

/// Broadcast int16 element i (0…7) of each 128-bit lane to the whole lane.
QK_INLINE __m256i bcast16(__m256i v, int i) {
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)(0x0100 * (2 * i + 1) + 2 * i)));
}

QK_INLINE float dot_k4(const int q5, int n, const uint8_t *vx, const blk_q8_K *y) {
    const int bsz = q5 ? 176 : 144;
    const int nb = n / 256;
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const uint8_t *x = vx + (size_t)i * bsz;
        qk_prefetch(x, 1024, bsz);
        const __m256i ms = k4_scales_mins(x + 4);
        const float dy = y[i].d;
        // Σ_j m_j·(bsums[2j] + bsums[2j+1]), four int32 lanes
        const __m256i bs = qk_loadu(y[i].bsums);
        const __m128i q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        const __m128i prod = _mm_madd_epi16(_mm256_extracti128_si256(ms, 1), q8s);
        accm = _mm_fmadd_ps(_mm_set1_ps(-dy * qk_h2f(*(const qk_half *)(x + 2))), _mm_cvtepi32_ps(prod), accm);
        const __m128i sc128 = _mm256_castsi256_si128(ms);
        const __m256i scales = _mm256_inserti128_si256(_mm256_castsi128_si256(sc128), sc128, 1);
        const uint8_t *q4 = x + (q5 ? 48 : 16);
        const int8_t *q8 = y[i].qs;
        const __m256i hb = q5 ? qk_loadu(x + 16) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bits = qk_loadu(q4 + 32 * j);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if (q5) {
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hb, 2 * j), 4), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hb, 2 * j + 1), 4), b4));
            }
            __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, qk_loadu(q8 + 64 * j)), bcast16(scales, 2 * j));
            __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, qk_loadu(q8 + 64 * j + 32)), bcast16(scales, 2 * j + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * qk_h2f(*(const qk_half *)x)), _mm256_cvtepi32_ps(sumi), acc);
    }
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
    return qk_hsum_ps(acc) + _mm_cvtss_f32(accm);
}

QK_AVX2 static float dot_q4_K(int n, const void *vx, const void *vy) { return dot_k4(0, n, vx, vy); }
QK_AVX2 static float dot_q5_K(int n, const void *vx, const void *vy) { return dot_k4(1, n, vx, vy); }

/// Q6_K: unsigned 6-bit q, value q − 32; the −32 is applied once per super-block through bsums.
QK_AVX2 static float dot_q6_K(int n, const void *vx, const void *vy) {
    const blk_q6_K *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        qk_prefetch(&x[i], 1024, 210);
        const __m256i sc16 = _mm256_cvtepi8_epi16(qk_loadu128(x[i].scales));
        __m256i dup[2];
        scales_dup(sc16, dup);
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
            const int g = 4 * j;
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(v0, qk_loadu(y8)), group_scales(dup, g + 0));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(v1, qk_loadu(y8 + 32)), group_scales(dup, g + 1));
            __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(v2, qk_loadu(y8 + 64)), group_scales(dup, g + 2));
            __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(v3, qk_loadu(y8 + 96)), group_scales(dup, g + 3));
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
        qk_prefetch(&x[i], 1024, 110);
        uint32_t aux[3];
        memcpy(aux, x[i].scales, 12);
        const uint32_t k1 = 0x03030303, k2 = 0x0f0f0f0f;
        const __m128i s128 = _mm_sub_epi8(_mm_set_epi32((int)(((aux[1] >> 4) & k2) | (((aux[2] >> 6) & k1) << 4)),
                                                        (int)(((aux[0] >> 4) & k2) | (((aux[2] >> 4) & k1) << 4)),
                                                        (int)((aux[1] & k2) | (((aux[2] >> 2) & k1) << 4)),
                                                        (int)((aux[0] & k2) | (((aux[2] >> 0) & k1) << 4))),
                                          _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(s128);
        __m256i dup[2];
        scales_dup(sc16, dup);
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
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, qk_loadu(q8 + 32 * sh)), group_scales(dup, sh));
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
    __m256 accm = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        qk_prefetch(&x[i], 1024, 84);
        const __m128i sc8 = qk_loadu128(x[i].scales);
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_srli_epi16(_mm_andnot_si128(_mm_set1_epi8(0x0F), sc8), 4));
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(0x0F)));
        __m256i dup[2];
        scales_dup(sc16, dup);
        const float dy = y[i].d;
        accm = _mm256_fmadd_ps(_mm256_set1_ps(-dy * qk_h2f(x[i].dmin)), _mm256_cvtepi32_ps(bsum_dot(&y[i], mins16)), accm);
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 2; j++) {
            const __m256i bits = qk_loadu(x[i].qs + 32 * j);
            for (int k = 0; k < 4; k++) {
                const int grp = 4 * j + k;
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, qk_loadu(q8 + 32 * grp)), group_scales(dup, grp));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qk_hsum_ps(_mm256_add_ps(acc, accm));
}

QK_AVX2 static float dot_iq4_xs(int n, const void *vx, const void *vy) {
    const blk_iq4_xs *x = vx;
    const blk_q8_K *y = vy;
    const int nb = n / 256;
    const __m128i t128 = _mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl);
    const __m256i lut = _mm256_inserti128_si256(_mm256_castsi128_si256(t128), t128, 1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        qk_prefetch(&x[i], 1024, 136);
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
        qk_prefetch(&x[i], 1024, 66);
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

// ---------------------------------------------------------------- i-quants (codebooks)
//
// Grid magnitudes (unsigned) go straight into vpmaddubsw; the signs are applied to the
// activations with vpsignb (qk_signs64: ±1 bytes per 7-bit sign code, or sign bits → ±1).

QK_AVX2 static float dot_iq2_xxs(int n, const void *vx, const void *vy) {
    const blk_iq2_xxs *x = vx;
    const blk_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 256; i++) {
        qk_prefetch(&x[i], 1024, 66);
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            uint32_t a[2];
            memcpy(a, x[i].qs + 4 * ib, 8);
            const uint8_t *idx = (const uint8_t *)a;
            const __m256i q2 = grid4x64(qk_iq2xxs_grid, idx[0], idx[1], idx[2], idx[3]);
            const __m256i s2 = _mm256_set_epi64x((long long)qk_signs64[(a[1] >> 21) & 127], (long long)qk_signs64[(a[1] >> 14) & 127],
                                                 (long long)qk_signs64[(a[1] >> 7) & 127], (long long)qk_signs64[a[1] & 127]);
            const __m256i p = _mm256_maddubs_epi16(q2, _mm256_sign_epi8(qk_loadu(y[i].qs + 32 * ib), s2));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16((short)(2 * (a[1] >> 28) + 1))));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * qk_hsum_ps(acc);
}

QK_AVX2 static float dot_iq2_xs(int n, const void *vx, const void *vy) {
    const blk_iq2_xs *x = vx;
    const blk_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 256; i++) {
        qk_prefetch(&x[i], 1024, 74);
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const uint16_t *q = x[i].qs + 4 * ib;
            const __m256i q2 = grid4x64(qk_iq2xs_grid, q[0] & 511, q[1] & 511, q[2] & 511, q[3] & 511);
            const __m256i s2 = _mm256_set_epi64x((long long)qk_signs64[q[3] >> 9], (long long)qk_signs64[q[2] >> 9],
                                                 (long long)qk_signs64[q[1] >> 9], (long long)qk_signs64[q[0] >> 9]);
            const __m256i p = _mm256_maddubs_epi16(q2, _mm256_sign_epi8(qk_loadu(y[i].qs + 32 * ib), s2));
            const int sc = x[i].scales[ib];
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, pair16(2 * (sc & 0xF) + 1, 2 * (sc >> 4) + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * qk_hsum_ps(acc);
}

QK_AVX2 static float dot_iq2_s(int n, const void *vx, const void *vy) {
    const blk_iq2_s *x = vx;
    const blk_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 256; i++) {
        qk_prefetch(&x[i], 1024, 82);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *qs = x[i].qs, *signs = x[i].qs + 32;
        for (int ib = 0; ib < 8; ib++) {
            const int qh = x[i].qh[ib];
            const __m256i q2 = grid4x64(qk_iq2s_grid, qs[4 * ib] | ((qh << 8) & 0x300), qs[4 * ib + 1] | ((qh << 6) & 0x300),
                                        qs[4 * ib + 2] | ((qh << 4) & 0x300), qs[4 * ib + 3] | ((qh << 2) & 0x300));
            const __m256i p = _mm256_maddubs_epi16(q2, _mm256_sign_epi8(qk_loadu(y[i].qs + 32 * ib), signs_from_bits(signs + 4 * ib)));
            const int sc = x[i].scales[ib];
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, pair16(2 * (sc & 0xF) + 1, 2 * (sc >> 4) + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * qk_hsum_ps(acc);
}

QK_AVX2 static float dot_iq3_xxs(int n, const void *vx, const void *vy) {
    const blk_iq3_xxs *x = vx;
    const blk_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 256; i++) {
        qk_prefetch(&x[i], 1024, 98);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *q3 = x[i].qs, *gas = x[i].qs + 64;
        for (int ib = 0; ib < 8; ib++) {
            uint32_t aux;
            memcpy(&aux, gas + 4 * ib, 4);
            const uint8_t *g = q3 + 8 * ib;
            const __m256i q = _mm256_set_epi32((int)qk_iq3xxs_grid[g[7]], (int)qk_iq3xxs_grid[g[6]], (int)qk_iq3xxs_grid[g[5]], (int)qk_iq3xxs_grid[g[4]],
                                               (int)qk_iq3xxs_grid[g[3]], (int)qk_iq3xxs_grid[g[2]], (int)qk_iq3xxs_grid[g[1]], (int)qk_iq3xxs_grid[g[0]]);
            const __m256i s = _mm256_set_epi64x((long long)qk_signs64[(aux >> 21) & 127], (long long)qk_signs64[(aux >> 14) & 127],
                                                (long long)qk_signs64[(aux >> 7) & 127], (long long)qk_signs64[aux & 127]);
            const __m256i p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(qk_loadu(y[i].qs + 32 * ib), s));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16((short)(2 * (aux >> 28) + 1))));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.25f * qk_hsum_ps(acc);
}

QK_AVX2 static float dot_iq3_s(int n, const void *vx, const void *vy) {
    const blk_iq3_s *x = vx;
    const blk_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 256; i++) {
        qk_prefetch(&x[i], 1024, 110);
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = x[i].qs + 8 * ib;
            const int qh = x[i].qh[ib];
            int idx[8];
            for (int l = 0; l < 8; l++) idx[l] = qs[l] | ((qh << (8 - l)) & 256);
            const __m256i q = _mm256_set_epi32((int)qk_iq3s_grid[idx[7]], (int)qk_iq3s_grid[idx[6]], (int)qk_iq3s_grid[idx[5]], (int)qk_iq3s_grid[idx[4]],
                                               (int)qk_iq3s_grid[idx[3]], (int)qk_iq3s_grid[idx[2]], (int)qk_iq3s_grid[idx[1]], (int)qk_iq3s_grid[idx[0]]);
            const __m256i p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(qk_loadu(y[i].qs + 32 * ib), signs_from_bits(x[i].signs + 4 * ib)));
            const int ls = 2 * ((x[i].scales[ib / 2] >> (4 * (ib & 1))) & 0xF) + 1;
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16((short)ls)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(qk_h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
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
    case QK_IQ2_XXS: return dot_iq2_xxs;
    case QK_IQ2_XS: return dot_iq2_xs;
    case QK_IQ2_S: return dot_iq2_s;
    case QK_IQ3_XXS: return dot_iq3_xxs;
    case QK_IQ3_S: return dot_iq3_s;
    default: return NULL;
    }
}

#endif
