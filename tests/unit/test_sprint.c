/* test_sprint.c — SPRINT: the b-bit output quantizer and the fetch / reuse /
 * interleaving statistics on hand-built cases, the in-memory decision on a
 * hand case (the mask is the approximate comparison, not the exact one),
 * bit-for-bit agreement of masks and statistics with the NumPy reference
 * (tests/ref/method_sprint.py), calibration, parameter errors, padding and
 * causal handling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "mask/adjacent_reuse.h"
#include "method_check.h"
#include "methods/method.h"
#include "quant/analog_output.h"
#include "test.h"

/* ------------------------------------------------ b-bit output */

TEST(sprint_analog_output_codes) {
    CHECK_EQ_INT(ap_analog_output_levels(5), 15);
    CHECK_EQ_INT(ap_analog_output_levels(2), 1);
    /* b = 5, full scale 30: one level is 2 units */
    CHECK_EQ_INT(ap_analog_output_code(0, 30, 5), 0);
    CHECK_EQ_INT(ap_analog_output_code(1, 30, 5), 1);   /* 0.5 level: away from zero */
    CHECK_EQ_INT(ap_analog_output_code(-1, 30, 5), -1);
    CHECK_EQ_INT(ap_analog_output_code(28, 30, 5), 14);
    CHECK_EQ_INT(ap_analog_output_code(29, 30, 5), 15); /* 14.5 */
    CHECK_EQ_INT(ap_analog_output_code(30, 30, 5), 15);
    CHECK_EQ_INT(ap_analog_output_code(-30, 30, 5), -15);
    CHECK_EQ_INT(ap_analog_output_code(7, 0, 5), 0);    /* no signal: code 0 */
    /* b = 2: one level per sign */
    CHECK_EQ_INT(ap_analog_output_code(27, 56, 2), 0);
    CHECK_EQ_INT(ap_analog_output_code(28, 56, 2), 1);
    CHECK_EQ_INT(ap_analog_output_code(-28, 56, 2), -1);
}

/* ------------------------------------------------ fetch / reuse */

/* S = 4 queries, T = 8 keys, query 2 and key 7 are padding. Unpruned keys:
 *   q0: {0, 1, 2, 5}   q1: {1, 2, 3}   q2: (padding)   q3: {0, 3, 4, 5, 6}
 * Capacity 3, two CORELETs (even / odd keys):
 *   q0: fetch 4 (first); buffer keeps the last 3: {1, 2, 5}; shares 2 / 2
 *   q1: reuse {1, 2}, fetch {3}; new vs q0 (eq. 3.4): {3}; buffer {1, 2, 3}; shares 1 / 2
 *   q3: reuse {3}, fetch 4; new vs q1: {0, 4, 5, 6}; shares 3 / 2 */
static const uint8_t REUSE_MASK[4 * 8] = {
    1, 1, 1, 0, 0, 1, 0, 0, /* q0 */
    0, 1, 1, 1, 0, 0, 0, 0, /* q1 */
    0, 0, 0, 0, 0, 0, 0, 0, /* q2: padding */
    1, 0, 0, 1, 1, 1, 1, 0, /* q3 */
};
static const uint8_t REUSE_QVALID[4] = {1, 1, 0, 1}, REUSE_KVALID[8] = {1, 1, 1, 1, 1, 1, 1, 0};

TEST(sprint_fetch_reuse_hand_case) {
    uint8_t scratch[16];
    struct ap_reuse_stats r;
    ap_reuse_stats_compute(REUSE_MASK, 4, 8, REUSE_QVALID, REUSE_KVALID, 0, 3, 2, scratch, &r);
    CHECK_EQ_INT(r.queries, 3);
    CHECK_EQ_INT(r.pad_queries, 1);
    CHECK_EQ_INT(r.pad_keys, 1);
    CHECK_EQ_INT(r.unpruned, 12);
    CHECK_EQ_INT(r.first_fetch, 4);
    CHECK_EQ_INT(r.fetched, 4 + 1 + 4);
    CHECK_EQ_INT(r.reused, 0 + 2 + 1);
    CHECK_EQ_INT(r.adjacent_new, 1 + 4);
    CHECK_EQ_INT(r.adjacent_slots, 7 + 7);
    CHECK_EQ_INT(r.corelet_max, 2 + 2 + 3);
    CHECK_EQ_INT(r.corelet[0], 2 + 1 + 3);
    CHECK_EQ_INT(r.corelet[1], 2 + 2 + 2);
    CHECK_EQ_INT(r.corelet[2], 0);
    /* capacity 1: only the last unpruned key stays: {5}, then {3} */
    ap_reuse_stats_compute(REUSE_MASK, 4, 8, REUSE_QVALID, REUSE_KVALID, 0, 1, 2, scratch, &r);
    CHECK_EQ_INT(r.reused, 0 + 0 + 1);
    CHECK_EQ_INT(r.fetched, 4 + 3 + 4);
    CHECK_EQ_INT(r.adjacent_new, 5); /* eq. 3.4 does not depend on the capacity */
    /* capacity 8, four CORELETs (key j -> j mod 4) */
    ap_reuse_stats_compute(REUSE_MASK, 4, 8, REUSE_QVALID, REUSE_KVALID, 0, 8, 4, scratch, &r);
    CHECK_EQ_INT(r.reused, 0 + 2 + 1);
    CHECK_EQ_INT(r.corelet[0], 1 + 0 + 2); /* keys 0, 4 */
    CHECK_EQ_INT(r.corelet[1], 2 + 1 + 1); /* keys 1, 5 */
    CHECK_EQ_INT(r.corelet[2], 1 + 1 + 1); /* keys 2, 6 */
    CHECK_EQ_INT(r.corelet[3], 0 + 1 + 1); /* keys 3, 7 */
    CHECK_EQ_INT(r.corelet_max, 2 + 1 + 2);
}

/* ------------------------------------------------ the in-memory decision */

/* One query q = (1, 1) (8-bit code 64, 4-bit MSB code 4 = exactly 1.0) and
 * keys k0 = (0.9, 0.9), k1 = (0.95, 0.95), k2 = (0.45, 0.45), scale 1.
 * 8-bit codes 115, 122, 58 -> MSB codes 7, 7, 3 (steps of 1/8).
 *   exact scores           1.8    1.9    0.9
 *   msb=floor, b=0         1.75   1.75   0.75    (7/8, 3/8 per element)
 *   msb=mid, b=0           1.875  1.875  0.875   (7.5/8, 3.5/8)
 *   msb=floor, b=2         1.75   1.75   0       (full scale 1.75, one level)
 * With Th = 1.85 the exact scores keep k1 alone; the in-memory comparison
 * keeps neither (floor) or both (mid): the mask is the in-memory one. */
TEST(sprint_mask_is_the_in_memory_decision) {
    const float q[2] = {1, 1}, k[6] = {0.9f, 0.9f, 0.95f, 0.95f, 0.45f, 0.45f}, v[6] = {0};
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 3, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    struct {
        const char *spec;
        uint8_t want[3];
    } cases[] = {
        {"sprint:th=1.85,msb=floor,b=0", {0, 0, 0}}, {"sprint:th=1.85,msb=mid,b=0", {1, 1, 0}},
        {"sprint:th=1.75,msb=floor,b=0", {1, 1, 0}}, {"sprint:th=0.5,msb=floor,b=0", {1, 1, 1}},
        {"sprint:th=0.5,msb=floor,b=2", {1, 1, 0}},  {"sprint:th=0.5,msb=mid,b=5", {1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct ap_method *m = NULL;
        CHECK_STATUS(ap_method_create(cases[c].spec, &m), AP_OK);
        if (!m) continue;
        uint8_t mask[3] = {9, 9, 9};
        struct ap_head_output out = {.mask = mask};
        CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
        if (memcmp(mask, cases[c].want, 3) != 0)
            ap_test_fail(__FILE__, __LINE__, "%s: mask %d%d%d, expected %d%d%d", cases[c].spec, mask[0], mask[1],
                         mask[2], cases[c].want[0], cases[c].want[1], cases[c].want[2]);
        CHECK_EQ_INT(out.kept, cases[c].want[0] + cases[c].want[1] + cases[c].want[2]);
        CHECK_EQ_INT(out.valid, 3);
        ap_method_free(m);
    }
}

/* ------------------------------------------- against the NumPy reference */

#define REF_STATS 14 /* kept, valid, then the method's 12 statistics */

static void check_against_reference(const char *data, const char *setting, const char *params) {
    struct ap_th_ref_result r;
    CHECK_TH_REF("sprint", data, setting, params, REF_STATS, &r);
    if (!r.ran) return;
    const double adj_slots = r.stat_sum[6];
    fprintf(stderr,
            "    sprint %s %s: C mask == NumPy mask on %dx%dx%dx%d; %lld ties in the reference, %lld decided "
            "differently; density %.4f, newly fetched between adjacent queries %.2f%% of the sequence, "
            "fetched %.0f, reused %.0f\n",
            data, setting, r.L, r.H, r.S, r.S, (long long)r.ties, (long long)r.tie_diffs,
            (double)r.kept / (double)r.valid, 100.0 * r.stat_sum[5] / (adj_slots > 0 ? adj_slots : 1),
            r.stat_sum[3], r.stat_sum[4]);
}

/* settings as in tests/ref/method_sprint.py (thresholds come from its _th file) */
#define S1 "data_bits=8,msb_bits=4,msb=mid,b=5,corelets=1,onchip_kb=16"
#define S2 "data_bits=8,msb_bits=3,msb=floor,b=4,corelets=4,capacity=48"
#define S3 "data_bits=6,msb_bits=4,msb=mid,b=0,corelets=2,capacity=20"
TEST(sprint_matches_numpy_real_s1) { check_against_reference("real", "s1", S1); }
TEST(sprint_matches_numpy_real_s2) { check_against_reference("real", "s2", S2); }
TEST(sprint_matches_numpy_real_s3) { check_against_reference("real", "s3", S3); }
TEST(sprint_matches_numpy_rand_s1) { check_against_reference("rand", "s1", S1); }
TEST(sprint_matches_numpy_rand_s2) { check_against_reference("rand", "s2", S2); }
TEST(sprint_matches_numpy_rand_s3) { check_against_reference("rand", "s3", S3); }

/* ------------------------------------------------ calibration, parameters */

TEST(sprint_uses_leopard_thresholds_and_calibration) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("sprint:density=0.5", &m), AP_OK);
    REQUIRE(m);
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    REQUIRE(ops->needs_calibration && ops->calibrate);
    CHECK_EQ_INT(ops->needs_calibration(ap_method_state(m)), 1);
    const float q[2] = {1, 1}, k[2] = {1, 1}, v[2] = {0};
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 1, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    uint8_t mask[1];
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "thresholds are missing") != NULL);
    const float v0[3] = {-1.0f, 0.5f, 4.0f};
    struct ap_score_quantiles qs = {.layer = 0, .n = 3, .value = v0, .n_pairs = 100};
    char note[512];
    CHECK_STATUS(ops->calibrate(ap_method_state(m), &qs, 1, note, sizeof note), AP_OK);
    CHECK(strstr(note, "sprint: per-layer thresholds calibrated (not learned)") != NULL);
    CHECK(strstr(note, "th=0.5") != NULL);
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK_EQ_INT(mask[0], 1); /* in-memory score 2 * (4.5/4)^2 = 2.53 >= 0.5 (mid of MSB code 4) */
    ap_method_free(m);
}

static void expect_param_error(const char *spec, const char *word) {
    struct ap_method *m = NULL;
    enum ap_status st = ap_method_create(spec, &m);
    if (st != AP_ERR_INVALID_ARG || m) {
        ap_test_fail(__FILE__, __LINE__, "%s: status %d, expected AP_ERR_INVALID_ARG", spec, (int)st);
        ap_method_free(m);
        return;
    }
    if (!strstr(ap_last_error(), word))
        ap_test_fail(__FILE__, __LINE__, "%s: message '%s' does not name '%s'", spec, ap_last_error(), word);
}

TEST(sprint_parameter_errors) {
    expect_param_error("sprint:bogus=1", "bogus");
    expect_param_error("sprint:b=1", "b=1");
    expect_param_error("sprint:b=17", "b=17");
    expect_param_error("sprint:msb_bits=9", "msb_bits");
    expect_param_error("sprint:msb_bits=6,data_bits=5", "msb_bits");
    expect_param_error("sprint:msb=round", "msb=round");
    expect_param_error("sprint:corelets=3x", "corelets");
    expect_param_error("sprint:corelets=5", "corelets");
    expect_param_error("sprint:capacity=-1", "capacity");
    expect_param_error("sprint:onchip_kb=0", "onchip_kb");
    expect_param_error("sprint:th=1;x", "th");
    { /* explicit thresholds take precedence over the (default or given) calibration density */
        struct ap_method *both = NULL;
        CHECK_STATUS(ap_method_create("sprint:th=1,density=0.3", &both), AP_OK);
        if (both) CHECK(ap_method_ops_of(both)->needs_calibration(ap_method_state(both)) == 0);
        ap_method_free(both);
        CHECK_STATUS(ap_method_create("sprint", &both), AP_OK);
        if (both) CHECK(ap_method_ops_of(both)->needs_calibration(ap_method_state(both)) == 1);
        ap_method_free(both);
    }
    void *state = NULL;
    const struct ap_method_ops *ops = NULL;
    for (int32_t i = 0; i < ap_method_count(); i++)
        if (strcmp(ap_method_at(i)->name, "sprint") == 0) ops = ap_method_at(i);
    REQUIRE(ops);
    CHECK_STATUS(ops->init("nope=3", &state), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "nope") != NULL);
    CHECK(state == NULL);
}

/* ------------------------------------------------ padding, causal */

TEST(sprint_padding_causal_and_invalid_queries) {
    /* S = T = 4, d = 2, causal; key 3 is padding (huge, must not matter),
     * query 2 is not computed. Threshold far below: every valid pair kept.
     * Rows: q0 {0}, q1 {0, 1}, q3 {0, 1, 2}. */
    float q[8] = {1, 2, -1, 0.5f, 3, 3, 0.25f, -2};
    float k[8] = {0.5f, 1, -2, 1, 1, -1, 1e6f, 1e6f};
    const float v[8] = {0};
    const uint8_t key_valid[4] = {1, 1, 1, 0}, query_valid[4] = {1, 1, 0, 1};
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 4, .n_k = 4, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 0.5f, .causal = 1,
                                .key_valid = key_valid, .query_valid = query_valid};
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("sprint:th=-100,corelets=2", &m), AP_OK);
    REQUIRE(m);
    uint8_t mask[16];
    memset(mask, 7, sizeof mask);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    for (int32_t i = 0; i < 4; i++)
        for (int32_t j = 0; j < 4; j++) CHECK_EQ_INT(mask[i * 4 + j], ap_head_pair_valid(&in, i, j));
    CHECK_EQ_INT(out.valid, 6);
    CHECK_EQ_INT(out.kept, 6);
    const double want[12] = {
        1, 1,         /* pad_queries, pad_keys */
        1, 3, 3,      /* first_fetch; fetched 1 + 1 + 1; reused 0 + 1 + 2 */
        2, 2 + 3,     /* adjacent_new {1}, {2}; adjacent_slots: q1 sees 2 keys, q3 sees 3 valid */
        1 + 1 + 2,    /* corelet_max: {0} -> 1/0, {0,1} -> 1/1, {0,1,2} -> 2/1 */
        4, 2, 0, 0,   /* corelet0 (keys 0, 2), corelet1 (key 1) */
    };
    for (int s = 0; s < 12; s++)
        if (out.stats[s] != want[s])
            ap_test_fail(__FILE__, __LINE__, "statistic %s is %.0f, expected %.0f", ap_method_ops_of(m)->stat_names[s],
                         out.stats[s], want[s]);
    /* the padded key's value does not move the decisions at a real threshold */
    ap_method_free(m);
    CHECK_STATUS(ap_method_create("sprint:th=0.3", &m), AP_OK);
    REQUIRE(m);
    uint8_t mask2[16];
    out = (struct ap_head_output){.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    k[6] = k[7] = 0.0f;
    struct ap_head_output out2 = {.mask = mask2};
    CHECK_STATUS(ap_method_predict(m, &in, &out2), AP_OK);
    CHECK(memcmp(mask, mask2, sizeof mask) == 0);
    CHECK_EQ_INT(out.kept, out2.kept);
    ap_method_free(m);
}

/* The fused path (steps 1-3 per head in rows_prepare, the comparator per
 * block of rows): exactly predict's pairs, with the b-bit output (its full
 * scale from a pass over the whole head), exact products (b = 0), and
 * codes beyond int8 (msb_bits = 8, msb = mid: the int64 loop). */
TEST(sprint_rows_match_predict) {
    CHECK_ROWS_MATCH_PREDICT("sprint:th=1.0", 0.0);
    CHECK_ROWS_MATCH_PREDICT("sprint:th=0.5,b=0", 0.0);
    CHECK_ROWS_MATCH_PREDICT("sprint:th=1.0,msb_bits=8,msb=mid", 0.0);
}
