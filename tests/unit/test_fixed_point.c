/* test_fixed_point.c — the dynamic fixed-point quantizers (src/quant/fixed_point.c)
 * against hand-computed codes: exponent choice, rounding of halves, clamping,
 * sign-magnitude signs, MSB truncation, and thresholds turned into codes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "quant/fixed_point.h"
#include "test.h"

TEST(fixed_point_exponent) {
    CHECK_EQ_INT(ap_fxp_exponent(0.0), 0);
    CHECK_EQ_INT(ap_fxp_exponent(1.0), 1); /* 1 < 2^1, not < 2^0 */
    CHECK_EQ_INT(ap_fxp_exponent(0.75), 0);
    CHECK_EQ_INT(ap_fxp_exponent(0.5), 0);
    CHECK_EQ_INT(ap_fxp_exponent(0.49), -1);
    CHECK_EQ_INT(ap_fxp_exponent(3.0), 2);
    CHECK_EQ_INT(ap_fxp_exponent(4.0), 3);
    const float rows[] = {1.0f, -5.5f, 100.0f, /* row 1 invalid */ 2.0f, 0.25f, -3.0f};
    const uint8_t valid[] = {1, 0, 1};
    CHECK_NEAR(ap_fxp_max_abs_rows(rows, 3, 2, 2, valid), 5.5, 0); /* rows (1, -5.5) and (0.25, -3) */
    CHECK_NEAR(ap_fxp_max_abs_rows(rows, 3, 2, 2, NULL), 100.0, 0);
}

TEST(fixed_point_signed_codes) {
    /* 12 bits, e = 1: one code step is 2^(1-11) = 2^-10 */
    CHECK_EQ_INT(ap_fxp_signed(1.0, 12, 1), 1024);
    CHECK_EQ_INT(ap_fxp_signed(-1.0, 12, 1), -1024);
    CHECK_EQ_INT(ap_fxp_signed(1.99999, 12, 1), 2047);   /* 2047.99 rounds to 2048: clamped */
    CHECK_EQ_INT(ap_fxp_signed(-1.99999, 12, 1), -2047); /* symmetric: -2048 unused */
    CHECK_EQ_INT(ap_fxp_signed(2.5 / 1024, 12, 1), 3);   /* a half rounds away from zero */
    CHECK_EQ_INT(ap_fxp_signed(-2.5 / 1024, 12, 1), -3);
    CHECK_EQ_INT(ap_fxp_signed(3.5 / 1024, 12, 1), 4);
    CHECK_EQ_INT(ap_fxp_signed(0.4 / 1024, 12, 1), 0);
    /* 8 bits, e = 0: step 2^-7 */
    CHECK_EQ_INT(ap_fxp_signed(0.5, 8, 0), 64);
    CHECK_EQ_INT(ap_fxp_signed(-0.99, 8, 0), -127);
}

TEST(fixed_point_sign_magnitude_codes) {
    uint8_t neg = 9;
    /* 4 bits = sign + 3 magnitude bits, e = 0: |x| as the fraction 0.b1b2b3 */
    CHECK_EQ_INT(ap_fxp_sign_magnitude(0.875, 4, 0, &neg), 7);
    CHECK_EQ_INT(neg, 0);
    CHECK_EQ_INT(ap_fxp_sign_magnitude(-0.5, 4, 0, &neg), 4);
    CHECK_EQ_INT(neg, 1);
    CHECK_EQ_INT(ap_fxp_sign_magnitude(0.9999, 4, 0, &neg), 7); /* 7.99 -> 8: clamped to 2^3 - 1 */
    CHECK_EQ_INT(ap_fxp_sign_magnitude(-0.01, 4, 0, &neg), 0);  /* magnitude 0 keeps its sign bit */
    CHECK_EQ_INT(neg, 1);
    CHECK_EQ_INT(ap_fxp_sign_magnitude(-0.0, 4, 0, &neg), 0);   /* -0.0 is positive */
    CHECK_EQ_INT(neg, 0);
    CHECK_EQ_INT(ap_fxp_sign_magnitude(-0.0625, 4, 0, &neg), 1); /* 0.5 steps: away from zero */
    CHECK_EQ_INT(neg, 1);
    /* 12 bits, e = 3: step 2^(3-11) */
    CHECK_EQ_INT(ap_fxp_sign_magnitude(-7.0, 12, 3, &neg), 1792);
    CHECK_EQ_INT(neg, 1);
}

TEST(fixed_point_msb_truncates_toward_minus_infinity) {
    CHECK_EQ_INT(ap_fxp_msb(127, 8, 4), 7);
    CHECK_EQ_INT(ap_fxp_msb(16, 8, 4), 1);
    CHECK_EQ_INT(ap_fxp_msb(15, 8, 4), 0);
    CHECK_EQ_INT(ap_fxp_msb(0, 8, 4), 0);
    CHECK_EQ_INT(ap_fxp_msb(-1, 8, 4), -1);
    CHECK_EQ_INT(ap_fxp_msb(-16, 8, 4), -1);
    CHECK_EQ_INT(ap_fxp_msb(-17, 8, 4), -2);
    CHECK_EQ_INT(ap_fxp_msb(-127, 8, 4), -8);
    CHECK_EQ_INT(ap_fxp_msb(-5, 8, 8), -5);
    /* the same as an arithmetic shift of the two's complement bits */
    for (int32_t c = -127; c <= 127; c++) CHECK_EQ_INT(ap_fxp_msb(c, 8, 3), (int32_t)floor(c / 32.0));
}

TEST(fixed_point_threshold_code_is_exact) {
    CHECK_EQ_INT(ap_fxp_threshold_code(1.0, 0.25), 4);
    CHECK_EQ_INT(ap_fxp_threshold_code(1.01, 0.25), 5);
    CHECK_EQ_INT(ap_fxp_threshold_code(-1.0, 0.25), -4);
    CHECK_EQ_INT(ap_fxp_threshold_code(-0.99, 0.25), -3);
    CHECK_EQ_INT(ap_fxp_threshold_code(0.0, 0.25), 0);
    CHECK_EQ_INT(ap_fxp_threshold_code(1e300, 0.25), (int64_t)1 << 52);
    CHECK_EQ_INT(ap_fxp_threshold_code(-1e300, 0.25), -((int64_t)1 << 52));
    /* against the definition, with units that are not powers of two */
    srand(7);
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        double unit = ldexp(1.0, -(rand() % 30)) / sqrt(1.0 + rand() % 100);
        double th = ((double)rand() / RAND_MAX - 0.5) * 10.0;
        int64_t c = ap_fxp_threshold_code(th, unit);
        if (!((double)c * unit >= th) || !((double)(c - 1) * unit < th)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* ap_fxp_msb_row (vectorized) equals ap_fxp_msb(ap_fxp_signed()) element
 * by element: ties at half steps both ways, values beyond the range, zero,
 * tiny values, several widths and binary points. */
TEST(fxp_msb_row_matches_scalar) {
    float x[512];
    int32_t got[512];
    uint64_t g = 0x1234567ull;
    for (int t = 0; t < 512; t++) {
        g = g * 6364136223846793005ull + 1442695040888963407ull;
        const double u = (double)(g >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        x[t] = (float)(t % 7 == 0 ? (double)(t / 7 - 36) * 0.0625 /* exact half steps at e = 0 */
                       : t % 11 == 0 ? u * 1e6
                       : t % 13 == 0 ? u * 1e-30
                       : u * 3.0);
    }
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 0.03125f, x[3] = -0.03125f;
    static const int32_t cfg[][3] = {{8, 0, 4}, {8, 2, 4}, {12, 1, 4}, {8, -3, 8}, {16, 2, 5}, {5, 0, 1}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++)
        for (int mid = 0; mid <= 1; mid++) {
            const int32_t bits = cfg[k][0], e = cfg[k][1], mb = cfg[k][2];
            ap_fxp_msb_row(x, 512, bits, e, mb, mid + 1, mid, got);
            int bad = 0;
            for (int t = 0; t < 512; t++) {
                const int32_t want = ap_fxp_msb(ap_fxp_signed(x[t], bits, e), bits, mb) * (mid + 1) + mid;
                if (got[t] != want && bad++ < 3)
                    ap_test_fail(__FILE__, __LINE__, "bits=%d e=%d msb=%d mid=%d x=%.9g: got %d, want %d", bits, e,
                                 mb, mid, (double)x[t], got[t], want);
            }
        }
}
