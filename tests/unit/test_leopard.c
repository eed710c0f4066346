/* test_leopard.c — LEOPARD: the paper's worked example (table 2.1), the
 * invariant that early termination never changes a decision (millions of
 * random and real scores), agreement with the float score away from the
 * threshold, bit-for-bit agreement of masks and statistics with the NumPy
 * reference (tests/ref/method_leopard.py), calibration, parameter errors and
 * padding / causal handling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "kernels/bit_serial.h"
#include "method_check.h"
#include "methods/method.h"
#include "methods/threshold_calib.h"
#include "quant/fixed_point.h"
#include "test.h"

/* ------------------------------------------------------- table 2.1 */

/* Figure 2.4 / table 2.1 of the paper, reconstructed: four elements, K in
 * sign-magnitude with 3 magnitude bits (as fractions 0.b1b2b3), one bit per
 * cycle (the sign bit in cycle 1), Th = 5.
 *   q = ( 9, -5,  7,  2)
 *   k = (+0.001, -0.111, -0.100, -0.010)b = (0.125, -0.875, -0.5, -0.25)
 * Same-sign pairs are elements 0 and 1, so the margin weight is (9 + 5).
 *   cycle 1: P1 = 0                              P1 + M1 = 14 * 0.875 = 12.25 >= 5
 *   cycle 2: P2 = P1 + (5 - 7) 2^-1 = -1         P2 + M2 = -1 + 14 * 0.375 = 4.25 < 5: stop
 *   cycle 3: P3 = P2 + (5 - 2) 2^-2 = -0.25      P3 + M3 = -0.25 + 14 * 0.125 = 1.5
 *   cycle 4: P4 = P3 + (9 + 5) 2^-3 = 1.5        M4 = 0, P4 + M4 = 1.5
 * Units of the kernel: one q code times 2^-3, so values are 8x the table's. */
static const int32_t T21_Q[4] = {9, -5, 7, 2};
static const int32_t T21_KMAG[4] = {1, 7, 4, 2};
static const uint8_t T21_KNEG[4] = {0, 1, 1, 1};

TEST(leopard_table_2_1_worked_example) {
    struct ap_bs_result r;
    struct ap_bs_step st[4];
    /* every cycle (a threshold nothing falls below) */
    int keep = ap_bit_serial_dot(T21_Q, T21_KMAG, T21_KNEG, 4, 3, 1, INT64_MIN / 4, &r, st);
    CHECK_EQ_INT(keep, 1);
    CHECK_EQ_INT(r.steps, 4);
    CHECK_EQ_INT(r.bits, 4);
    const double want_p[4] = {0.0, -1.0, -0.25, 1.5}, want_pm[4] = {12.25, 4.25, 1.5, 1.5};
    for (int c = 0; c < 4; c++) {
        CHECK_EQ_INT(st[c].bits, c + 1);
        CHECK_EQ_INT(st[c].t, c);
        CHECK_NEAR(st[c].partial / 8.0, want_p[c], 0);
        CHECK_NEAR((st[c].partial + st[c].margin) / 8.0, want_pm[c], 0);
    }
    CHECK_EQ_INT(st[3].margin, 0);
    CHECK_EQ_INT(ap_sign_magnitude_dot(T21_Q, T21_KMAG, T21_KNEG, 4), 12); /* 1.5 */

    /* Th = 5: stops in cycle 2 with P2 = -1, M2 = 5.25 */
    keep = ap_bit_serial_dot(T21_Q, T21_KMAG, T21_KNEG, 4, 3, 1, 5 * 8, &r, st);
    CHECK_EQ_INT(keep, 0);
    CHECK_EQ_INT(r.steps, 2);
    CHECK_EQ_INT(r.bits, 2);
    CHECK_NEAR(r.partial / 8.0, -1.0, 0);
    CHECK_NEAR(r.margin / 8.0, 5.25, 0);

    /* the same with two bits per cycle: cycle 1 reads the sign and b1 (P = -1,
     * P + M = 4.25 < 5), so it stops after one cycle and two bits */
    keep = ap_bit_serial_dot(T21_Q, T21_KMAG, T21_KNEG, 4, 3, 2, 5 * 8, &r, NULL);
    CHECK_EQ_INT(keep, 0);
    CHECK_EQ_INT(r.steps, 1);
    CHECK_EQ_INT(r.bits, 2);
}

/* The example through the whole method: float Q and K that quantize to the
 * table's codes (q_bits = 5 puts q's binary point at 2^0; k_bits = 4 gives
 * 3 magnitude bits), scale 1 so the score is q·k = 1.5. */
TEST(leopard_table_2_1_through_the_method) {
    const float q[4] = {9, -5, 7, 2}, k[4] = {0.125f, -0.875f, -0.5f, -0.25f}, v[4] = {0};
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 1, .n_k = 1, .d = 4, .q = q, .k = k, .v = v,
                                .q_stride = 4, .k_stride = 4, .v_stride = 4, .scale = 1.0f};
    const char *specs[3] = {"leopard:th=5,q_bits=5,k_bits=4,B=1", "leopard:th=1.5,q_bits=5,k_bits=4,B=1",
                            "leopard:th=1.5000001,q_bits=5,k_bits=4,B=1"};
    const int want_keep[3] = {0, 1, 0}, want_bits[3] = {2, 4, 3}; /* the last stops at cycle 3: P3 + M3 = 1.5 < Th */
    for (int c = 0; c < 3; c++) {
        struct ap_method *m = NULL;
        CHECK_STATUS(ap_method_create(specs[c], &m), AP_OK);
        if (!m) continue;
        const struct ap_method_ops *ops = ap_method_ops_of(m);
        uint8_t mask = 9;
        struct ap_head_output out = {.mask = &mask};
        CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
        CHECK_EQ_INT(mask, want_keep[c]);
        CHECK_EQ_INT(out.kept, want_keep[c]);
        CHECK_EQ_INT(out.valid, 1);
        CHECK(ops->n_stats == 11 && strcmp(ops->stat_names[1], "kbits_pruned") == 0);
        CHECK_EQ_INT(out.stats[0], !want_keep[c]);                          /* pruned */
        CHECK_EQ_INT(out.stats[want_keep[c] ? 2 : 1], want_bits[c]);       /* kbits */
        CHECK_EQ_INT(out.stats[want_keep[c] ? 4 : 3], want_bits[c]);       /* steps (B = 1) */
        if (!want_keep[c]) CHECK_EQ_INT(out.stats[5 + (want_bits[c] - 1) / 2], 1); /* histogram */
        ap_method_free(m);
    }
}

/* ------------------------------------- early termination is exact */

/* Run one dot product both ways and check the invariant: the same decision
 * as the full product, kept scores read every bit and end at q·k, and at
 * every step P_t + M_t bounds q·k from above. Returns 1 if it holds. */
static int invariant_holds(const int32_t *q, const int32_t *kmag, const uint8_t *kneg, int32_t d, int32_t n, int32_t B,
                           int64_t th, int64_t *bits) {
    struct ap_bs_step st[17];
    struct ap_bs_result r;
    const int64_t full = ap_sign_magnitude_dot(q, kmag, kneg, d);
    const int keep = ap_bit_serial_dot(q, kmag, kneg, d, n, B, th, &r, st);
    *bits += r.bits;
    if (keep != (full >= th)) return 0;
    if (keep && (r.bits != n + 1 || r.partial != full)) return 0;
    for (int32_t c = 0; c < r.steps; c++)
        if (st[c].partial + st[c].margin < full) return 0;
    return 1;
}

TEST(leopard_early_termination_exact_random) {
    /* random codes over widths, bits per step and thresholds around the
     * distribution of q·k (2.4 million scores) */
    uint64_t rng = 0x9E3779B97F4A7C15ull;
#define NEXT() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
    int32_t q[64], kmag[64];
    uint8_t kneg[64];
    int64_t scores = 0, bad = 0, bits = 0;
    const int32_t ds[3] = {4, 32, 64};
    for (int32_t rep = 0; rep < 2400; rep++) {
        const int32_t d = ds[rep % 3], n = 1 + (int32_t)(NEXT() % 15), B = 1 + (int32_t)(NEXT() % 4);
        const int32_t qtop = (1 << (1 + NEXT() % 15)) - 1;
        for (int32_t c = 0; c < d; c++) q[c] = (int32_t)(NEXT() % (2 * (uint64_t)qtop + 1)) - qtop;
        const int64_t spread = (int64_t)qtop * ((1 << n) - 1) * (int64_t)sqrt((double)d) / 2 + 1;
        for (int32_t key = 0; key < 1000; key++) {
            for (int32_t c = 0; c < d; c++) {
                kmag[c] = (int32_t)(NEXT() % ((uint64_t)1 << n));
                kneg[c] = (uint8_t)(NEXT() & 1);
            }
            const int64_t th = (int64_t)(NEXT() % (uint64_t)(2 * spread + 1)) - spread;
            bad += !invariant_holds(q, kmag, kneg, d, n, B, th, &bits);
            scores++;
        }
    }
#undef NEXT
    fprintf(stderr, "    %lld random scores, early termination changed %lld decisions, mean key bits %.2f\n",
            (long long)scores, (long long)bad, (double)bits / (double)scores);
    CHECK_EQ_INT(bad, 0);
    CHECK(scores >= 2000000);
}

/* The block form (one sgemm per step, kernels/bit_serial.h) against the
 * per-pair loop: the same decision and bits read for every pair, over
 * widths, bits per step, thresholds, block heights (1 = the sgemv path) and
 * key counts short of the block's stride. */
TEST(leopard_block_form_equals_per_pair) {
    uint64_t rng = 0x2545F4914F6CDD1Dull;
#define NEXT() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
    enum { T = 97, R = 9, D = 64 };
    int32_t q[R * D], kmag[T * D];
    uint8_t kneg[T * D], keep[R * T], bits[R * T];
    int64_t pairs = 0, differ = 0, skipped = 0, cases = 0;
    for (int32_t rep = 0; rep < 300; rep++) {
        const int32_t d = rep % 3 == 0 ? 7 : D, n = 1 + (int32_t)(NEXT() % 16), B = 1 + (int32_t)(NEXT() % 5);
        const int32_t qtop = (1 << (1 + NEXT() % 12)) - 1;
        if (!ap_bs_rows_exact(d, qtop, n, B)) {
            skipped++;
            continue;
        }
        const int32_t n_rows = rep % 5 == 0 ? 1 : R, n_keys = T - (int32_t)(NEXT() % 20);
        for (int32_t x = 0; x < n_rows * d; x++) q[x] = (int32_t)(NEXT() % (2 * (uint64_t)qtop + 1)) - qtop;
        for (int32_t x = 0; x < T * d; x++) {
            kmag[x] = (int32_t)(NEXT() % ((uint64_t)1 << n));
            kneg[x] = (uint8_t)(NEXT() & 1);
        }
        const int64_t spread = (int64_t)qtop * ((1 << n) - 1) * (int64_t)sqrt((double)d) / 2 + 1;
        const int64_t th = (int64_t)(NEXT() % (uint64_t)(2 * spread + 1)) - spread;
        float *kbuf = malloc(sizeof(float) * ap_bs_keys_floats(T, d, n, B));
        float *scratch = malloc(sizeof(float) * ap_bs_rows_floats(T, d, n, B, n_rows));
        REQUIRE(kbuf && scratch);
        struct ap_bs_keys kk;
        ap_bs_keys_prepare(&kk, kmag, kneg, T, d, n, B, kbuf);
        memset(keep, 7, sizeof keep);
        ap_bit_serial_rows(&kk, q, n_rows, n_keys, th, scratch, keep, bits, T);
        for (int32_t r = 0; r < n_rows; r++) {
            for (int32_t j = 0; j < n_keys; j++) {
                struct ap_bs_result res;
                int k = ap_bit_serial_dot(q + r * d, kmag + j * d, kneg + j * d, d, n, B, th, &res, NULL);
                differ += keep[r * T + j] != k || bits[r * T + j] != res.bits;
                pairs++;
            }
            for (int32_t j = n_keys; j < T; j++) differ += keep[r * T + j] != 7; /* not written */
        }
        cases++;
        free(kbuf);
        free(scratch);
    }
#undef NEXT
    fprintf(stderr, "    block form: %lld pairs in %lld cases (%lld not exact in fp32, skipped), %lld differ\n",
            (long long)pairs, (long long)cases, (long long)skipped, (long long)differ);
    CHECK_EQ_INT(differ, 0);
    CHECK(cases >= 200);
    /* the exactness bound: 12-bit queries, 2-bit steps, d = 64 fit; 16-bit
     * queries with 16-bit steps do not */
    CHECK(ap_bs_rows_exact(64, 2048, 11, 2));
    CHECK(!ap_bs_rows_exact(64, 32768, 16, 16));
}

/* The real fixture's 6 x 12 heads of 256 x 256 scores, quantized as the
 * method does (12-bit Q, 12-bit sign-magnitude K), at two thresholds: 9.4
 * million decisions. Also: wherever the float score is farther
 * from Th than the quantization error can move it, the fixed-point decision
 * is the float one. */
TEST(leopard_early_termination_exact_real) {
    struct ap_mc_qkv r;
    if (!QKV_REF_OPEN("real", &r)) return;
    const int32_t S = r.S, d = r.d, qb = 12, kb = 12, n = kb - 1, B = 2;
    int32_t *qc = malloc(sizeof(int32_t) * (size_t)S * d), *km = malloc(sizeof(int32_t) * (size_t)S * d);
    uint8_t *kn = malloc((size_t)S * d);
    REQUIRE(qc && km && kn);
    const double ths[2] = {0.0, 1.0}; /* scaled-score units: 23% and 10% of the pairs kept */
    int64_t scores = 0, bad = 0, bits = 0, float_checked = 0, float_bad = 0;
    for (int32_t l = 0; l < r.L; l++)
        for (int32_t h = 0; h < r.H; h++) {
            struct ap_head_inputs in = ap_mc_qkv_head(&r, l, h);
            const int32_t eq = ap_fxp_exponent(ap_fxp_max_abs_rows(in.q, S, d, d, NULL));
            const int32_t ek = ap_fxp_exponent(ap_fxp_max_abs_rows(in.k, S, d, d, NULL));
            for (int64_t x = 0; x < (int64_t)S * d; x++) {
                qc[x] = ap_fxp_signed(in.q[x], qb, eq);
                km[x] = ap_fxp_sign_magnitude(in.k[x], kb, ek, &kn[x]);
            }
            const double unit = ldexp((double)in.scale, eq - (qb - 1) + ek - n);
            const double dq = ldexp(1.0, eq - (qb - 1)), dk = ldexp(1.0, ek - n); /* one step: bounds round + clamp */
            for (int t = 0; t < 2; t++) {
                const int64_t th = ap_fxp_threshold_code(ths[t], unit);
                for (int32_t i = 0; i < S; i++)
                    for (int32_t j = 0; j < S; j++) {
                        const int32_t *qi = qc + (int64_t)i * d;
                        bad += !invariant_holds(qi, km + (int64_t)j * d, kn + (int64_t)j * d, d, n, B, th, &bits);
                        scores++;
                        if (t) continue;
                        /* float check at every threshold, once per pair */
                        const float *qf = in.q + (int64_t)i * d, *kf = in.k + (int64_t)j * d;
                        double s = 0.0, err = 0.0;
                        for (int32_t c = 0; c < d; c++) {
                            s += (double)qf[c] * kf[c];
                            err += fabs(qf[c]) * dk + dq * fabs(kf[c]) + dq * dk;
                        }
                        s *= in.scale;
                        err = err * in.scale * (1 + 1e-9) + 1e-12;
                        const int64_t full = ap_sign_magnitude_dot(qi, km + (int64_t)j * d, kn + (int64_t)j * d, d);
                        for (int u = 0; u < 2; u++) {
                            if (fabs(s - ths[u]) <= err) continue;
                            float_checked++;
                            float_bad += (full >= ap_fxp_threshold_code(ths[u], unit)) != (s >= ths[u]);
                        }
                    }
            }
        }
    fprintf(stderr,
            "    %lld real scores, early termination changed %lld decisions, mean key bits %.2f; "
            "%lld decisions away from Th agree with the float score but %lld\n",
            (long long)scores, (long long)bad, (double)bits / (double)scores, (long long)float_checked,
            (long long)float_bad);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(float_bad, 0);
    CHECK(scores >= 9000000);
    CHECK(float_checked > scores / 4);
    free(qc);
    free(km);
    free(kn);
    ap_mc_qkv_close(&r);
}

/* ------------------------------------------- against the NumPy reference */

#define REF_STATS 13 /* kept, valid, then the method's 11 statistics */

static void check_against_reference(const char *data, const char *setting, const char *params) {
    struct ap_th_ref_result r;
    CHECK_TH_REF("leopard", data, setting, params, REF_STATS, &r);
    if (!r.ran) return;
    fprintf(stderr,
            "    leopard %s %s: C mask == NumPy mask on %dx%dx%dx%d; %lld ties in the reference, %lld decided "
            "differently; density %.4f, mean key bits per pruned score %.3f\n",
            data, setting, r.L, r.H, r.S, r.S, (long long)r.ties, (long long)r.tie_diffs,
            (double)r.kept / (double)r.valid, r.stat_sum[1] / (r.stat_sum[0] > 0 ? r.stat_sum[0] : 1));
}

/* settings as in tests/ref/method_leopard.py (thresholds come from its _th file) */
#define S1 "q_bits=12,k_bits=12,B=2"
#define S2 "q_bits=10,k_bits=8,B=3"
TEST(leopard_matches_numpy_real_s1) { check_against_reference("real", "s1", S1); }
TEST(leopard_matches_numpy_real_s2) { check_against_reference("real", "s2", S2); }
TEST(leopard_matches_numpy_rand_s1) { check_against_reference("rand", "s1", S1); }
TEST(leopard_matches_numpy_rand_s2) { check_against_reference("rand", "s2", S2); }

/* ------------------------------------------------ calibration */

TEST(leopard_needs_thresholds_until_calibrated) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("leopard:density=0.25", &m), AP_OK);
    REQUIRE(m);
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    REQUIRE(ops->needs_calibration && ops->calibrate);
    CHECK_EQ_INT(ops->needs_calibration(ap_method_state(m)), 1);
    const float q[4] = {1, 0, 0, 1}, k[4] = {1, 0, 0, 1}, v[4] = {0};
    struct ap_head_inputs in = {.layer = 1, .n_layers = 2, .n_heads = 1, .n_q = 2, .n_k = 2, .d = 2, .q = q, .k = k,
                                .v = v, .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 1.0f};
    uint8_t mask[4];
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "thresholds are missing") != NULL);

    /* layer 0: quantiles 0, 1, ..., 10; layer 1: 0, 0.1, ..., 1.0 (given in
     * reverse entry order); density 0.25 -> the 0.75 quantile: 7.5 and 0.75 */
    float v0[11], v1[11];
    for (int i = 0; i <= 10; i++) {
        v0[i] = (float)i;
        v1[i] = (float)i / 10.0f;
    }
    struct ap_score_quantiles qs[2] = {{.layer = 1, .n = 11, .value = v1, .n_pairs = 5000},
                                       {.layer = 0, .n = 11, .value = v0, .n_pairs = 4000}};
    char note[512];
    CHECK_STATUS(ops->calibrate(ap_method_state(m), qs, 2, note, sizeof note), AP_OK);
    CHECK(strstr(note, "calibrated (not learned)") != NULL);
    CHECK(strstr(note, "density 0.25") != NULL);
    CHECK(strstr(note, "th=7.5;0.75") != NULL);
    fprintf(stderr, "    note: %s\n", note);
    CHECK_EQ_INT(ops->needs_calibration(ap_method_state(m)), 0);
    /* layer 1, Th = 0.75: q0·k0 = 1 kept, q0·k1 = 0 pruned */
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    CHECK(mask[0] == 1 && mask[1] == 0 && mask[2] == 0 && mask[3] == 1);
    CHECK_EQ_INT(out.kept, 2);
    /* a layer missing from the calibration is an error */
    qs[0].layer = 0;
    CHECK_STATUS(ops->calibrate(ap_method_state(m), qs, 2, note, sizeof note), AP_ERR_INVALID_ARG);
    ap_method_free(m);

    /* density sets the quantile */
    CHECK_STATUS(ap_method_create("leopard:density=0.5", &m), AP_OK);
    REQUIRE(m);
    qs[0].layer = 1;
    CHECK_STATUS(ops->calibrate(ap_method_state(m), qs, 2, note, sizeof note), AP_OK);
    CHECK(strstr(note, "th=5;0.5") != NULL);
    ap_method_free(m);

    /* explicit thresholds need no calibration; a per-layer list must match the model */
    CHECK_STATUS(ap_method_create("leopard:th=0.5;0.7;1.1", &m), AP_OK);
    REQUIRE(m);
    CHECK_EQ_INT(ops->needs_calibration(ap_method_state(m)), 0);
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "3 per-layer thresholds for a model of 2 layers") != NULL);
    ap_method_free(m);
}

TEST(leopard_quantile_interpolation) {
    const float v[5] = {-2, -1, 0, 4, 8};
    CHECK_NEAR(ap_quantile_interpolate(v, 5, 0.0), -2, 0);
    CHECK_NEAR(ap_quantile_interpolate(v, 5, 1.0), 8, 0);
    CHECK_NEAR(ap_quantile_interpolate(v, 5, 0.5), 0, 0);
    CHECK_NEAR(ap_quantile_interpolate(v, 5, 0.625), 2, 1e-12);
    CHECK_NEAR(ap_quantile_interpolate(v, 5, 0.9), 6.4, 1e-12);
}

/* ------------------------------------------------ parameters */

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

TEST(leopard_parameter_errors) {
    expect_param_error("leopard:bogus=1", "bogus");
    expect_param_error("leopard:q_bits=1", "q_bits");
    expect_param_error("leopard:q_bits=17", "q_bits");
    expect_param_error("leopard:k_bits=x", "k_bits");
    expect_param_error("leopard:B=0", "B");
    expect_param_error("leopard:th=abc", "th");
    expect_param_error("leopard:th=0.5;;1", "th");
    expect_param_error("leopard:th=", "th");
    expect_param_error("leopard:density=0", "density");
    expect_param_error("leopard:density=1.5", "density");
    { /* explicit thresholds take precedence over the (default or given) calibration density */
        struct ap_method *both = NULL;
        CHECK_STATUS(ap_method_create("leopard:th=1,density=0.5", &both), AP_OK);
        if (both) CHECK(ap_method_ops_of(both)->needs_calibration(ap_method_state(both)) == 0);
        ap_method_free(both);
        CHECK_STATUS(ap_method_create("leopard", &both), AP_OK);
        if (both) CHECK(ap_method_ops_of(both)->needs_calibration(ap_method_state(both)) == 1);
        ap_method_free(both);
    }
    /* init itself rejects unknown keys too (not only the registry) */
    void *state = NULL;
    const struct ap_method_ops *ops = NULL;
    for (int32_t i = 0; i < ap_method_count(); i++)
        if (strcmp(ap_method_at(i)->name, "leopard") == 0) ops = ap_method_at(i);
    REQUIRE(ops);
    CHECK_STATUS(ops->init("nope=3", &state), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "nope") != NULL);
    CHECK(state == NULL);
}

/* ------------------------------------------------ padding, causal */

TEST(leopard_padding_causal_and_invalid_queries) {
    /* S = T = 4, d = 2; key 3 is padding (with a huge value that must not
     * change the quantization of the others), query 2 is not computed,
     * causal. Threshold far below every score: each valid pair is kept. */
    float q[8] = {1, 2, -1, 0.5f, 3, 3, 0.25f, -2};
    float k[8] = {0.5f, 1, -2, 1, 1, -1, 1e6f, 1e6f};
    const float v[8] = {0};
    const uint8_t key_valid[4] = {1, 1, 1, 0}, query_valid[4] = {1, 1, 0, 1};
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = 4, .n_k = 4, .d = 2, .q = q, .k = k, .v = v,
                                .q_stride = 2, .k_stride = 2, .v_stride = 2, .scale = 0.5f, .causal = 1,
                                .key_valid = key_valid, .query_valid = query_valid};
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("leopard:th=-100", &m), AP_OK);
    REQUIRE(m);
    uint8_t mask[16];
    memset(mask, 7, sizeof mask);
    struct ap_head_output out = {.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    int64_t valid = 0;
    for (int32_t i = 0; i < 4; i++)
        for (int32_t j = 0; j < 4; j++) {
            CHECK_EQ_INT(mask[i * 4 + j], ap_head_pair_valid(&in, i, j));
            valid += ap_head_pair_valid(&in, i, j);
        }
    CHECK_EQ_INT(valid, 6); /* rows 0: {0}, 1: {0,1}, 3: {0,1,2} */
    CHECK_EQ_INT(out.valid, valid);
    CHECK_EQ_INT(out.kept, valid);
    CHECK_EQ_INT(out.stats[0], 0);
    CHECK_EQ_INT(out.stats[2], 6 * 12); /* kbits_kept: 12 bits each */
    ap_method_free(m);

    /* Th = 0.3 on the scaled score: decisions follow q·k*0.5 >= 0.3, and the
     * padded key's huge value changes nothing */
    CHECK_STATUS(ap_method_create("leopard:th=0.3", &m), AP_OK);
    REQUIRE(m);
    uint8_t mask2[16];
    out = (struct ap_head_output){.mask = mask};
    CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
    k[6] = k[7] = 0.0f;
    struct ap_head_output out2 = {.mask = mask2};
    CHECK_STATUS(ap_method_predict(m, &in, &out2), AP_OK);
    CHECK(memcmp(mask, mask2, sizeof mask) == 0);
    int64_t kept = 0;
    for (int32_t i = 0; i < 4; i++)
        for (int32_t j = 0; j < 4; j++) {
            if (!ap_head_pair_valid(&in, i, j)) continue;
            double s = 0.5 * (q[i * 2] * k[j * 2] + q[i * 2 + 1] * k[j * 2 + 1]);
            CHECK_EQ_INT(mask[i * 4 + j], s >= 0.3);
            kept += s >= 0.3;
        }
    CHECK_EQ_INT(out.kept, kept);
    CHECK_EQ_INT(out.stats[0], valid - kept);
    ap_method_free(m);
}

/* The method through both paths: 16-bit queries with 1 key bit per step
 * are exact in fp32 (the sgemm blocks), with 16 bits per step they are not
 * (one ap_bit_serial_dot per pair). Early termination never changes a
 * decision, so the two masks are equal, causal and with padding keys. */
TEST(leopard_block_and_per_pair_paths_agree) {
    enum { S = 70, T = 90, D = 64 };
    static float q[S * D], k[T * D];
    static uint8_t m1[S * T], m2[S * T], kv[T];
    uint64_t rng = 0x9E3779B97F4A7C15ull;
#define UNIFORM() ((float)((int64_t)((rng = rng * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 500.0f)
    for (int32_t x = 0; x < S * D; x++) q[x] = UNIFORM(); /* in [-2, 2] */
    for (int32_t x = 0; x < T * D; x++) k[x] = UNIFORM();
#undef UNIFORM
    for (int32_t j = 0; j < T; j++) kv[j] = j % 7 != 3;
    CHECK(ap_bs_rows_exact(D, 32768, 15, 1));
    CHECK(!ap_bs_rows_exact(D, 32768, 15, 16));
    const char *specs[2] = {"leopard:th=0.5,q_bits=16,k_bits=16,B=1", "leopard:th=0.5,q_bits=16,k_bits=16,B=16"};
    uint8_t *masks[2] = {m1, m2};
    int64_t kept[2] = {0, 0};
    for (int c = 0; c < 2; c++) {
        struct ap_method *m = NULL;
        REQUIRE(ap_method_create(specs[c], &m) == AP_OK);
        const struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = S, .n_k = T, .d = D, .q = q, .k = k,
                                          .v = k, .q_stride = D, .k_stride = D, .v_stride = D, .scale = 0.125f,
                                          .causal = 1, .key_valid = kv};
        struct ap_head_output out = {.mask = masks[c]};
        CHECK_STATUS(ap_method_predict(m, &in, &out), AP_OK);
        kept[c] = out.kept;
        ap_method_free(m);
    }
    CHECK(memcmp(m1, m2, sizeof m1) == 0);
    CHECK_EQ_INT(kept[0], kept[1]);
    CHECK(kept[0] > 0 && kept[0] < (int64_t)S * T / 2);
}

/* The fused path (binary points over the whole head in rows_prepare, the
 * block form per block of rows): exactly predict's pairs, with the block
 * form (B = 2, 1) and with the per-pair fallback (B = 8: 64 * 2^11 * 255 >
 * 2^24, not exact in fp32 blocks). */
TEST(leopard_rows_match_predict) {
    CHECK_ROWS_MATCH_PREDICT("leopard:th=1.0", 0.0);
    CHECK_ROWS_MATCH_PREDICT("leopard:th=0.5,B=2", 0.0);
    CHECK_ROWS_MATCH_PREDICT("leopard:th=1.0,B=8", 0.0);
}
