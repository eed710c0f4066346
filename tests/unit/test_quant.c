/* test_quant.c — the predictors' quantizers and low-bit kernels against the
 * papers' definitions: HAMMER's 2-bit power-of-two quantizer (eq. 6) and
 * shifted ReLU (fig. 5, break points ours), Sanger's symmetric linear
 * quantizer, and the int8 code dot product. */
#include <math.h>
#include <stdint.h>

#include "kernels/lowbit_dot.h"
#include "kernels/shifted_relu.h"
#include "quant/linear.h"
#include "quant/pow2.h"
#include "test.h"

/* ------------------------------------------------------- HAMMER, eq. 6 */

TEST(pow2_quant_paper_cases) {
    /* "If the absolute value of an input is larger than 4, it is mapped to 8
     * or -8 depending on its sign bit. [...] smaller than 4, they are mapped
     * to 1 or -1"; eq. 6 puts |x| = 4 itself on the 8 side. */
    CHECK_EQ_INT(ap_pow2_quant(5.0, 4.0, 8), 8);
    CHECK_EQ_INT(ap_pow2_quant(-5.0, 4.0, 8), -8);
    CHECK_EQ_INT(ap_pow2_quant(4.0, 4.0, 8), 8);
    CHECK_EQ_INT(ap_pow2_quant(-4.0, 4.0, 8), -8);
    CHECK_EQ_INT(ap_pow2_quant(3.999, 4.0, 8), 1);
    CHECK_EQ_INT(ap_pow2_quant(-3.999, 4.0, 8), -1);
    CHECK_EQ_INT(ap_pow2_quant(0.25, 4.0, 8), 1);
    CHECK_EQ_INT(ap_pow2_quant(-0.25, 4.0, 8), -1);
    CHECK_EQ_INT(ap_pow2_quant(1e6, 4.0, 8), 8);
    /* No zero code: sgn(0) = +1, for -0.0 as well. */
    CHECK_EQ_INT(ap_pow2_quant(0.0, 4.0, 8), 1);
    CHECK_EQ_INT(ap_pow2_quant(-0.0, 4.0, 8), 1);
    /* The weight-factor sweep of the paper: 1 .. 32 in powers of two. */
    for (int32_t f = 1; f <= 32; f *= 2) {
        CHECK_EQ_INT(ap_pow2_quant(6.0, 4.0, f), f);
        CHECK_EQ_INT(ap_pow2_quant(-6.0, 4.0, f), -f);
        CHECK_EQ_INT(ap_pow2_quant(2.0, 4.0, f), 1);
        CHECK(ap_pow2_factor_ok(f));
    }
    CHECK(ap_pow2_factor_ok(64));
    CHECK(!ap_pow2_factor_ok(0));
    CHECK(!ap_pow2_factor_ok(6));
    CHECK(!ap_pow2_factor_ok(128));
    CHECK(!ap_pow2_factor_ok(-8));
}

TEST(pow2_quant_row_with_mean) {
    /* Mean redistribution: the key row is shifted by the mean before the
     * quantizer sees it. 5 - 1.5 = 3.5 -> 1; 3 + 1.5 = 4.5 -> 8;
     * -2 - 2 = -4 -> -8; 0.5 - 0.5 = 0 -> +1. */
    const float x[] = {5.0f, 3.0f, -2.0f, 0.5f};
    const double m[] = {1.5, -1.5, 2.0, 0.5};
    int8_t out[4];
    int32_t large = ap_pow2_quant_row(x, m, 4, 4.0, 8, out);
    CHECK_EQ_INT(out[0], 1);
    CHECK_EQ_INT(out[1], 8);
    CHECK_EQ_INT(out[2], -8);
    CHECK_EQ_INT(out[3], 1);
    CHECK_EQ_INT(large, 2);
    large = ap_pow2_quant_row(x, NULL, 4, 4.0, 8, out);
    CHECK_EQ_INT(out[0], 8);
    CHECK_EQ_INT(out[1], 1);
    CHECK_EQ_INT(out[2], -1);
    CHECK_EQ_INT(out[3], 1);
    CHECK_EQ_INT(large, 1);
}

TEST(pow2_products_are_shifts) {
    /* Codes {+-1, +-8}: every product is +-1, +-8 or +-64, i.e. a shift by
     * 0, 3 or 6; a dot product is then shifts and additions only. */
    const int8_t a[] = {8, -1, 1, -8, 8};
    const int8_t b[] = {8, 1, -8, -8, -1};
    CHECK_EQ_INT(ap_dot_i8(a, b, 5), 64 - 1 - 8 + 64 - 8);
    const int8_t codes[] = {-8, -1, 1, 8};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int p = codes[i] * codes[j], ap = p < 0 ? -p : p;
            CHECK(ap == 1 || ap == 8 || ap == 64);
        }
}

/* ------------------------------------------------- HAMMER, shifted ReLU */

TEST(shifted_relu_shapes) {
    struct ap_shifted_relu cont = {AP_RELU_CONT, {8, 16, 32}};
    struct ap_shifted_relu shift = {AP_RELU_SHIFT, {8, 16, 32}};
    struct ap_shifted_relu plain = {AP_RELU_PLAIN, {8, 16, 32}};
    /* Non-positive inputs are cut to 0 by every shape. */
    const int64_t nonpos[] = {0, -1, -8, -1000};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(ap_shifted_relu(&cont, nonpos[i]), 0);
        CHECK_EQ_INT(ap_shifted_relu(&shift, nonpos[i]), 0);
        CHECK_EQ_INT(ap_shifted_relu(&plain, nonpos[i]), 0);
    }
    /* Continuous: slope 1 up to 8, 2 up to 16, 4 up to 32, 8 beyond. */
    CHECK_EQ_INT(ap_shifted_relu(&cont, 1), 1);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 8), 8);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 9), 10);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 16), 24);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 17), 28);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 32), 88);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 33), 96);
    CHECK_EQ_INT(ap_shifted_relu(&cont, 100), 88 + 8 * 68);
    /* Shift: the output shifted left by 1, 2, 3 past each break point. */
    CHECK_EQ_INT(ap_shifted_relu(&shift, 8), 8);
    CHECK_EQ_INT(ap_shifted_relu(&shift, 9), 18);
    CHECK_EQ_INT(ap_shifted_relu(&shift, 16), 32);
    CHECK_EQ_INT(ap_shifted_relu(&shift, 17), 68);
    CHECK_EQ_INT(ap_shifted_relu(&shift, 33), 264);
    CHECK_EQ_INT(ap_shifted_relu(&plain, 33), 33);
    /* Equal break points collapse segments. */
    struct ap_shifted_relu flat = {AP_RELU_CONT, {4, 4, 4}};
    CHECK_EQ_INT(ap_shifted_relu(&flat, 4), 4);
    CHECK_EQ_INT(ap_shifted_relu(&flat, 5), 12);
    /* The two properties of exp the paper keeps: positive (non-negative
     * here) and monotonically increasing (non-decreasing; strictly for x > 0). */
    const struct ap_shifted_relu *all[] = {&cont, &shift, &plain, &flat};
    for (int s = 0; s < 4; s++) {
        int64_t prev = ap_shifted_relu(all[s], -10);
        for (int64_t x = -9; x <= 5000; x++) {
            int64_t y = ap_shifted_relu(all[s], x);
            CHECK(y >= 0);
            if (x > 0) CHECK(y > prev);
            else CHECK(y == prev);
            prev = y;
            if (ap_test_failed()) return;
        }
    }
}

/* --------------------------------------------------- Sanger, linear */

TEST(linear_quant_cases) {
    CHECK_EQ_INT(ap_linear_max_code(4), 7);
    CHECK_EQ_INT(ap_linear_max_code(8), 127);
    CHECK_EQ_INT(ap_linear_max_code(2), 1);
    /* thr = 7 at 4 bits: gamma = 1, codes are x rounded (half to even) and
     * clamped to [-7, 7]. */
    double g = ap_linear_gamma(4, 7.0);
    CHECK_NEAR(g, 1.0, 0);
    CHECK_EQ_INT(ap_linear_quant(0.5, g, 4), 0);
    CHECK_EQ_INT(ap_linear_quant(1.5, g, 4), 2);
    CHECK_EQ_INT(ap_linear_quant(2.5, g, 4), 2);
    CHECK_EQ_INT(ap_linear_quant(-2.5, g, 4), -2);
    CHECK_EQ_INT(ap_linear_quant(2.51, g, 4), 3);
    CHECK_EQ_INT(ap_linear_quant(7.4, g, 4), 7);
    CHECK_EQ_INT(ap_linear_quant(9.0, g, 4), 7);
    CHECK_EQ_INT(ap_linear_quant(-9.0, g, 4), -7);
    /* thr = max|x| maps the extreme value to +-M exactly. */
    g = ap_linear_gamma(4, 0.3);
    CHECK_EQ_INT(ap_linear_quant(0.3, g, 4), 7);
    CHECK_EQ_INT(ap_linear_quant(-0.3, g, 4), -7);
    CHECK_EQ_INT(ap_linear_quant(0.15, g, 4), 4); /* 3.5 -> 4 (even) */
    /* An all-zero tensor: gamma 0, all codes 0. */
    CHECK_NEAR(ap_linear_gamma(4, 0.0), 0.0, 0);
    CHECK_EQ_INT(ap_linear_quant(1.0, ap_linear_gamma(4, 0.0), 4), 0);
}

TEST(linear_quant_row_normalized) {
    /* Sanger's artifact (normalize_qk: inner_product) quantizes x / |x|. */
    const float x[] = {3.0f, -4.0f, 0.0f};
    double n = 5.0;
    CHECK_NEAR(ap_linear_absmax_row(x, n, 3), 0.8, 1e-15);
    double g = ap_linear_gamma(4, 0.8); /* 8.75 */
    int8_t out[3];
    ap_linear_quant_row(x, n, 3, g, 4, out);
    CHECK_EQ_INT(out[0], 5); /* 0.6 * 8.75 = 5.25 */
    CHECK_EQ_INT(out[1], -7);
    CHECK_EQ_INT(out[2], 0);
    ap_linear_quant_row(x, 1.0, 3, ap_linear_gamma(4, 4.0), 4, out);
    CHECK_EQ_INT(out[0], 5); /* 3 * 1.75 = 5.25 */
    CHECK_EQ_INT(out[1], -7);
}
