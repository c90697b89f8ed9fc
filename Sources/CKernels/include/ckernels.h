#ifndef QK_CKERNELS_H
#define QK_CKERNELS_H
#include <stdint.h>
/// Returns 1 when the CPU supports AVX2 + FMA + F16C (the fast paths), else 0.
int qk_cpu_has_avx2(void);
#endif
