/* test_oracle_threshold.c — the oracle-threshold baseline: hand cases
 * (strict threshold, empty rows with and without keep_argmax, padding,
 * causal, invalid queries), parameter errors, and bit for bit agreement
 * with tests/ref/method_oracle_threshold.py on the real and random fixtures. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnprune.h"
#include "method_check.h"
#include "methods/method.h"
#include "test.h"

#define TIE_REL 1e-6 /* a C/NumPy difference this close (relative) to t is a tie */

TEST(oracle_threshold_hand_cases) {
    /* Row 0 (q = 1): p = (1, e, e^2, e^3) / z = 0.032, 0.087, 0.237, 0.644.
     * Row 1 (q = 0): p = 0.25 each. */
    const float q[] = {1, 0}, k[] = {0, 1, 2, 3};
    uint8_t mask[8];
    struct ap_head_output out;
    RUN_TINY("oracle-threshold:t=0.05", q, k, 2, 4, 0, NULL, NULL, mask, &out);
    CHECK_MASK_STR(mask, "0111" "1111", 2, 4);
    CHECK_EQ_INT(out.kept, 7);
    CHECK_EQ_INT(out.valid, 8);
    /* strict: p = 0.25 is not > 0.25; row 1 is empty, and keeps its argmax
     * (the lowest index among equal maxima) unless keep_argmax=0. */
    RUN_TINY("oracle-threshold:t=0.25", q, k, 2, 4, 0, NULL, NULL, mask, &out);
    CHECK_MASK_STR(mask, "0001" "1000", 2, 4);
    CHECK_NEAR(out.stats[1], 1, 0); /* forced_rows */
    CHECK_NEAR(out.stats[2], 0, 0); /* empty_rows */
    RUN_TINY("oracle-threshold:t=0.25,keep_argmax=0", q, k, 2, 4, 0, NULL, NULL, mask, &out);
    CHECK_MASK_STR(mask, "0001" "0000", 2, 4);
    CHECK_EQ_INT(out.kept, 1);
    CHECK_NEAR(out.stats[1], 0, 0);
    CHECK_NEAR(out.stats[2], 1, 0);
    double e = exp(1.0), z = 1 + e + e * e + e * e * e;
    CHECK_NEAR(out.stats[3], e * e * e / z, 1e-12); /* mass_kept */

    /* Padding key 3 and invalid query 1, causal, S = T = 4, q = 1 everywhere:
     * row 0 sees key 0 (p = 1); row 2 keys 0..2 (0.090, 0.245, 0.665); row 3 the same. */
    const float q4[] = {1, 1, 1, 1};
    const uint8_t kv[] = {1, 1, 1, 0}, qv[] = {1, 0, 1, 1};
    uint8_t m4[16];
    RUN_TINY("oracle-threshold:t=0.1", q4, k, 4, 4, 1, kv, qv, m4, &out);
    CHECK_MASK_STR(m4, "1000" "0000" "0110" "0110", 4, 4);
    CHECK_EQ_INT(out.kept, 5);
    CHECK_EQ_INT(out.valid, 7);
    CHECK_NEAR(out.stats[0], 3, 0); /* rows */
}

TEST(oracle_threshold_parameter_errors) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("oracle-threshold:th=0.1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "'th'") != NULL);
    CHECK_STATUS(ap_method_create("oracle-threshold:t=1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "t=1") != NULL);
    CHECK_STATUS(ap_method_create("oracle-threshold:t=-0.1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "t=-0.1") != NULL);
    CHECK_STATUS(ap_method_create("oracle-threshold:keep_argmax=2", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "keep_argmax=2") != NULL);
    CHECK_STATUS(ap_method_create("oracle-threshold:t=nan", &m), AP_ERR_INVALID_ARG);
    CHECK(m == NULL);
}

TEST(oracle_threshold_matches_numpy) {
    struct ap_test_ref_totals t = {0};
    CHECK_METHOD_AGAINST_REF("oracle-threshold", "oracle_threshold", TIE_REL, &t);
    fprintf(stderr,
            "    oracle-threshold: %lld settings, %lld heads, %lld pairs: %lld differ, all %lld of them ties\n",
            (long long)t.settings, (long long)t.heads, (long long)t.pairs, (long long)t.differing, (long long)t.ties);
    CHECK(t.settings >= 2);
}

/* Defaults by model kind: every method is created for a decoder with its
 * decoder defaults, each override names one of its parameters, the
 * registry reports it, and the method it builds is the one the explicit
 * spec builds (here oracle-threshold: t=1e-4 on a decoder, 2e-3 on an
 * encoder, seen in which pairs a row keeps). */
TEST(methods_decoder_defaults) {
    for (int32_t i = 0; i < ap_method_count(); i++) {
        const struct ap_method_ops *ops = ap_method_at(i);
        struct ap_method *m = NULL;
        CHECK_STATUS(ap_method_create_for(ops->name, 1, &m), AP_OK);
        ap_method_free(m);
        for (int32_t k = 0; k < ops->n_decoder_defaults; k++) {
            int32_t found = -1;
            for (int32_t p = 0; p < ops->n_params; p++)
                if (strcmp(ops->params[p].key, ops->decoder_defaults[k].key) == 0) found = p;
            if (found < 0) {
                ap_test_fail(__FILE__, __LINE__, "%s: decoder default for unknown parameter '%s'", ops->name,
                             ops->decoder_defaults[k].key);
                continue;
            }
            struct ap_method_param_desc pd;
            CHECK_STATUS(ap_method_list_param(i, found, &pd), AP_OK);
            CHECK(strcmp(pd.def_decoder, ops->decoder_defaults[k].def) == 0);
        }
    }
    /* one row, p = (1, e, e^2, e^3, e^-5) / z: 0.032, 0.087, 0.237, 0.644, 2.2e-4 */
    const float q[] = {1}, k[] = {0, 1, 2, 3, -5};
    const struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 5, .d = 1, .q = q, .k = k,
                                      .v = k, .q_stride = 1, .k_stride = 1, .v_stride = 1, .scale = 1.0f};
    const char *want[3] = {"11110", "11111", "00110"}; /* encoder default, decoder default, t=0.1 given */
    for (int c = 0; c < 3; c++) {
        struct ap_method *m = NULL;
        REQUIRE(ap_method_create_for(c == 2 ? "oracle-threshold:t=0.1" : "oracle-threshold", c >= 1, &m) == AP_OK);
        uint8_t mask[5];
        struct ap_head_output out = {.mask = mask};
        CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
        char got[6];
        for (int j = 0; j < 5; j++) got[j] = (char)('0' + mask[j]);
        got[5] = '\0';
        if (strcmp(got, want[c]) != 0) ap_test_fail(__FILE__, __LINE__, "case %d: mask %s, expected %s", c, got, want[c]);
        ap_method_free(m);
    }
}

/* The fused path computes the same probabilities block by block (one
 * dgemm per block, as predict): exactly predict's pairs. */
TEST(oracle_threshold_rows_match_predict) {
    CHECK_ROWS_MATCH_PREDICT("oracle-threshold:t=1e-3", 0.0);
    CHECK_ROWS_MATCH_PREDICT("oracle-threshold:t=0.05,keep_argmax=1", 0.0);
}
