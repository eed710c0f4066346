/* attention.h — exact attention for one head, optionally restricted to a mask.
 *
 * Legend: S = queries, T = keys (S == T in an encoder), d = head dimension.
 * Rows are addressed with a stride in floats so a head can be read in place
 * from the model's (S, D) projections without a copy. */
#ifndef AP_KERNELS_ATTENTION_H
#define AP_KERNELS_ATTENTION_H

#include <stdint.h>

/* Widest head the kernels accept; model loaders reject wider ones. */
#define AP_ATTN_MAX_HEAD_DIM 512

struct ap_attn_head {
    const float *q; /* (S, d), row stride q_stride */
    const float *k; /* (T, d), row stride k_stride */
    const float *v; /* (T, d), row stride v_stride */
    float *o;       /* (S, d), row stride o_stride: output */
    int64_t q_stride, k_stride, v_stride, o_stride;
    int32_t n_q;    /* S */
    int32_t n_k;    /* T */
    int32_t d;
    float scale;              /* usually 1/sqrt(d) */
    int32_t causal;           /* query i sees keys j <= i + (T - S) */
    const uint8_t *key_valid;   /* (T) or NULL; 0 marks a padding key, never attended */
    const uint8_t *query_valid; /* (S) or NULL; 0 marks a row that is not computed (output 0) */
};

/* Reference attention, the specification the fast kernels are tested against:
 * scores, softmax and P·V accumulated in double. mask is NULL (every valid
 * pair kept) or (S, T) bytes, 1 = kept. A query row with nothing kept, or
 * not valid, gets a zero output. scratch holds at least T doubles.
 * key_prob is NULL or (T): each key's probabilities over the computed rows
 * are added to it (SpAtten's token importance). */
void ap_attention_ref(const struct ap_attn_head *h, const uint8_t *mask, double *scratch, double *key_prob);

#endif
