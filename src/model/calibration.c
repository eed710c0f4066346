/* calibration.c — per-layer score distributions of the dense model on
 * calibration text, for methods whose thresholds would be learned in their
 * paper (LEOPARD, SPRINT) but are calibrated here until training lands.
 *
 * The distribution is a histogram of scaled scores (scale * q·k over every
 * valid pair of every head) with AP_CALIB_BIN_WIDTH resolution, kept per
 * thread so heads can run concurrently and the result does not depend on
 * their order; quantiles are read from its cumulative counts. The result is
 * cached beside the model as calibration/score-quantiles-T.npy (L, Q + 1),
 * T the tokens per chunk, with the text's size and a hash in
 * calibration/score-quantiles-T.txt, so it is computed once per model, text
 * and chunk length.
 *
 * Legend: L = layers, Q = quantiles (AP_CALIB_QUANTILES), B = bins. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "io/npy.h"
#include "kernels/probs_row.h"
#include "methods/method.h"
#include "model/calibration.h"
#include "model/chunks.h"
#include "model/model.h"

#define AP_CALIB_LO (-64.0)         /* scores below are counted in the first bin */
#define AP_CALIB_HI 64.0            /* and above in the last */
#define AP_CALIB_BIN_WIDTH (1.0 / 512)
#define AP_CALIB_BINS ((int32_t)((AP_CALIB_HI - AP_CALIB_LO) / AP_CALIB_BIN_WIDTH))

struct calib_hist {
    int32_t n_layers, n_threads;
    int failed; /* a head could not allocate its scratch */
    uint64_t *count; /* (n_threads, L, B) */
};

/* Query rows whose scores one dgemm computes. */
#define CALIB_ROWS 32

static void on_head(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out, const float *o,
                    int64_t o_stride) {
    (void)out, (void)o, (void)o_stride;
    struct calib_hist *h = user;
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    if (tid >= h->n_threads) tid = h->n_threads - 1; /* cannot happen: the model uses n_threads */
    uint64_t *bins = h->count + ((int64_t)tid * h->n_layers + in->layer) * AP_CALIB_BINS;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    /* the keys in double (T, d), a block's queries (ROWS, d) and scores (ROWS, T) */
    double *kd = malloc(sizeof(double) * ((size_t)T * (size_t)d + (size_t)CALIB_ROWS * ((size_t)d + (size_t)T)));
    if (!kd) {
#pragma omp atomic write
        h->failed = 1;
        return;
    }
    double *qd = kd + (int64_t)T * d, *sb = qd + (int64_t)CALIB_ROWS * d;
    ap_keys_f64(in->k, in->k_stride, T, d, kd);
    for (int32_t i0 = 0; i0 < S; i0 += CALIB_ROWS) {
        const int32_t n_rows = S - i0 < CALIB_ROWS ? S - i0 : CALIB_ROWS;
        int32_t n_keys = in->causal ? i0 + n_rows + (T - S) : T;
        if (n_keys > T) n_keys = T;
        ap_scores_rows(in->q + (int64_t)i0 * in->q_stride, in->q_stride, n_rows, kd, n_keys, d, in->scale, qd, sb, T);
        for (int32_t r = 0; r < n_rows; r++)
            for (int32_t j = 0; j < n_keys; j++) {
                if (!ap_head_pair_valid(in, i0 + r, j)) continue;
                const double s = sb[(int64_t)r * T + j];
                int64_t b = (int64_t)floor((s - AP_CALIB_LO) / AP_CALIB_BIN_WIDTH);
                if (b < 0) b = 0;
                if (b >= AP_CALIB_BINS) b = AP_CALIB_BINS - 1;
                bins[b]++;
            }
    }
    free(kd);
}

/* FNV-1a over the text, to tell a cached result from another text's. */
static uint64_t text_hash(const char *text, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return h;
}

/* Quantiles (L, Q) from the merged histogram. */
static void histogram_quantiles(const uint64_t *count /* (L, B) */, int32_t L, float *q /* (L, Q) */,
                                int64_t *n_pairs /* (L) */) {
    for (int32_t l = 0; l < L; l++) {
        const uint64_t *c = count + (int64_t)l * AP_CALIB_BINS;
        uint64_t total = 0;
        int32_t first = -1, last = -1;
        for (int32_t b = 0; b < AP_CALIB_BINS; b++) {
            total += c[b];
            if (c[b]) {
                if (first < 0) first = b;
                last = b;
            }
        }
        n_pairs[l] = (int64_t)total;
        float *row = q + (int64_t)l * AP_CALIB_QUANTILES;
        if (!total) {
            for (int32_t k = 0; k < AP_CALIB_QUANTILES; k++) row[k] = 0.0f;
            continue;
        }
        /* value of the k/(Q-1) quantile: the bin where the cumulative count
         * crosses it, linearly interpolated inside the bin */
        int32_t b = first;
        uint64_t below = 0; /* counts in bins before b */
        for (int32_t k = 0; k < AP_CALIB_QUANTILES; k++) {
            double target = (double)k / (AP_CALIB_QUANTILES - 1) * (double)total;
            while (b < last && (double)(below + c[b]) < target) below += c[b++];
            double frac = c[b] ? (target - (double)below) / (double)c[b] : 0.0;
            if (frac < 0) frac = 0;
            if (frac > 1) frac = 1;
            row[k] = (float)(AP_CALIB_LO + ((double)b + frac) * AP_CALIB_BIN_WIDTH);
        }
    }
}

/* Run the dense model over the text in chunks of the model's max tokens and
 * fill q (L, Q) and n_pairs (L). */
static enum ap_status compute(struct ap_model *m, const char *text, size_t len, const char *label, float *q,
                              int64_t *n_pairs) {
    const int32_t L = m->info.n_layers, T = m->info.max_tokens;
    struct calib_hist h = {.n_layers = L, .n_threads = m->n_threads};
    h.count = calloc((size_t)m->n_threads * L * AP_CALIB_BINS, sizeof(uint64_t));
    int32_t *chunks = NULL;
    int64_t n_chunks = 0;
    if (!h.count) return ap_error(AP_ERR_NOMEM, "out of memory calibrating on %s", label);
    enum ap_status st = ap_text_chunks(m->tok, text, len, T, 0, label, &chunks, &n_chunks);
    if (st != AP_OK) {
        free(h.count);
        return st;
    }
    /* a dense pass: swap the method for dense while we observe */
    struct ap_method *dense = NULL, *saved = m->method;
    struct ap_model_observer saved_obs = m->observer;
    st = ap_method_create("dense", &dense);
    if (st == AP_OK) {
        m->method = dense;
        m->observer = (struct ap_model_observer){.on_head = on_head, .user = &h};
    }
    for (int64_t c = 0; st == AP_OK && c < n_chunks; c++) st = ap_model_run(m, chunks + c * T, T);
    if (st == AP_OK && h.failed) st = ap_error(AP_ERR_NOMEM, "out of memory for the calibration scores of %s", label);
    m->method = saved;
    m->observer = saved_obs;
    ap_method_free(dense);
    free(chunks);
    if (st == AP_OK) {
        for (int32_t t = 1; t < m->n_threads; t++) /* merge the threads' counts */
            for (int64_t i = 0; i < (int64_t)L * AP_CALIB_BINS; i++)
                h.count[i] += h.count[(int64_t)t * L * AP_CALIB_BINS + i];
        histogram_quantiles(h.count, L, q, n_pairs);
        AP_LOG_I("calibration: %lld chunks of %d tokens of %s", (long long)n_chunks, T, label);
    }
    free(h.count);
    return st;
}

enum ap_status ap_model_score_quantiles(struct ap_model *m, const char *model_dir, const char *text_path,
                                        float *q /* (L, Q) */, int64_t *n_pairs /* (L) */, char *source,
                                        size_t source_cap) {
    const int32_t L = m->info.n_layers;
    char *text = NULL;
    size_t len = 0;
    enum ap_status st = ap_read_text_file(text_path, &text, &len);
    if (st != AP_OK) return ap_error_prefix(st, "calibration text");
    char key[512], cache_dir[4096], npy_path[4200], key_path[4200];
    snprintf(key, sizeof key, "text %s, %zu bytes, fnv1a %016llx, %d tokens per chunk, bin %.6f", text_path, len,
             (unsigned long long)text_hash(text, len), m->info.max_tokens, AP_CALIB_BIN_WIDTH);
    snprintf(cache_dir, sizeof cache_dir, "%s/calibration", model_dir);
    /* one cache entry per chunk length: the score distribution depends on it */
    snprintf(npy_path, sizeof npy_path, "%s/score-quantiles-%d.npy", cache_dir, m->info.max_tokens);
    snprintf(key_path, sizeof key_path, "%s/score-quantiles-%d.txt", cache_dir, m->info.max_tokens);
    snprintf(source, source_cap, "%s", text_path);

    /* the cache: the key file must match exactly, the array must have (L, Q + 1)
     * with n_pairs in the last column */
    FILE *kf = fopen(key_path, "rb");
    if (kf) {
        char got[512] = "";
        size_t n = fread(got, 1, sizeof got - 1, kf);
        fclose(kf);
        got[n] = '\0';
        struct ap_npy *npy = NULL;
        const int64_t shape[2] = {L, AP_CALIB_QUANTILES + 1};
        const float *data = NULL;
        if (strcmp(got, key) == 0 && ap_npy_open(npy_path, &npy) == AP_OK &&
            ap_npy_f32(npy, 2, shape, &data) == AP_OK) {
            for (int32_t l = 0; l < L; l++) {
                memcpy(q + (int64_t)l * AP_CALIB_QUANTILES, data + (int64_t)l * (AP_CALIB_QUANTILES + 1),
                       sizeof(float) * AP_CALIB_QUANTILES);
                n_pairs[l] = (int64_t)data[(int64_t)l * (AP_CALIB_QUANTILES + 1) + AP_CALIB_QUANTILES];
            }
            ap_npy_close(npy);
            free(text);
            AP_LOG_I("calibration: cached score quantiles from %s", npy_path);
            return AP_OK;
        }
        ap_npy_close(npy);
    }
    AP_LOG_I("calibration: computing score quantiles of the dense model on %s (once; cached in %s)", text_path,
             cache_dir);
    st = compute(m, text, len, text_path, q, n_pairs);
    free(text);
    if (st != AP_OK) return st;

    /* write the cache; a read-only model directory only costs a note */
    float *rows = malloc(sizeof(float) * (size_t)L * (AP_CALIB_QUANTILES + 1));
    if (rows && (mkdir(cache_dir, 0755) == 0 || errno == EEXIST)) {
        for (int32_t l = 0; l < L; l++) {
            memcpy(rows + (int64_t)l * (AP_CALIB_QUANTILES + 1), q + (int64_t)l * AP_CALIB_QUANTILES,
                   sizeof(float) * AP_CALIB_QUANTILES);
            rows[(int64_t)l * (AP_CALIB_QUANTILES + 1) + AP_CALIB_QUANTILES] = (float)n_pairs[l];
        }
        const int64_t shape[2] = {L, AP_CALIB_QUANTILES + 1};
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", key_path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f && fputs(key, f) >= 0 && fclose(f) == 0 && ap_npy_write_f32(npy_path, rows, shape, 2) == AP_OK &&
            rename(tmp, key_path) == 0) {
            AP_LOG_I("calibration: cached in %s", npy_path);
        } else {
            if (f) remove(tmp);
            AP_LOG_W("calibration: could not cache the score quantiles in %s (read-only model directory?)",
                     cache_dir);
        }
    }
    free(rows);
    return AP_OK;
}

enum ap_status ap_model_calibrate_method(struct ap_model *m, const char *model_dir, const char *text_path) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    void *state = ap_method_state(m->method);
    if (!ops->needs_calibration || !ops->calibrate || !ops->needs_calibration(state)) return AP_OK;
    const int32_t L = m->info.n_layers;
    float *q = malloc(sizeof(float) * (size_t)L * AP_CALIB_QUANTILES);
    int64_t *n_pairs = malloc(sizeof(int64_t) * (size_t)L);
    struct ap_score_quantiles *layers = malloc(sizeof *layers * (size_t)L);
    char source[4096];
    enum ap_status st = q && n_pairs && layers ? AP_OK : ap_error(AP_ERR_NOMEM, "out of memory for calibration");
    if (st == AP_OK) st = ap_model_score_quantiles(m, model_dir, text_path, q, n_pairs, source, sizeof source);
    if (st == AP_OK) {
        for (int32_t l = 0; l < L; l++)
            layers[l] = (struct ap_score_quantiles){
                .layer = l, .n = AP_CALIB_QUANTILES, .value = q + (int64_t)l * AP_CALIB_QUANTILES, .n_pairs = n_pairs[l]};
        char note[512] = "";
        st = ops->calibrate(state, layers, L, note, sizeof note);
        if (st == AP_OK) {
            snprintf(m->info.method_note, sizeof m->info.method_note, "%.250s (calibration text: %.240s)", note, source);
            AP_LOG_I("%s: %s", ops->name, m->info.method_note);
        } else {
            st = ap_error_prefix(st, "method '%s': calibration", ops->name);
        }
    }
    free(q), free(n_pairs), free(layers);
    return st;
}
