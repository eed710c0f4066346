/* fused.h — attention through a method's row-block predictor (the fused
 * path): per head, rows_prepare, then per block of AP_ROWS_BLOCK query rows
 * predict_rows and ap_attention_sparse_rows on its row lists. No (S, T)
 * mask exists; each thread's buffer is linear in the keys. Both forward
 * passes (bert.c, llama.c) take it for a method that has predict_rows when
 * no observer needs whole masks and no cascade hook runs.
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#ifndef AP_MODEL_FUSED_H
#define AP_MODEL_FUSED_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

struct ap_model;
struct ap_head_inputs;
struct ap_attn_head;

/* 1 if the model's method and observers allow the fused path. */
int ap_fused_usable(const struct ap_model *m);

/* Make sure every thread has a buffer for up to s_cap queries and t_cap
 * keys (grown, never shrunk; one allocation for all threads). Single-
 * threaded, before the parallel loop. AP_ERR_NOMEM names the bytes. */
enum ap_status ap_fused_reserve(struct ap_model *m, int32_t s_cap, int32_t t_cap);

/* One head: the method's predictor a row block at a time and the sparse
 * kernel on its lists, writing kh->o; in and kh describe the same head (kh
 * with the kernel's view: strides, output). tid selects the thread's
 * buffer. Adds the kept and valid pairs to *kept and *valid. */
enum ap_status ap_fused_head(struct ap_model *m, int tid, const struct ap_head_inputs *in,
                             const struct ap_attn_head *kh, int64_t *kept, int64_t *valid);

#endif
