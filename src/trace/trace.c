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
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/npy.h"
#include "methods/method.h"
#include "model/chunks.h"
#include "model/model.h"
#include "trace/trace_dir.h"

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

/* trace.json: the method's parameters with defaults filled in from its table. */
static cJSON *metadata(const struct ap_model *m, const char *spec, int64_t n_chunks, int32_t T) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "attnprune-trace");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", m->info.name);
    const int decoder = m->info.arch == AP_ARCH_LLAMA;
    cJSON_AddStringToObject(root, "architecture", decoder ? "llama-decoder" : "bert-encoder");
    cJSON_AddNumberToObject(root, "layers", m->info.n_layers);
    cJSON_AddNumberToObject(root, "heads", m->info.n_heads);
    cJSON_AddNumberToObject(root, "head_dim", m->info.head_dim);
    cJSON_AddNumberToObject(root, "hidden", m->info.hidden);
    cJSON_AddNumberToObject(root, "chunks", (double)n_chunks);
    cJSON_AddNumberToObject(root, "tokens_per_chunk", T);
    cJSON_AddBoolToObject(root, "causal", decoder);
    cJSON_AddStringToObject(root, "method", ops->name);
    cJSON_AddStringToObject(root, "method_spec", spec ? spec : "dense");
    cJSON_AddStringToObject(root, "method_paper", ops->paper);
    cJSON_AddStringToObject(root, "method_note", m->info.method_note);
    cJSON *params = cJSON_AddObjectToObject(root, "params");
    const char *colon = spec ? strchr(spec, ':') : NULL;
    for (int32_t i = 0; i < ops->n_params; i++) {
        const char *value = ops->params[i].def;
        char given[1024];
        struct ap_param_iter it = {.p = colon ? colon + 1 : ""};
        while (ap_param_next(&it) == 1)
            if (strcmp(it.key, ops->params[i].key) == 0) {
                snprintf(given, sizeof given, "%s", it.value);
                value = given;
            }
        cJSON_AddStringToObject(params, ops->params[i].key, value);
    }
    cJSON *hs = cJSON_AddArrayToObject(root, "head_stats");
    for (int32_t i = 0; i < ops->n_stats; i++) cJSON_AddItemToArray(hs, cJSON_CreateString(ops->stat_names[i]));
    cJSON *ls = cJSON_AddArrayToObject(root, "layer_stats");
    for (int32_t i = 0; i < ops->n_layer_stats; i++)
        cJSON_AddItemToArray(ls, cJSON_CreateString(ops->layer_stat_names[i]));
    cJSON_AddStringToObject(root, "files", "heads.csv layers.csv rows.npy");
    return root;
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
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    char *text = NULL, tmp[4200], path[4300];
    size_t len = 0;
    int32_t *ids = NULL, *all_rows = NULL;
    int64_t n_chunks = 0;
    FILE *fh = NULL, *fl = NULL;
    struct trace_obs t = {.L = L, .H = H, .T = T};
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_dir, (long)getpid());
    st = ap_read_text_file(text_path, &text, &len);
    if (st == AP_OK) {
        int64_t max_chunks = params.max_tokens ? (params.max_tokens + T - 1) / T : 0;
        st = ap_text_chunks(m->tok, text, len, T, max_chunks, text_path, &ids, &n_chunks);
    }
    free(text);
    if (st == AP_OK) {
        t.heads = calloc((size_t)L * H, sizeof *t.heads);
        t.layer_stats = calloc((size_t)L * AP_METHOD_MAX_STATS, sizeof(double));
        all_rows = calloc((size_t)n_chunks * L * H * T, sizeof(int32_t));
        if (!t.heads || !t.layer_stats || !all_rows)
            st = ap_error(AP_ERR_NOMEM, "out of memory for a trace of %lld chunks", (long long)n_chunks);
    }
    if (st == AP_OK && mkdir(tmp, 0755) != 0) st = ap_error(AP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    if (st == AP_OK) {
        snprintf(path, sizeof path, "%s/heads.csv", tmp);
        fh = fopen(path, "w");
        snprintf(path, sizeof path, "%s/layers.csv", tmp);
        fl = fopen(path, "w");
        if (!fh || !fl) st = ap_error(AP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    if (st == AP_OK) {
        fputs("chunk,layer,head,queries,keys,valid,kept", fh);
        for (int32_t i = 0; i < ops->n_stats; i++) fprintf(fh, ",%s", ops->stat_names[i]);
        fputc('\n', fh);
        fputs("chunk,layer,tokens_active,heads_active", fl);
        for (int32_t i = 0; i < ops->n_layer_stats; i++) fprintf(fl, ",%s", ops->layer_stat_names[i]);
        fputc('\n', fl);
        ap_model_set_observer(m, (struct ap_model_observer){.on_head = on_head, .on_layer = on_layer, .user = &t});
    }
    for (int64_t c = 0; st == AP_OK && c < n_chunks; c++) {
        memset(t.heads, 0, sizeof *t.heads * (size_t)L * H);
        memset(t.layer_stats, 0, sizeof(double) * (size_t)L * AP_METHOD_MAX_STATS);
        t.rows = all_rows + c * L * H * T;
        if (decoder) {
            ap_model_reset(m);
            st = ap_model_decode(m, ids + c * T, T, NULL, NULL);
        } else {
            st = ap_model_forward(m, ids + c * T, T, NULL, NULL);
        }
        if (st != AP_OK) break;
        for (int32_t l = 0; l < L; l++) {
            int32_t heads_on = 0, tokens_on = 0;
            for (int32_t h = 0; h < H; h++) {
                const struct head_rec *r = &t.heads[(int64_t)l * H + h];
                heads_on += r->computed;
                if (r->computed && r->queries > tokens_on) tokens_on = r->queries;
                fprintf(fh, "%lld,%d,%d,%d,%d,%lld,%lld", (long long)c, l, h, r->queries, r->keys, (long long)r->valid,
                        (long long)r->kept);
                for (int32_t i = 0; i < ops->n_stats; i++) fprintf(fh, ",%.17g", r->stats[i]);
                fputc('\n', fh);
            }
            fprintf(fl, "%lld,%d,%d,%d", (long long)c, l, tokens_on, heads_on);
            for (int32_t i = 0; i < ops->n_layer_stats; i++)
                fprintf(fl, ",%.17g", t.layer_stats[(int64_t)l * AP_METHOD_MAX_STATS + i]);
            fputc('\n', fl);
        }
        if (params.progress) params.progress(params.progress_user, c + 1, n_chunks);
    }
    if (fh && fclose(fh) != 0 && st == AP_OK) st = ap_error(AP_ERR_IO, "%s/heads.csv: write error", tmp);
    if (fl && fclose(fl) != 0 && st == AP_OK) st = ap_error(AP_ERR_IO, "%s/layers.csv: write error", tmp);
    if (st == AP_OK) {
        const int64_t shape[4] = {n_chunks, L, H, T};
        snprintf(path, sizeof path, "%s/rows.npy", tmp);
        st = ap_npy_write(path, AP_DTYPE_I32, all_rows, shape, 4);
    }
    if (st == AP_OK) {
        cJSON *meta = metadata(m, spec, n_chunks, T);
        char *json = meta ? cJSON_Print(meta) : NULL;
        cJSON_Delete(meta);
        snprintf(path, sizeof path, "%s/trace.json", tmp);
        FILE *f = json ? fopen(path, "w") : NULL;
        if (!f || fputs(json, f) < 0 || fputc('\n', f) == EOF || fclose(f) != 0)
            st = ap_error(AP_ERR_IO, "%s: write error", path);
        free(json);
    }
    if (st == AP_OK) st = ap_trace_dir_replace(tmp, out_dir);
    if (st != AP_OK) ap_trace_dir_discard(tmp); /* leave nothing half-written */
    free(ids), free(all_rows), free(t.heads), free(t.layer_stats);
    ap_model_free(m);
    return st;
}
