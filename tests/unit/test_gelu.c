/* test_gelu.c — the vectorized erf GELU (kernels/gelu_f32.c) against the
 * reference ap_gelu_erf (libm's erff), on every SIMD variant the CPU has. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "kernels/gelu_f32.h"
#include "model/layer_ops.h"
#include "test.h"

/* |fast - reference| <= TOL_GELU * max(1, |x|): the rational erf is within
 * 4.5e-7 of the exact erf, the GELU multiplies that by x / 2. */
#define TOL_GELU 1e-6

TEST(gelu_f32_matches_reference_on_every_isa) {
    /* a dense grid over [-12, 12] (erf saturates at |x / sqrt 2| = 4),
     * tiny and huge magnitudes, and the special values */
    const int64_t n_grid = 480001;
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 3e4f, -3e4f, INFINITY, -INFINITY, NAN};
    const int64_t n_special = (int64_t)(sizeof special / sizeof special[0]);
    const int64_t n = n_grid + n_special;
    float *x = malloc(sizeof(float) * (size_t)n), *ref = malloc(sizeof(float) * (size_t)n);
    float *got = malloc(sizeof(float) * (size_t)n), *base = malloc(sizeof(float) * (size_t)n);
    REQUIRE(x && ref && got && base);
    for (int64_t i = 0; i < n_grid; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n_grid - 1);
    memcpy(x + n_grid, special, sizeof special);
    memcpy(ref, x, sizeof(float) * (size_t)n);
    ap_gelu_erf(ref, n);
    const uint32_t isas[] = {0, AP_CPU_AVX2, AP_CPU_AVX512F};
    const char *names[] = {"baseline", "avx2", "avx512"};
    for (int v = 0; v < 3; v++) {
        if (isas[v] && !(ap_cpu_features() & isas[v])) continue;
        memcpy(got, x, sizeof(float) * (size_t)n);
        ap_gelu_erf_f32_isa(got, n, isas[v]);
        double worst = 0.0;
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(ref[i]) || isinf(ref[i])) {
                if (!(isnan(ref[i]) ? isnan(got[i]) : got[i] == ref[i]) && bad++ < 5)
                    ap_test_fail(__FILE__, __LINE__, "%s: gelu(%g) = %g, reference %g", names[v], x[i], got[i],
                                 ref[i]);
                continue;
            }
            double e = fabs((double)got[i] - ref[i]) / fmax(1.0, fabs((double)x[i]));
            if (e > worst) worst = e;
            if (!(e <= TOL_GELU) && bad++ < 5)
                ap_test_fail(__FILE__, __LINE__, "%s: gelu(%.9g) = %.9g, reference %.9g", names[v], x[i], got[i],
                             ref[i]);
        }
        if (v == 0) memcpy(base, got, sizeof(float) * (size_t)n);
        else CHECK(memcmp(base, got, sizeof(float) * (size_t)n) == 0); /* same float operations per element */
        fprintf(stderr, "    %s: max |fast - reference| / max(1, |x|) = %.3g\n", names[v], worst);
    }
    /* the signs of zero survive */
    CHECK(signbit(got[n_grid + 1]) && !signbit(got[n_grid]));
    free(x);
    free(ref);
    free(got);
    free(base);
}
