// QuantKit CKernels vs ggml's CPU backend, in one process, one thread.
//
//   check: our activation quantizers must be byte-identical with ggml's from_float; our dot
//          products must agree with ggml's vec_dot, and our tiled matmul with our dot.
//   bench: gemv (1 token) GB/s of weights and gemm (many tokens) GFLOP/s:
//          ours (qk_matmul_avx2, activation conversion included)
//          ggml vec_dot loop (the vec_dot ggml's mul_mat falls back to)
//          ggml MUL_MAT graph op on the CPU backend (llamafile/tiled paths as ggml chooses)
//          ggml MUL_MAT with the weights in the CPU_REPACK buffer (where ggml repacks the type)
//
// Built and run by bench/bench-kernels.sh.
#include "ggml.h"
#include "ggml-cpu.h"
#include "ggml-backend.h"
#include "ckernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static const struct { const char *name; enum ggml_type t; } TYPES[] = {
    {"Q8_0", GGML_TYPE_Q8_0}, {"Q4_0", GGML_TYPE_Q4_0}, {"Q4_1", GGML_TYPE_Q4_1}, {"Q4_K", GGML_TYPE_Q4_K},
    {"Q6_K", GGML_TYPE_Q6_K}, {"Q5_0", GGML_TYPE_Q5_0}, {"Q5_1", GGML_TYPE_Q5_1}, {"Q5_K", GGML_TYPE_Q5_K},
    {"F16", GGML_TYPE_F16}, {"F32", GGML_TYPE_F32}, {"Q3_K", GGML_TYPE_Q3_K}, {"Q2_K", GGML_TYPE_Q2_K},
    {"IQ4_NL", GGML_TYPE_IQ4_NL}, {"IQ4_XS", GGML_TYPE_IQ4_XS}, {"BF16", GGML_TYPE_BF16},
    {"IQ2_XXS", GGML_TYPE_IQ2_XXS}, {"IQ2_XS", GGML_TYPE_IQ2_XS}, {"IQ2_S", GGML_TYPE_IQ2_S},
    {"IQ3_XXS", GGML_TYPE_IQ3_XXS}, {"IQ3_S", GGML_TYPE_IQ3_S}, {"IQ1_S", GGML_TYPE_IQ1_S},
    {"IQ1_M", GGML_TYPE_IQ1_M}, {"TQ1_0", GGML_TYPE_TQ1_0}, {"TQ2_0", GGML_TYPE_TQ2_0}, {"MXFP4", GGML_TYPE_MXFP4},
};

static void *make_weights(enum ggml_type t, int rows, int n, size_t *rb) {
    float *x = malloc(sizeof(float) * (size_t)rows * n);
    for (size_t i = 0; i < (size_t)rows * n; i++) x[i] = 0.02f * gauss();
    float *imat = NULL;
    if (ggml_quantize_requires_imatrix(t)) {
        imat = malloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) imat[i] = 1.0f + (float)urand();
    }
    *rb = ggml_row_size(t, n);
    void *w = malloc(*rb * rows);
    ggml_quantize_chunk(t, x, w, 0, rows, n, imat);
    free(imat);
    free(x);
    return w;
}

static ggml_backend_buffer_type_t repack_buft(ggml_backend_t be) {
    ggml_backend_dev_t dev = ggml_backend_get_device(be);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    ggml_backend_dev_get_extra_bufts_t f = (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    if (!f) return NULL;
    for (ggml_backend_buffer_type_t *p = f(dev); p && *p; p++)
        if (strcmp(ggml_backend_buft_name(*p), "CPU_REPACK") == 0) return *p;
    return NULL;
}

/// Seconds per ggml MUL_MAT (weights rows×n of type t, tokens F32 activation rows); repack: put the
/// weights in the CPU_REPACK buffer. Returns -1 when the repack buffer does not take the type.
static double ggml_mulmat_time(ggml_backend_t be, enum ggml_type t, const void *w, int rows, int n, const float *x,
                               int tokens, int repack, double min_s, float *result) {
    struct ggml_init_params ip = {ggml_tensor_overhead() * 8 + ggml_graph_overhead(), NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *W = ggml_new_tensor_2d(ctx, t, n, rows);
    struct ggml_tensor *X = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, tokens);
    struct ggml_tensor *Y = ggml_mul_mat(ctx, W, X);
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, Y);
    ggml_backend_buffer_type_t bt = repack ? repack_buft(be) : ggml_backend_cpu_buffer_type();
    if (!bt) { ggml_free(ctx); return -1; }
    ggml_backend_buffer_t bw = ggml_backend_buft_alloc_buffer(bt, ggml_backend_buft_get_alloc_size(bt, W) + 256);
    ggml_backend_tensor_alloc(bw, W, (char *)ggml_backend_buffer_get_base(bw));
    if (repack && W->extra == NULL) {   // no repacked layout for this type/shape
        ggml_backend_buffer_free(bw);
        ggml_free(ctx);
        return -1;
    }
    ggml_backend_tensor_set(W, w, 0, ggml_nbytes(W));
    ggml_backend_buffer_t bx = ggml_backend_alloc_buffer(be, ggml_nbytes(X) + ggml_nbytes(Y) + 1024);
    char *base = ggml_backend_buffer_get_base(bx);
    ggml_backend_tensor_alloc(bx, X, base);
    ggml_backend_tensor_alloc(bx, Y, base + ((ggml_nbytes(X) + 255) & ~(size_t)255));
    ggml_backend_tensor_set(X, x, 0, ggml_nbytes(X));
    ggml_backend_graph_compute(be, gf);
    double t0 = now(), best = 1e9;
    do {
        double c = now();
        ggml_backend_graph_compute(be, gf);
        best = fmin(best, now() - c);
    } while (now() - t0 < min_s);
    if (result) memcpy(result, Y->data, sizeof(float) * (size_t)rows * tokens);
    ggml_backend_buffer_free(bx);
    ggml_backend_buffer_free(bw);
    ggml_free(ctx);
    return best;
}

static int act_type_of(enum ggml_type t) { return ggml_get_type_traits_cpu(t)->vec_dot_type; }

static double ours_time(enum ggml_type t, const void *w, size_t rb, int rows, int n, const float *x, int tokens,
                        double min_s, float *out) {
    const int at = act_type_of(t);
    const size_t arb = ggml_row_size(at, n);
    void *a = malloc(arb * tokens);
    double t0 = now(), best = 1e9;
    int reps = 0;
    do {
        double c = now();
        for (int i = 0; i < tokens; i++) qk_quantize_row_avx2(at, x + (size_t)i * n, (char *)a + i * arb, n);
        qk_matmul_avx2(t, n, w, rb, 0, rows, a, arb, tokens, out, rows);
        if (reps++) best = fmin(best, now() - c);
    } while (now() - t0 < min_s || reps < 2);
    free(a);
    return best;
}

static double vecdot_time(enum ggml_type t, const void *w, size_t rb, int rows, int n, const float *x, double min_s) {
    const struct ggml_type_traits_cpu *tr = ggml_get_type_traits_cpu(t);
    const size_t arb = ggml_row_size(tr->vec_dot_type, n);
    void *a = malloc(arb);
    double t0 = now(), best = 1e9;
    volatile float sink = 0;
    do {
        double c = now();
        ggml_from_float_t ff = ggml_get_type_traits_cpu(tr->vec_dot_type)->from_float;
        if (ff) ff(x, a, n); else memcpy(a, x, arb);
        for (int r = 0; r < rows; r++) {
            float s;
            tr->vec_dot(n, &s, 0, (const char *)w + r * rb, 0, a, 0, 1);
            sink += s;
        }
        best = fmin(best, now() - c);
    } while (now() - t0 < min_s);
    free(a);
    return best;
}

static int check(enum ggml_type t, const char *name, int n, int rows) {
    size_t rb;
    void *w = make_weights(t, rows, n, &rb);
    const int tokens = 9;
    float *x = malloc(sizeof(float) * (size_t)n * tokens);
    for (int i = 0; i < n * tokens; i++) x[i] = gauss();
    const int at = act_type_of(t);
    const size_t arb = ggml_row_size(at, n);
    char *ag = malloc(arb * tokens), *ao = malloc(arb * tokens);
    int act_diff = 0;
    for (int i = 0; i < tokens; i++) {
        ggml_from_float_t ff = ggml_get_type_traits_cpu(at)->from_float;
        if (ff) ff(x + (size_t)i * n, ag + i * arb, n); else memcpy(ag + i * arb, x + (size_t)i * n, arb);
        qk_quantize_row_avx2(at, x + (size_t)i * n, ao + i * arb, n);
        if (memcmp(ag + i * arb, ao + i * arb, arb) != 0) act_diff++;
    }
    double maxrel = 0, maxtile = 0;
    float *tiled = malloc(sizeof(float) * rows * tokens), *rowwise = malloc(sizeof(float) * rows * tokens);
    qk_matmul_avx2_ex(t, n, w, rb, 0, rows, ag, arb, tokens, tiled, rows, 1);
    qk_matmul_avx2_ex(t, n, w, rb, 0, rows, ag, arb, tokens, rowwise, rows, 1 << 30);
    double scale = 0;
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < tokens; i++) {
            float g;
            ggml_get_type_traits_cpu(t)->vec_dot(n, &g, 0, (const char *)w + r * rb, 0, ag + i * arb, 0, 1);
            float o = qk_dot_avx2(t, n, (const char *)w + r * rb, ag + i * arb);
            scale = fmax(scale, fabs(g));
            maxrel = fmax(maxrel, fabs(o - g));
            maxtile = fmax(maxtile, fabs(tiled[i * rows + r] - rowwise[i * rows + r]));
            if (fabs(rowwise[i * rows + r] - o) > 0) maxtile = fmax(maxtile, 1e30);
        }
    maxrel /= scale;
    maxtile /= scale;
    const int ok = act_diff == 0 && maxrel < 1e-5 && maxtile < 1e-5;
    printf("%-8s n=%-5d act rows differing: %d/%d  dot vs ggml: %.2e  tiled vs dot: %.2e  %s\n", name, n, act_diff, tokens,
           maxrel, maxtile, ok ? "ok" : "MISMATCH");
    free(tiled); free(rowwise); free(ag); free(ao); free(x); free(w);
    return ok;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "check";
    const char *only = argc > 2 ? argv[2] : NULL;
    if (!qk_cpu_has_avx2()) { fprintf(stderr, "needs AVX2\n"); return 1; }
    ggml_cpu_init();
    int bad = 0;
    if (strcmp(mode, "check") == 0) {
        for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
            if (only && strcmp(only, "all") && !strstr(only, TYPES[i].name)) continue;
            const int bs = ggml_blck_size(TYPES[i].t);
            const int ns[] = {256, 576, 640, 896, 4864, 100};
            for (int k = 0; k < 6; k++) {
                if (ns[k] % (bs > 1 ? bs : 1) || (ns[k] % 8 && bs > 1)) continue;
                if (!check(TYPES[i].t, TYPES[i].name, ns[k], 21)) bad++;
            }
        }
        return bad ? 1 : 0;
    }
    // bench [types] [n] [rows] [gemm_tokens] [seconds]
    const int n = argc > 3 ? atoi(argv[3]) : 4096;
    const int rows = argc > 4 ? atoi(argv[4]) : 4096;
    const int gt = argc > 5 ? atoi(argv[5]) : 512;
    const double secs = argc > 6 ? atof(argv[6]) : 0.5;
    const int rounds = argc > 7 ? atoi(argv[7]) : 3;
    ggml_backend_t be = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(be, 1);
    printf("# %d x %d weights, 1 thread; gemv GB/s of weights, gemm (%d tokens) GFLOP/s\n", rows, n, gt);
    printf("%-8s | %8s %8s %8s %8s | %8s %8s %8s | %6s %6s\n", "type", "ours", "vec_dot", "mul_mat", "repack",
           "ours", "mul_mat", "repack", "gemv", "gemm");
    const int xt = gt > 1 ? gt : 1;
    float *x = malloc(sizeof(float) * (size_t)n * xt);
    for (size_t i = 0; i < (size_t)n * xt; i++) x[i] = gauss();
    float *out = malloc(sizeof(float) * (size_t)rows * xt);
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
        if (only && strcmp(only, "all") && !strstr(only, TYPES[i].name)) continue;
        enum ggml_type t = TYPES[i].t;
        size_t rb;
        void *w = make_weights(t, rows, n, &rb);
        const double gb = (double)rb * rows / 1e9, gf = 2.0 * rows * n * gt / 1e9;
        // interleaved rounds, best of each (the machine is shared and noisy)
        double o1 = 1e9, v1 = 1e9, m1 = 1e9, p1 = 1e9, og = 1e9, mg = 1e9, pg = 1e9;
        for (int round = 0; round < rounds; round++) {
            o1 = fmin(o1, ours_time(t, w, rb, rows, n, x, 1, secs, out));
            v1 = fmin(v1, vecdot_time(t, w, rb, rows, n, x, secs));
            m1 = fmin(m1, ggml_mulmat_time(be, t, w, rows, n, x, 1, 0, secs, NULL));
            p1 = fmin(p1, ggml_mulmat_time(be, t, w, rows, n, x, 1, 1, secs, NULL));
            if (gt > 0) {
                og = fmin(og, ours_time(t, w, rb, rows, n, x, gt, secs, out));
                mg = fmin(mg, ggml_mulmat_time(be, t, w, rows, n, x, gt, 0, secs, NULL));
                pg = fmin(pg, ggml_mulmat_time(be, t, w, rows, n, x, gt, 1, secs, NULL));
            }
        }
        const double best1 = fmin(v1, fmin(m1, p1 > 0 ? p1 : 1e9)), bestg = fmin(mg, pg > 0 ? pg : 1e9);
        char p1s[16] = "-", pgs[16] = "-";
        if (p1 > 0) snprintf(p1s, sizeof p1s, "%8.2f", gb / p1);
        if (pg > 0) snprintf(pgs, sizeof pgs, "%8.1f", gf / pg);
        printf("%-8s | %8.2f %8.2f %8.2f %8s | %8.1f %8.1f %8s | %6.2f %6.2f\n", TYPES[i].name, gb / o1, gb / v1, gb / m1, p1s,
               gf / og, gf / mg, pgs, best1 / o1, bestg / og);
        fflush(stdout);
        free(w);
    }
    ggml_backend_free(be);
    return 0;
}
