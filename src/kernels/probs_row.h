/* probs_row.h — the exact attention probabilities of one query row.
 *
 * Legend: T = keys, d = head dimension.
 *
 * The oracles and SpAtten's local value pruning and progressive quantization
 * rank exact probabilities. This is the same arithmetic as the reference
 * kernel (kernels/attention_ref.c): float inputs, dot products accumulated
 * in double, the float scale applied in double, softmax in double. */
#ifndef AP_KERNELS_PROBS_ROW_H
#define AP_KERNELS_PROBS_ROW_H

#include <stdint.h>

/* p (T) = softmax over the visible keys of scale * q·k_j; 0 for the others.
 * q (d); k (T, d) with row stride k_stride. A key j is visible when
 * j <= last_key and (key_valid == NULL or key_valid[j]). Returns the number
 * of visible keys (p is all zeros when it is 0). */
int32_t ap_probs_row(const float *q, const float *k, int64_t k_stride, int32_t T, int32_t d, float scale,
                     int32_t last_key, const uint8_t *key_valid, double *p);

#endif
