/* oracle_rows.h — the oracles' fused row blocks (method.h, predict_rows):
 * a head's keys in double once, then a block's exact probabilities by one
 * dgemm (kernels/probs_row.h), the same arithmetic as their predict.
 *
 * Legend: T = keys, d = head dimension, R = AP_ROWS_BLOCK. */
#ifndef AP_METHODS_ORACLE_ROWS_H
#define AP_METHODS_ORACLE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "methods/method.h"

struct ap_oracle_rows {
    double *kd;      /* (T, d) keys in double */
    double *qd;      /* (R, d) scratch */
    double *p;       /* (R, T) the block's probabilities */
    double *scratch; /* (2 T) for the top-k engine */
    uint8_t *vis;    /* (T) one row's visible keys */
    uint8_t *row;    /* (T) one row's kept keys */
    int32_t n_vis[AP_ROWS_BLOCK]; /* visible keys per row of the block */
};

/* Bytes of the buffer for T keys, d dimensions (64-byte alignment slack
 * included). */
size_t ap_oracle_rows_bytes(int32_t T, int32_t d);

/* The buffer's parts (buf from the caller, any alignment). */
struct ap_oracle_rows *ap_oracle_rows_of(void *buf, int32_t T, int32_t d);

/* rows_prepare for both oracles: the keys in double. */
enum ap_status ap_oracle_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf);

/* The probabilities of rows [i0, i0 + nb) into r->p and r->n_vis, as the
 * oracles' predict computes them for its own blocks. */
struct ap_oracle_rows *ap_oracle_rows_block(const struct ap_head_inputs *in, void *buf, int32_t i0, int32_t nb);

#endif
