/* fixed_point.c — dynamic fixed point codes (see fixed_point.h). */
#include "quant/fixed_point.h"

#include <math.h>

#include "attnprune.h"
#include "core/error.h"

double ap_round_half_away(double x) { return round(x); }

int32_t ap_fxp_exponent(double max_abs) {
    if (!(max_abs > 0.0)) return 0;
    int e = 0;
    (void)frexp(max_abs, &e); /* max_abs = f * 2^e, f in [0.5, 1): max_abs < 2^e */
    return (int32_t)e;
}

/* GCC vectorizes a max reduction under `omp simd`; clang (14) does not
 * without -ffast-math and warns, so there it is a plain loop. */
#if defined(__clang__)
#define OMP_SIMD_MAX_M
#else
#define OMP_SIMD_MAX_M _Pragma("omp simd reduction(max : m)")
#endif

double ap_fxp_max_abs_rows(const float *x, int32_t n, int32_t d, int64_t stride, const uint8_t *row_valid) {
    /* the max of |x| in float is the same number as in double (every float
     * converts exactly), and the float loop vectorizes */
    float m = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        if (row_valid && !row_valid[i]) continue;
        const float *r = x + (int64_t)i * stride;
        OMP_SIMD_MAX_M
        for (int32_t c = 0; c < d; c++) {
            const float a = fabsf(r[c]);
            m = a > m ? a : m;
        }
    }
    return (double)m;
}

int32_t ap_fxp_signed(double x, int32_t bits, int32_t e) {
    AP_ASSERT(bits >= 2 && bits <= AP_FXP_MAX_BITS);
    const double top = (double)((1 << (bits - 1)) - 1);
    double c = round(ldexp(x, bits - 1 - e));
    if (c > top) c = top;
    if (c < -top) c = -top;
    return (int32_t)c;
}

int32_t ap_fxp_sign_magnitude(double x, int32_t bits, int32_t e, uint8_t *negative) {
    AP_ASSERT(bits >= 2 && bits <= AP_FXP_MAX_BITS);
    const double top = (double)((1 << (bits - 1)) - 1);
    double m = round(ldexp(fabs(x), bits - 1 - e));
    if (m > top) m = top;
    *negative = x < 0.0;
    return (int32_t)m;
}

int32_t ap_fxp_msb(int32_t code, int32_t bits, int32_t msb_bits) {
    AP_ASSERT(msb_bits >= 1 && msb_bits <= bits && bits <= 31);
    const int32_t div = (int32_t)1 << (bits - msb_bits);
    /* floor division, written out: >> of a negative int is implementation-defined */
    int32_t qt = code / div;
    if (code % div != 0 && code < 0) qt -= 1;
    return qt;
}

int64_t ap_fxp_threshold_code(double th, double unit) {
    const int64_t lim = (int64_t)1 << 52;
    if (!(unit > 0.0)) return th <= 0.0 ? -lim : lim;
    double r = ceil(th / unit);
    if (!(r > (double)-lim)) return -lim;
    if (r > (double)lim) return lim;
    int64_t c = (int64_t)r;
    while (c > -lim && (double)(c - 1) * unit >= th) c--;
    while (c < lim && (double)c * unit < th) c++;
    return c;
}

/* The body of ap_fxp_msb_row, compiled per ISA below. */
static inline __attribute__((always_inline)) void msb_row(const float *x, int32_t n, int32_t bits, int32_t e,
                                                          int32_t msb_bits, int32_t mult, int32_t add, int32_t *out) {
    const double scale = ldexp(1.0, bits - 1 - e), top = (double)((1 << (bits - 1)) - 1);
    const int32_t shift = bits - msb_bits;
#pragma omp simd
    for (int32_t c = 0; c < n; c++) {
        /* x * 2^k is exact; clamping before rounding gives the same as after
         * (top is an integer); v +- 1/2 is exact for a float scaled by a power
         * of two (at most 24 significant bits and |v| <= 2^15), so truncating
         * it rounds half away from zero, as round() */
        double v = (double)x[c] * scale;
        v = v > top ? top : v < -top ? -top : v;
        const int32_t code = (int32_t)(v + (v < 0.0 ? -0.5 : 0.5));
        /* floor division by 2^shift: an arithmetic right shift, which GCC and
         * clang define for negative values (C leaves it to the implementation) */
        out[c] = (code >> shift) * mult + add;
    }
}

typedef void (*msb_row_fn)(const float *, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t *);

static void msb_row_base(const float *x, int32_t n, int32_t bits, int32_t e, int32_t msb_bits, int32_t mult,
                         int32_t add, int32_t *out) {
    msb_row(x, n, bits, e, msb_bits, mult, add, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void msb_row_avx2(const float *x, int32_t n, int32_t bits, int32_t e,
                                                         int32_t msb_bits, int32_t mult, int32_t add, int32_t *out) {
    msb_row(x, n, bits, e, msb_bits, mult, add, out);
}
__attribute__((target("avx512f"))) static void msb_row_avx512(const float *x, int32_t n, int32_t bits, int32_t e,
                                                              int32_t msb_bits, int32_t mult, int32_t add,
                                                              int32_t *out) {
    msb_row(x, n, bits, e, msb_bits, mult, add, out);
}
#endif

void ap_fxp_msb_row(const float *x, int32_t n, int32_t bits, int32_t e, int32_t msb_bits, int32_t mult, int32_t add,
                    int32_t *out) {
    AP_ASSERT(msb_bits >= 1 && msb_bits <= bits && bits >= 2 && bits <= AP_FXP_MAX_BITS);
    msb_row_fn fn = msb_row_base;
#if defined(__x86_64__) && defined(__GNUC__)
    const uint32_t f = ap_cpu_features();
    if (f & AP_CPU_AVX512F) fn = msb_row_avx512;
    else if (f & AP_CPU_AVX2) fn = msb_row_avx2;
#endif
    fn(x, n, bits, e, msb_bits, mult, add, out);
}
