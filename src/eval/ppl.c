/* ppl.c — perplexity of a decoder on real text, dense and with a method, and
 * the method's distance from dense: mean KL divergence of the next-token
 * distributions and top-1 agreement (SPEC §1; docs/eval.md).
 *
 * Windows follow Hugging Face's perplexity guide: [b, min(b + ctx, N)) for
 * b = 0, stride, 2 stride, ...; a window scores each target t >= b + 1 that
 * no earlier window scored (t >= the previous window's end), from the logits
 * at t - 1. Each window is one prefill from an empty KV cache, run once
 * dense and once with the method on the same weights.
 *
 * Legend: N = tokens of text, W = tokens of a window, D = hidden, V = vocabulary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"
#include "methods/method.h"
#include "model/chunks.h"
#include "model/model.h"

#define ROW_BLOCK 64 /* logits rows computed at once */

struct ap_ppl_params ap_ppl_default_params(void) {
    struct ap_ppl_params p = {.ctx = 1024};
    return p;
}

/* Kept pairs and the method's statistics over a pass, per thread. */
struct density_acc {
    int64_t kept, decode_rows;
    double stats[2][AP_METHOD_MAX_STATS]; /* [0] prefill, [1] decode steps */
    char pad[40];
};
struct density_obs {
    struct density_acc *acc;
    int32_t n_threads;
};

#ifdef _OPENMP
#include <omp.h>
#endif

static void on_head(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out, const float *o,
                    int64_t o_stride) {
    (void)o, (void)o_stride;
    struct density_obs *ob = user;
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    if (t >= ob->n_threads) t = 0;
    ob->acc[t].kept += out->kept;
    const int step = in->n_q == 1;
    ob->acc[t].decode_rows += step;
    for (int32_t s = 0; s < AP_METHOD_MAX_STATS; s++) ob->acc[t].stats[step][s] += out->stats[s];
}

/* log-softmax of a row in double: out[v] = x[v] - lse. */
static double log_softmax(const float *x, int32_t V, double *out) {
    double mx = -INFINITY;
    for (int32_t v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double s = 0.0;
    for (int32_t v = 0; v < V; v++) s += exp((double)x[v] - mx);
    const double lse = mx + log(s);
    for (int32_t v = 0; v < V; v++) out[v] = (double)x[v] - lse;
    return lse;
}

static int32_t argmax(const float *x, int32_t V) {
    int32_t best = 0;
    for (int32_t v = 1; v < V; v++)
        if (x[v] > x[best]) best = v;
    return best;
}

enum ap_status ap_ppl_run(const char *model_path, const char *text_path, const char *method_spec,
                          struct ap_ppl_params p, void (*on_window)(void *user, const struct ap_ppl_window *w),
                          void *user, struct ap_ppl_result *res) {
    memset(res, 0, sizeof *res);
    if (p.ctx < 2) return ap_error(AP_ERR_INVALID_ARG, "ctx must be at least 2 tokens, got %d", p.ctx);
    if (p.stride < 0 || p.stride > p.ctx)
        return ap_error(AP_ERR_INVALID_ARG, "stride must be 1..ctx (%d), or 0 for ctx; got %d", p.ctx, p.stride);
    if (p.max_windows < 0) return ap_error(AP_ERR_INVALID_ARG, "max_windows must be >= 0");
    if (p.prefill < 0 || p.prefill >= p.ctx)
        return ap_error(AP_ERR_INVALID_ARG, "prefill must be 0 (whole windows) or 1..ctx-1 (%d), got %d", p.ctx - 1,
                        p.prefill);
    const int32_t stride = p.stride ? p.stride : p.ctx;
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = p.n_threads;
    mp.max_tokens = p.ctx;
    mp.calib_text = p.calib_text;
    struct ap_model *m = NULL;
    enum ap_status st = ap_model_load(model_path, mp, &m);
    if (st != AP_OK) return st;
    if (!m->llama) {
        ap_model_free(m);
        return ap_error(AP_ERR_UNSUPPORTED, "%s is not a decoder: perplexity needs a GGUF language model", model_path);
    }
    const int with_method = method_spec && *method_spec && strcmp(method_spec, "dense") != 0;
    struct ap_method *dense = NULL, *method = NULL;
    if (with_method) {
        st = ap_model_set_method(m, method_spec);
        if (st == AP_OK) {
            method = m->method;
            snprintf(res->note, sizeof res->note, "%s", m->info.method_note);
            const struct ap_method_ops *ops = ap_method_ops_of(method);
            res->n_stats = ops->n_stats < 12 ? ops->n_stats : 12;
            for (int32_t s = 0; s < res->n_stats; s++)
                snprintf(res->stat_names[s], sizeof res->stat_names[s], "%s", ops->stat_names[s]);
            st = ap_method_create("dense", &dense);
        }
    } else {
        dense = m->method;
    }
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int64_t N = 0;
    if (st == AP_OK) st = ap_read_text_file(text_path, &text, &len);
    if (st == AP_OK) st = ap_text_tokens(m->tok, text, len, text_path, &ids, &N);
    free(text);
    if (st == AP_OK && N < 2) st = ap_error(AP_ERR_EMPTY, "%s: %lld tokens; perplexity needs at least 2", text_path,
                                            (long long)N);
    const int32_t D = m->info.hidden, V = m->info.vocab_size;
    float *h_dense = NULL, *h_meth = NULL, *lg_dense = NULL, *lg_meth = NULL;
    double *lp_dense = NULL, *lp_meth = NULL;
    struct density_obs ob = {.n_threads = m->n_threads};
    if (st == AP_OK) {
        h_dense = malloc(sizeof(float) * (size_t)p.ctx * D);
        h_meth = malloc(sizeof(float) * (size_t)p.ctx * D);
        lg_dense = malloc(sizeof(float) * (size_t)ROW_BLOCK * V);
        lg_meth = malloc(sizeof(float) * (size_t)ROW_BLOCK * V);
        lp_dense = malloc(sizeof(double) * (size_t)V);
        lp_meth = malloc(sizeof(double) * (size_t)V);
        ob.acc = calloc((size_t)m->n_threads, sizeof *ob.acc);
        if (!h_dense || !h_meth || !lg_dense || !lg_meth || !lp_dense || !lp_meth || !ob.acc)
            st = ap_error(AP_ERR_NOMEM, "out of memory for windows of %d tokens", p.ctx);
    }
    const int64_t n_windows = st == AP_OK ? ap_ppl_window_count(N, p.ctx, stride, p.max_windows) : 0;
    res->tokens = N;
    double nll = 0.0, nll_dense = 0.0, kl = 0.0, secs_dense = 0.0, secs_meth = 0.0;
    int64_t scored = 0, agree = 0, kept = 0, valid = 0, prev_end = 0, w = 0;
    for (int64_t b = 0; st == AP_OK && w < n_windows; b += stride, w++) {
        const int64_t end = b + p.ctx < N ? b + p.ctx : N;
        const int32_t W = (int32_t)(end - b);
        const int64_t first = b + 1 > prev_end ? b + 1 : prev_end;
        prev_end = end;
        struct ap_ppl_window win = {.index = w, .n_windows = n_windows, .begin = b, .end = end, .scored = end - first};
        if (first >= end) continue;
        /* dense pass */
        double t0 = ap_time_now();
        m->method = dense;
        ap_model_reset(m);
        st = ap_model_decode(m, ids + b, W, h_dense, NULL);
        win.seconds_dense = ap_time_now() - t0;
        if (st != AP_OK) break;
        /* method pass, observed for density */
        if (with_method) {
            memset(ob.acc, 0, sizeof *ob.acc * (size_t)m->n_threads);
            struct ap_model_observer saved = m->observer;
            m->observer = (struct ap_model_observer){.on_head = on_head, .user = &ob};
            m->method = method;
            t0 = ap_time_now();
            ap_model_reset(m);
            const int32_t P = p.prefill > 0 && p.prefill < W ? p.prefill : W;
            st = ap_model_decode(m, ids + b, P, h_meth, NULL);
            for (int32_t i = P; st == AP_OK && i < W; i++) /* the generation stage, one token a step */
                st = ap_model_decode(m, ids + b + i, 1, h_meth + (int64_t)i * D, NULL);
            win.seconds = ap_time_now() - t0;
            m->observer = saved;
            if (st != AP_OK) break;
            /* density against the dense model's pairs: every head of every
             * layer, each position seeing itself and the ones before, so
             * what SpAtten's token and head pruning remove counts as pruned */
            int64_t wk = 0;
            const int64_t wv = (int64_t)m->info.n_layers * m->info.n_heads * ((int64_t)W * (W + 1) / 2);
            for (int32_t t = 0; t < m->n_threads; t++) {
                wk += ob.acc[t].kept;
                res->decode_rows += ob.acc[t].decode_rows;
                for (int32_t s = 0; s < AP_METHOD_MAX_STATS; s++) {
                    res->stats_prefill[s] += ob.acc[t].stats[0][s];
                    res->stats_decode[s] += ob.acc[t].stats[1][s];
                }
            }
            win.density = wv ? (double)wk / (double)wv : 1.0;
            kept += wk, valid += wv;
        } else {
            win.seconds = win.seconds_dense;
            win.density = 1.0;
        }
        /* targets first .. end-1, from rows first-1-b .. W-2, in blocks */
        double w_nll = 0.0, w_nll_dense = 0.0, w_kl = 0.0;
        int64_t w_agree = 0;
        for (int64_t r0 = first - 1 - b; r0 < W - 1; r0 += ROW_BLOCK) {
            const int32_t nr = (int32_t)(W - 1 - r0 < ROW_BLOCK ? W - 1 - r0 : ROW_BLOCK);
            ap_model_logits(m, h_dense + r0 * D, nr, lg_dense);
            if (with_method) ap_model_logits(m, h_meth + r0 * D, nr, lg_meth);
            for (int32_t r = 0; r < nr; r++) {
                const int32_t target = ids[b + r0 + r + 1];
                const float *ld = lg_dense + (int64_t)r * V;
                log_softmax(ld, V, lp_dense);
                w_nll_dense -= lp_dense[target];
                if (!with_method) continue;
                const float *lm = lg_meth + (int64_t)r * V;
                log_softmax(lm, V, lp_meth);
                w_nll -= lp_meth[target];
                double k = 0.0;
                for (int32_t v = 0; v < V; v++) k += exp(lp_dense[v]) * (lp_dense[v] - lp_meth[v]);
                w_kl += k > 0.0 ? k : 0.0;
                w_agree += argmax(ld, V) == argmax(lm, V);
            }
        }
        if (!with_method) w_nll = w_nll_dense, w_agree = win.scored;
        win.nll = w_nll;
        win.nll_dense = w_nll_dense;
        win.kl_sum = w_kl;
        win.top1_agree = w_agree;
        nll += w_nll, nll_dense += w_nll_dense, kl += w_kl, agree += w_agree, scored += win.scored;
        secs_dense += win.seconds_dense, secs_meth += win.seconds;
        if (on_window) on_window(user, &win);
    }
    if (st == AP_OK) {
        res->windows = n_windows;
        res->scored = scored;
        res->ppl_dense = exp(nll_dense / (double)scored);
        res->ppl = with_method ? exp(nll / (double)scored) : res->ppl_dense;
        res->kl_mean = with_method ? kl / (double)scored : 0.0;
        res->top1 = with_method ? (double)agree / (double)scored : 1.0;
        res->density = with_method && valid ? (double)kept / (double)valid : 1.0;
        res->seconds_dense = secs_dense;
        res->seconds = secs_meth;
    }
    if (with_method) {
        m->method = method; /* the model frees its own method; dense is ours */
        ap_method_free(dense);
    }
    free(ob.acc);
    free(h_dense), free(h_meth), free(lg_dense), free(lg_meth), free(lp_dense), free(lp_meth);
    free(ids);
    ap_model_free(m);
    return st;
}

int64_t ap_ppl_window_count(int64_t n_tokens, int32_t ctx, int32_t stride, int64_t max_windows) {
    if (n_tokens < 2 || ctx < 2) return 0;
    if (!stride) stride = ctx;
    int64_t n = 0;
    for (int64_t b = 0;; b += stride) {
        n++;
        if (b + ctx >= n_tokens || (max_windows && n >= max_windows)) return n;
    }
}
