/* fused.c — the fused predictor + sparse-attention path (see fused.h).
 *
 * Per-thread buffer layout (fused_stride bytes each, 64-byte multiples):
 *   the method's rows buffer (rows_bytes(S_cap, T_cap, d))
 *   row_ptr (AP_ROWS_BLOCK + 1) int64, cols (AP_ROWS_BLOCK, T_cap) int32
 *   the sparse kernel's scratch (ap_attention_sparse_scratch(d) floats)
 * Legend: S = queries, T = keys, d = head dimension. */
#include "model/fused.h"

#include <stdlib.h>

#include "core/arena.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "methods/method.h"
#include "model/model.h"

static size_t rows_part(const struct ap_model *m, int32_t s_cap, int32_t t_cap) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    return ap_arena_size_of(ops->rows_bytes(ap_method_state(m->method), s_cap, t_cap, m->info.head_dim));
}

static size_t lists_part(int32_t t_cap) {
    return ap_arena_size_of(sizeof(int64_t) * (AP_ROWS_BLOCK + 1) + sizeof(int32_t) * (size_t)AP_ROWS_BLOCK * (size_t)t_cap);
}

int ap_fused_usable(const struct ap_model *m) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    return ops->predict_rows && ops->rows_prepare && ops->rows_bytes && !ops->end_layer && !m->observer.on_head;
}

enum ap_status ap_fused_reserve(struct ap_model *m, int32_t s_cap, int32_t t_cap) {
    const size_t need = rows_part(m, s_cap, t_cap) + lists_part(t_cap) +
                        ap_arena_size_of(sizeof(float) * ap_attention_sparse_scratch(m->info.head_dim));
    if (need <= m->fused_stride && s_cap <= m->fused_s_cap && t_cap <= m->fused_t_cap) return AP_OK;
    free(m->fused_buf);
    m->fused_stride = 0;
    m->fused_s_cap = m->fused_t_cap = 0;
    m->fused_buf = malloc(need * (size_t)m->n_threads);
    if (!m->fused_buf)
        return ap_error(AP_ERR_NOMEM, "out of memory for the fused predictor's %zu bytes per thread", need);
    m->fused_stride = need;
    m->fused_s_cap = s_cap;
    m->fused_t_cap = t_cap;
    return AP_OK;
}

enum ap_status ap_fused_head(struct ap_model *m, int tid, const struct ap_head_inputs *in,
                             const struct ap_attn_head *kh, int64_t *kept, int64_t *valid) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    const void *state = ap_method_state(m->method);
    AP_ASSERT(in->n_q <= m->fused_s_cap && in->n_k <= m->fused_t_cap);
    unsigned char *buf = m->fused_buf + (size_t)tid * m->fused_stride;
    const size_t rows = rows_part(m, m->fused_s_cap, m->fused_t_cap);
    int64_t *row_ptr = (int64_t *)(void *)(buf + rows);
    int32_t *cols = (int32_t *)(row_ptr + AP_ROWS_BLOCK + 1);
    float *sparse = (float *)(void *)(buf + rows + lists_part(m->fused_t_cap));
    enum ap_status st = ops->rows_prepare(state, in, buf);
    for (int32_t i0 = 0; st == AP_OK && i0 < in->n_q; i0 += AP_ROWS_BLOCK) {
        const int32_t nb = in->n_q - i0 < AP_ROWS_BLOCK ? in->n_q - i0 : AP_ROWS_BLOCK;
        st = ops->predict_rows(state, in, buf, i0, nb, row_ptr, cols, kept, valid);
        if (st == AP_OK) ap_attention_sparse_rows(kh, i0, nb, row_ptr, cols, sparse, ap_cpu_features());
    }
    return st;
}
