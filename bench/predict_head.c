/* predict_head.c — the complete predictors of Sanger, HAMMER and SPRINT
 * (ap_method_predict) on one random head, for before/after comparisons of
 * their kernels (the program uses only the method interface, so the same
 * file builds against an older checkout).
 *
 *   build/bench/predict_head [S] [REPS] [METHOD_SPEC ...]
 *
 * S queries x S keys (default 4096), d = 64, not causal, Q and K uniform
 * in [-1, 1) from a fixed seed; default methods "sanger", "hammer",
 * "sprint:th=0.5". Prints the best of REPS (default 3) calls in ms, on the
 * calling thread (the predictors are single-threaded per head), with the
 * kept fraction as a check that before and after agree.
 *
 * Legend: S = queries = keys, d = head dimension. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnprune.h"
#include "methods/method.h"

#define D 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const int32_t S = argc > 1 ? atoi(argv[1]) : 4096;
    const int reps = argc > 2 ? atoi(argv[2]) : 3;
    static const char *const default_specs[] = {"sanger", "hammer", "sprint:th=0.5"};
    const char *const *specs = argc > 3 ? (const char *const *)(argv + 3) : default_specs;
    const int n_specs = argc > 3 ? argc - 3 : 3;
    float *q = malloc(sizeof(float) * (size_t)S * D), *k = malloc(sizeof(float) * (size_t)S * D);
    uint8_t *mask = malloc((size_t)S * (size_t)S);
    if (!q || !k || !mask) return 1;
    uint64_t r = 0x853c49e6748fea9bull;
    for (int64_t x = 0; x < 2 * (int64_t)S * D; x++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        float v = (float)(r >> 40) / (float)(1 << 23) - 1.0f;
        if (x < (int64_t)S * D) q[x] = v;
        else k[x - (int64_t)S * D] = v;
    }
    const struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = S, .n_k = S, .d = D, .q = q, .k = k,
                                      .v = k, .q_stride = D, .k_stride = D, .v_stride = D, .scale = 0.125f};
    printf("# predict_head: S = T = %d, d = %d, CPU: %s\n", S, D, ap_cpu_feature_string(ap_cpu_features()));
    for (int m = 0; m < n_specs; m++) {
        struct ap_method *meth;
        if (ap_method_create(specs[m], &meth) != AP_OK) {
            fprintf(stderr, "%s: %s\n", specs[m], ap_last_error());
            return 1;
        }
        double best = 1e30;
        struct ap_head_output out;
        for (int rep = 0; rep < reps; rep++) {
            memset(&out, 0, sizeof out);
            out.mask = mask;
            double t0 = now();
            if (ap_method_predict(meth, &in, &out) != AP_OK) {
                fprintf(stderr, "%s: %s\n", specs[m], ap_last_error());
                return 1;
            }
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("%-16s %10.1f ms  kept %.6f\n", specs[m], 1e3 * best, (double)out.kept / (double)out.valid);
        ap_method_free(meth);
    }
    free(q);
    free(k);
    free(mask);
    return 0;
}
