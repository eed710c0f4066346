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

static inline __attribute__((always_inline)) int32_t relu_select(const int32_t *a, int32_t n, int32_t zero,
                                                                  const struct ap_shifted_relu *r, const uint8_t *kv,
                                                                  double t, int keep_max, int32_t *f, int32_t *cols,
                                                                  int64_t *sum_out) {
    const int32_t b0 = (int32_t)r->b[0], b1 = (int32_t)r->b[1], b2 = (int32_t)r->b[2];
    int64_t sum = 0;
    int32_t amax = INT32_MIN;
    switch (r->shape) { /* one vectorized loop per shape */
#define RELU_PASS(SHAPE)                                                                                              \
    _Pragma("omp simd reduction(+ : sum)") for (int32_t j = 0; j < n; j++) {                                          \
        const int32_t v = (kv && !kv[j]) ? 0 : relu_lane(a[j] - zero, SHAPE, b0, b1, b2);                              \
        f[j] = v;                                                                                                     \
        sum += v;                                                                                                     \
    }                                                                                                                 \
    break;
    case AP_RELU_PLAIN: RELU_PASS(AP_RELU_PLAIN)
    case AP_RELU_SHIFT: RELU_PASS(AP_RELU_SHIFT)
    case AP_RELU_CONT:
    default: RELU_PASS(AP_RELU_CONT)
#undef RELU_PASS
    }
    *sum_out = sum;
    /* f_j > t sum in double, as the per-pair code: f_j > bound <=> f_j > floor(bound) for integer f_j */
    const double bound = t * (double)sum;
    int32_t kept = 0;
    if (bound < 2147483647.0) {
        const int32_t ib = bound < 0.0 ? -1 : (int32_t)bound;
        for (int32_t j = 0; j < n; j++) {
            cols[kept] = j;
            kept += f[j] > ib;
        }
    }
    if (!kept && keep_max) {
        for (int32_t j = 0; j < n; j++)
            if ((!kv || kv[j]) && a[j] > amax) amax = a[j];
        for (int32_t j = 0; j < n; j++)
            if ((!kv || kv[j]) && a[j] == amax) cols[kept++] = j;
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
