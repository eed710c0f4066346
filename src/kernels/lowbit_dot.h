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

/* The same products a block at a time, through BLAS: out[i * ldo + j] =
 * sum over c < d of a[i * d + c] * b[j * d + c] for i < n_a, j < n_b, with the
 * integer codes held as floats (a (n_a, d), b (n_b, d)). Every product and
 * partial sum is an integer, so the result is exact, whatever order BLAS
 * adds in, while they stay below 2^24 in magnitude: check
 * ap_codes_exact_f32(d, max|a|, max|b|) first. LEOPARD's bit-serial
 * scores (bit_serial.c) use it; Sanger, HAMMER and SPRINT moved to the
 * integer kernels of lowbit_gemm.h, and bench/lowbit_gemm.c keeps this as
 * their baseline. Single-threaded when called inside a parallel region
 * (OpenBLAS built for OpenMP). */
void ap_codes_gemm_f32(const float *a, int32_t n_a, const float *b, int32_t n_b, int32_t d, float *out, int64_t ldo);

/* 1 if d * amax * bmax <= 2^24, so ap_codes_gemm_f32 is exact. */
int ap_codes_exact_f32(int32_t d, int64_t amax, int64_t bmax);

#endif
