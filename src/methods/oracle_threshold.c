/* oracle_threshold.c — baseline: keep the pairs whose exact probability
 * exceeds a threshold.
 *
 * Legend: S = queries, T = keys, d = head dimension.
 *
 * The ideal that threshold predictors (Sanger, LEOPARD, SPRINT, HAMMER)
 * approximate: per valid query row, the softmax over its visible keys
 * (valid, not in the causal future) is computed exactly, and (i, j) is kept
 * iff p_ij > t (strictly). A row whose probabilities are all <= t (possible
 * only when t >= 1 / visible keys) would be empty; with keep_argmax=1 (the
 * default) it keeps its largest probability instead (lowest key index among
 * equal maxima), so that no query loses all of its context; keep_argmax=0
 * leaves it empty (the kernel then outputs zeros for that row). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/probs_row.h"
#include "methods/method.h"
#include "methods/oracle_rows.h"

struct oracle_threshold {
    double t;
    int64_t keep_argmax;
};

static const struct ap_param_desc g_params[] = {
    {"t", "2e-3", "probability threshold: keep p > t (0 <= t < 1)"},
    {"keep_argmax", "1", "1 = a row with no p > t keeps its largest probability; 0 = it stays empty"},
};

enum { STAT_ROWS, STAT_FORCED, STAT_EMPTY, STAT_MASS, N_STATS };
static const char *const g_stat_names[N_STATS] = {"rows", "forced_rows", "empty_rows", "mass_kept"};

static enum ap_status threshold_init(const char *params, void **state) {
    struct oracle_threshold s = {.t = 2e-3, .keep_argmax = 1};
    struct ap_param_iter it = {.p = params ? params : ""};
    int r;
    while ((r = ap_param_next(&it)) == 1) {
        enum ap_status st = AP_OK;
        if (strcmp(it.key, "t") == 0) {
            st = ap_param_double(it.key, it.value, 0.0, 1.0, &s.t);
            if (st == AP_OK && !(s.t < 1.0))
                st = ap_error(AP_ERR_INVALID_ARG, "t=%s: expected a probability in [0, 1)", it.value);
        } else if (strcmp(it.key, "keep_argmax") == 0)
            st = ap_param_int(it.key, it.value, 0, 1, &s.keep_argmax);
        else
            st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s' (t, keep_argmax)", it.key);
        if (st != AP_OK) return st;
    }
    if (r < 0) return AP_ERR_INVALID_ARG;
    struct oracle_threshold *p = malloc(sizeof *p);
    if (!p) return ap_error(AP_ERR_NOMEM, "out of memory");
    *p = s;
    *state = p;
    return AP_OK;
}

/* Contract: see method.h. Blocks of AP_ROWS_BLOCK rows through oracle_rows.h
 * (the same as the fused path). Allocates (T + ROWS) (d + ...) doubles per call:
 * the keys in double (T, d), a block's queries (ROWS, d) and probabilities
 * (ROWS, T) (kernels/probs_row.h's ap_probs_rows). */
static enum ap_status threshold_predict(const void *state, const struct ap_head_inputs *in,
                                        struct ap_head_output *out) {
    const struct oracle_threshold *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    void *buf = malloc(ap_oracle_rows_bytes(T, d));
    if (!buf) return ap_error(AP_ERR_NOMEM, "out of memory for %d keys", T);
    ap_oracle_rows_prepare(state, in, buf);
    int64_t kept = 0, valid = 0;
    for (int32_t i0 = 0; i0 < S; i0 += AP_ROWS_BLOCK) {
        const int32_t n_rows = S - i0 < AP_ROWS_BLOCK ? S - i0 : AP_ROWS_BLOCK;
        const struct ap_oracle_rows *rb = ap_oracle_rows_block(in, buf, i0, n_rows);
        const double *pb = rb->p;
        const int32_t *n_vis = rb->n_vis;
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            const double *p = pb + (int64_t)r * T;
            uint8_t *mrow = out->mask + (int64_t)i * T;
            memset(mrow, 0, (size_t)T);
            if (in->query_valid && !in->query_valid[i]) continue;
            int32_t last = in->causal ? i + (T - S) : T - 1;
            const int32_t n = n_vis[r];
            if (n == 0) continue; /* nothing visible: not a row that counts */
            int32_t row_kept = 0, arg = -1;
            double mass = 0.0;
            for (int32_t j = 0; j < T; j++) {
                if (p[j] > s->t) {
                    mrow[j] = 1;
                    row_kept++;
                    mass += p[j];
                }
                if (j <= last && (!in->key_valid || in->key_valid[j]) && (arg < 0 || p[j] > p[arg])) arg = j;
            }
            if (row_kept == 0 && s->keep_argmax) {
                mrow[arg] = 1;
                row_kept = 1;
                mass = p[arg];
                out->stats[STAT_FORCED] += 1;
            }
            if (row_kept == 0) out->stats[STAT_EMPTY] += 1;
            out->stats[STAT_ROWS] += 1;
            out->stats[STAT_MASS] += mass;
            kept += row_kept;
            valid += n;
        }
    }
    free(buf);
    out->kept = kept;
    out->valid = valid;
    return AP_OK;
}

static void threshold_free(void *state) { free(state); }

static size_t threshold_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)state, (void)n_q;
    return ap_oracle_rows_bytes(n_k, d);
}

/* The fused path: predict's decisions for rows [i0, i0 + nb) as lists. */
static enum ap_status threshold_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf,
                                             int32_t i0, int32_t nb, int64_t *row_ptr, int32_t *cols,
                                             int64_t *kept, int64_t *valid) {
    const struct oracle_threshold *s = state;
    const int32_t S = in->n_q, T = in->n_k;
    const struct ap_oracle_rows *r = ap_oracle_rows_block(in, buf, i0, nb);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b, n = r->n_vis[b];
        const double *p = r->p + (int64_t)b * T;
        if ((!in->query_valid || in->query_valid[i]) && n > 0) {
            const int32_t last = in->causal ? i + (T - S) : T - 1;
            int32_t arg = -1;
            const int64_t start = pos;
            for (int32_t j = 0; j < T; j++) {
                if (p[j] > s->t) cols[pos++] = j;
                if (j <= last && (!in->key_valid || in->key_valid[j]) && (arg < 0 || p[j] > p[arg])) arg = j;
            }
            if (pos == start && s->keep_argmax) cols[pos++] = arg;
            *kept += pos - start;
            *valid += n;
        }
        row_ptr[b + 1] = pos;
    }
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"t", "1e-4"}};

const struct ap_method_ops ap_method_oracle_threshold = {
    .name = "oracle-threshold",
    .summary = "baseline: keep pairs whose exact probability exceeds t (computes every score)",
    .paper = "oracle baseline of Sanger (MICRO 2021) and LEOPARD (ISCA 2022)",
    .params = g_params,
    .n_params = (int32_t)(sizeof g_params / sizeof g_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = g_stat_names,
    .n_stats = N_STATS,
    .init = threshold_init,
    .predict = threshold_predict,
    .free = threshold_free,
    .rows_bytes = threshold_rows_bytes,
    .rows_prepare = ap_oracle_rows_prepare,
    .predict_rows = threshold_predict_rows,
};
