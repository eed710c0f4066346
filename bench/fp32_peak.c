/* fp32_peak.c — the machine's measured fp32 peak, the yardstick issue 5's
 * kernels report a fraction of.
 *
 *   build/bench/fp32_peak [SECONDS]
 *
 * Two measurements, each on 1 thread and on every thread OpenMP offers:
 *   1. an FMA loop: K independent vector accumulators a_k = a_k * b + c,
 *      enough of them to cover the FMA latency on every port, in the
 *      widest ISA ap_cpu_features() reports (AVX-512, else AVX2+FMA); 2
 *      flops per lane per FMA;
 *   2. OpenBLAS sgemm, n = 2048 (2 n^3 flops), best of the runs.
 * Each is run for about SECONDS (default 1) after a warm-up, and the best
 * rate of a few repetitions is printed in GFLOP/s, with the sgemm rate as a
 * fraction of the FMA loop's. Wall time: run it on an idle machine.
 *
 * Legend: K = accumulators, W = lanes per vector. */
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "attnprune.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each returns a value that depends on every accumulator, so the loop
 * cannot be removed; iters * K * W * 2 flops. */
__attribute__((target("avx512f"))) static float fma_avx512(int64_t iters) {
    enum { K = 16 };
    __m512 a[K];
    const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < K; k++) a[k] = _mm512_set1_ps((float)k);
    for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < K; k++) a[k] = _mm512_fmadd_ps(a[k], b, c);
    }
    __m512 s = a[0];
    for (int k = 1; k < K; k++) s = _mm512_add_ps(s, a[k]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters) {
    enum { K = 12 };
    __m256 a[K];
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < K; k++) a[k] = _mm256_set1_ps((float)k);
    for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < K; k++) a[k] = _mm256_fmadd_ps(a[k], b, c);
    }
    __m256 s = a[0];
    for (int k = 1; k < K; k++) s = _mm256_add_ps(s, a[k]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

struct fma_isa {
    const char *name;
    float (*run)(int64_t iters);
    double flops_per_iter;
};

/* GFLOP/s of the FMA loop on n threads, best of 3 runs of about `secs`. */
static double fma_rate(const struct fma_isa *isa, int n, double secs, float *sink) {
    int64_t iters = 1 << 20;
    for (;;) { /* calibrate on one thread: iterations for about secs */
        double t0 = now();
        *sink += isa->run(iters);
        double dt = now() - t0;
        if (dt > 0.05) {
            iters = (int64_t)((double)iters * secs / dt) + 1;
            break;
        }
        iters *= 4;
    }
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        float part = 0.0f;
        double t0 = now();
#pragma omp parallel num_threads(n) reduction(+ : part)
        part += isa->run(iters);
        double dt = now() - t0;
        *sink += part;
        double rate = (double)n * (double)iters * isa->flops_per_iter / dt * 1e-9;
        if (rate > best) best = rate;
    }
    return best;
}

/* GFLOP/s of sgemm (n x n times n x n) on `threads` threads, best of the
 * runs made in about `secs`. */
static double sgemm_rate(int threads, int n, double secs) {
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n);
    float *c = malloc(sizeof(float) * (size_t)n * n);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0.0;
    }
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 17) * 0.01f;
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
    double best = 0.0, start = now();
    do {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double rate = 2.0 * n * (double)n * n / (now() - t0) * 1e-9;
        if (rate > best) best = rate;
    } while (now() - start < secs);
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv) {
    const double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(secs > 0.0)) {
        fprintf(stderr, "usage: fp32_peak [SECONDS > 0]\n");
        return 2;
    }
    const uint32_t f = ap_cpu_features();
    struct fma_isa isa;
    if (f & AP_CPU_AVX512F)
        isa = (struct fma_isa){"avx512", fma_avx512, 16.0 * 16 * 2};
    else if ((f & AP_CPU_AVX2) && (f & AP_CPU_FMA))
        isa = (struct fma_isa){"avx2", fma_avx2, 12.0 * 8 * 2};
    else {
        printf("no AVX2+FMA or AVX-512 reported (by the CPU, or AP_CPU hides them): the FMA loop needs one\n");
        return 0;
    }
    const int max_threads = omp_get_max_threads();
    float sink = 0.0f;
    printf("threads,fma_isa,fma_gflops,sgemm_gflops,sgemm_over_fma\n");
    for (int n = 1; n <= max_threads; n = n < max_threads ? (n * 2 < max_threads ? n * 2 : max_threads) : n + 1) {
        const double fr = fma_rate(&isa, n, secs, &sink), gr = sgemm_rate(n, 2048, secs);
        printf("%d,%s,%.1f,%.1f,%.3f\n", n, isa.name, fr, gr, fr > 0 ? gr / fr : 0.0);
    }
    if (sink == 12345.678f) printf("%g\n", (double)sink); /* keeps the loops' results alive */
    return 0;
}
