/* linear.h — symmetric linear quantization (Sanger, MICRO 2021, §4.1; the
 * form of its public artifact, which follows Q8BERT):
 *
 *     M = 2^(bits-1) - 1            (7 at 4 bits)
 *     gamma = M / thr               (thr: the clipping range, e.g. max|x|)
 *     Q(x) = clamp(round(gamma x), -M, M)
 *     deq(code) = code / gamma
 *
 * round() is round-half-to-even (C rint() in the default rounding mode, as
 * torch.round and numpy.round). A thr <= 0 (an all-zero tensor) gives
 * gamma = 0 and every code 0.
 *
 * Legend: n = elements of a row (the head dimension d). */
#ifndef AP_QUANT_LINEAR_H
#define AP_QUANT_LINEAR_H

#include <math.h>
#include <stdint.h>

#define AP_LINEAR_MIN_BITS 2
#define AP_LINEAR_MAX_BITS 8 /* codes must fit int8 */

static inline int32_t ap_linear_max_code(int32_t bits) { return (1 << (bits - 1)) - 1; }

/* gamma = M / thr, or 0 if thr is not positive. */
static inline double ap_linear_gamma(int32_t bits, double thr) {
    return thr > 0.0 ? (double)ap_linear_max_code(bits) / thr : 0.0;
}

/* rint(v) for |v| < 2^51 in plain arithmetic (adding and subtracting
 * 1.5 * 2^52 rounds to an integer, half to even, in the default rounding
 * mode), so that loops over it vectorize instead of calling rint; larger
 * |v| come back unrounded, which the callers' clamps to +-127 make
 * irrelevant. */
static inline double ap_round_half_even(double v) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    return (v + magic) - magic;
}

static inline int8_t ap_linear_quant(double x, double gamma, int32_t bits) {
    const double m = (double)ap_linear_max_code(bits);
    double v = ap_round_half_even(gamma * x);
    return (int8_t)(v > m ? m : v < -m ? -m : v);
}

/* out[c] = Q(x[c] / div), c < n: x (n) float, div > 0 (a row norm, or 1). */
void ap_linear_quant_row(const float *x, double div, int32_t n, double gamma, int32_t bits, int8_t *out);

/* max over c < n of |x[c] / div|. */
double ap_linear_absmax_row(const float *x, double div, int32_t n);

#endif
