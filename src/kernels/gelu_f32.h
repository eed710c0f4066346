/* gelu_f32.h — BERT's exact (erf) GELU over a float array, vectorized.
 *
 * ap_gelu_erf (model/layer_ops.c, libm's erff) is the reference. This one
 * computes erf by a rational approximation in plain float arithmetic that
 * the compiler vectorizes, compiled for the build's baseline, AVX2 and
 * AVX-512 and picked at run time. Every variant does the same float
 * operations per element (no FMA contraction in ISO C mode), so the result
 * does not depend on the CPU. Legend: n = elements. */
#ifndef AP_KERNELS_GELU_F32_H
#define AP_KERNELS_GELU_F32_H

#include <stdint.h>

/* x (n) = 0.5 x (1 + erf(x / sqrt 2)) in place. erf within 4.5e-7 of the
 * exact one (libm's erff: 1 ulp), so the result is within 2.5e-7 * |x| of
 * the reference's; NaN, +-0, +inf and -inf map as in the reference (NaN,
 * +-0, +inf, NaN). */
void ap_gelu_erf_f32(float *x, int64_t n);

/* The same with the SIMD variants limited to `features` (AP_CPU_* bits,
 * intersected with ap_cpu_features(); 0 = the build's baseline), for tests. */
void ap_gelu_erf_f32_isa(float *x, int64_t n, uint32_t features);

#endif
