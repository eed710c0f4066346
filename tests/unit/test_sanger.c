/* test_sanger.c — the sanger method and Sanger's pack & split: a hand-worked
 * 4-bit prediction, a hand-built pack & split case with known sub-rows (the
 * situation of the paper's fig. 3), agreement with the NumPy reference
 * (tests/ref/method_sanger.py) on real and random Q/K, parameter errors, and
 * padding / causal / invalid-query handling. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "mask/pack_split.h"
#include "method_check.h"
#include "methods/method.h"
#include "test.h"

/* One query, three keys, d = 2, 4 bits, no normalization, scale 1:
 *   q = (1, 0.5): thr 1, gamma 7, codes (7, 3.5 -> 4)     [half to even]
 *   K = (2, 0), (0, -2), (1, 1): thr 2, gamma 3.5, codes (7, 0), (0, -7), (3.5 -> 4, 4)
 *   dot = (49, -28, 44); / (7 * 3.5) = (2, -8/7, 44/24.5)   (exact: 2, -1, 1.5)
 *   P^ = softmax = (0.538, 0.023, 0.439)
 *   t = 0.05 keeps keys 0 and 2; t = 0.02 all three; t = 0.5 key 0 only. */
TEST(sanger_worked_example) {
    const float q[] = {1.0f, 0.5f};
    const float k[] = {2, 0, 0, -2, 1, 1};
    const float v[6] = {0};
    uint8_t mask[3];
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 3, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    double s[3] = {2.0, -8.0 / 7.0, 44.0 / 24.5}, e[3], sum = 0;
    for (int j = 0; j < 3; j++) sum += e[j] = exp(s[j]);
    CHECK_NEAR(e[0] / sum, 0.538, 1e-3);
    CHECK_NEAR(e[1] / sum, 0.023, 1e-3);
    CHECK_NEAR(e[2] / sum, 0.439, 1e-3);
    const struct {
        const char *spec;
        uint8_t want[3];
    } cases[] = {
        {"sanger:normalize=0,t=0.05", {1, 0, 1}},
        {"sanger:normalize=0,t=0.02", {1, 1, 1}},
        {"sanger:normalize=0,t=0.5", {1, 0, 0}},
        {"sanger:normalize=0,t=0.0232", {1, 1, 1}}, /* P^_1 = 0.023222 */
        {"sanger:normalize=0,t=0.0233", {1, 0, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct ap_method *m = MC_MAKE(cases[c].spec);
        REQUIRE(m);
        struct ap_head_output out = {.mask = mask};
        CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
        for (int j = 0; j < 3; j++)
            if (mask[j] != cases[c].want[j])
                ap_test_fail(__FILE__, __LINE__, "%s: key %d kept %d, want %d", cases[c].spec, j, mask[j],
                             cases[c].want[j]);
        CHECK_EQ_INT(out.valid, 3);
        CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "pred_macs")], 6, 0);
        ap_method_free(m);
    }
    /* t = 1: nothing passes P^ > 1; keep_max keeps the largest predicted score. */
    struct ap_method *m = MC_MAKE("sanger:normalize=0,t=1");
    REQUIRE(m);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1);
    CHECK_EQ_INT(mask[1] + mask[2], 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "rows_empty")], 1, 0);
    ap_method_free(m);
    m = MC_MAKE("sanger:normalize=0,t=1,keep_max=0");
    REQUIRE(m);
    memset(&out, 0, sizeof out);
    out.mask = mask;
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0] + mask[1] + mask[2], 0);
    CHECK_EQ_INT(out.kept, 0);
    /* an empty mask still describes its sub-rows: one group, one empty sub-row */
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "groups")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "subrows_empty")], 1, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "subrows_after")], 0, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "subrows_before")], 1, 0);
    ap_method_free(m);
}

/* ---------------------------------------------------------- pack & split */

/* 6 x 8 mask, ports 4, pes 2, pe_rows 4 (fig. 3 in miniature):
 *            group 0    group 1
 *   row 0:   1 0 0 0 | 0 0 0 0     g0: 1            g1: empty
 *   row 1:   1 1 1 0 | 0 1 0 0     g0: 3 -> split 2+1   g1: 1
 *   row 2:   0 0 0 0 | 0 0 0 0     empty in both
 *   row 3:   0 1 0 1 | 1 1 1 1     g0: 2            g1: 4 -> split 2+2
 *   row 4:   0 0 0 0 | 0 0 1 0     g0: empty        g1: 1
 *   row 5:   1 1 1 1 | 0 0 0 0     g0: 4 -> 2+2     g1: empty
 * group 0: 6 rows after, 2 empty (8 before); group 1: 4 after, 3 empty (7 before).
 * A ninth column (group 2) is all ones but its key is padding: it does not exist. */
static const uint8_t PS_MASK[6 * 9] = {
    1, 0, 0, 0, 0, 0, 0, 0, 1, /**/ 1, 1, 1, 0, 0, 1, 0, 0, 1, /**/ 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0, 1, 0, 1, 1, 1, 1, 1, 1, /**/ 0, 0, 0, 0, 0, 0, 1, 0, 1, /**/ 1, 1, 1, 1, 0, 0, 0, 0, 1,
};
static const uint8_t PS_KEYS[9] = {1, 1, 1, 1, 1, 1, 1, 1, 0};

TEST(pack_split_hand_built) {
    struct ap_mask_view mv = {.mask = PS_MASK, .n_q = 6, .n_k = 9, .key_valid = PS_KEYS};
    struct ap_pack_split_params p = {.ports = 4, .pes = 2, .pe_rows = 4};
    CHECK(ap_pack_split_params_ok(p));
    struct ap_pack_split_stats st;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.nnz, 16);
    CHECK_EQ_INT(st.groups, 2);
    CHECK_EQ_INT(st.subrows_nonempty, 7);
    CHECK_EQ_INT(st.subrows_empty, 5);
    CHECK_EQ_INT(st.subrows_after, 10);
    CHECK_EQ_INT(st.subrows_before, 15);
    CHECK_EQ_INT(st.blocks_after, 3);  /* ceil(6/4) + ceil(4/4) */
    CHECK_EQ_INT(st.blocks_before, 4); /* ceil(8/4) + ceil(7/4) */
    /* utilization nnz / (rows x pes): 16/30 before, 16/20 after */
    CHECK_NEAR((double)st.nnz / (double)(st.subrows_before * p.pes), 16.0 / 30.0, 1e-15);
    CHECK_NEAR((double)st.nnz / (double)(st.subrows_after * p.pes), 0.8, 1e-15);

    const struct ap_subrow want[10] = {
        {0, 0, 0, 1, 0, 0}, {1, 0, 0, 2, 0, 1}, {1, 0, 1, 1, 2, 2}, {3, 0, 0, 2, 1, 3}, {5, 0, 0, 2, 0, 1},
        {5, 0, 1, 2, 2, 3}, {1, 1, 0, 1, 5, 5}, {3, 1, 0, 2, 4, 5}, {3, 1, 1, 2, 6, 7}, {4, 1, 0, 1, 6, 6},
    };
    struct ap_subrow got[12];
    CHECK_EQ_INT(ap_pack_split_encode(&mv, p, got, 12), 10);
    for (int r = 0; r < 10; r++) {
        const struct ap_subrow *g = &got[r], *w = &want[r];
        if (g->query != w->query || g->group != w->group || g->part != w->part || g->nnz != w->nnz ||
            g->col_first != w->col_first || g->col_last != w->col_last)
            ap_test_fail(__FILE__, __LINE__,
                         "sub-row %d: got (q %d, g %d, part %d, nnz %d, cols %d..%d), want (q %d, g %d, part %d, "
                         "nnz %d, cols %d..%d)",
                         r, g->query, g->group, g->part, g->nnz, g->col_first, g->col_last, w->query, w->group,
                         w->part, w->nnz, w->col_first, w->col_last);
    }
    CHECK_EQ_INT(ap_pack_split_encode(&mv, p, NULL, 0), 10);
    CHECK_EQ_INT(ap_pack_split_encode(&mv, p, got, 3), 10); /* writes 3, counts all */

    /* Query 2 invalid and key 7 padding: row 2's empty sub-rows vanish and
     * row 3's group-1 slice holds 3 valid kept pairs (still 2 parts). */
    uint8_t keys[9];
    memcpy(keys, PS_KEYS, sizeof keys);
    keys[7] = 0;
    const uint8_t queries[6] = {1, 1, 0, 1, 1, 1};
    mv.key_valid = keys;
    mv.query_valid = queries;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.nnz, 15);
    CHECK_EQ_INT(st.subrows_empty, 3);
    CHECK_EQ_INT(st.subrows_after, 10);
    CHECK_EQ_INT(st.subrows_before, 13);

    /* No split needed with 4 PEs per row; pack alone removes the empties. */
    mv.key_valid = PS_KEYS;
    mv.query_valid = NULL;
    p.pes = 4;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.subrows_after, 7);
    CHECK_EQ_INT(st.subrows_before, 12);
    /* One port per group: every kept pair is its own sub-row. */
    p.ports = 1;
    p.pes = 1;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.subrows_after, 16);
    CHECK_EQ_INT(st.subrows_before, 48); /* every existing (row, column) */
    CHECK_EQ_INT(st.groups, 8);

    /* Causal (S = T = 4, ports 2, pes 1): row i sees columns <= i. An
     * all-ones mask keeps exactly the lower triangle; row 0's group-1 slice
     * does not exist. */
    const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    struct ap_mask_view cv = {.mask = ones, .n_q = 4, .n_k = 4, .causal = 1};
    struct ap_pack_split_params cp = {.ports = 2, .pes = 1, .pe_rows = 64};
    ap_pack_split_count(&cv, cp, &st);
    CHECK_EQ_INT(st.nnz, 10);
    CHECK_EQ_INT(st.subrows_after, 10);
    CHECK_EQ_INT(st.subrows_empty, 0);
    CHECK_EQ_INT(st.subrows_nonempty, 6); /* group 0: rows 0-3; group 1: rows 2, 3 */
}

/* The paper's PE-row constraint: 16 PEs of 64 ports is "up to 0.25" per
 * sub-row; a full 64-wide sub-row splits into 4. */
TEST(pack_split_default_array) {
    uint8_t row[128];
    memset(row, 1, sizeof row);
    struct ap_mask_view mv = {.mask = row, .n_q = 1, .n_k = 128};
    struct ap_pack_split_params p = {.ports = 64, .pes = 16, .pe_rows = 64};
    struct ap_pack_split_stats st;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.groups, 2);
    CHECK_EQ_INT(st.subrows_after, 8);
    CHECK_NEAR((double)st.nnz / (double)(st.subrows_after * p.pes), 1.0, 0);
    row[0] = 0;
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.subrows_after, 8); /* 63 -> 16+16+16+15 */
    memset(row, 0, 64);
    ap_pack_split_count(&mv, p, &st);
    CHECK_EQ_INT(st.subrows_after, 4);
    CHECK_EQ_INT(st.subrows_before, 5);
    CHECK_EQ_INT(st.blocks_before, 2);
    CHECK_EQ_INT(st.blocks_after, 1);
    p.pes = 0;
    CHECK(!ap_pack_split_params_ok(p));
}

/* Padding, an invalid query and causal masking, with t = 0: every valid
 * pair has P^ > 0, so the mask must equal the validity pattern, whatever was
 * in the buffer. S = 3 queries against T = 5 keys. */
TEST(sanger_padding_causal_query_valid) {
    float q[3 * 4], k[5 * 4], v[5 * 4] = {0};
    for (int i = 0; i < 12; i++) q[i] = (float)((i * 7) % 5) - 2.0f;
    for (int i = 0; i < 20; i++) k[i] = (float)((i * 3) % 7) - 3.0f;
    const uint8_t key_valid[5] = {1, 0, 1, 1, 1};
    const uint8_t query_valid[3] = {1, 0, 1};
    uint8_t mask[15];
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 3, .n_k = 5, .d = 4, .q = q, .k = k, .v = v,
                                .q_stride = 4, .k_stride = 4, .v_stride = 4, .scale = 0.5f, .causal = 1,
                                .key_valid = key_valid, .query_valid = query_valid};
    struct ap_method *m = MC_MAKE("sanger:t=0,ports=2,pes=1");
    REQUIRE(m);
    memset(mask, 7, sizeof mask);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    const uint8_t want[15] = {1, 0, 1, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 1, 0, 1, 1, 1};
    for (int p = 0; p < 15; p++) CHECK_EQ_INT(mask[p], want[p]);
    CHECK_EQ_INT(out.valid, 6);
    CHECK_EQ_INT(out.valid, ap_head_valid_pairs(&in));
    CHECK_EQ_INT(out.kept, 6);
    /* groups of 2 columns: {0,1} {2,3} {4}; with pes 1 each kept pair is a sub-row */
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "groups")], 3, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "subrows_after")], 6, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "subrows_empty")], 0, 0);
    CHECK_NEAR(out.stats[MC_STAT_INDEX(m, "pe_slots_after")], 6, 0);
    ap_method_free(m);
    m = MC_MAKE("sanger");
    REQUIRE(m);
    memset(mask, 7, sizeof mask);
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    for (int p = 0; p < 15; p++) CHECK(mask[p] <= want[p]);
    ap_method_free(m);
}

TEST(sanger_parameter_errors) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("sanger:threshold=0.1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "threshold") != NULL);
    const char *bad[][2] = {
        {"sanger:t=-0.1", "t=-0.1"},       {"sanger:t=1.5", "t=1.5"},     {"sanger:bits=1", "bits=1"},
        {"sanger:bits=9", "bits=9"},       {"sanger:bits=4.5", "bits=4.5"}, {"sanger:normalize=2", "normalize=2"},
        {"sanger:thr_q=-1", "thr_q=-1"},   {"sanger:thr_k=inf", "thr_k=inf"}, {"sanger:ports=0", "ports=0"},
        {"sanger:pes=x", "pes=x"},         {"sanger:pe_rows=-4", "pe_rows=-4"}, {"sanger:keep_max=yes", "keep_max=yes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = NULL;
        CHECK_STATUS(ap_method_create(bad[i][0], &m), AP_ERR_INVALID_ARG);
        if (!strstr(ap_last_error(), bad[i][1]))
            ap_test_fail(__FILE__, __LINE__, "%s: message '%s' does not name '%s'", bad[i][0], ap_last_error(),
                         bad[i][1]);
        CHECK(m == NULL);
    }
    m = MC_MAKE("sanger:t=2e-2,bits=8,normalize=0,thr_q=3,thr_k=4,keep_max=0,ports=32,pes=8,pe_rows=16");
    CHECK(m != NULL);
    ap_method_free(m);
}

TEST(sanger_matches_numpy_reference) {
    const char *settings[] = {"def", "alt", "thr"};
    const char *sets[] = {"real", "rand", "randpad"};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            struct ap_mask_ref_result r;
            if (CHECK_MASK_REF("sanger", settings[a], sets[b], &r)) return;
            CHECK(r.heads > 0);
        }
}

/* The fused path against predict on every real fixture head, bidirectional
 * and causal with padding: the same kept pairs but for pairs whose
 * predicted probability lies within float rounding of t (none seen; at
 * most 1e-4 of the valid pairs allowed). */
TEST(sanger_rows_match_predict) { CHECK_ROWS_MATCH_PREDICT("sanger:t=1e-3", 1e-4); }
