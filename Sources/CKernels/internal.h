// Private to CKernels: ggml block layouts (ggml-common.h), tables, AVX2 helpers.
#ifndef QK_INTERNAL_H
#define QK_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ckernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define QK_X86 1
#include <immintrin.h>
#endif

/// Every function using AVX2 intrinsics carries this; the build itself stays portable.
#define QK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_AVX2

// ggml type ids
enum {
    QK_F32 = 0, QK_F16 = 1, QK_Q4_0 = 2, QK_Q4_1 = 3, QK_Q5_0 = 6, QK_Q5_1 = 7, QK_Q8_0 = 8, QK_Q8_1 = 9,
    QK_Q2_K = 10, QK_Q3_K = 11, QK_Q4_K = 12, QK_Q5_K = 13, QK_Q6_K = 14, QK_Q8_K = 15,
    QK_IQ2_XXS = 16, QK_IQ2_XS = 17, QK_IQ3_XXS = 18, QK_IQ1_S = 19, QK_IQ4_NL = 20, QK_IQ3_S = 21,
    QK_IQ2_S = 22, QK_IQ4_XS = 23, QK_IQ1_M = 29, QK_BF16 = 30, QK_TQ1_0 = 34, QK_TQ2_0 = 35, QK_MXFP4 = 39,
};

typedef uint16_t qk_half;

// Block layouts (byte-identical with ggml-common.h)
typedef struct { qk_half d; int8_t qs[32]; } blk_q8_0;                       // 34
typedef struct { qk_half d; qk_half s; int8_t qs[32]; } blk_q8_1;            // 36
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } blk_q8_K;    // 292
typedef struct { qk_half d; uint8_t qs[16]; } blk_q4_0;                      // 18
typedef struct { qk_half d; qk_half m; uint8_t qs[16]; } blk_q4_1;           // 20
typedef struct { qk_half d; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_0;       // 22
typedef struct { qk_half d; qk_half m; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_1; // 24
typedef struct { uint8_t e; uint8_t qs[16]; } blk_mxfp4;                     // 17
typedef struct { qk_half d; uint8_t qs[16]; } blk_iq4_nl;                    // 18
typedef struct { uint8_t scales[16]; uint8_t qs[64]; qk_half d; qk_half dmin; } blk_q2_K;   // 84
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; qk_half d; } blk_q3_K; // 110
typedef struct { qk_half d; qk_half dmin; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_K;  // 144
typedef struct { qk_half d; qk_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } blk_q5_K; // 176
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; qk_half d; } blk_q6_K; // 210
typedef struct { qk_half d; qk_half scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } blk_iq4_xs; // 136
typedef struct { qk_half d; uint16_t qs[32]; } blk_iq2_xxs;                  // 66
typedef struct { qk_half d; uint16_t qs[32]; uint8_t scales[8]; } blk_iq2_xs; // 74
typedef struct { qk_half d; uint8_t qs[64]; uint8_t qh[8]; uint8_t scales[8]; } blk_iq2_s; // 82
typedef struct { qk_half d; uint8_t qs[96]; } blk_iq3_xxs;                   // 98
typedef struct { qk_half d; uint8_t qs[64]; uint8_t qh[8]; uint8_t signs[32]; uint8_t scales[4]; } blk_iq3_s; // 110
typedef struct { qk_half d; uint8_t qs[32]; uint16_t qh[8]; } blk_iq1_s;     // 50
typedef struct { uint8_t qs[32]; uint8_t qh[16]; uint8_t scales[8]; } blk_iq1_m; // 56
typedef struct { uint8_t qs[48]; uint8_t qh[4]; qk_half d; } blk_tq1_0;      // 54
typedef struct { uint8_t qs[64]; qk_half d; } blk_tq2_0;                     // 66

_Static_assert(sizeof(blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(blk_q8_1) == 36, "q8_1");
_Static_assert(sizeof(blk_q8_K) == 292, "q8_K");
_Static_assert(sizeof(blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(blk_mxfp4) == 17, "mxfp4");
_Static_assert(sizeof(blk_q2_K) == 84, "q2_K");
_Static_assert(sizeof(blk_q3_K) == 110, "q3_K");
_Static_assert(sizeof(blk_q4_K) == 144, "q4_K");
_Static_assert(sizeof(blk_q5_K) == 176, "q5_K");
_Static_assert(sizeof(blk_q6_K) == 210, "q6_K");
_Static_assert(sizeof(blk_iq4_xs) == 136, "iq4_xs");
_Static_assert(sizeof(blk_iq2_xxs) == 66, "iq2_xxs");
_Static_assert(sizeof(blk_iq2_xs) == 74, "iq2_xs");
_Static_assert(sizeof(blk_iq2_s) == 82, "iq2_s");
_Static_assert(sizeof(blk_iq3_xxs) == 98, "iq3_xxs");
_Static_assert(sizeof(blk_iq3_s) == 110, "iq3_s");
_Static_assert(sizeof(blk_iq1_s) == 50, "iq1_s");
_Static_assert(sizeof(blk_iq1_m) == 56, "iq1_m");
_Static_assert(sizeof(blk_tq1_0) == 54, "tq1_0");
_Static_assert(sizeof(blk_tq2_0) == 66, "tq2_0");

extern const uint8_t qk_kmask_iq2xs[8];
extern const uint8_t qk_ksigns_iq2xs[128];
extern const uint64_t qk_iq2xxs_grid[256];
extern const uint64_t qk_iq2xs_grid[512];
extern const uint64_t qk_iq2s_grid[1024];
extern const uint32_t qk_iq3xxs_grid[256];
extern const uint32_t qk_iq3s_grid[512];
extern const uint64_t qk_iq1s_grid[2048];
extern const int8_t qk_kvalues_iq4nl[16];
extern const int8_t qk_kvalues_mxfp4[16];
extern const uint64_t qk_signs64[128];

static inline float qk_e8m0_half(uint8_t e) {
    uint32_t bits = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#ifdef QK_X86
/// fp16 → fp32. Through inline asm: with _cvtsh_ss (or any intrinsic form) clang knows only lane
/// 0 matters and builds the input with vpinsrw into a stale register, which chains every
/// conversion to whatever last wrote that register (often a loop accumulator).
QK_INLINE float qk_h2f(qk_half h) {
    __m128i v = _mm_cvtsi32_si128(h);
    __m128 r;
    __asm__("vcvtph2ps %1, %0" : "=x"(r) : "x"(v));
    return _mm_cvtss_f32(r);
}

/// Eight fp16 values found every `stride` bytes from p → fp32.
QK_INLINE __m256 qk_h2f8_strided(const uint8_t *p, size_t stride) {
    uint16_t h[8];
    for (int i = 0; i < 8; i++) memcpy(&h[i], p + i * stride, 2);
    return _mm256_cvtph_ps(_mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3],
                                          (short)h[4], (short)h[5], (short)h[6], (short)h[7]));
}

QK_INLINE float qk_hsum_ps(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

QK_INLINE int qk_hsum_epi32(__m256i a) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/// Prefetches the `bytes` bytes that start `ahead` bytes after p (streams weights into L1 ahead of
/// use: the hardware prefetchers alone leave single-thread gemv below DRAM speed).
QK_INLINE void qk_prefetch(const void *p, int ahead, int bytes) {
    for (int l = 0; l < bytes; l += 64) _mm_prefetch((const char *)p + ahead + l, _MM_HINT_T0);
}

QK_INLINE __m256i qk_loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
QK_INLINE __m128i qk_loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
QK_INLINE __m256i qk_bcast32(const void *p) { int32_t v; memcpy(&v, p, 4); return _mm256_set1_epi32(v); }

/// 16 packed bytes → 32 bytes: low nibbles (bytes 0..15), then high nibbles (16..31).
QK_INLINE __m256i qk_nibbles32(const uint8_t *p) {
    __m128i t = qk_loadu128(p);
    __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/// Bit j of the 32-bit word at p → byte j: 0xFF when set, 0 otherwise.
QK_INLINE __m256i qk_bits32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/// Signed int8 × int8 products summed in pairs into int16 (|x| ≤ 127 assumed for exactness).
QK_INLINE __m256i qk_mul_i8_pairs(__m256i x, __m256i y) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

QK_INLINE __m256i grid4x64(const uint64_t *g, int i0, int i1, int i2, int i3) {
    return _mm256_set_epi64x((long long)g[i3], (long long)g[i2], (long long)g[i1], (long long)g[i0]);
}

/// 32 sign bits (bit j: element j negative) → 32 bytes of ±1.
QK_INLINE __m256i signs_from_bits(const uint8_t *p) {
    return _mm256_or_si256(qk_bits32(p), _mm256_set1_epi8(1));
}

QK_INLINE __m256i pair16(int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)), _mm_set1_epi16((short)b), 1);
}

/// 8×8 transpose of 32-bit elements: r[i] lane j ← r[j] lane i.
QK_INLINE void qk_transpose8_epi32(__m256i r[8]) {
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u0, u4, 0x20); r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    r[1] = _mm256_permute2x128_si256(u1, u5, 0x20); r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    r[2] = _mm256_permute2x128_si256(u2, u6, 0x20); r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    r[3] = _mm256_permute2x128_si256(u3, u7, 0x20); r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}
#endif

/// Q4_K / Q5_K: the eight 6-bit scales (sc) and mins (m) of a super-block.
static inline void qk_scale_min_k4(const uint8_t *q, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q3_K: the sixteen 6-bit scales of a super-block, minus 32.
static inline void qk_scales_q3k(const uint8_t *s, int8_t out[16]) {
    uint32_t a[4];
    memcpy(a, s, 12);
    const uint32_t m1 = 0x03030303, m2 = 0x0f0f0f0f;
    uint32_t tmp = a[2];
    a[2] = ((a[0] >> 4) & m2) | (((tmp >> 4) & m1) << 4);
    a[3] = ((a[1] >> 4) & m2) | (((tmp >> 6) & m1) << 4);
    a[0] = (a[0] & m2) | (((tmp >> 0) & m1) << 4);
    a[1] = (a[1] & m2) | (((tmp >> 2) & m1) << 4);
    const uint8_t *b = (const uint8_t *)a;
    for (int j = 0; j < 16; j++) out[j] = (int8_t)(b[j] - 32);
}

#endif
