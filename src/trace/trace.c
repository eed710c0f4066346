/* trace.c — the trace: what a method decided and counted, per chunk, layer
 * and head, written for the simulators (SPEC §8, docs/trace-format.md).
 *
 *   trace.json   metadata: model, method spec with every parameter resolved,
 *                shapes, the names of the per-head and per-layer statistics
 *   heads.csv    chunk,layer,head,queries,keys,valid,kept,<head stats...>
 *   layers.csv   chunk,layer,tokens_active,heads_active,<layer stats...>
 *   rows.npy     int32 (N, L, H, T): kept keys of each query row (0 for rows
 *                not computed: pruned tokens, pruned heads)
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "methods/method.h"
#include "model/chunks.h"
#include "model/model.h"
#include "trace/synth.h"
#include "trace/trace_read.h"

#define AP_TRACE_DECODER_CHUNK 1024 /* default tokens per chunk of a decoder's trace */

struct head_rec {
    int32_t computed;
    int32_t queries, keys;
    int64_t kept, valid;
    double stats[AP_METHOD_MAX_STATS];
};

struct trace_obs {
    int32_t L, H, T;
    struct head_rec *heads;   /* (L, H) for the current chunk */
    int32_t *rows;            /* (L, H, T) for the current chunk */
    double *layer_stats;      /* (L, AP_METHOD_MAX_STATS) */
};

static void on_head(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out, const float *o,
                    int64_t o_stride) {
    (void)o, (void)o_stride;
    struct trace_obs *t = user;
    struct head_rec *r = &t->heads[(int64_t)in->layer * t->H + in->head];
    r->computed = 1;
    r->kept = out->kept;
    r->valid = out->valid;
    r->queries = r->keys = 0;
    for (int32_t i = 0; i < in->n_q; i++) r->queries += !in->query_valid || in->query_valid[i];
    for (int32_t j = 0; j < in->n_k; j++) r->keys += !in->key_valid || in->key_valid[j];
    memcpy(r->stats, out->stats, sizeof r->stats);
    int32_t *rows = t->rows + ((int64_t)in->layer * t->H + in->head) * t->T;
    for (int32_t i = 0; i < in->n_q; i++) {
        int32_t n = 0;
        for (int32_t j = 0; j < in->n_k; j++)
            if (ap_head_pair_valid(in, i, j) && (!out->mask || out->mask[(int64_t)i * in->n_k + j])) n++;
        rows[i] = n;
    }
}

static void on_layer(void *user, const struct ap_layer_view *view) {
    struct trace_obs *t = user;
    memcpy(t->layer_stats + (int64_t)view->layer * AP_METHOD_MAX_STATS, view->stats, sizeof view->stats);
}

/* Copy src into a trace field of cap bytes; a value that does not fit is an
 * error (a trace never carries a truncated parameter). */
static enum ap_status put(char *dst, size_t cap, const char *src, const char *what) {
    if (strlen(src) >= cap) return ap_error(AP_ERR_INVALID_ARG, "trace: %s is longer than %zu bytes", what, cap - 1);
    memcpy(dst, src, strlen(src) + 1);
    return AP_OK;
}

/* The trace's metadata (trace.json): model, shapes, the method with every
 * parameter resolved (defaults filled in from its table), statistic names;
 * and its arrays sized for n_chunks. */
static enum ap_status trace_init(struct ap_trace *tr, const struct ap_model *m, const char *spec, int64_t n_chunks,
                                 int32_t T) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    const int decoder = m->info.arch == AP_ARCH_LLAMA;
    const int32_t L = m->info.n_layers, H = m->info.n_heads;
    enum ap_status st;
    if ((st = put(tr->model, sizeof tr->model, m->info.name, "the model name")) != AP_OK ||
        (st = put(tr->architecture, sizeof tr->architecture, decoder ? "llama-decoder" : "bert-encoder", "")) !=
            AP_OK ||
        (st = put(tr->method, sizeof tr->method, ops->name, "the method name")) != AP_OK ||
        (st = put(tr->method_spec, sizeof tr->method_spec, spec ? spec : "dense", "the method spec")) != AP_OK ||
        (st = put(tr->method_paper, sizeof tr->method_paper, ops->paper, "the method's paper")) != AP_OK ||
        (st = put(tr->method_note, sizeof tr->method_note, m->info.method_note, "the method note")) != AP_OK)
        return st;
    tr->L = L, tr->H = H, tr->d = m->info.head_dim, tr->D = m->info.hidden, tr->N = (int32_t)n_chunks, tr->T = T;
    tr->causal = decoder;
    tr->n_params = ops->n_params, tr->P = ops->n_stats, tr->Q = ops->n_layer_stats;
    const int64_t nh = n_chunks * L * H, nl = n_chunks * L;
    tr->param_keys = calloc((size_t)(tr->n_params > 0 ? tr->n_params : 1), sizeof *tr->param_keys);
    tr->param_values = calloc((size_t)(tr->n_params > 0 ? tr->n_params : 1), sizeof *tr->param_values);
    tr->head_stat_names = calloc((size_t)(tr->P > 0 ? tr->P : 1), sizeof *tr->head_stat_names);
    tr->layer_stat_names = calloc((size_t)(tr->Q > 0 ? tr->Q : 1), sizeof *tr->layer_stat_names);
    tr->heads = calloc((size_t)(nh > 0 ? nh : 1), sizeof *tr->heads);
    tr->head_stats = calloc((size_t)(nh * tr->P > 0 ? nh * tr->P : 1), sizeof *tr->head_stats);
    tr->tokens_active = calloc((size_t)(nl > 0 ? nl : 1), sizeof *tr->tokens_active);
    tr->heads_active = calloc((size_t)(nl > 0 ? nl : 1), sizeof *tr->heads_active);
    tr->layer_stats = calloc((size_t)(nl * tr->Q > 0 ? nl * tr->Q : 1), sizeof *tr->layer_stats);
    tr->rows = calloc((size_t)(nh * T > 0 ? nh * T : 1), sizeof *tr->rows);
    if (!tr->param_keys || !tr->param_values || !tr->head_stat_names || !tr->layer_stat_names || !tr->heads ||
        !tr->head_stats || !tr->tokens_active || !tr->heads_active || !tr->layer_stats || !tr->rows)
        return ap_error(AP_ERR_NOMEM, "out of memory for a trace of %lld chunks", (long long)n_chunks);
    const char *colon = spec ? strchr(spec, ':') : NULL;
    for (int32_t i = 0; i < ops->n_params; i++) {
        const char *value = ops->params[i].def;
        char given[sizeof ((struct ap_param_iter *)0)->value];
        struct ap_param_iter it = {.p = colon ? colon + 1 : ""};
        while (ap_param_next(&it) == 1)
            if (strcmp(it.key, ops->params[i].key) == 0) {
                snprintf(given, sizeof given, "%s", it.value);
                value = given;
            }
        if ((st = put(tr->param_keys[i], AP_TRACE_NAME_MAX, ops->params[i].key, "a parameter name")) != AP_OK ||
            (st = put(tr->param_values[i], AP_TRACE_VALUE_MAX, value, ops->params[i].key)) != AP_OK)
            return st;
    }
    for (int32_t i = 0; i < tr->P; i++)
        if ((st = put(tr->head_stat_names[i], AP_TRACE_NAME_MAX, ops->stat_names[i], "a statistic name")) != AP_OK)
            return st;
    for (int32_t i = 0; i < tr->Q; i++)
        if ((st = put(tr->layer_stat_names[i], AP_TRACE_NAME_MAX, ops->layer_stat_names[i], "a statistic name")) !=
            AP_OK)
            return st;
    return AP_OK;
}

enum ap_status ap_trace_write(const char *model_dir, const char *text_path, const char *spec,
                              struct ap_eval_params params, const char *out_dir) {
    struct ap_model *m = NULL;
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = params.n_threads;
    mp.method = spec;
    mp.calib_text = params.calib_text;
    mp.max_tokens = params.chunk_tokens;
    enum ap_status st = ap_model_load(model_dir, mp, &m);
    if (st != AP_OK) return st;
    /* a decoder's chunks are causal prefills, each from an empty KV cache;
     * without --chunk they are AP_TRACE_DECODER_CHUNK tokens (the cache's
     * capacity would make one chunk of the whole context) */
    const int decoder = m->info.arch == AP_ARCH_LLAMA;
    if (decoder && !params.chunk_tokens && m->info.max_tokens > AP_TRACE_DECODER_CHUNK) {
        ap_model_free(m);
        m = NULL;
        mp.max_tokens = AP_TRACE_DECODER_CHUNK;
        if ((st = ap_model_load(model_dir, mp, &m)) != AP_OK) return st;
    }
    const int32_t L = m->info.n_layers, H = m->info.n_heads, T = m->info.max_tokens;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int64_t n_chunks = 0;
    struct trace_obs t = {.L = L, .H = H, .T = T};
    struct ap_trace tr;
    memset(&tr, 0, sizeof tr);
    st = ap_trace_dir_check(out_dir); /* before the model runs, not after */
    if (st == AP_OK) st = ap_read_text_file(text_path, &text, &len);
    if (st == AP_OK) {
        int64_t max_chunks = params.max_tokens ? (params.max_tokens + T - 1) / T : 0;
        st = ap_text_chunks(m->tok, text, len, T, max_chunks, text_path, &ids, &n_chunks);
    }
    free(text);
    if (st == AP_OK) st = trace_init(&tr, m, spec, n_chunks, T);
    if (st == AP_OK) {
        t.heads = calloc((size_t)L * H, sizeof *t.heads);
        t.layer_stats = calloc((size_t)L * AP_METHOD_MAX_STATS, sizeof(double));
        if (!t.heads || !t.layer_stats)
            st = ap_error(AP_ERR_NOMEM, "out of memory for a trace of %lld chunks", (long long)n_chunks);
        else
            ap_model_set_observer(m, (struct ap_model_observer){.on_head = on_head, .on_layer = on_layer, .user = &t});
    }
    for (int64_t c = 0; st == AP_OK && c < n_chunks; c++) {
        memset(t.heads, 0, sizeof *t.heads * (size_t)L * H);
        memset(t.layer_stats, 0, sizeof(double) * (size_t)L * AP_METHOD_MAX_STATS);
        t.rows = tr.rows + c * L * H * T;
        if (decoder) {
            ap_model_reset(m);
            st = ap_model_decode(m, ids + c * T, T, NULL, NULL);
        } else {
            st = ap_model_forward(m, ids + c * T, T, NULL, NULL);
        }
        if (st != AP_OK) break;
        for (int32_t l = 0; l < L; l++) {
            const int64_t li = c * L + l;
            int32_t heads_on = 0, tokens_on = 0;
            for (int32_t h = 0; h < H; h++) {
                const struct head_rec *r = &t.heads[(int64_t)l * H + h];
                heads_on += r->computed;
                if (r->computed && r->queries > tokens_on) tokens_on = r->queries;
                const int64_t hi = li * H + h;
                tr.heads[hi] = (struct ap_trace_head){.queries = r->queries, .keys = r->keys, .valid = r->valid,
                                                      .kept = r->kept};
                memcpy(tr.head_stats + hi * tr.P, r->stats, sizeof(double) * (size_t)tr.P);
            }
            tr.tokens_active[li] = tokens_on, tr.heads_active[li] = heads_on;
            memcpy(tr.layer_stats + li * tr.Q, t.layer_stats + (int64_t)l * AP_METHOD_MAX_STATS,
                   sizeof(double) * (size_t)tr.Q);
        }
        if (params.progress) params.progress(params.progress_user, c + 1, n_chunks);
    }
    if (st == AP_OK) st = ap_trace_save(&tr, out_dir);
    free(ids), free(t.heads), free(t.layer_stats);
    ap_trace_free(&tr);
    ap_model_free(m);
    return st;
}
