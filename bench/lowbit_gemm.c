/* lowbit_gemm.c — the predictors' low-bit products: the int8 kernels of
 * kernels/lowbit_gemm.h against sgemm on the same codes held as floats
 * (ap_codes_gemm_f32, what Sanger, HAMMER and SPRINT used before) and a
 * plain fp32 sgemm of the same shape, in one run.
 *
 *   build/bench/lowbit_gemm [SECONDS] [S ...]
 *
 * For each S (default 1024 2048 4096 8192): S queries x T = S keys, d = 64,
 * 4-bit codes in [-8, 7] (Sanger's default), the whole (S, T) product
 * computed 64 query rows at a time into a (64, T) block per thread that
 * each block overwrites, the way the predictors call it (they threshold a
 * block before computing the next), on 1 thread and on 2 (OpenMP over the
 * row blocks; OpenBLAS held at 1 thread so that it runs inside them).
 * Variants:
 *   i8 <kernel>       ap_i8_dots_isa limited to that kernel (keys packed
 *                     once, outside the timing, as a predictor does per head)
 *   codes_gemm_f32    ap_codes_gemm_f32 on the codes as floats, per row block
 *   sgemm_f32         the same sgemm calls on random floats (same shape)
 * Each is repeated for about SECONDS (default 0.3) and the best time
 * printed, in ms and GOP/s (2 S T d operations: a multiply and an add per
 * code pair), with the ratio to codes_gemm_f32 on the same thread count.
 * The int8 results are checked equal to the float ones (exact integers).
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnprune.h"
#include "kernels/lowbit_dot.h"
#include "kernels/lowbit_gemm.h"

#define ROWS 64
#define D 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

struct problem {
    int32_t S, T;
    const int8_t *q8;           /* (S, D) */
    const struct ap_i8_keys *keys;
    const float *qf, *kf;       /* (S, D), (T, D) codes as floats */
    const float *qr, *kr;       /* (S, D), (T, D) random floats */
    int32_t *out_i;             /* (S, T), or (threads, ROWS, T) blocks when timing */
    float *out_f;               /* the same */
    int64_t block_stride;       /* 0: out is (S, T); else elements per thread's block */
};

/* One pass of a variant over every row block on nt threads:
 * v < 0: -1 codes_gemm_f32, -2 sgemm_f32; else the features mask v. */
static void pass(const struct problem *p, int64_t v, int nt) {
    const int32_t nb = (p->S + ROWS - 1) / ROWS;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i0 = b * ROWS, n = p->S - i0 < ROWS ? p->S - i0 : ROWS;
        const int64_t at = p->block_stride ? omp_get_thread_num() * p->block_stride : (int64_t)i0 * p->T;
        if (v == -1)
            ap_codes_gemm_f32(p->qf + (int64_t)i0 * D, n, p->kf, p->T, D, p->out_f + at, p->T);
        else if (v == -2)
            ap_codes_gemm_f32(p->qr + (int64_t)i0 * D, n, p->kr, p->T, D, p->out_f + at, p->T);
        else
            ap_i8_dots_isa(p->q8 + (int64_t)i0 * D, n, p->keys, p->T, p->out_i + at, p->T, (uint32_t)v);
    }
}

static double best_time(const struct problem *p, int64_t v, int nt, double seconds) {
    pass(p, v, nt); /* warm-up */
    double best = 1e30, t_end = now() + seconds;
    int reps = 0;
    do {
        double t0 = now();
        pass(p, v, nt);
        double t = now() - t0;
        if (t < best) best = t;
        reps++;
    } while (now() < t_end || reps < 3);
    return best;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    int32_t sizes[16] = {1024, 2048, 4096, 8192};
    int n_sizes = 4;
    if (argc > 2) {
        n_sizes = 0;
        for (int a = 2; a < argc && n_sizes < 16; a++) sizes[n_sizes++] = atoi(argv[a]);
    }
    openblas_set_num_threads(1);
    const uint32_t cpu = ap_cpu_features();
    static const struct {
        uint32_t mask;
        enum ap_i8_kernel kernel;
    } kernels[] = {
        {AP_CPU_AVX2 | AP_CPU_AVX512F | AP_CPU_AVX512BW | AP_CPU_AVX512VNNI, AP_I8_AVX512VNNI},
        {AP_CPU_AVX2 | AP_CPU_AVXVNNI, AP_I8_AVXVNNI},
        {AP_CPU_AVX2 | AP_CPU_AVX512F | AP_CPU_AVX512BW, AP_I8_AVX512BW},
        {AP_CPU_AVX2, AP_I8_AVX2},
        {0, AP_I8_SCALAR},
    };
    printf("# lowbit_gemm: S x T int8 code products, d = %d, %d-row blocks; CPU: %s\n", D, ROWS,
           ap_cpu_feature_string(cpu));
    printf("%6s %3s %-16s %10s %9s %9s\n", "S", "thr", "variant", "ms", "GOP/s", "vs_f32");
    for (int si = 0; si < n_sizes; si++) {
        const int32_t S = sizes[si], T = S;
        int8_t *q8 = malloc((size_t)S * D), *k8 = malloc((size_t)T * D);
        float *qf = malloc(sizeof(float) * (size_t)S * D), *kf = malloc(sizeof(float) * (size_t)T * D);
        float *qr = malloc(sizeof(float) * (size_t)S * D), *kr = malloc(sizeof(float) * (size_t)T * D);
        int32_t *out_i = malloc(sizeof(int32_t) * (size_t)S * T);
        float *out_f = malloc(sizeof(float) * (size_t)S * T);
        int32_t *blk_i = malloc(sizeof(int32_t) * 2 * ROWS * (size_t)T);
        float *blk_f = malloc(sizeof(float) * 2 * ROWS * (size_t)T);
        if (!q8 || !k8 || !qf || !kf || !qr || !kr || !out_i || !out_f || !blk_i || !blk_f) {
            fprintf(stderr, "out of memory at S = %d\n", S);
            return 1;
        }
        for (int64_t x = 0; x < (int64_t)S * D; x++) {
            q8[x] = (int8_t)((int32_t)(rnd() % 16) - 8);
            qf[x] = q8[x];
            qr[x] = (float)rnd() / 65536.0f - 0.5f;
        }
        for (int64_t x = 0; x < (int64_t)T * D; x++) {
            k8[x] = (int8_t)((int32_t)(rnd() % 16) - 8);
            kf[x] = k8[x];
            kr[x] = (float)rnd() / 65536.0f - 0.5f;
        }
        struct ap_i8_keys keys;
        if (ap_i8_keys_pack(k8, T, D, &keys) != AP_OK) {
            fprintf(stderr, "%s\n", ap_last_error());
            return 1;
        }
        /* p times into per-thread blocks; full writes the whole (S, T) for the check */
        const struct problem full = {.S = S, .T = T, .q8 = q8, .keys = &keys, .qf = qf, .kf = kf, .qr = qr,
                                     .kr = kr, .out_i = out_i, .out_f = out_f, .block_stride = 0};
        struct problem p = full;
        p.out_i = blk_i;
        p.out_f = blk_f;
        p.block_stride = (int64_t)ROWS * T;
        const double ops = 2.0 * S * (double)T * D;
        for (int nt = 1; nt <= 2; nt++) {
            const double t_codes = best_time(&p, -1, nt, seconds);
            printf("%6d %3d %-16s %10.3f %9.1f %9.2f\n", S, nt, "codes_gemm_f32", 1e3 * t_codes, ops / t_codes * 1e-9,
                   1.0);
            const double t_f32 = best_time(&p, -2, nt, seconds);
            printf("%6d %3d %-16s %10.3f %9.1f %9.2f\n", S, nt, "sgemm_f32", 1e3 * t_f32, ops / t_f32 * 1e-9,
                   t_codes / t_f32);
            pass(&full, -1, nt); /* out_f = the codes' products, for the check */
            for (size_t v = 0; v < sizeof kernels / sizeof kernels[0]; v++) {
                if ((cpu & kernels[v].mask) != kernels[v].mask) continue;
                if (kernels[v].kernel == AP_I8_SCALAR && S > 2048) continue; /* seconds per pass */
                memset(out_i, 0, sizeof(int32_t) * (size_t)S * T);
                const double t = best_time(&p, kernels[v].mask, nt, seconds);
                pass(&full, kernels[v].mask, nt);
                int64_t bad = 0;
                for (int64_t x = 0; x < (int64_t)S * T; x++) bad += out_i[x] != (int32_t)out_f[x];
                char name[32];
                snprintf(name, sizeof name, "i8 %s", ap_i8_kernel_name(kernels[v].kernel));
                printf("%6d %3d %-16s %10.3f %9.1f %9.2f%s\n", S, nt, name, 1e3 * t, ops / t * 1e-9, t_codes / t,
                       bad ? "  MISMATCH" : "");
                if (bad) return 1;
            }
        }
        fflush(stdout);
        ap_i8_keys_free(&keys);
        free(q8);
        free(k8);
        free(qf);
        free(kf);
        free(qr);
        free(kr);
        free(out_i);
        free(out_f);
        free(blk_i);
        free(blk_f);
    }
    return 0;
}
