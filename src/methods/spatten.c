/* spatten.c — SpAtten (Wang, Zhang, Han, HPCA 2021): cascade token and head
 * pruning with importance accumulated across layers, the quick-select top-k
 * engine, local value pruning and progressive quantization.
 *
 * Legend: S = queries, T = keys (= tokens in an encoder), d = head dimension,
 * H = heads, L = layers, N = tokens at the start of the sequence.
 *
 * What runs where:
 *   end_layer (after each layer's attention; decisions take effect from the
 *     next layer): token importance += the probability each active token
 *     received, summed over heads and queries (view->key_prob); head
 *     importance += the head's sum of |O| (view->head_out_abs). Then the
 *     top-k engine keeps the target number of tokens (and heads) among the
 *     active ones, by accumulated importance. Pruned tokens leave the
 *     sequence for every later layer: the model stops using them as queries
 *     and keys and freezes their hidden state (model/bert.c).
 *   predict (per head): SpAtten's attention over the surviving tokens is
 *     dense, so every valid pair is kept, unless local value pruning is on
 *     (v_keep < 1): then each query row keeps its ceil(v_keep * n) largest
 *     probabilities (n = visible keys) through the top-k engine. With pq=1
 *     the row's probabilities come from progressive quantization (MSB-only
 *     keys, recomputed with full keys when the maximum probability is below
 *     pq_threshold) and the per-row decisions are counted. In a prefill
 *     (summarization) the mask is still exact attention on the kept pairs.
 *     In a decode step (one query; generation stage, where SpAtten uses
 *     progressive quantization) whose caller offers K/V buffers, attention
 *     itself runs on the keys the row ended with (MSB-only, or full width
 *     after a requantization) and on values quantized to value_bits. The
 *     quantization scale is max |K| (|V|) of the keys in the cache at that
 *     step, recomputed each step (hardware would fix it per block).
 *
 * The keep-ratio schedule (the slides call the pruning ratio a
 * hyperparameter and give no schedule). We follow the rule a public
 * re-implementation of SpAtten attributes to the paper (the Learned Token
 * Pruning artifact's CascadeTokenPruner): the first max(3, ceil(0.15 L))
 * layers see every token, then the kept fraction falls linearly to its
 * final value. Here the fraction is that of the input of layer m:
 *     r(m) = 1                                         m < start
 *     linear:    1 - (1 - keep) * (m - start + 1) / (L - start)
 *     geometric: keep ^ ((m - start + 1) / (L - start))
 *     step:      keep
 * so the last layer computes on `keep` of the tokens; target tokens =
 * floor(r(m) * N + 0.5), at least 1; heads the same with head_keep, H and
 * head_start_layer. "auto" start = min(max(3, ceil(0.15 L)), L - 1).
 * keep_first / keep_last pin position 0 ([CLS]) / position N - 1 ([SEP]):
 * they are never pruned and count towards the target (they are kept even
 * when the target is smaller than the number pinned). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/probs_row.h"
#include "kernels/progressive.h"
#include "kernels/topk.h"
#include "methods/method.h"
#include "quant/msb_lsb.h"

enum schedule { SCHED_LINEAR, SCHED_GEOMETRIC, SCHED_STEP };

struct spatten_params {
    double token_keep, head_keep, v_keep, pq_threshold;
    int64_t start_layer, head_start_layer; /* -1 = auto */
    enum schedule schedule;
    int64_t keep_first, keep_last, pq, key_bits, msb_bits, parallelism, value_bits;
};

struct spatten {
    struct spatten_params p;
    /* per sequence (begin_sequence / end_layer, single-threaded) */
    int32_t n_tokens, n_layers, n_heads;
    int32_t n0;         /* N: active tokens at the first end_layer */
    int32_t last_token; /* position N - 1 pinned by keep_last (-1 before the first layer) */
    int32_t cap;        /* entries allocated below */
    double *token_imp;  /* (T) accumulated importance */
    double *head_imp;   /* (H) */
    double *scratch;    /* (2 max(T, H)) top-k engine */
    double *sums;       /* (max(T, H)) this layer's contributions */
    uint8_t *cand;      /* (max(T, H)) candidates of a selection */
    uint8_t *keep;      /* (max(T, H)) its result */
    uint8_t *pins;      /* (T) tokens never pruned (keep_first, keep_last) */
};

static const struct ap_param_desc g_params[] = {
    {"token_keep", "0.8", "fraction of the tokens the last layer computes on (0 < x <= 1; 1 = no token pruning)"},
    {"head_keep", "1", "fraction of the heads the last layer computes (0 < x <= 1; 1 = no head pruning)"},
    {"start_layer", "auto", "first layer that sees fewer tokens (1..; auto = min(max(3, ceil(0.15 L)), L - 1))"},
    {"head_start_layer", "auto", "first layer that computes fewer heads (1..; auto = as start_layer)"},
    {"schedule", "linear", "how the kept fraction falls from start_layer to the last layer: linear, geometric, step"},
    {"keep_first", "1", "1 = never prune token 0 ([CLS])"},
    {"keep_last", "0", "1 = never prune the last token ([SEP])"},
    {"v_keep", "1", "local value pruning: fraction of each row's largest probabilities kept (0 < x <= 1; 1 = off)"},
    {"pq", "0", "1 = progressive quantization per row: counted in a prefill, applied to the K and V attention reads in a decoder's decode steps"},
    {"key_bits", "12", "progressive quantization: full key width in bits (2..24)"},
    {"msb_bits", "8", "progressive quantization: MSB part fetched first (1..key_bits)"},
    {"pq_threshold", "0.1", "progressive quantization: recompute a row with the LSBs if its max probability < this"},
    {"value_bits", "8", "progressive quantization: value width in bits in a decode step (2..24; 0 = float values)"},
    {"topk_parallelism", "16", "top-k engine comparators per side (cycles per round = ceil(n / this) + 3)"},
};

enum { STAT_ROWS, STAT_V_PRUNED, STAT_V_ROUNDS, STAT_V_CYCLES, STAT_PQ_ROWS, STAT_PQ_REQUANT, STAT_PQ_BITS, N_STATS };
static const char *const g_stat_names[N_STATS] = {"rows",    "v_pruned",        "v_topk_rounds", "v_topk_cycles",
                                                  "pq_rows", "pq_requant_rows", "pq_key_bits"};

enum {
    LSTAT_TOKENS_ACTIVE,
    LSTAT_TOKENS_PRUNED,
    LSTAT_HEADS_ACTIVE,
    LSTAT_HEADS_PRUNED,
    LSTAT_TOKEN_ROUNDS,
    LSTAT_TOKEN_CYCLES,
    LSTAT_HEAD_ROUNDS,
    LSTAT_HEAD_CYCLES,
    N_LAYER_STATS
};
static const char *const g_layer_stat_names[N_LAYER_STATS] = {
    "tokens_active", "tokens_pruned", "heads_active", "heads_pruned",
    "token_topk_rounds", "token_topk_cycles", "head_topk_rounds", "head_topk_cycles"};

/* ------------------------------------------------------------ parameters */

static enum ap_status parse_fraction(const char *key, const char *value, double *out) {
    enum ap_status st = ap_param_double(key, value, 0.0, 1.0, out);
    if (st == AP_OK && !(*out > 0.0))
        return ap_error(AP_ERR_INVALID_ARG, "%s=%s: expected a fraction in (0, 1]", key, value);
    return st;
}

static enum ap_status parse_layer(const char *key, const char *value, int64_t *out) {
    if (strcmp(value, "auto") == 0) {
        *out = -1;
        return AP_OK;
    }
    enum ap_status st = ap_param_int(key, value, 1, 1 << 20, out);
    if (st != AP_OK) return ap_error(st, "%s=%s: expected 'auto' or a layer index >= 1", key, value);
    return AP_OK;
}

static enum ap_status spatten_init(const char *params, void **state) {
    struct spatten_params p = {
        .token_keep = 0.8, .head_keep = 1.0, .v_keep = 1.0, .pq_threshold = 0.1, .start_layer = -1,
        .head_start_layer = -1, .schedule = SCHED_LINEAR, .keep_first = 1, .keep_last = 0, .pq = 0,
        .key_bits = 12, .msb_bits = 8, .parallelism = AP_TOPK_PARALLELISM, .value_bits = 8,
    };
    struct ap_param_iter it = {.p = params ? params : ""};
    int r;
    int msb_given = 0;
    while ((r = ap_param_next(&it)) == 1) {
        const char *k = it.key, *v = it.value;
        enum ap_status st = AP_OK;
        if (strcmp(k, "token_keep") == 0) st = parse_fraction(k, v, &p.token_keep);
        else if (strcmp(k, "head_keep") == 0) st = parse_fraction(k, v, &p.head_keep);
        else if (strcmp(k, "v_keep") == 0) st = parse_fraction(k, v, &p.v_keep);
        else if (strcmp(k, "start_layer") == 0) st = parse_layer(k, v, &p.start_layer);
        else if (strcmp(k, "head_start_layer") == 0) st = parse_layer(k, v, &p.head_start_layer);
        else if (strcmp(k, "schedule") == 0) {
            if (strcmp(v, "linear") == 0) p.schedule = SCHED_LINEAR;
            else if (strcmp(v, "geometric") == 0) p.schedule = SCHED_GEOMETRIC;
            else if (strcmp(v, "step") == 0) p.schedule = SCHED_STEP;
            else st = ap_error(AP_ERR_INVALID_ARG, "schedule=%s: expected linear, geometric or step", v);
        } else if (strcmp(k, "keep_first") == 0) st = ap_param_int(k, v, 0, 1, &p.keep_first);
        else if (strcmp(k, "keep_last") == 0) st = ap_param_int(k, v, 0, 1, &p.keep_last);
        else if (strcmp(k, "pq") == 0) st = ap_param_int(k, v, 0, 1, &p.pq);
        else if (strcmp(k, "key_bits") == 0) st = ap_param_int(k, v, 2, AP_MSB_LSB_MAX_BITS, &p.key_bits);
        else if (strcmp(k, "msb_bits") == 0) {
            st = ap_param_int(k, v, 1, AP_MSB_LSB_MAX_BITS, &p.msb_bits);
            msb_given = 1;
        } else if (strcmp(k, "pq_threshold") == 0) st = ap_param_double(k, v, 0.0, 1.0, &p.pq_threshold);
        else if (strcmp(k, "topk_parallelism") == 0) st = ap_param_int(k, v, 1, 1 << 16, &p.parallelism);
        else if (strcmp(k, "value_bits") == 0) {
            st = ap_param_int(k, v, 0, AP_MSB_LSB_MAX_BITS, &p.value_bits);
            if (st == AP_OK && p.value_bits == 1)
                st = ap_error(AP_ERR_INVALID_ARG, "value_bits=1: expected 0 (float values) or 2..%d",
                              AP_MSB_LSB_MAX_BITS);
        }
        else st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s'", k);
        if (st != AP_OK) return st;
    }
    if (r < 0) return AP_ERR_INVALID_ARG;
    if (p.msb_bits > p.key_bits)
        return ap_error(AP_ERR_INVALID_ARG, "msb_bits=%lld: must not exceed key_bits=%lld%s", (long long)p.msb_bits,
                        (long long)p.key_bits, msb_given ? "" : " (msb_bits defaults to 8)");
    struct spatten *s = calloc(1, sizeof *s);
    if (!s) return ap_error(AP_ERR_NOMEM, "out of memory");
    s->p = p;
    s->n0 = -1;
    s->last_token = -1;
    *state = s;
    return AP_OK;
}

static void spatten_free(void *state) {
    struct spatten *s = state;
    if (!s) return;
    free(s->token_imp);
    free(s->head_imp);
    free(s->scratch);
    free(s->sums);
    free(s->cand);
    free(s->keep);
    free(s->pins);
    free(s);
}

/* -------------------------------------------------------------- schedule */

static int32_t auto_start(int32_t L) {
    int32_t s = (int32_t)ceil(0.15 * (double)L);
    if (s < 3) s = 3;
    if (s > L - 1) s = L - 1;
    return s < 1 ? 1 : s;
}

/* Target count for the input of layer m out of n, keep ratio `keep` from
 * layer `start` on (see the file comment). */
static int32_t schedule_target(enum schedule sched, double keep, int32_t start, int32_t m, int32_t L, int32_t n) {
    if (m < start || start >= L) return n;
    const double frac = (double)(m - start + 1) / (double)(L - start);
    double r;
    switch (sched) {
    case SCHED_GEOMETRIC: r = pow(keep, frac); break;
    case SCHED_STEP: r = keep; break;
    case SCHED_LINEAR:
    default: r = 1.0 - (1.0 - keep) * frac; break;
    }
    int32_t k = (int32_t)floor(r * (double)n + 0.5);
    return k < 1 ? 1 : k > n ? n : k;
}

/* ---------------------------------------------------------------- cascade */

static enum ap_status spatten_begin(void *state, int32_t n_tokens, int32_t n_layers, int32_t n_heads) {
    struct spatten *s = state;
    const int32_t need = n_tokens > n_heads ? n_tokens : n_heads;
    if (need > s->cap) {
        free(s->token_imp);
        free(s->head_imp);
        free(s->scratch);
        free(s->sums);
        free(s->cand);
        free(s->keep);
        free(s->pins);
        s->token_imp = malloc(sizeof(double) * (size_t)need);
        s->head_imp = malloc(sizeof(double) * (size_t)need);
        s->scratch = malloc(sizeof(double) * 2 * (size_t)need);
        s->sums = malloc(sizeof(double) * (size_t)need);
        s->cand = malloc((size_t)need);
        s->keep = malloc((size_t)need);
        s->pins = malloc((size_t)need);
        s->cap = need;
        if (!s->token_imp || !s->head_imp || !s->scratch || !s->sums || !s->cand || !s->keep || !s->pins) {
            s->cap = 0;
            return ap_error(AP_ERR_NOMEM, "out of memory for %d tokens", n_tokens);
        }
    }
    s->n_tokens = n_tokens;
    s->n_layers = n_layers;
    s->n_heads = n_heads;
    s->n0 = -1;
    s->last_token = -1;
    memset(s->token_imp, 0, sizeof(double) * (size_t)n_tokens);
    memset(s->head_imp, 0, sizeof(double) * (size_t)n_heads);
    return AP_OK;
}

/* Keep `target` of the active entries of active (n) by importance imp,
 * entries with pinned[i] always kept; updates active, returns the number
 * pruned and adds the engine's rounds and cycles. */
static int32_t prune_to(struct spatten *s, const double *imp, uint8_t *active, const uint8_t *pinned, int32_t n,
                        int32_t target, double *rounds, double *cycles) {
    int32_t n_active = 0, n_pinned = 0;
    for (int32_t i = 0; i < n; i++) {
        n_active += active[i] != 0;
        n_pinned += active[i] && pinned && pinned[i];
    }
    if (target >= n_active) return 0;
    for (int32_t i = 0; i < n; i++) s->cand[i] = active[i] && !(pinned && pinned[i]);
    const int32_t k = target > n_pinned ? target - n_pinned : 0;
    struct ap_topk_result res;
    ap_topk_select(imp, s->cand, n, k, (int32_t)s->p.parallelism, s->scratch, s->keep, &res);
    int32_t pruned = 0;
    for (int32_t i = 0; i < n; i++)
        if (s->cand[i] && !s->keep[i]) {
            active[i] = 0;
            pruned++;
        }
    *rounds += res.rounds;
    *cycles += (double)res.cycles;
    return pruned;
}

static enum ap_status spatten_end_layer(void *state, struct ap_layer_view *view) {
    struct spatten *s = state;
    const int32_t T = view->n_tokens, H = view->n_heads, L = view->n_layers, l = view->layer;
    if (T > s->cap || H > s->cap || T != s->n_tokens || H != s->n_heads)
        return ap_error(AP_ERR_INVALID_ARG, "layer view of %d tokens and %d heads, but the sequence began with %d and %d",
                        T, H, s->n_tokens, s->n_heads);
    if (s->n0 < 0) { /* the first layer fixes N and the last token */
        s->n0 = 0;
        for (int32_t j = 0; j < T; j++)
            if (view->token_active[j]) {
                s->n0++;
                s->last_token = j;
            }
    }
    /* importance: probability received, summed over heads (then queries, by the model) */
    for (int32_t j = 0; j < T; j++) s->sums[j] = 0.0;
    for (int32_t h = 0; h < H; h++) {
        if (!view->head_active[h]) continue;
        const double *kp = view->key_prob + (int64_t)h * T;
        for (int32_t j = 0; j < T; j++) s->sums[j] += kp[j];
    }
    for (int32_t j = 0; j < T; j++)
        if (view->token_active[j]) s->token_imp[j] += s->sums[j];
    for (int32_t h = 0; h < H; h++)
        if (view->head_active[h]) s->head_imp[h] += view->head_out_abs[h];

    double *st = view->stats;
    if (l + 1 < L) { /* decide the input of layer l + 1 */
        const int32_t t_start = s->p.start_layer < 0 ? auto_start(L) : (int32_t)s->p.start_layer;
        const int32_t h_start = s->p.head_start_layer < 0 ? t_start : (int32_t)s->p.head_start_layer;
        const int32_t t_target = schedule_target(s->p.schedule, s->p.token_keep, t_start, l + 1, L, s->n0);
        const int32_t h_target = schedule_target(s->p.schedule, s->p.head_keep, h_start, l + 1, L, H);
        memset(s->pins, 0, (size_t)T);
        if (s->p.keep_first) s->pins[0] = 1;
        if (s->p.keep_last && s->last_token >= 0) s->pins[s->last_token] = 1;
        st[LSTAT_TOKENS_PRUNED] = prune_to(s, s->token_imp, view->token_active, s->pins, T, t_target,
                                           &st[LSTAT_TOKEN_ROUNDS], &st[LSTAT_TOKEN_CYCLES]);
        st[LSTAT_HEADS_PRUNED] = prune_to(s, s->head_imp, view->head_active, NULL, H, h_target,
                                          &st[LSTAT_HEAD_ROUNDS], &st[LSTAT_HEAD_CYCLES]);
    }
    for (int32_t j = 0; j < T; j++) st[LSTAT_TOKENS_ACTIVE] += view->token_active[j] != 0;
    for (int32_t h = 0; h < H; h++) st[LSTAT_HEADS_ACTIVE] += view->head_active[h] != 0;
    return AP_OK;
}

/* ---------------------------------------------------------------- predict */

/* Query rows whose exact probabilities one dgemm computes (without pq). */
#define SPATTEN_ROWS 32

/* Contract: see method.h and the file comment. With v_keep = 1 and pq = 0
 * the mask is "every valid pair" (out->mask = NULL). Otherwise per row:
 * probabilities (exact, or progressive-quantized with pq=1), then the top-k
 * engine over the visible keys. Allocates O(T) doubles per call, and the
 * dequantized keys (2 T d doubles) and one value row (d) with pq=1. */
static enum ap_status spatten_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct spatten *s = state;
    const struct spatten_params *p = &s->p;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    const int value_pruning = p->v_keep < 1.0;
    out->valid = ap_head_valid_pairs(in);
    if (!value_pruning && !p->pq) {
        out->mask = NULL; /* dense over the surviving tokens */
        out->kept = out->valid;
        for (int32_t i = 0; i < S; i++) {
            if (in->query_valid && !in->query_valid[i]) continue;
            int32_t last = in->causal ? i + (T - S) : T - 1, n = 0;
            for (int32_t j = 0; j <= last && j < T; j++) n += !in->key_valid || in->key_valid[j];
            out->stats[STAT_ROWS] += n > 0;
        }
        return AP_OK;
    }
    /* without pq, exact probabilities a block of rows at a time (one dgemm,
     * kernels/probs_row.h): the keys in double (T, d), a block's queries
     * (ROWS, d) and probabilities (ROWS, T) */
    const int blocked = !p->pq;
    const size_t n_blk = blocked ? (size_t)T * d + (size_t)SPATTEN_ROWS * ((size_t)d + (size_t)T) : 0;
    double *buf = malloc(sizeof(double) * ((size_t)T * 3 + (p->pq ? (size_t)T * d * 2 + (size_t)d : 0) + n_blk));
    uint8_t *vis = malloc((size_t)T);
    if (!buf || !vis) {
        free(buf);
        free(vis);
        return ap_error(AP_ERR_NOMEM, "out of memory for %d keys", T);
    }
    double *prob = buf, *scratch = buf + T, *k_msb = buf + 3 * (size_t)T, *k_full = k_msb + (size_t)T * d;
    double *v_row = k_full + (size_t)T * d; /* (d), pq only */
    double *kd = buf + 3 * (size_t)T, *qd = kd + (size_t)T * d, *pb = qd + (size_t)SPATTEN_ROWS * d; /* not pq */
    int32_t n_vis[SPATTEN_ROWS];
    if (blocked) ap_keys_f64(in->k, in->k_stride, T, d, kd);
    /* a decode step (one query) whose caller takes quantized K/V: attention
     * itself then runs on the keys the row ended with and on quantized values */
    const int apply_pq = p->pq && S == 1 && out->k_eff && out->v_eff;
    if (p->pq) {
        const double ks = ap_msb_lsb_scale(in->k, T, d, in->k_stride, in->key_valid, (int32_t)p->key_bits);
        for (int32_t j = 0; j < T; j++)
            ap_msb_lsb_row(in->k + (int64_t)j * in->k_stride, d, ks, (int32_t)p->key_bits, (int32_t)p->msb_bits,
                           k_full + (int64_t)j * d, k_msb + (int64_t)j * d);
    }
    int64_t kept = 0;
    for (int32_t i = 0; i < S; i++) {
        uint8_t *mrow = out->mask + (int64_t)i * T;
        if (blocked && i % SPATTEN_ROWS == 0) {
            const int32_t n_rows = S - i < SPATTEN_ROWS ? S - i : SPATTEN_ROWS;
            ap_probs_rows(in->q + (int64_t)i * in->q_stride, in->q_stride, n_rows, kd, T, d, in->scale,
                          in->causal ? i + (T - S) : T - 1, in->causal ? 1 : 0, in->key_valid, qd, pb, n_vis);
        }
        if (blocked) prob = pb + (int64_t)(i % SPATTEN_ROWS) * T;
        if (in->query_valid && !in->query_valid[i]) {
            memset(mrow, 0, (size_t)T);
            continue;
        }
        const int32_t last = in->causal ? i + (T - S) : T - 1;
        const float *q = in->q + (int64_t)i * in->q_stride;
        int32_t n = 0;
        for (int32_t j = 0; j < T; j++) {
            vis[j] = j <= last && (!in->key_valid || in->key_valid[j]);
            n += vis[j];
        }
        if (n == 0) {
            memset(mrow, 0, (size_t)T);
            continue;
        }
        out->stats[STAT_ROWS] += 1;
        if (p->pq) {
            struct ap_pq_row_result r = ap_pq_row(q, k_msb, k_full, T, d, in->scale, last, in->key_valid,
                                                  p->pq_threshold, (int32_t)p->key_bits, (int32_t)p->msb_bits, prob);
            out->stats[STAT_PQ_ROWS] += 1;
            out->stats[STAT_PQ_REQUANT] += r.requant;
            out->stats[STAT_PQ_BITS] += r.key_bits;
            if (apply_pq) {
                const double *src = r.requant ? k_full : k_msb;
                for (int64_t x = 0; x < (int64_t)T * d; x++) out->k_eff[x] = (float)src[x];
                if (p->value_bits) {
                    const int32_t vb = (int32_t)p->value_bits;
                    const double vs = ap_msb_lsb_scale(in->v, T, d, in->v_stride, in->key_valid, vb);
                    for (int32_t j = 0; j < T; j++) {
                        ap_msb_lsb_row(in->v + (int64_t)j * in->v_stride, d, vs, vb, vb, v_row, NULL);
                        for (int32_t c = 0; c < d; c++) out->v_eff[(int64_t)j * d + c] = (float)v_row[c];
                    }
                } else {
                    for (int32_t j = 0; j < T; j++)
                        memcpy(out->v_eff + (int64_t)j * d, in->v + (int64_t)j * in->v_stride, sizeof(float) * (size_t)d);
                }
                out->kv_replaced = 1;
            }
        }
        if (!value_pruning) {
            memcpy(mrow, vis, (size_t)T);
            kept += n;
            continue;
        }
        int32_t k = (int32_t)ceil(p->v_keep * (double)n - 1e-9);
        if (k < 1) k = 1;
        struct ap_topk_result res;
        ap_topk_select(prob, vis, T, k, (int32_t)p->parallelism, scratch, mrow, &res);
        kept += res.kept;
        out->stats[STAT_V_PRUNED] += n - res.kept;
        out->stats[STAT_V_ROUNDS] += res.rounds;
        out->stats[STAT_V_CYCLES] += (double)res.cycles;
    }
    free(buf);
    free(vis);
    out->kept = kept;
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"token_keep", "1"}, {"v_keep", "0.6"}};

const struct ap_method_ops ap_method_spatten = {
    .name = "spatten",
    .summary = "cascade token and head pruning by accumulated importance, top-k engine, local value pruning",
    .paper = "SpAtten, HPCA 2021",
    .params = g_params,
    .n_params = (int32_t)(sizeof g_params / sizeof g_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = g_stat_names,
    .n_stats = N_STATS,
    .layer_stat_names = g_layer_stat_names,
    .n_layer_stats = N_LAYER_STATS,
    .init = spatten_init,
    .predict = spatten_predict,
    .free = spatten_free,
    .begin_sequence = spatten_begin,
    .end_layer = spatten_end_layer,
};
