/* lowbit_dot.h — the low-bit predictor product: a dot product of two int8
 * code vectors (HAMMER's power-of-two codes, Sanger's 4-bit codes)
 * accumulated exactly in int32.
 *
 * Legend: n = the head dimension d. */
#ifndef AP_KERNELS_LOWBIT_DOT_H
#define AP_KERNELS_LOWBIT_DOT_H

#include <stdint.h>

/* sum over c < n of a[c] * b[c]. Exact while n * max|a| * max|b| < 2^31
 * (n <= 512 and |codes| <= 64: at most 2^21). */
int32_t ap_dot_i8(const int8_t *a, const int8_t *b, int32_t n);

#endif
