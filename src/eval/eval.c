/* eval.c — fidelity of an attention method against dense attention on real
 * text (density, attention-mass recall, per-head output error, sentence
 * embedding cosine). SPEC §1 defines the metrics; docs/eval.md says how they
 * are aggregated.
 *
 * Legend: N = chunks, T = tokens per chunk, D = hidden, d = head dim,
 * L = layers, H = heads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/timer.h"
#include "kernels/probs_row.h"
#include "methods/method.h"
#include "model/chunks.h"
#include "model/model.h"

struct ap_eval {
    char model_dir[4096];
    struct ap_eval_params p;
    int32_t T, D;
    int64_t n_chunks;
    int32_t *ids;      /* (N, T) */
    float *dense_emb;  /* (N, D) */
};

/* Per-thread sums of the observer (padded apart to avoid false sharing). */
struct eval_acc {
    int64_t kept, rows, heads;
    double mass, err;
    char pad[64];
};

struct eval_obs {
    struct eval_acc *acc; /* (threads) */
    int32_t n_threads;
};

struct ap_eval_params ap_eval_default_params(void) {
    struct ap_eval_params p = {0};
    return p;
}

int64_t ap_eval_chunk_count(const struct ap_eval *ev) { return ev->n_chunks; }

void ap_eval_free(struct ap_eval *ev) {
    if (!ev) return;
    free(ev->ids);
    free(ev->dense_emb);
    free(ev);
}

static enum ap_status load(const struct ap_eval *ev, const char *spec, struct ap_model **m) {
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = ev->p.n_threads;
    mp.max_tokens = ev->T;
    mp.method = spec;
    mp.calib_text = ev->p.calib_text;
    return ap_model_load(ev->model_dir, mp, m);
}

enum ap_status ap_eval_open(const char *model_dir, const char *text_path, struct ap_eval_params params,
                            struct ap_eval **out) {
    *out = NULL;
    if (params.chunk_tokens < 0 || params.chunk_tokens == 1 || params.chunk_tokens == 2)
        return ap_error(AP_ERR_INVALID_ARG, "chunk_tokens must be 0 (the model's) or at least 3, got %d",
                        params.chunk_tokens);
    if (params.max_tokens < 0) return ap_error(AP_ERR_INVALID_ARG, "max_tokens must be >= 0");
    struct ap_eval *ev = calloc(1, sizeof *ev);
    if (!ev) return ap_error(AP_ERR_NOMEM, "out of memory");
    snprintf(ev->model_dir, sizeof ev->model_dir, "%s", model_dir);
    ev->p = params;
    struct ap_model *m = NULL;
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = params.n_threads;
    enum ap_status st = ap_model_load(model_dir, mp, &m);
    char *text = NULL;
    size_t len = 0;
    if (st == AP_OK) {
        ev->T = params.chunk_tokens ? params.chunk_tokens : m->info.max_tokens;
        ev->D = m->info.hidden;
        if (ev->T > m->info.max_positions)
            st = ap_error(AP_ERR_INVALID_ARG, "chunks of %d tokens exceed the model's %d positions", ev->T,
                          m->info.max_positions);
    }
    if (st == AP_OK) st = ap_read_text_file(text_path, &text, &len);
    if (st == AP_OK) {
        int64_t max_chunks = params.max_tokens ? (params.max_tokens + ev->T - 1) / ev->T : 0;
        st = ap_text_chunks(m->tok, text, len, ev->T, max_chunks, text_path, &ev->ids, &ev->n_chunks);
    }
    free(text);
    if (st == AP_OK) {
        ev->dense_emb = malloc(sizeof(float) * (size_t)ev->n_chunks * (size_t)ev->D);
        if (!ev->dense_emb) st = ap_error(AP_ERR_NOMEM, "out of memory for %lld embeddings", (long long)ev->n_chunks);
    }
    for (int64_t c = 0; st == AP_OK && c < ev->n_chunks; c++) {
        st = ap_model_forward(m, ev->ids + c * ev->T, ev->T, NULL, ev->dense_emb + c * ev->D);
        if (params.progress) params.progress(params.progress_user, c + 1, ev->n_chunks);
    }
    ap_model_free(m);
    if (st != AP_OK) {
        ap_eval_free(ev);
        return st;
    }
    *out = ev;
    return AP_OK;
}

/* For each computed query row: the dense softmax over valid keys
 * (ap_probs_row, the reference kernel's arithmetic),
 * the probability mass the mask keeps, and the dense output row, against
 * which the method's output row o is compared. */
static void on_head(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out, const float *o,
                    int64_t o_stride) {
    struct eval_obs *obs = user;
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    struct eval_acc *acc = &obs->acc[tid < obs->n_threads ? tid : obs->n_threads - 1];
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    double *p = malloc(sizeof(double) * (size_t)T);
    double *ref = malloc(sizeof(double) * (size_t)d);
    if (!p || !ref) { /* accounted as an empty head rather than a crash; cannot happen at these sizes */
        free(p), free(ref);
        return;
    }
    double diff2 = 0.0, ref2 = 0.0;
    for (int32_t i = 0; i < S; i++) {
        if (in->query_valid && !in->query_valid[i]) continue;
        const int32_t last = in->causal ? i + (T - S) : T - 1; /* last visible key */
        if (!ap_probs_row(in->q + (int64_t)i * in->q_stride, in->k, in->k_stride, T, d, in->scale, last,
                          in->key_valid, p))
            continue;
        double mass = 0.0;
        for (int32_t c = 0; c < d; c++) ref[c] = 0.0;
        const uint8_t *mrow = out->mask ? out->mask + (int64_t)i * T : NULL;
        for (int32_t j = 0; j < T; j++) {
            if (p[j] == 0.0) continue;
            const double pj = p[j];
            if (!mrow || mrow[j]) mass += pj;
            const float *v = in->v + (int64_t)j * in->v_stride;
            for (int32_t c = 0; c < d; c++) ref[c] += pj * (double)v[c];
        }
        const float *orow = o + (int64_t)i * o_stride;
        for (int32_t c = 0; c < d; c++) {
            double e = (double)orow[c] - ref[c];
            diff2 += e * e;
            ref2 += ref[c] * ref[c];
        }
        acc->mass += mass;
        acc->rows++;
    }
    if (ref2 > 0.0) {
        acc->err += sqrt(diff2 / ref2);
        acc->heads++;
    }
    acc->kept += out->kept;
    free(p), free(ref);
}

enum ap_status ap_eval_method(struct ap_eval *ev, const char *spec, struct ap_eval_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = ap_time_now();
    struct ap_model *m = NULL;
    enum ap_status st = load(ev, spec, &m);
    if (st != AP_OK) return st;
    const int32_t L = m->info.n_layers, H = m->info.n_heads, T = ev->T, D = ev->D;
    struct eval_obs obs = {.n_threads = m->n_threads};
    obs.acc = calloc((size_t)m->n_threads, sizeof *obs.acc);
    float *emb = malloc(sizeof(float) * (size_t)D);
    if (!obs.acc || !emb) st = ap_error(AP_ERR_NOMEM, "out of memory");
    if (st == AP_OK) ap_model_set_observer(m, (struct ap_model_observer){.on_head = on_head, .user = &obs});
    double cos_sum = 0.0, cos_min = 1.0;
    int64_t valid = 0;
    for (int64_t c = 0; st == AP_OK && c < ev->n_chunks; c++) {
        st = ap_model_forward(m, ev->ids + c * T, T, NULL, emb);
        if (st != AP_OK) break;
        /* every pair of the chunk is valid (no padding in an encoder chunk);
         * pairs a cascade method removed count as pruned */
        valid += (int64_t)L * H * T * T;
        const float *ref = ev->dense_emb + c * D;
        double dot = 0.0, na = 0.0, nb = 0.0;
        for (int32_t j = 0; j < D; j++) {
            dot += (double)emb[j] * ref[j];
            na += (double)emb[j] * emb[j];
            nb += (double)ref[j] * ref[j];
        }
        double cos = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0.0;
        cos_sum += cos;
        if (cos < cos_min) cos_min = cos;
        if (ev->p.progress) ev->p.progress(ev->p.progress_user, c + 1, ev->n_chunks);
    }
    if (st == AP_OK) {
        struct eval_acc tot = {0};
        for (int32_t t = 0; t < m->n_threads; t++) {
            tot.kept += obs.acc[t].kept;
            tot.rows += obs.acc[t].rows;
            tot.heads += obs.acc[t].heads;
            tot.mass += obs.acc[t].mass;
            tot.err += obs.acc[t].err;
        }
        res->density = valid ? (double)tot.kept / (double)valid : 0.0;
        res->mass_recall = tot.rows ? tot.mass / (double)tot.rows : 0.0;
        res->out_rel_err = tot.heads ? tot.err / (double)tot.heads : 0.0;
        res->emb_cos_mean = cos_sum / (double)ev->n_chunks;
        res->emb_cos_min = cos_min;
        res->chunks = ev->n_chunks;
        res->tokens = ev->n_chunks * T;
        snprintf(res->note, sizeof res->note, "%s", m->info.method_note);
        res->seconds = ap_time_now() - t0;
    }
    free(obs.acc);
    free(emb);
    ap_model_free(m);
    return st;
}
