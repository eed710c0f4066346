/* test_hammer.c — the hammer method: a hand-worked head through every step
 * of the paper (mean redistribution, eq. 6 codes, eq. 9 scores, shifted ReLU,
 * division-free selection), the empty-row rule, agreement with the NumPy
 * reference (tests/ref/method_hammer.py) on real and random Q/K, parameter
 * errors, and padding / causal / invalid-query handling. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnprune.h"
#include "kernels/attention.h"
#include "method_check.h"
#include "methods/method.h"
#include "test.h"

/* One query, three keys, d = 2, by hand:
 *   K = (10, 1), (2, -1), (6, 3): mean (6, 1); K' = (4, 0), (-4, -2), (0, 2)
 *   codes (cut 4, factor 8): K' -> (8, 1), (-8, -1), (1, 1)   [0 -> +1]
 *   q = (5, -1) -> (8, -1)
 *   a = (64 - 1, -64 + 1, 8 - 1) = (63, -63, 7)
 *   break points b = 4, 8, 16 units of d = 2 -> 8, 16, 32 (continuous):
 *   f(63) = 8 + 2*8 + 4*16 + 8*31 = 336, f(-63) = 0, f(7) = 7; sum 343
 *   t = 0.05: 336 > 17.15 kept, 7 not;  t = 0.02: 7 > 6.86 kept too.
 * Without the mean, K codes are (8, 1), (1, -1), (8, 1) and a = (63, 9, 63):
 * the far key 1 (exact score 11 against 49 and 27) would get a positive
 * score and key 2 would tie with key 0. */
TEST(hammer_worked_example) {
    const float q[] = {5, -1};
    const float k[] = {10, 1, 2, -1, 6, 3};
    const float v[] = {0, 0, 0, 0, 0, 0};
    uint8_t mask[3];
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 3, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    struct ap_method *m = MC_MAKE("hammer:t=0.05,b1=4,b2=8,b3=16,factor=8,cut=4");
    REQUIRE(m);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1], 0);
    CHECK_EQ_INT(mask[2], 0);
    CHECK_EQ_INT(out.kept, 1);
    CHECK_EQ_INT(out.valid, 3);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "relu_zero")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "approx_macs")], 6, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "mean_ops")], 12, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "q_large")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "k_large")], 2, 0);
    ap_method_free(m);

    m = MC_MAKE("hammer:t=0.02,b1=4,b2=8,b3=16,cut=4");
    REQUIRE(m);
    memset(&out, 0, sizeof out);
    out.mask = mask;
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1], 0);
    CHECK_EQ_INT(mask[2], 1);
    ap_method_free(m);

    /* mean=0: a = (63, 9, 63), f = (336, 10, 336), sum 682; t = 0.02 -> 13.64:
     * key 1 (f 10) still out, but keys 0 and 2 now look alike. */
    m = MC_MAKE("hammer:t=0.02,b1=4,b2=8,b3=16,mean=0,cut=4");
    REQUIRE(m);
    memset(&out, 0, sizeof out);
    out.mask = mask;
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1], 0);
    CHECK_EQ_INT(mask[2], 1);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "relu_zero")], 0, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "mean_ops")], 0, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "k_large")], 2, 0); /* raw 10 and 6 */
    ap_method_free(m);
}

/* Eq. 7: subtracting the mean of K moves each row's exact scores by a
 * constant, so exact attention over K and over K - mean is the same. */
TEST(hammer_mean_redistribution_keeps_softmax) {
    const float q[] = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f};
    const float k[] = {3.0f, 1.0f, 4.0f, -1.0f, 5.0f, 9.0f, 2.0f, 6.0f};
    const float v[] = {1, 2, 3, 4, 5, 6, 7, 8};
    float kp[8], o1[6], o2[6];
    double mean[2] = {0, 0}, scratch[4];
    for (int j = 0; j < 4; j++)
        for (int c = 0; c < 2; c++) mean[c] += k[2 * j + c] / 4.0;
    for (int j = 0; j < 4; j++)
        for (int c = 0; c < 2; c++) kp[2 * j + c] = (float)(k[2 * j + c] - mean[c]);
    struct ap_attn_head h = {.q = q, .k = k, .v = v, .o = o1, .q_stride = 2, .k_stride = 2, .v_stride = 2,
                             .o_stride = 2, .n_q = 3, .n_k = 4, .d = 2, .scale = 0.7f};
    ap_attention_ref(&h, NULL, scratch, NULL);
    h.k = kp;
    h.o = o2;
    ap_attention_ref(&h, NULL, scratch, NULL);
    CHECK_ARRAY_NEAR("O(K) vs O(K - mean)", o2, o1, 6, 1e-5);
}

/* The selection is strict and division-free: two equal scores with t = 0.5
 * give f = t * sum exactly, so neither passes; keep_max then keeps both (the
 * largest a_ij, ties included), keep_max=0 leaves the row empty. */
TEST(hammer_strict_threshold_and_empty_rows) {
    const float q[] = {1, 1};
    const float k[] = {1, 1, 1, 1, -1, -1};
    const float v[6] = {0};
    uint8_t mask[3];
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 3, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    /* mean=0: a = (2, 2, -2), f = (2, 2, 0), sum 4, t * sum = 2 */
    struct ap_method *m = MC_MAKE("hammer:t=0.5,mean=0");
    REQUIRE(m);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1], 1);
    CHECK_EQ_INT(mask[2], 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "rows_empty")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "fallback_kept")], 2, 0);
    ap_method_free(m);
    m = MC_MAKE("hammer:t=0.5,mean=0,keep_max=0");
    REQUIRE(m);
    memset(&out, 0, sizeof out);
    out.mask = mask;
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0] + mask[1] + mask[2], 0);
    CHECK_EQ_INT(out.kept, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "rows_empty")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "fallback_kept")], 0, 0);
    ap_method_free(m);
    /* A row whose every a_ij <= 0 has sum 0: nothing passes f > 0; keep_max
     * keeps the least negative score (key 0: a = -2 with mean=0 against -4). */
    const float q2[] = {-1, -1};
    const float k2[] = {1, 1, 2, 2, 1, 1};
    in.q = q2;
    in.k = k2;
    m = MC_MAKE("hammer:t=0.01,mean=0,cut=2");
    REQUIRE(m);
    memset(&out, 0, sizeof out);
    out.mask = mask;
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK); /* a = (-2, -16, -2) */
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1], 0);
    CHECK_EQ_INT(mask[2], 1);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "relu_zero")], 3, 0);
    ap_method_free(m);
}

/* Padding, an invalid query row and causal masking, with zero = -64 and
 * t = 0 so that every valid pair passes: the mask must equal the validity
 * pattern exactly, whatever was in the buffer before. S = 3 queries against
 * T = 5 keys (a decoder step with two cached keys). */
TEST(hammer_padding_causal_query_valid) {
    float q[3 * 4], k[5 * 4], v[5 * 4] = {0};
    for (int i = 0; i < 12; i++) q[i] = (float)((i * 7) % 5) - 2.0f;
    for (int i = 0; i < 20; i++) k[i] = (float)((i * 3) % 7) - 3.0f;
    const uint8_t key_valid[5] = {1, 0, 1, 1, 1};
    const uint8_t query_valid[3] = {1, 0, 1};
    uint8_t mask[15];
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 3, .n_k = 5, .d = 4, .q = q, .k = k, .v = v,
                                .q_stride = 4, .k_stride = 4, .v_stride = 4, .scale = 0.5f, .causal = 1,
                                .key_valid = key_valid, .query_valid = query_valid};
    struct ap_method *m = MC_MAKE("hammer:t=0,zero=-64");
    REQUIRE(m);
    memset(mask, 7, sizeof mask);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    /* query i sees keys j <= i + 2; key 1 is padding; query 1 is invalid */
    const uint8_t want[15] = {1, 0, 1, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 1, 0, 1, 1, 1};
    for (int p = 0; p < 15; p++) CHECK_EQ_INT(mask[p], want[p]);
    CHECK_EQ_INT(out.valid, 6);
    CHECK_EQ_INT(out.valid, ap_head_valid_pairs(&in));
    CHECK_EQ_INT(out.kept, 6);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "approx_macs")], 24, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "mean_ops")], 2 * 4 * 4, 0); /* 4 valid keys */
    /* the default threshold keeps a subset of the valid pairs, never more */
    ap_method_free(m);
    m = MC_MAKE("hammer");
    REQUIRE(m);
    memset(mask, 7, sizeof mask);
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    for (int p = 0; p < 15; p++) CHECK(mask[p] <= want[p]);
    CHECK(out.kept >= 2); /* keep_max leaves no valid row empty */
    ap_method_free(m);
}

TEST(hammer_parameter_errors) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("hammer:foo=1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "foo") != NULL);
    const char *bad[][2] = {
        {"hammer:t=2", "t=2"},           {"hammer:t=abc", "t=abc"},
        {"hammer:factor=6", "factor=6"}, {"hammer:factor=128", "factor=128"},
        {"hammer:cut=-1", "cut=-1"},     {"hammer:relu=exp", "relu=exp"},
        {"hammer:mean=2", "mean=2"},     {"hammer:keep_max=x", "keep_max=x"},
        {"hammer:b1=0", "b1=0"},         {"hammer:b1=0.6,b2=0.5", "b1=0.6"},
        {"hammer:zero=nan", "zero=nan"}, {"hammer:t", "'t'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = NULL;
        CHECK_STATUS(ap_method_create(bad[i][0], &m), AP_ERR_INVALID_ARG);
        if (!strstr(ap_last_error(), bad[i][1]))
            ap_test_fail(__FILE__, __LINE__, "%s: message '%s' does not name '%s'", bad[i][0], ap_last_error(),
                         bad[i][1]);
        CHECK(m == NULL);
    }
    m = MC_MAKE("hammer:t=0.005,factor=16,cut=2.5,b1=0.1,b2=0.1,b3=0.2,relu=shift,zero=-0.5,mean=0,keep_max=0");
    CHECK(m != NULL);
    ap_method_free(m);
}

/* The C masks against NumPy: three settings on the real MiniLM heads, the
 * random heads, and the random heads padded after token 87 and causal. */
TEST(hammer_matches_numpy_reference) {
    const char *settings[] = {"def", "alt", "nomean"};
    const char *sets[] = {"real", "rand", "randpad"};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            struct ap_mask_ref_result r;
            if (CHECK_MASK_REF("hammer", settings[a], sets[b], &r)) return;
            CHECK(r.heads > 0);
        }
}

/* The fused path (integer products, vectorized shifted ReLU and selection)
 * decides exactly as predict: integer arithmetic throughout. */
TEST(hammer_rows_match_predict) {
    CHECK_ROWS_MATCH_PREDICT("hammer:t=0.01", 0.0);
    CHECK_ROWS_MATCH_PREDICT("hammer:t=0.002,zero=-6,relu=shift", 0.0);
    CHECK_ROWS_MATCH_PREDICT("hammer:t=0.01,relu=plain,mean=0", 0.0);
}
