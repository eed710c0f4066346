/* probs_row.c — exact attention probabilities of one query row (double).
 *
 * Legend: T = keys, d = head dimension. */
#include "kernels/probs_row.h"

#include <math.h>

/* Contract: see probs_row.h. Two passes over the visible keys: scores (and
 * their maximum), then exp(s - max) normalized by its sum. */
int32_t ap_probs_row(const float *q, const float *k, int64_t k_stride, int32_t T, int32_t d, float scale,
                     int32_t last_key, const uint8_t *key_valid, double *p) {
    double maxs = -INFINITY;
    int32_t n = 0;
    for (int32_t j = 0; j < T; j++) {
        if (j > last_key || (key_valid && !key_valid[j])) {
            p[j] = -INFINITY;
            continue;
        }
        const float *kj = k + (int64_t)j * k_stride;
        double s = 0.0;
        for (int32_t c = 0; c < d; c++) s += (double)q[c] * (double)kj[c];
        s *= (double)scale;
        p[j] = s;
        if (s > maxs) maxs = s;
        n++;
    }
    if (n == 0) {
        for (int32_t j = 0; j < T; j++) p[j] = 0.0;
        return 0;
    }
    double sum = 0.0;
    for (int32_t j = 0; j < T; j++) {
        p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - maxs);
        sum += p[j];
    }
    for (int32_t j = 0; j < T; j++) p[j] /= sum;
    return n;
}
