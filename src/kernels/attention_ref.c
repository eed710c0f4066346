/* attention_ref.c — the scalar reference attention (double accumulation).
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/attention.h"

/* Contract: h describes one head (see attention.h); mask is NULL or (S, T)
 * bytes; scratch has room for T doubles. Writes h->o (S, d). For each query
 * the kept keys are those the mask keeps, that are valid (not padding) and,
 * if causal, not in the future. */
void ap_attention_ref(const struct ap_attn_head *h, const uint8_t *mask, double *scratch, double *key_prob) {
    const int32_t S = h->n_q, T = h->n_k, d = h->d;
    const int32_t offset = T - S; /* causal: query i is position i + offset among the keys */
    AP_ASSERT(d >= 1 && d <= AP_ATTN_MAX_HEAD_DIM);
    for (int32_t i = 0; i < S; i++) {
        const float *q = h->q + (int64_t)i * h->q_stride;
        float *o = h->o + (int64_t)i * h->o_stride;
        const uint8_t *mrow = mask ? mask + (int64_t)i * T : NULL;
        if (h->query_valid && !h->query_valid[i]) {
            memset(o, 0, sizeof(float) * (size_t)d);
            continue;
        }
        double maxs = -INFINITY;
        for (int32_t j = 0; j < T; j++) {
            int keep = (!mrow || mrow[j]) && (!h->key_valid || h->key_valid[j]) && (!h->causal || j <= i + offset);
            if (!keep) {
                scratch[j] = -INFINITY;
                continue;
            }
            const float *k = h->k + (int64_t)j * h->k_stride;
            double s = 0.0;
            for (int32_t c = 0; c < d; c++) s += (double)q[c] * (double)k[c];
            s *= (double)h->scale;
            scratch[j] = s;
            if (s > maxs) maxs = s;
        }
        if (maxs == -INFINITY) { /* nothing kept */
            memset(o, 0, sizeof(float) * (size_t)d);
            continue;
        }
        double sum = 0.0;
        for (int32_t j = 0; j < T; j++) {
            double p = scratch[j] == -INFINITY ? 0.0 : exp(scratch[j] - maxs);
            scratch[j] = p;
            sum += p;
        }
        double a[AP_ATTN_MAX_HEAD_DIM];
        for (int32_t c = 0; c < d; c++) a[c] = 0.0;
        for (int32_t j = 0; j < T; j++) {
            if (scratch[j] == 0.0) continue;
            const float *v = h->v + (int64_t)j * h->v_stride;
            double p = scratch[j];
            for (int32_t c = 0; c < d; c++) a[c] += p * (double)v[c];
        }
        for (int32_t c = 0; c < d; c++) o[c] = (float)(a[c] / sum);
        if (key_prob)
            for (int32_t j = 0; j < T; j++) key_prob[j] += scratch[j] / sum;
    }
}
