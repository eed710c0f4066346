/* pack_split.c — Sanger's pack & split (see pack_split.h).
 *
 * Legend: S = queries (rows), T = keys (columns). */
#include "mask/pack_split.h"

#include <stddef.h>

int ap_pack_split_params_ok(struct ap_pack_split_params p) { return p.ports > 0 && p.pes > 0 && p.pe_rows > 0; }

/* Does pair (i, j) exist: a valid key the query sees? The caller has
 * checked that query i is valid. */
static inline int pair_exists(const struct ap_mask_view *m, int32_t i, int32_t j) {
    return (!m->key_valid || m->key_valid[j]) && (!m->causal || j <= i + (m->n_k - m->n_q));
}

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Walk every sub-row that holds a valid pair, group by group and within a
 * group in query order: visit(ctx, i, g, c0, c1, kept) with the group's
 * columns [c0, c1) and the sub-row's kept valid pairs; group_end (or NULL)
 * after each group. */
typedef void (*subrow_fn)(void *ctx, int32_t i, int32_t g, int32_t c0, int32_t c1, int32_t kept);

static void walk(const struct ap_mask_view *m, int32_t ports, subrow_fn visit, void (*group_end)(void *ctx),
                 void *ctx) {
    const int32_t S = m->n_q, T = m->n_k;
    for (int32_t g = 0, c0 = 0; c0 < T; g++, c0 += ports) {
        const int32_t c1 = c0 + ports < T ? c0 + ports : T;
        for (int32_t i = 0; i < S; i++) {
            if (m->query_valid && !m->query_valid[i]) continue;
            const uint8_t *row = m->mask + (int64_t)i * T;
            int32_t exists = 0, kept = 0;
            for (int32_t j = c0; j < c1; j++) {
                if (!pair_exists(m, i, j)) continue;
                exists++;
                kept += row[j] != 0;
            }
            if (exists) visit(ctx, i, g, c0, c1, kept);
        }
        if (group_end) group_end(ctx);
    }
}

struct count_ctx {
    struct ap_pack_split_params p;
    struct ap_pack_split_stats *st;
    int64_t before_g, after_g; /* PE rows of the current group */
    int any_g;                 /* the group holds a valid pair */
};

static void count_subrow(void *vctx, int32_t i, int32_t g, int32_t c0, int32_t c1, int32_t kept) {
    (void)i, (void)g, (void)c0, (void)c1;
    struct count_ctx *ctx = vctx;
    ctx->any_g = 1;
    ctx->st->nnz += kept;
    if (kept == 0) {
        ctx->st->subrows_empty++;
        ctx->before_g++;
        return;
    }
    int64_t parts = ceil_div(kept, ctx->p.pes);
    ctx->st->subrows_nonempty++;
    ctx->st->subrows_after += parts;
    ctx->before_g += parts;
    ctx->after_g += parts;
}

static void count_group_end(void *vctx) {
    struct count_ctx *ctx = vctx;
    ctx->st->groups += ctx->any_g;
    ctx->st->blocks_before += ceil_div(ctx->before_g, ctx->p.pe_rows);
    ctx->st->blocks_after += ceil_div(ctx->after_g, ctx->p.pe_rows);
    ctx->before_g = ctx->after_g = 0;
    ctx->any_g = 0;
}

void ap_pack_split_count(const struct ap_mask_view *m, struct ap_pack_split_params p, struct ap_pack_split_stats *out) {
    *out = (struct ap_pack_split_stats){0};
    struct count_ctx ctx = {.p = p, .st = out};
    walk(m, p.ports, count_subrow, count_group_end, &ctx);
    out->subrows_before = out->subrows_empty + out->subrows_after;
}

struct encode_ctx {
    const struct ap_mask_view *m;
    struct ap_pack_split_params p;
    struct ap_subrow *out;
    int64_t cap, n;
};

static void encode_subrow(void *vctx, int32_t i, int32_t g, int32_t c0, int32_t c1, int32_t kept) {
    struct encode_ctx *ctx = vctx;
    if (kept == 0) return; /* pack */
    const uint8_t *row = ctx->m->mask + (int64_t)i * ctx->m->n_k;
    struct ap_subrow cur = {.query = i, .group = g, .part = 0, .nnz = 0, .col_first = -1, .col_last = -1};
    for (int32_t j = c0; j < c1; j++) {
        if (!row[j] || !pair_exists(ctx->m, i, j)) continue;
        if (cur.nnz == 0) cur.col_first = j;
        cur.col_last = j;
        if (++cur.nnz == ctx->p.pes) { /* split: this part is full */
            if (ctx->n < ctx->cap) ctx->out[ctx->n] = cur;
            ctx->n++;
            cur.part++;
            cur.nnz = 0;
        }
    }
    if (cur.nnz) {
        if (ctx->n < ctx->cap) ctx->out[ctx->n] = cur;
        ctx->n++;
    }
}

int64_t ap_pack_split_encode(const struct ap_mask_view *m, struct ap_pack_split_params p, struct ap_subrow *out,
                             int64_t cap) {
    struct encode_ctx ctx = {.m = m, .p = p, .out = out, .cap = out ? cap : 0, .n = 0};
    walk(m, p.ports, encode_subrow, NULL, &ctx);
    return ctx.n;
}
