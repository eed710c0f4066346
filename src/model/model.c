/* model.c — the public ap_model_* functions: load by architecture, embed. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "methods/method.h"
#include "model/calibration.h"
#include "model/model.h"
#include "model/tokenizer.h"

struct ap_model_params ap_model_default_params(void) {
    struct ap_model_params p = {.n_threads = 0, .max_tokens = 0, .method = NULL, .calib_text = NULL};
    return p;
}

static int32_t default_threads(void) {
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

enum ap_status ap_model_load(const char *dir, struct ap_model_params params, struct ap_model **out) {
    *out = NULL;
    if (!dir || !*dir) return ap_error(AP_ERR_INVALID_ARG, "no model directory given");
    if (params.n_threads < 0) return ap_error(AP_ERR_INVALID_ARG, "n_threads must be >= 0, got %d", params.n_threads);
    struct ap_model *m = calloc(1, sizeof *m);
    if (!m) return ap_error(AP_ERR_NOMEM, "out of memory loading %s", dir);
    m->n_threads = params.n_threads ? params.n_threads : default_threads();
    enum ap_status st = ap_method_create(params.method, &m->method);
    if (st == AP_OK) st = ap_bert_load(m, dir, params);
    if (st == AP_OK) {
        char calib[4096];
        snprintf(calib, sizeof calib, "%s/%s", dir, AP_CALIB_DEFAULT_TEXT);
        st = ap_model_calibrate_method(m, dir, params.calib_text ? params.calib_text : calib);
    }
    if (st != AP_OK) {
        ap_model_free(m);
        return st;
    }
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    snprintf(m->info.name, sizeof m->info.name, "%s", base);
    snprintf(m->info.method, sizeof m->info.method, "%s", params.method && *params.method ? params.method : "dense");
    openblas_set_num_threads(m->n_threads);
    *out = m;
    return AP_OK;
}

void ap_model_free(struct ap_model *m) {
    if (!m) return;
    ap_method_free(m->method);
    ap_tokenizer_free(m->tok);
    ap_safetensors_close(m->st);
    free(m->w.layers);
    ap_arena_free(&m->arena);
    free(m);
}

void ap_model_set_observer(struct ap_model *m, struct ap_model_observer observer) { m->observer = observer; }

struct ap_method *ap_model_method(struct ap_model *m) { return m->method; }

void ap_model_get_info(const struct ap_model *m, struct ap_model_info *info) { *info = m->info; }

const struct ap_tokenizer *ap_model_tokenizer(const struct ap_model *m) { return m->tok; }

enum ap_status ap_model_forward(struct ap_model *m, const int32_t *ids, int32_t n, float *hidden_states,
                                float *embedding) {
    return ap_bert_forward(m, ids, n, hidden_states, embedding);
}

enum ap_status ap_model_embed(struct ap_model *m, const char *text, size_t len, float *out) {
    int32_t n = 0;
    enum ap_status st = ap_tokenizer_encode(m->tok, text, len, m->info.max_tokens, m->ids, m->s_cap, &n);
    if (st != AP_OK) return st;
    return ap_bert_forward(m, m->ids, n, NULL, out);
}
