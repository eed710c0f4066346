/* test_oracle_topk.c — the oracle-topk baseline: hand cases (rounding of
 * keep, ties, padding, causal, invalid queries), parameter errors, and bit
 * for bit agreement with tests/ref/method_oracle_topk.py on the real and
 * random Q/K/V fixtures. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnprune.h"
#include "method_check.h"
#include "methods/method.h"
#include "test.h"

#define TIE_REL 1e-6 /* a C/NumPy difference this close (relative) to the k-th largest is a tie */

TEST(oracle_topk_hand_cases) {
    /* Keys 0..3 with q = 1: probabilities rise with the key index. Row 2 has
     * q = 0: all equal, so the lower key indices win the tie. */
    const float q[] = {1, 1, 0, 1}, k[] = {0, 1, 2, 3};
    uint8_t mask[16];
    struct ap_head_output out;
    RUN_TINY("oracle-topk:keep=0.5", q, k, 4, 4, 0, NULL, NULL, mask, &out);
    CHECK_MASK_STR(mask, "0011" "0011" "1100" "0011", 4, 4);
    CHECK_EQ_INT(out.kept, 8);
    CHECK_EQ_INT(out.valid, 16);
    CHECK_NEAR(out.stats[0], 4, 0); /* rows */
    double e = exp(1.0), z = 1 + e + e * e + e * e * e;
    CHECK_NEAR(out.stats[1], 3 * (e * e + e * e * e) / z + 0.5, 1e-12); /* mass_kept */

    /* keep = 0.3 of 10 keys is 3, not 4 (0.3 * 10 rounds above 3 in double). */
    float q10[1] = {1}, k10[10];
    uint8_t m10[10];
    for (int i = 0; i < 10; i++) k10[i] = (float)i;
    RUN_TINY("oracle-topk:keep=0.3", q10, k10, 1, 10, 0, NULL, NULL, m10, &out);
    CHECK_EQ_INT(out.kept, 3);
    CHECK_MASK_STR(m10, "0000000111", 1, 10);

    /* Absolute k, larger than a row: the row keeps all it has. */
    RUN_TINY("oracle-topk:k=3", q, k, 4, 4, 1, NULL, NULL, mask, &out);
    CHECK_MASK_STR(mask, "1000" "1100" "1110" "0111", 4, 4);
    CHECK_EQ_INT(out.kept, 1 + 2 + 3 + 3);
    CHECK_EQ_INT(out.valid, 10);

    /* Padding key 3 and invalid query 1, causal: row 0 sees key 0; row 2 keys
     * 0..2 keeps ceil(1.5) = 2 (a tie at q = 0: keys 0, 1); row 3 keys 0..2 keeps 1, 2. */
    const uint8_t kv[] = {1, 1, 1, 0}, qv[] = {1, 0, 1, 1};
    RUN_TINY("oracle-topk:keep=0.5", q, k, 4, 4, 1, kv, qv, mask, &out);
    CHECK_MASK_STR(mask, "1000" "0000" "1100" "0110", 4, 4);
    CHECK_EQ_INT(out.kept, 5);
    CHECK_EQ_INT(out.valid, 1 + 3 + 3);
    CHECK_NEAR(out.stats[0], 3, 0);
}

TEST(oracle_topk_parameter_errors) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("oracle-topk:kk=3", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "'kk'") != NULL);
    CHECK_STATUS(ap_method_create("oracle-topk:keep=0", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "keep=0") != NULL);
    CHECK_STATUS(ap_method_create("oracle-topk:keep=1.5", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "keep=1.5") != NULL);
    CHECK_STATUS(ap_method_create("oracle-topk:k=-1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "k=-1") != NULL);
    CHECK_STATUS(ap_method_create("oracle-topk:k=two", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "k=two") != NULL);
    CHECK(m == NULL);
    CHECK_STATUS(ap_method_create("oracle-topk:k=8,keep=0.5", &m), AP_OK);
    ap_method_free(m);
}

TEST(oracle_topk_matches_numpy) {
    struct ap_test_ref_totals t = {0};
    CHECK_METHOD_AGAINST_REF("oracle-topk", "oracle_topk", TIE_REL, &t);
    fprintf(stderr, "    oracle-topk: %lld settings, %lld heads, %lld pairs: %lld differ, all %lld of them ties\n",
            (long long)t.settings, (long long)t.heads, (long long)t.pairs, (long long)t.differing, (long long)t.ties);
    CHECK(t.settings >= 2);
}

/* The fused path: exactly predict's pairs (same probabilities, same
 * top-k engine). */
TEST(oracle_topk_rows_match_predict) {
    CHECK_ROWS_MATCH_PREDICT("oracle-topk:keep=0.25", 0.0);
}
