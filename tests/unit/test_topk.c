/* test_topk.c — SpAtten's quick-select top-k engine (kernels/topk.h): the
 * slides' example, ties, candidate subsets, the cycle formula, and the
 * round counts and selections of tests/ref/method_spatten.py's quick-select
 * on random cases (spatten_topk_*.npy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "kernels/topk.h"
#include "method_check.h"
#include "test.h"

/* The slides ("Top-k Engine"): top 4 of [7, 2, 6, 4, 9, 1, 3, 5]: the 4th
 * largest is 5, and the filter keeps [7, 6, 9, 5] in input order. */
TEST(topk_spatten_slides_example) {
    const double x[8] = {7, 2, 6, 4, 9, 1, 3, 5};
    double scratch[16];
    uint8_t keep[8];
    struct ap_topk_result r;
    ap_topk_select(x, NULL, 8, 4, AP_TOPK_PARALLELISM, scratch, keep, &r);
    CHECK_NEAR(r.kth, 5, 0);
    CHECK_EQ_INT(r.kept, 4);
    double kept[8];
    int n = 0;
    for (int i = 0; i < 8; i++)
        if (keep[i]) kept[n++] = x[i];
    REQUIRE(n == 4);
    CHECK_NEAR(kept[0], 7, 0);
    CHECK_NEAR(kept[1], 6, 0);
    CHECK_NEAR(kept[2], 9, 0);
    CHECK_NEAR(kept[3], 5, 0);
    /* Pivot = middle of the candidate list (order kept):
     *   [7 2 6 4 9 1 3 5] pivot 9: none greater, k = 4 > 1 -> smaller ones, k = 3
     *   [7 2 6 4 1 3 5]   pivot 4: [7 6 5] greater, k = 3 <= 3 -> those
     *   [7 6 5]           pivot 6: [7] greater, 6 equal, k = 3 > 2 -> smaller, k = 1
     *   [5]               pivot 5: the 1st largest -> 5
     * 4 rounds of ceil(m / 16) + 3 = 4 cycles each. */
    CHECK_EQ_INT(r.rounds, 4);
    CHECK_EQ_INT(r.cycles, 16);
}

TEST(topk_ties_subsets_and_edges) {
    double scratch[32];
    uint8_t keep[16];
    struct ap_topk_result r;
    /* Ties at the k-th largest: lower index first, exactly k kept. */
    const double t[6] = {3, 1, 3, 2, 3, 3};
    ap_topk_select(t, NULL, 6, 2, 16, scratch, keep, &r);
    CHECK_NEAR(r.kth, 3, 0);
    CHECK(keep[0] && !keep[1] && keep[2] && !keep[3] && !keep[4] && !keep[5]);
    ap_topk_select(t, NULL, 6, 5, 16, scratch, keep, &r);
    CHECK_NEAR(r.kth, 2, 0);
    CHECK(keep[0] && !keep[1] && keep[2] && keep[3] && keep[4] && keep[5]);
    /* Only the active candidates compete. */
    const uint8_t act[6] = {0, 1, 1, 1, 0, 1};
    ap_topk_select(t, act, 6, 2, 16, scratch, keep, &r);
    CHECK(!keep[0] && !keep[1] && keep[2] && !keep[3] && !keep[4] && keep[5]);
    CHECK_EQ_INT(r.kept, 2);
    /* k >= candidates: all of them, no round. k = 0: none. */
    ap_topk_select(t, act, 6, 9, 16, scratch, keep, &r);
    CHECK(!keep[0] && keep[1] && keep[2] && keep[3] && !keep[4] && keep[5]);
    CHECK_EQ_INT(r.rounds, 0);
    CHECK_EQ_INT(r.kept, 4);
    CHECK_NEAR(r.kth, 1, 0);
    ap_topk_select(t, NULL, 6, 0, 16, scratch, keep, &r);
    CHECK_EQ_INT(r.kept, 0);
    CHECK(isnan(r.kth));
    for (int i = 0; i < 6; i++) CHECK(!keep[i]);
    /* All equal: one round finds the k-th. */
    const double e[5] = {1, 1, 1, 1, 1};
    ap_topk_select(e, NULL, 5, 2, 16, scratch, keep, &r);
    CHECK_EQ_INT(r.rounds, 1);
    CHECK(keep[0] && keep[1] && !keep[2]);
    /* The cycle formula: ceil(m / P) + 3. */
    CHECK_EQ_INT(ap_topk_round_cycles(1, 16), 4);
    CHECK_EQ_INT(ap_topk_round_cycles(16, 16), 4);
    CHECK_EQ_INT(ap_topk_round_cycles(17, 16), 5);
    CHECK_EQ_INT(ap_topk_round_cycles(256, 16), 19);
    CHECK_EQ_INT(ap_topk_round_cycles(17, 4), 8);
}

/* spatten_topk_cases.npy int64 (C, 4): n, k, offset into the values, parallelism;
 * spatten_topk_values.npy float64 (sum n); spatten_topk_keep.npy uint8 (sum n);
 * spatten_topk_expect.npy float64 (C, 3): k-th largest, rounds, cycles. */
TEST(topk_matches_numpy_quickselect) {
#define SPATTEN_REF(name) REF_OPEN_ANY(name, "method_spatten.py")
    struct ap_npy *cases = SPATTEN_REF("spatten_topk_cases.npy"), *vals = SPATTEN_REF("spatten_topk_values.npy"),
                  *keep_ref = SPATTEN_REF("spatten_topk_keep.npy"), *expect = SPATTEN_REF("spatten_topk_expect.npy");
#undef SPATTEN_REF
    double *scratch = NULL;
    uint8_t *keep = NULL;
    if (!cases || !vals || !keep_ref || !expect) goto out;
    REQUIRE(cases->dtype == AP_DTYPE_I64 && cases->ndim == 2 && cases->shape[1] == 4);
    REQUIRE(vals->dtype == AP_DTYPE_F64 && keep_ref->dtype == AP_DTYPE_U8 && expect->dtype == AP_DTYPE_F64);
    const int64_t C = cases->shape[0];
    int64_t total_rounds = 0, bad = 0;
    for (int64_t c = 0; c < C; c++) {
        const int32_t n = (int32_t)ap_mc_i64(cases, c * 4), k = (int32_t)ap_mc_i64(cases, c * 4 + 1),
                      par = (int32_t)ap_mc_i64(cases, c * 4 + 3);
        const int64_t off = ap_mc_i64(cases, c * 4 + 2);
        double *x = malloc(sizeof(double) * (size_t)n);
        scratch = realloc(scratch, sizeof(double) * 2 * (size_t)n);
        keep = realloc(keep, (size_t)n);
        REQUIRE(x && scratch && keep);
        for (int32_t i = 0; i < n; i++) x[i] = ap_mc_f64(vals, off + i);
        struct ap_topk_result r;
        ap_topk_select(x, NULL, n, k, par, scratch, keep, &r);
        int ok = r.kth == ap_mc_f64(expect, c * 3) && r.rounds == (int32_t)ap_mc_f64(expect, c * 3 + 1) &&
                 r.cycles == (int64_t)ap_mc_f64(expect, c * 3 + 2);
        for (int32_t i = 0; i < n; i++) ok &= keep[i] == ((const uint8_t *)keep_ref->data)[off + i];
        if (!ok && bad++ < 5)
            ap_test_fail(__FILE__, __LINE__,
                         "case %lld (n %d, k %d, P %d): C k-th %.17g, %d rounds, %lld cycles; NumPy %.17g, %g, %g "
                         "(or the kept set differs)",
                         (long long)c, n, k, par, r.kth, r.rounds, (long long)r.cycles, ap_mc_f64(expect, c * 3),
                         ap_mc_f64(expect, c * 3 + 1), ap_mc_f64(expect, c * 3 + 2));
        total_rounds += r.rounds;
        free(x);
    }
    fprintf(stderr, "    %lld cases, %lld quick-select rounds: k-th value, rounds, cycles and kept sets identical\n",
            (long long)C, (long long)total_rounds);
out:
    free(scratch);
    free(keep);
    ap_npy_close(cases);
    ap_npy_close(vals);
    ap_npy_close(keep_ref);
    ap_npy_close(expect);
}
