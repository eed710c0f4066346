/* pow2.h — HAMMER's 2-bit power-of-two quantizer (IEEE CAL 2022, eq. 6).
 *
 *     quant(x) = factor · sgn(x)   if |x| >= cut
 *                sgn(x)            otherwise
 *
 * Four codes {-factor, -1, +1, +factor}: a sign bit and a magnitude bit.
 * There is no zero code, so sgn(0) = +1 (for -0.0 too). factor is a power of
 * two (the paper sweeps 1..32 and picks 8) so the product of two codes is a
 * shift, never a multiplication. cut is in the raw value scale of the input
 * (the paper: 4); it is not rescaled by anything.
 *
 * Legend: n = elements of a row (the head dimension d). */
#ifndef AP_QUANT_POW2_H
#define AP_QUANT_POW2_H

#include <stdint.h>

#define AP_POW2_MAX_FACTOR 64 /* codes must fit int8 */

/* The code of one value, as the integer it stands for. */
static inline int8_t ap_pow2_quant(double x, double cut, int32_t factor) {
    const int8_t s = x < 0.0 ? -1 : 1; /* sgn(0) = sgn(-0) = +1 */
    return (int8_t)((x >= cut || x <= -cut) ? s * factor : s);
}

/* out[c] = quant(x[c] - (shift ? shift[c] : 0)), c < n; x (n) float,
 * shift (n) or NULL, the difference taken in double. Returns how many
 * elements are at or beyond the cut (the "large" codes; with factor 1 they
 * are coded as +-1 all the same). */
int32_t ap_pow2_quant_row(const float *x, const double *shift, int32_t n, double cut, int32_t factor, int8_t *out);

/* 1 if factor is a power of two in 1..AP_POW2_MAX_FACTOR. */
int ap_pow2_factor_ok(int64_t factor);

#endif
