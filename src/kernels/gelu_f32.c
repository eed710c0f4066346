/* gelu_f32.c — the erf GELU in float arithmetic the compiler vectorizes.
 *
 * Legend: n = elements.
 *
 * libm's erff is a function call per element, which keeps the GELU loop
 * scalar: after the encoder's products were batched it was a fifth of an
 * embed run's time. erf here is the rational approximation Eigen and
 * TensorFlow use for float (odd degree-13 numerator over an even degree-8
 * denominator in x, argument clamped to [-4, 4], where erf is 1 to float
 * precision): 4.4e-7 from the exact erf at worst over [-6, 6] (measured
 * against scipy in double on 2 * 10^6 points), about 4 ulp near 1, against
 * libm's 1 ulp. The GELU then is the reference's formula,
 * 0.5 x (1 + erf(x / sqrt 2)). This file is built with -fno-trapping-math
 * (see the Makefile) so that GCC turns the clamps into vector selects. */
#include "kernels/gelu_f32.h"

#include "attnprune.h"

static inline float erf_rational(float x) {
    float c = x > 4.0f ? 4.0f : x; /* NaN falls through both and stays NaN */
    c = c < -4.0f ? -4.0f : c;
    const float c2 = c * c;
    float p = -2.72614225801306e-10f;
    p = p * c2 + 2.77068142495902e-08f;
    p = p * c2 + -2.10102402082508e-06f;
    p = p * c2 + -5.69250639462346e-05f;
    p = p * c2 + -7.34990630326855e-04f;
    p = p * c2 + -2.95459980854025e-03f;
    p = p * c2 + -1.60960333262415e-02f;
    p = p * c;
    float q = -1.45660718464996e-05f;
    q = q * c2 + -2.13374055278905e-04f;
    q = q * c2 + -1.68282697438203e-03f;
    q = q * c2 + -7.37332916720468e-03f;
    q = q * c2 + -1.42647390514189e-02f;
    return p / q;
}

/* Always inlined into the per-ISA wrappers below, which compile it for each. */
static inline __attribute__((always_inline)) void gelu_loop(float *x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_rational(x[i] * 0.70710678118654752f));
}

typedef void (*gelu_fn)(float *x, int64_t n);

static void gelu_base(float *x, int64_t n) { gelu_loop(x, n); }

#if defined(__x86_64__) && defined(__GNUC__)
#define AP_GELU_X86 1
__attribute__((target("avx2"))) static void gelu_avx2(float *x, int64_t n) { gelu_loop(x, n); }
__attribute__((target("avx512f"))) static void gelu_avx512(float *x, int64_t n) { gelu_loop(x, n); }
#endif

/* The widest variant the feature bits allow. */
static gelu_fn gelu_for(uint32_t features) {
#ifdef AP_GELU_X86
    if (features & AP_CPU_AVX512F) return gelu_avx512;
    if (features & AP_CPU_AVX2) return gelu_avx2;
#endif
    (void)features;
    return gelu_base;
}

void ap_gelu_erf_f32_isa(float *x, int64_t n, uint32_t features) { gelu_for(features & ap_cpu_features())(x, n); }

void ap_gelu_erf_f32(float *x, int64_t n) { gelu_for(ap_cpu_features())(x, n); }
