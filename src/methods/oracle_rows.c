/* oracle_rows.c — see oracle_rows.h. */
#include "methods/oracle_rows.h"

#include "core/arena.h"
#include "kernels/probs_row.h"

/* Byte offsets of the parts, from the 64-byte aligned start. */
static void parts(int32_t T, int32_t d, size_t off[7]) {
    const size_t t = (size_t)(T > 0 ? T : 1), D = (size_t)d, R = AP_ROWS_BLOCK;
    off[0] = ap_arena_size_of(sizeof(struct ap_oracle_rows));
    off[1] = off[0] + ap_arena_size_of(sizeof(double) * t * D);
    off[2] = off[1] + ap_arena_size_of(sizeof(double) * R * D);
    off[3] = off[2] + ap_arena_size_of(sizeof(double) * R * t);
    off[4] = off[3] + ap_arena_size_of(sizeof(double) * 2 * t);
    off[5] = off[4] + ap_arena_size_of(t);
    off[6] = off[5] + ap_arena_size_of(t);
}

size_t ap_oracle_rows_bytes(int32_t T, int32_t d) {
    size_t off[7];
    parts(T, d, off);
    return off[6] + 64;
}

struct ap_oracle_rows *ap_oracle_rows_of(void *buf, int32_t T, int32_t d) {
    size_t off[7];
    parts(T, d, off);
    unsigned char *p = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    struct ap_oracle_rows *r = (struct ap_oracle_rows *)(void *)p;
    r->kd = (double *)(void *)(p + off[0]);
    r->qd = (double *)(void *)(p + off[1]);
    r->p = (double *)(void *)(p + off[2]);
    r->scratch = (double *)(void *)(p + off[3]);
    r->vis = p + off[4];
    r->row = p + off[5];
    return r;
}

enum ap_status ap_oracle_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf) {
    (void)state;
    struct ap_oracle_rows *r = ap_oracle_rows_of(buf, in->n_k, in->d);
    ap_keys_f64(in->k, in->k_stride, in->n_k, in->d, r->kd);
    return AP_OK;
}

struct ap_oracle_rows *ap_oracle_rows_block(const struct ap_head_inputs *in, void *buf, int32_t i0, int32_t nb) {
    const int32_t S = in->n_q, T = in->n_k;
    struct ap_oracle_rows *r = ap_oracle_rows_of(buf, T, in->d);
    ap_probs_rows(in->q + (int64_t)i0 * in->q_stride, in->q_stride, nb, r->kd, T, in->d, in->scale,
                  in->causal ? i0 + (T - S) : T - 1, in->causal ? 1 : 0, in->key_valid, r->qd, r->p, r->n_vis);
    return r;
}
