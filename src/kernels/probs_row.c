/* probs_row.c — exact attention probabilities of one query row (double).
 *
 * Legend: T = keys, d = head dimension. */
#include "kernels/probs_row.h"

#include <cblas.h>
#include <math.h>

/* In place: p (T) holds scores for the visible keys and -inf for the
 * others (maxs their maximum, n their count); leaves the probabilities. */
static void softmax_visible(double *p, int32_t T, double maxs, int32_t n) {
    if (n == 0) {
        for (int32_t j = 0; j < T; j++) p[j] = 0.0;
        return;
    }
    double sum = 0.0;
    for (int32_t j = 0; j < T; j++) {
        p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - maxs);
        sum += p[j];
    }
    for (int32_t j = 0; j < T; j++) p[j] /= sum;
}

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
    softmax_visible(p, T, maxs, n);
    return n;
}

void ap_keys_f64(const float *k, int64_t k_stride, int32_t T, int32_t d, double *kd) {
    for (int32_t j = 0; j < T; j++)
        for (int32_t c = 0; c < d; c++) kd[(int64_t)j * d + c] = (double)k[(int64_t)j * k_stride + c];
}

void ap_scores_rows(const float *q, int64_t q_stride, int32_t n_rows, const double *kd, int32_t n_keys, int32_t d,
                    float scale, double *qd, double *s, int64_t ld) {
    if (n_rows <= 0 || n_keys <= 0) return;
    for (int32_t r = 0; r < n_rows; r++)
        for (int32_t c = 0; c < d; c++) qd[(int64_t)r * d + c] = (double)q[(int64_t)r * q_stride + c];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_rows, n_keys, d, (double)scale, qd, d, kd, d, 0.0, s,
                (int)ld);
}

void ap_probs_rows(const float *q, int64_t q_stride, int32_t n_rows, const double *kd, int32_t T, int32_t d,
                   float scale, int32_t last_key0, int32_t last_step, const uint8_t *key_valid, double *qd, double *p,
                   int32_t *n_visible) {
    if (n_rows <= 0) return;
    int32_t last_blk = last_key0 + (n_rows - 1) * last_step;
    if (last_blk > T - 1) last_blk = T - 1;
    ap_scores_rows(q, q_stride, n_rows, kd, last_blk + 1, d, scale, qd, p, T);
    for (int32_t r = 0; r < n_rows; r++) {
        double *pr = p + (int64_t)r * T;
        const int32_t last = last_key0 + r * last_step;
        double maxs = -INFINITY;
        int32_t n = 0;
        for (int32_t j = 0; j < T; j++) {
            if (j > last || j > last_blk || (key_valid && !key_valid[j])) {
                pr[j] = -INFINITY;
                continue;
            }
            if (pr[j] > maxs) maxs = pr[j];
            n++;
        }
        softmax_visible(pr, T, maxs, n);
        n_visible[r] = n;
    }
}
