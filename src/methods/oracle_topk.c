/* oracle_topk.c — baseline: per query row, the k largest exact probabilities.
 *
 * Legend: S = queries, T = keys, d = head dimension.
 *
 * Not a predictor anyone could build cheaply: it computes every exact score
 * to decide the mask, and serves as the upper bound the papers compare
 * their predictors against ("oracle top-k"). Per valid query row with n
 * visible keys (valid, not in the causal future) it keeps
 *     k_row = min(k, n)                      if k > 0,
 *     k_row = ceil(keep * n) (at least 1)    otherwise,
 * of the largest probabilities (the ceiling is taken of keep * n - 1e-9 so
 * that e.g. 0.3 * 100 gives 30 despite rounding). Ties at the k-th largest
 * value: lower key index wins (the top-k engine's rule, kernels/topk.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/probs_row.h"
#include "kernels/topk.h"
#include "methods/method.h"
#include "methods/oracle_rows.h"

struct oracle_topk {
    int64_t k;   /* absolute keys per row; 0 = use keep */
    double keep; /* fraction of the row's visible keys */
};

static const struct ap_param_desc g_params[] = {
    {"k", "0", "keys kept per query row, absolute (integer >= 0; 0 = use keep instead)"},
    {"keep", "0.5", "fraction of each row's valid keys kept, rounded up (0 < keep <= 1)"},
};

enum { STAT_ROWS, STAT_MASS, N_STATS };
static const char *const g_stat_names[N_STATS] = {"rows", "mass_kept"};

/* Keys to keep among n visible ones. */
static int32_t row_k(const struct oracle_topk *s, int32_t n) {
    if (n <= 0) return 0;
    if (s->k > 0) return s->k < n ? (int32_t)s->k : n;
    int32_t k = (int32_t)ceil(s->keep * (double)n - 1e-9);
    return k < 1 ? 1 : k > n ? n : k;
}

static enum ap_status topk_init(const char *params, void **state) {
    struct oracle_topk s = {.k = 0, .keep = 0.5};
    struct ap_param_iter it = {.p = params ? params : ""};
    int r;
    while ((r = ap_param_next(&it)) == 1) {
        enum ap_status st = AP_OK;
        if (strcmp(it.key, "k") == 0) st = ap_param_int(it.key, it.value, 0, INT32_MAX, &s.k);
        else if (strcmp(it.key, "keep") == 0) {
            st = ap_param_double(it.key, it.value, 0.0, 1.0, &s.keep);
            if (st == AP_OK && !(s.keep > 0.0))
                st = ap_error(AP_ERR_INVALID_ARG, "keep=%s: expected a fraction in (0, 1]", it.value);
        } else
            st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s' (k, keep)", it.key);
        if (st != AP_OK) return st;
    }
    if (r < 0) return AP_ERR_INVALID_ARG;
    struct oracle_topk *p = malloc(sizeof *p);
    if (!p) return ap_error(AP_ERR_NOMEM, "out of memory");
    *p = s;
    *state = p;
    return AP_OK;
}

/* Contract: see method.h. Per row: exact probabilities (kernels/probs_row.h,
 * a block of AP_ROWS_BLOCK rows at a time through oracle_rows.h, as the fused path), then the top-k engine over the visible keys.
 * Allocates the keys in double (T, d), a block's queries (ROWS, d) and
 * probabilities (ROWS, T), 2T doubles and T bytes per call. */
static enum ap_status topk_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct oracle_topk *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    void *buf = malloc(ap_oracle_rows_bytes(T, d));
    if (!buf) return ap_error(AP_ERR_NOMEM, "out of memory for %d keys", T);
    ap_oracle_rows_prepare(state, in, buf);
    int64_t kept = 0, valid = 0;
    for (int32_t i0 = 0; i0 < S; i0 += AP_ROWS_BLOCK) {
        const int32_t n_rows = S - i0 < AP_ROWS_BLOCK ? S - i0 : AP_ROWS_BLOCK;
        struct ap_oracle_rows *rb = ap_oracle_rows_block(in, buf, i0, n_rows);
        const double *pb = rb->p;
        const int32_t *n_vis = rb->n_vis;
        uint8_t *vis = rb->vis;
        double *scratch = rb->scratch;
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            const double *p = pb + (int64_t)r * T;
            uint8_t *mrow = out->mask + (int64_t)i * T;
            if (in->query_valid && !in->query_valid[i]) {
                memset(mrow, 0, (size_t)T);
                continue;
            }
            int32_t last = in->causal ? i + (T - S) : T - 1;
            const int32_t n = n_vis[r];
            for (int32_t j = 0; j < T; j++) vis[j] = j <= last && (!in->key_valid || in->key_valid[j]);
            struct ap_topk_result res;
            ap_topk_select(p, vis, T, row_k(s, n), AP_TOPK_PARALLELISM, scratch, mrow, &res);
            double mass = 0.0;
            for (int32_t j = 0; j < T; j++)
                if (mrow[j]) mass += p[j];
            out->stats[STAT_ROWS] += 1;
            out->stats[STAT_MASS] += mass;
            kept += res.kept;
            valid += n;
        }
    }
    free(buf);
    out->kept = kept;
    out->valid = valid;
    return AP_OK;
}

static void topk_free(void *state) { free(state); }

static size_t topk_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)state, (void)n_q;
    return ap_oracle_rows_bytes(n_k, d);
}

/* The fused path: predict's decisions for rows [i0, i0 + nb) as lists. */
static enum ap_status topk_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                        int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept, int64_t *valid) {
    const struct oracle_topk *s = state;
    const int32_t S = in->n_q, T = in->n_k;
    struct ap_oracle_rows *r = ap_oracle_rows_block(in, buf, i0, nb);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b, n = r->n_vis[b];
        if (!in->query_valid || in->query_valid[i]) {
            const int32_t last = in->causal ? i + (T - S) : T - 1;
            for (int32_t j = 0; j < T; j++) r->vis[j] = j <= last && (!in->key_valid || in->key_valid[j]);
            struct ap_topk_result res;
            ap_topk_select(r->p + (int64_t)b * T, r->vis, T, row_k(s, n), AP_TOPK_PARALLELISM, r->scratch, r->row,
                           &res);
            for (int32_t j = 0; j < T; j++)
                if (r->row[j]) cols[pos++] = j;
            *kept += res.kept;
            *valid += n;
        }
        row_ptr[b + 1] = pos;
    }
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"keep", "0.6"}};

const struct ap_method_ops ap_method_oracle_topk = {
    .name = "oracle-topk",
    .summary = "baseline: per query, the k largest exact probabilities (computes every score)",
    .paper = "oracle baseline of SpAtten (HPCA 2021) and Sanger (MICRO 2021)",
    .params = g_params,
    .n_params = (int32_t)(sizeof g_params / sizeof g_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = g_stat_names,
    .n_stats = N_STATS,
    .init = topk_init,
    .predict = topk_predict,
    .free = topk_free,
    .rows_bytes = topk_rows_bytes,
    .rows_prepare = ap_oracle_rows_prepare,
    .predict_rows = topk_predict_rows,
};
