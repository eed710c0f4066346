/* progressive.c — SpAtten's progressive quantization decision for one row
 * (see progressive.h).
 *
 * Legend: T = keys, d = head dimension. */
#include "kernels/progressive.h"

#include <math.h>

/* p = softmax over visible keys of scale * q·k_j for dequantized keys k
 * (T, d), in double; returns the maximum probability (0 with no key). */
static double probs_dequantized(const float *q, const double *k, int32_t T, int32_t d, float scale, int32_t last_key,
                                const uint8_t *key_valid, double *p) {
    double maxs = -INFINITY;
    for (int32_t j = 0; j < T; j++) {
        if (j > last_key || (key_valid && !key_valid[j])) {
            p[j] = -INFINITY;
            continue;
        }
        const double *kj = k + (int64_t)j * d;
        double s = 0.0;
        for (int32_t c = 0; c < d; c++) s += (double)q[c] * kj[c];
        p[j] = s * (double)scale;
        if (p[j] > maxs) maxs = p[j];
    }
    if (maxs == -INFINITY) {
        for (int32_t j = 0; j < T; j++) p[j] = 0.0;
        return 0.0;
    }
    double sum = 0.0, pmax = 0.0;
    for (int32_t j = 0; j < T; j++) {
        p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - maxs);
        sum += p[j];
    }
    for (int32_t j = 0; j < T; j++) {
        p[j] /= sum;
        if (p[j] > pmax) pmax = p[j];
    }
    return pmax;
}

struct ap_pq_row_result ap_pq_row(const float *q, const double *k_msb, const double *k_full, int32_t T, int32_t d,
                                  float scale, int32_t last_key, const uint8_t *key_valid, double threshold,
                                  int32_t bits, int32_t msb_bits, double *p) {
    struct ap_pq_row_result r = {0, 0.0, msb_bits};
    r.max_prob = probs_dequantized(q, k_msb, T, d, scale, last_key, key_valid, p);
    if (r.max_prob > 0.0 && r.max_prob < threshold) {
        r.requant = 1;
        r.key_bits = bits;
        probs_dequantized(q, k_full, T, d, scale, last_key, key_valid, p);
    }
    return r;
}
