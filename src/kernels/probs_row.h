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

/* kd (T, d) = the keys k (T, d), row stride k_stride, in double: the key
 * side of ap_scores_rows and ap_probs_rows, converted once per head. */
void ap_keys_f64(const float *k, int64_t k_stride, int32_t T, int32_t d, double *kd);

/* s (n_rows, ld) = scale * q_r . k_j for rows r < n_rows of q (row stride
 * q_stride) and keys j < n_keys of kd (keys in double, (>= n_keys, d)), by
 * one dgemm over the rows converted to double in qd (n_rows * d doubles).
 * The products are exact in double; the d-term sums are in BLAS's order. */
void ap_scores_rows(const float *q, int64_t q_stride, int32_t n_rows, const double *kd, int32_t n_keys, int32_t d,
                    float scale, double *qd, double *s, int64_t ld);

/* The same for a block of query rows, with the scores from one dgemm: row
 * r of q (n_rows, row stride q_stride) against kd (T, d), the keys already
 * converted to double; row r sees keys j <= min(T - 1, last_key0 + r *
 * last_step) that key_valid allows (last_step 1 for causal rows, 0 for
 * rows that all see last_key0). p is (n_rows, T); n_visible (n_rows)
 * receives each row's count. qd is scratch for n_rows * d doubles. The
 * products q_c k_c are exact in double, as in ap_probs_row; only the order
 * of the d-term sums differs (BLAS's), so a probability may differ from
 * ap_probs_row's in its last bits. */
void ap_probs_rows(const float *q, int64_t q_stride, int32_t n_rows, const double *kd, int32_t T, int32_t d,
                   float scale, int32_t last_key0, int32_t last_step, const uint8_t *key_valid, double *qd, double *p,
                   int32_t *n_visible);

#endif
