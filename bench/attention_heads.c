/* attention_heads.c — our dense attention on H heads at once, the C side of
 * bench/attention_vs_torch.sh (which times PyTorch's SDPA on the same
 * shapes in the same run and joins the two).
 *
 *   build/bench/attention_heads [-t THREADS] [-r RUNS] [-H HEADS] [-c 0|1] S ...
 *
 * Q, K, V are (H, S, d) fp32, d = 64, uniform in [-1, 1) (a fixed seed);
 * bidirectional (-c 0) or causal (-c 1). One call is ap_attention_f32 on
 * every head, the heads spread over THREADS OpenMP threads (default 2),
 * BLAS single-threaded inside. Prints one CSV row per S:
 *   S,heads,causal,method,density,ours_ms,gflops
 * ours_ms is the median wall time of RUNS calls (default 5) after one
 * warm-up; gflops counts 4 d flops per visible (query, key) pair.
 *
 * Legend: H = heads, S = queries = keys, d = head dimension. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnprune.h"
#include "kernels/attention.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void) {
    fprintf(stderr, "usage: attention_heads [-t THREADS] [-r RUNS] [-H HEADS] [-c 0|1] S ...\n");
}

int main(int argc, char **argv) {
    int threads = 2, runs = 5, heads = 12, causal = 0, n_sizes = 0;
    int32_t sizes[16];
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "-t"))
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-r"))
            runs = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-H"))
            heads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-c"))
            causal = atoi(argv[++i]) != 0;
        else if (argv[i][0] != '-' && n_sizes < 16)
            sizes[n_sizes++] = atoi(argv[i]);
        else {
            usage();
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || runs > 100 || heads < 1 || n_sizes == 0) {
        usage();
        return 2;
    }
    const int32_t d = 64;
    printf("S,heads,causal,method,density,ours_ms,gflops\n");
    for (int si = 0; si < n_sizes; si++) {
        const int32_t S = sizes[si];
        if (S < 1) {
            fprintf(stderr, "attention_heads: S must be >= 1, got %d\n", S);
            return 2;
        }
        const size_t n = (size_t)heads * (size_t)S * (size_t)d, sc = ap_attention_f32_scratch(S, S, d);
        float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n);
        float *o = malloc(sizeof(float) * n), *scratch = malloc(sizeof(float) * sc * (size_t)threads);
        double *ms = malloc(sizeof(double) * (size_t)runs);
        if (!q || !k || !v || !o || !scratch || !ms) {
            fprintf(stderr, "attention_heads: out of memory at S = %d\n", S);
            return 1;
        }
        uint64_t rng = 88172645463325252ull;
        for (size_t i = 0; i < n; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            const float x = (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
            q[i] = x, k[i] = -x * 0.5f, v[i] = x * x;
        }
        for (int run = -1; run < runs; run++) {
            const double t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
            for (int h = 0; h < heads; h++) {
                const size_t off = (size_t)h * (size_t)S * (size_t)d;
                const struct ap_attn_head hd = {.q = q + off, .k = k + off, .v = v + off, .o = o + off,
                                                .q_stride = d, .k_stride = d, .v_stride = d, .o_stride = d,
                                                .n_q = S, .n_k = S, .d = d, .scale = 1.0f / sqrtf((float)d),
                                                .causal = causal};
                ap_attention_f32(&hd, NULL, scratch + sc * (size_t)omp_get_thread_num(), NULL);
            }
            if (run >= 0) ms[run] = (now() - t0) * 1e3;
        }
        qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
        const double med = runs % 2 ? ms[runs / 2] : 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]);
        const double pairs = causal ? (double)S * (S + 1) / 2 : (double)S * S;
        printf("%d,%d,%d,dense,1,%.3f,%.1f\n", S, heads, causal, med, 4.0 * d * pairs * heads / (med * 1e-3) * 1e-9);
        fflush(stdout);
        free(q), free(k), free(v), free(o), free(scratch), free(ms);
    }
    return 0;
}
