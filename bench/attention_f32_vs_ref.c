/* attention_f32_vs_ref.c — time per head of the BLAS-blocked fp32 attention
 * kernel against the scalar double reference, on one thread, in one run.
 *
 *   build/bench/attention_f32_vs_ref [REF_MAX_S] [S ...]
 *
 * For each S (default 512 1024 2048 4096), d = 64, T = S, bidirectional and
 * causal, no mask: the best of a few runs of each kernel (at least 0.3 s of
 * runs), their ratio, and the fp32 kernel's rate in GFLOP/s counting
 * 4 d flops per visible (query, key) pair (two products). The fp32 kernel
 * is timed with the softmax variant ap_cpu_features() picks ("f32") and
 * with the build's baseline one ("f32_base", e.g. SSE2). The reference is
 * only timed up to S = REF_MAX_S (default 4096; about 2 s a head there).
 *
 * Times are process CPU time, not wall time: on a shared machine a
 * descheduled process would otherwise be charged for others' work. Even
 * so, compare ratios within one run only.
 *
 * Legend: S = queries = keys, d = head dimension. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "attnprune.h"
#include "kernels/attention.h"

static uint64_t g_rng = 88172645463325252ull;

static float rng_float(void) { /* xorshift64, uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 4503599627370496.0 - 1.0);
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum kernel { KERNEL_REF, KERNEL_F32, KERNEL_F32_BASE };

/* CPU seconds for one head: the best of runs until 0.3 s have passed (at least 2). */
static double time_head(enum kernel which, const struct ap_attn_head *h, void *scratch) {
    double best = INFINITY, total = 0.0;
    for (int run = 0; run < 2 || total < 0.3; run++) {
        double t0 = cpu_seconds();
        if (which == KERNEL_REF)
            ap_attention_ref(h, NULL, scratch, NULL);
        else if (which == KERNEL_F32)
            ap_attention_f32(h, NULL, scratch, NULL);
        else
            ap_attention_f32_isa(h, NULL, scratch, NULL, 0);
        double t = cpu_seconds() - t0;
        total += t;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    int32_t sizes[16] = {512, 1024, 2048, 4096};
    int n_sizes = 4;
    int32_t ref_max = argc > 1 ? atoi(argv[1]) : 4096;
    if (argc > 2) {
        n_sizes = 0;
        for (int i = 2; i < argc && n_sizes < 16; i++) sizes[n_sizes++] = atoi(argv[i]);
    }
    openblas_set_num_threads(1);
    const int32_t d = 64;
    printf("one head, d = %d, 1 thread, softmax variant for %s; CPU ms, best of repeated runs\n", d,
           ap_cpu_feature_string(ap_cpu_features()));
    printf("%6s %7s %10s %10s %10s %9s %12s\n", "S", "causal", "ref_ms", "f32_ms", "f32_base", "ref/f32",
           "f32_GFLOP/s");
    for (int si = 0; si < n_sizes; si++) {
        const int32_t S = sizes[si];
        if (S < 1) {
            fprintf(stderr, "S must be >= 1, got %d\n", S);
            return 1;
        }
        float *q = malloc(sizeof(float) * (size_t)S * d), *k = malloc(sizeof(float) * (size_t)S * d);
        float *v = malloc(sizeof(float) * (size_t)S * d), *o = malloc(sizeof(float) * (size_t)S * d);
        float *scratch = malloc(sizeof(float) * ap_attention_f32_scratch(S, S, d));
        double *ref_scratch = malloc(sizeof(double) * (size_t)S);
        if (!q || !k || !v || !o || !scratch || !ref_scratch) {
            fprintf(stderr, "out of memory at S = %d\n", S);
            return 1;
        }
        for (int64_t i = 0; i < (int64_t)S * d; i++) {
            q[i] = rng_float();
            k[i] = rng_float();
            v[i] = rng_float();
        }
        for (int causal = 0; causal <= 1; causal++) {
            struct ap_attn_head h = {.q = q, .k = k, .v = v, .o = o, .q_stride = d, .k_stride = d, .v_stride = d,
                                     .o_stride = d, .n_q = S, .n_k = S, .d = d, .scale = 1.0f / sqrtf((float)d),
                                     .causal = causal};
            double pairs = causal ? (double)S * (S + 1) / 2 : (double)S * S;
            double t_f32 = time_head(KERNEL_F32, &h, scratch);
            double t_base = time_head(KERNEL_F32_BASE, &h, scratch);
            double t_ref = S <= ref_max ? time_head(KERNEL_REF, &h, ref_scratch) : NAN;
            printf("%6d %7d %10.2f %10.2f %10.2f %9.1f %12.1f\n", S, causal, t_ref * 1e3, t_f32 * 1e3, t_base * 1e3,
                   t_ref / t_f32, 4.0 * d * pairs / t_f32 * 1e-9);
            fflush(stdout);
        }
        free(q), free(k), free(v), free(o), free(scratch), free(ref_scratch);
    }
    return 0;
}
