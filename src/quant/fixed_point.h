/* fixed_point.h — dynamic fixed point: two's complement and sign-magnitude
 * codes with one power-of-two scale per tensor, and the MSB part of a code.
 *
 * LEOPARD keeps Q as 12-bit fixed point and K in sign-magnitude (bit-serial
 * from the MSB); SPRINT stores 8-bit Q and K and feeds their 4 MSBs to the
 * in-memory dot product. The papers give the widths but not where the binary
 * point sits, so the point is chosen per tensor from its largest magnitude:
 *
 *   e = ap_fxp_exponent(max |x|)   the smallest integer with max |x| < 2^e
 *
 * Then, for a code of `bits` bits (sign included):
 *   two's complement   c = clamp(round(x * 2^(bits-1-e)), -(2^(bits-1)-1), 2^(bits-1)-1)
 *                      x ~ c * 2^(e-bits+1)         (symmetric: -2^(bits-1) is unused)
 *   sign-magnitude     m = min(round(|x| * 2^(bits-1-e)), 2^(bits-1)-1), sign = x < 0
 *                      x ~ (-1)^sign * m * 2^(e-bits+1), i.e. x / 2^e is a fraction
 *                      0.b1 b2 ... b_n with n = bits-1 magnitude bits, as in LEOPARD's
 *                      figure 2.4 ("K elements scaled to be between -1.0 and +1.0")
 * round() is to nearest, halves away from zero. Both codes represent the same
 * grid; they differ in how the bits are laid out. The sign bit of a
 * sign-magnitude code is the sign of x even when m rounds to 0 (hardware
 * stores it), and -0.0 counts as positive.
 *
 * Every step is exact in double for float inputs (a scale by a power of two,
 * then round), so a NumPy reference that follows the same definition agrees
 * bit for bit. */
#ifndef AP_QUANT_FIXED_POINT_H
#define AP_QUANT_FIXED_POINT_H

#include <stdint.h>

#define AP_FXP_MAX_BITS 16 /* widest code these functions produce, sign included */

/* The smallest integer e with max_abs < 2^e (0 for max_abs == 0). */
int32_t ap_fxp_exponent(double max_abs);

/* Largest |x| over the valid rows of an (n, d) matrix with row stride
 * `stride` floats; row_valid is (n) or NULL (all valid). */
double ap_fxp_max_abs_rows(const float *x, int32_t n, int32_t d, int64_t stride, const uint8_t *row_valid);

/* Two's complement code of x, `bits` in 2..AP_FXP_MAX_BITS, exponent e. */
int32_t ap_fxp_signed(double x, int32_t bits, int32_t e);

/* Sign-magnitude code of x with `bits` in 2..AP_FXP_MAX_BITS (bits-1
 * magnitude bits): returns the magnitude, *negative = (x < 0). */
int32_t ap_fxp_sign_magnitude(double x, int32_t bits, int32_t e, uint8_t *negative);

/* The top msb_bits of a two's complement code of `bits` bits, as a two's
 * complement code of msb_bits bits: floor(code / 2^(bits - msb_bits)), i.e.
 * the low bits are dropped (truncation toward minus infinity), which is what
 * storing only the MSB cells of a word gives. msb_bits in 1..bits. */
int32_t ap_fxp_msb(int32_t code, int32_t bits, int32_t msb_bits);

/* A threshold on real values as a threshold on integer codes: the smallest
 * integer c with (double)c * unit >= th, where unit > 0 is the real value of
 * one code step (c * unit rounded once, as double multiplication does).
 * Since that product is non-decreasing in c, "keep iff c * unit >= th" and
 * "keep iff c >= the returned code" agree for every |c| < 2^52. Results are
 * clamped to +-2^52 (nothing reachable lies beyond). */
int64_t ap_fxp_threshold_code(double th, double unit);

/* Round to nearest, halves away from zero (C's round(); NumPy's np.round
 * rounds halves to even, which is not this). */
double ap_round_half_away(double x);

/* out[c] = ap_fxp_msb(ap_fxp_signed(x[c], bits, e), bits, msb_bits) * mult
 * + add for c < n, in a loop the compiler vectorizes (SPRINT's query and
 * key codes, a row at a time); the same values (tests/unit/
 * test_fixed_point.c). */
void ap_fxp_msb_row(const float *x, int32_t n, int32_t bits, int32_t e, int32_t msb_bits, int32_t mult, int32_t add,
                    int32_t *out);

#endif
