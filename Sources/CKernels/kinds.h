// Private: the block-32 weight types (Q8_0 / Q8_1 activations) as "kinds" with inline
// decoding, shared by the gemv kernels (dot_avx2.c) and the panel builder (gemm_avx2.c).
#ifndef QK_KINDS_H
#define QK_KINDS_H
#include "internal.h"

#ifdef QK_X86
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0, K_IQ4_NL, K_MXFP4 };

QK_INLINE int kind_bsz(const int kind) {
    return kind == K_Q4_0 || kind == K_IQ4_NL ? 18 : kind == K_Q4_1 ? 20 : kind == K_Q5_0 ? 22 : kind == K_Q5_1 ? 24 : kind == K_Q8_0 ? 34 : 17;
}

/// The block's 32 values: unsigned (offset kinds) or signed (Q8_0, IQ4_NL).
QK_INLINE __m256i kind_values(const int kind, const uint8_t *b, __m256i lut) {
    switch (kind) {
    case K_Q4_0: return qk_nibbles32(b + 2);
    case K_Q4_1: return qk_nibbles32(b + 4);
    case K_Q5_0: return _mm256_or_si256(qk_nibbles32(b + 6), _mm256_and_si256(qk_bits32(b + 2), _mm256_set1_epi8(0x10)));
    case K_Q5_1: return _mm256_or_si256(qk_nibbles32(b + 8), _mm256_and_si256(qk_bits32(b + 4), _mm256_set1_epi8(0x10)));
    case K_Q8_0: return qk_loadu(b + 2);
    case K_IQ4_NL: return _mm256_shuffle_epi8(lut, qk_nibbles32(b + 2));
    default: return _mm256_shuffle_epi8(lut, qk_nibbles32(b + 1));   // MXFP4, table + 12
    }
}

QK_INLINE int kind_signed(const int kind) { return kind == K_Q8_0 || kind == K_IQ4_NL; }

/// Weight scales of 8 blocks `bsz` bytes apart, and the offset coefficients m (value = d·v + m per unit of S_a).
QK_INLINE __m256 kind_scales8(const int kind, const uint8_t *x, size_t bsz, __m256 *m8) {
    if (kind == K_MXFP4) {
        float d[8];
        for (int i = 0; i < 8; i++) d[i] = qk_e8m0_half(x[i * bsz]);
        __m256 v = _mm256_loadu_ps(d);
        *m8 = _mm256_mul_ps(v, _mm256_set1_ps(-12.0f));
        return v;
    }
    __m256 d = qk_h2f8_strided(x, bsz);
    if (kind == K_Q4_1 || kind == K_Q5_1) *m8 = qk_h2f8_strided(x + 2, bsz);
    else if (kind == K_Q4_0) *m8 = _mm256_mul_ps(d, _mm256_set1_ps(-8.0f));
    else if (kind == K_Q5_0) *m8 = _mm256_mul_ps(d, _mm256_set1_ps(-16.0f));
    else *m8 = _mm256_setzero_ps();
    return d;
}


QK_INLINE int kind_of(int type) {
    switch (type) {
    case QK_Q4_0: return K_Q4_0;
    case QK_Q4_1: return K_Q4_1;
    case QK_Q5_0: return K_Q5_0;
    case QK_Q5_1: return K_Q5_1;
    case QK_Q8_0: return K_Q8_0;
    case QK_IQ4_NL: return K_IQ4_NL;
    case QK_MXFP4: return K_MXFP4;
    default: return -1;
    }
}

/// The kind's value table in a register (IQ4_NL: kvalues; MXFP4: kvalues + 12), else zero.
QK_INLINE __m256i kind_lut(const int kind) {
    if (kind != K_IQ4_NL && kind != K_MXFP4) return _mm256_setzero_si256();
    __m128i t = _mm_loadu_si128((const __m128i *)(kind == K_IQ4_NL ? qk_kvalues_iq4nl : qk_kvalues_mxfp4));
    if (kind == K_MXFP4) t = _mm_add_epi8(t, _mm_set1_epi8(12));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(t), t, 1);
}
#endif
#endif
