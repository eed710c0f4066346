/* shifted_relu.c — HAMMER's shifted ReLU (see shifted_relu.h). */
#include "kernels/shifted_relu.h"

#include "attnprune.h"

int64_t ap_shifted_relu(const struct ap_shifted_relu *r, int64_t x) {
    if (x <= 0) return 0;
    switch (r->shape) {
    case AP_RELU_PLAIN: return x;
    case AP_RELU_SHIFT: {
        int s = (x > r->b[0]) + (x > r->b[1]) + (x > r->b[2]);
        return x << s;
    }
    case AP_RELU_CONT:
    default: {
        /* slope 2^k on segment k: (0, b0], (b0, b1], (b1, b2], (b2, inf) */
        int64_t lo = 0, y = 0;
        for (int k = 0; k < 3; k++) {
            if (x <= r->b[k]) return y + ((x - lo) << k);
            y += (r->b[k] - lo) << k;
            lo = r->b[k];
        }
        return y + ((x - lo) << 3);
    }
    }
}

/* ------------------------------------------------------- row selection */

/* GCC vectorizes max reductions under `omp simd`; clang (14) does not
 * without -ffast-math and warns that it could not (clang builds only the
 * fuzz targets), so there they are plain loops. */
#if defined(__clang__)
#define OMP_SIMD_MAX
#else
#define OMP_SIMD_MAX _Pragma("omp simd reduction(max : amax)")
#endif

/* f(x) for one lane, branch-free, the same values as ap_shifted_relu for
 * |x| < 2^27 (CONT: the sum of ramps with slopes 1, 1, 2, 4 starting at 0,
 * b0, b1, b2). */
static inline __attribute__((always_inline)) int32_t relu_lane(int32_t x, enum ap_relu_shape shape, int32_t b0,
                                                                int32_t b1, int32_t b2) {
    const int32_t p = x > 0 ? x : 0;
    if (shape == AP_RELU_PLAIN) return p;
    if (shape == AP_RELU_SHIFT) return p << ((x > b0) + (x > b1) + (x > b2));
    const int32_t r0 = x > b0 ? x - b0 : 0, r1 = x > b1 ? x - b1 : 0, r2 = x > b2 ? x - b2 : 0;
    return p + r0 + 2 * r1 + 4 * r2;
}

/* f over a row for one shape: a loop without branches or reductions, so
 * the compiler vectorizes it. */
static inline __attribute__((always_inline)) void relu_pass(const int32_t *a, int32_t n, int32_t zero,
                                                             enum ap_relu_shape shape, int32_t b0, int32_t b1,
                                                             int32_t b2, int32_t *f) {
#pragma omp simd
    for (int32_t j = 0; j < n; j++) f[j] = relu_lane(a[j] - zero, shape, b0, b1, b2);
}

static inline __attribute__((always_inline)) int32_t relu_select(const int32_t *a, int32_t n, int32_t zero,
                                                                  const struct ap_shifted_relu *r, const uint8_t *kv,
                                                                  double t, int keep_max, int32_t *f, int32_t *cols,
                                                                  int64_t *sum_out) {
    const int32_t b0 = (int32_t)r->b[0], b1 = (int32_t)r->b[1], b2 = (int32_t)r->b[2];
    if (r->shape == AP_RELU_PLAIN) relu_pass(a, n, zero, AP_RELU_PLAIN, b0, b1, b2, f);
    else if (r->shape == AP_RELU_SHIFT) relu_pass(a, n, zero, AP_RELU_SHIFT, b0, b1, b2, f);
    else relu_pass(a, n, zero, AP_RELU_CONT, b0, b1, b2, f);
    if (kv) {
#pragma omp simd
        for (int32_t j = 0; j < n; j++) f[j] = kv[j] ? f[j] : 0;
    }
    /* the sum in double: every f is an integer below 2^31 and the sum stays
     * below 2^53, so it is exact in any order */
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int32_t j = 0; j < n; j++) sum += (double)f[j];
    *sum_out = (int64_t)sum;
    /* f_j > t sum in double, as the per-pair code: f_j > bound <=> f_j > floor(bound) for integer f_j */
    const double bound = t * sum;
    int32_t kept = 0;
    if (bound < 2147483647.0) {
        const int32_t ib = bound < 0.0 ? -1 : (int32_t)bound;
        for (int32_t j0 = 0; j0 < n; j0 += 64) { /* kept pairs are few: test 64 at a time first */
            const int32_t e = n - j0 < 64 ? n - j0 : 64;
            int any = 0;
#pragma omp simd reduction(| : any)
            for (int32_t j = 0; j < e; j++) any |= f[j0 + j] > ib;
            if (!any) continue;
            for (int32_t j = j0; j < j0 + e; j++) {
                cols[kept] = j;
                kept += f[j] > ib;
            }
        }
    }
    if (!kept && keep_max) {
        int32_t amax = INT32_MIN;
        if (kv) {
            OMP_SIMD_MAX
            for (int32_t j = 0; j < n; j++) amax = kv[j] && a[j] > amax ? a[j] : amax;
        } else {
            OMP_SIMD_MAX
            for (int32_t j = 0; j < n; j++) amax = a[j] > amax ? a[j] : amax;
        }
        for (int32_t j0 = 0; j0 < n; j0 += 64) { /* the maxima are few: test 64 at a time first */
            const int32_t e = n - j0 < 64 ? n - j0 : 64;
            int any = 0;
#pragma omp simd reduction(| : any)
            for (int32_t j = 0; j < e; j++) any |= a[j0 + j] == amax;
            if (!any) continue;
            for (int32_t j = j0; j < j0 + e; j++) {
                cols[kept] = j;
                kept += (!kv || kv[j]) && a[j] == amax;
            }
        }
    }
    return kept;
}

typedef int32_t (*relu_select_fn)(const int32_t *, int32_t, int32_t, const struct ap_shifted_relu *, const uint8_t *,
                                  double, int, int32_t *, int32_t *, int64_t *);

static int32_t relu_select_base(const int32_t *a, int32_t n, int32_t zero, const struct ap_shifted_relu *r,
                                const uint8_t *kv, double t, int keep_max, int32_t *f, int32_t *cols, int64_t *sum) {
    return relu_select(a, n, zero, r, kv, t, keep_max, f, cols, sum);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static int32_t relu_select_avx2(const int32_t *a, int32_t n, int32_t zero,
                                                                const struct ap_shifted_relu *r, const uint8_t *kv,
                                                                double t, int keep_max, int32_t *f, int32_t *cols,
                                                                int64_t *sum) {
    return relu_select(a, n, zero, r, kv, t, keep_max, f, cols, sum);
}
__attribute__((target("avx512f,avx512bw"))) static int32_t
relu_select_avx512(const int32_t *a, int32_t n, int32_t zero, const struct ap_shifted_relu *r, const uint8_t *kv,
                   double t, int keep_max, int32_t *f, int32_t *cols, int64_t *sum) {
    return relu_select(a, n, zero, r, kv, t, keep_max, f, cols, sum);
}
#endif

int32_t ap_relu_select_row(const int32_t *a, int32_t n, int64_t zero, const struct ap_shifted_relu *r,
                           const uint8_t *key_valid, double t, int keep_max, int32_t *f, int32_t *cols,
                           int64_t *sum, uint32_t features) {
    relu_select_fn fn = relu_select_base;
#if defined(__x86_64__) && defined(__GNUC__)
    features &= ap_cpu_features();
    if ((features & AP_CPU_AVX512F) && (features & AP_CPU_AVX512BW)) fn = relu_select_avx512;
    else if (features & AP_CPU_AVX2) fn = relu_select_avx2;
#endif
    return fn(a, n, (int32_t)zero, r, key_valid, t, keep_max, f, cols, sum);
}
