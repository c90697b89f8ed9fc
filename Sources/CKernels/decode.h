// Private: block decoders into the tiled kernels' canonical forms (see decode_avx2.c).
#ifndef QK_DECODE_H
#define QK_DECODE_H
#include "internal.h"

#ifdef QK_X86
/// P256 decoder: 256 values, per-16 scales and offsets, D and M (see decode_avx2.c).
typedef void (*qk_dec256_fn)(const uint8_t *blk, uint8_t *q, int16_t *sc, int16_t *mn, float *D, float *M);

typedef struct {
    int block_bytes;
    int vm;          // maddubs results that may be summed in int16 before widening (8, 4 or 1)
    int is_signed;   // values are int8 (sign trick) rather than uint8
    int act_type;    // QK_Q8_0 or QK_Q8_1
} qk_p32_info;

typedef struct {
    qk_dec256_fn dec;
    int block_bytes;
    int vm;          // maddubs results per 16 values summed in int16 before the scale (4, 2 or 1)
    int is_signed;
    int has_min;     // mn/M are used
} qk_p256_info;

const qk_p32_info *qk_p32(int type);
const qk_p256_info *qk_p256(int type);
#endif
#endif
