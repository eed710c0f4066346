/* shifted_relu.h — HAMMER's softmax linearization (IEEE CAL 2022, §3.3,
 * fig. 5): exp is replaced by a ReLU whose slope grows as the input grows,
 * "shifting the output to the left by 1, 2 and 3" past successive break
 * points. The figure with the break points is not in the text; they are
 * parameters (integers in the approximate score's own scale, b1 <= b2 <= b3).
 *
 * Shapes (x is an integer approximate score):
 *   PLAIN   f(x) = max(x, 0)                        (the paper's "ReLU")
 *   CONT    f(x) = 0 for x <= 0, then continuous piecewise linear with
 *           slope 1 on (0, b1], 2 on (b1, b2], 4 on (b2, b3], 8 beyond b3
 *   SHIFT   f(x) = 0 for x <= 0, else x << s, s = number of break points
 *           below x (a bare shifter: monotone, but it jumps at each break)
 *
 * Every shape is 0 for x <= 0, non-negative, non-decreasing, and integer. */
#ifndef AP_KERNELS_SHIFTED_RELU_H
#define AP_KERNELS_SHIFTED_RELU_H

#include <stdint.h>

enum ap_relu_shape { AP_RELU_PLAIN, AP_RELU_CONT, AP_RELU_SHIFT };

struct ap_shifted_relu {
    enum ap_relu_shape shape;
    int64_t b[3]; /* break points, 0 < b[0] <= b[1] <= b[2] */
};

int64_t ap_shifted_relu(const struct ap_shifted_relu *r, int64_t x);

/* HAMMER's selection on one row, vectorized (the fused path): f_j =
 * f(a[j] - zero) (0 for padding keys, key_valid[j] = 0) into f, their sum
 * into *sum, and the kept j (f_j > t * sum, compared as the per-pair code
 * does) ascending into cols; their count is returned. When none passes and
 * keep_max, the valid j with the largest a[j] are kept. The same decisions
 * as the per-pair code for |a[j] - zero| < 2^27 and break points below
 * 2^27. Variants: baseline, AVX2, AVX-512, picked from features. */
int32_t ap_relu_select_row(const int32_t *a, int32_t n, int64_t zero, const struct ap_shifted_relu *r,
                           const uint8_t *key_valid, double t, int keep_max, int32_t *f, int32_t *cols,
                           int64_t *sum, uint32_t features);

#endif
