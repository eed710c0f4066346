/* model.c — the public ap_model_* functions: load by architecture, embed,
 * decode, switch methods. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "methods/method.h"
#include "model/calibration.h"
#include "model/llama.h"
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

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A decoder is a .gguf file, or a directory with model.gguf and no
 * config.json; *gguf receives the file and dir the directory. */
static int find_gguf(const char *path, char *gguf, char *dir, size_t cap) {
    char probe[4096];
    if (is_file(path) && ends_with(path, ".gguf")) {
        snprintf(gguf, cap, "%.4000s", path);
        const char *slash = strrchr(path, '/');
        if (slash)
            snprintf(dir, cap, "%.*s", (int)(slash - path), path);
        else
            snprintf(dir, cap, ".");
        return 1;
    }
    snprintf(probe, sizeof probe, "%.4000s/config.json", path);
    if (is_file(probe)) return 0;
    snprintf(probe, sizeof probe, "%.4000s/model.gguf", path);
    if (!is_file(probe)) return 0;
    snprintf(gguf, cap, "%.4000s", probe);
    snprintf(dir, cap, "%.4000s", path);
    return 1;
}

enum ap_status ap_model_load(const char *path, struct ap_model_params params, struct ap_model **out) {
    *out = NULL;
    if (!path || !*path) return ap_error(AP_ERR_INVALID_ARG, "no model given");
    if (params.n_threads < 0) return ap_error(AP_ERR_INVALID_ARG, "n_threads must be >= 0, got %d", params.n_threads);
    if (strlen(path) >= 4000) return ap_error(AP_ERR_INVALID_ARG, "model path is %zu bytes long", strlen(path));
    struct ap_model *m = calloc(1, sizeof *m);
    if (!m) return ap_error(AP_ERR_NOMEM, "out of memory loading %s", path);
    m->n_threads = params.n_threads ? params.n_threads : default_threads();
    char gguf[4096];
    const int decoder = find_gguf(path, gguf, m->dir, sizeof m->dir);
    if (!decoder) snprintf(m->dir, sizeof m->dir, "%.4000s", path);
    if (params.calib_text)
        snprintf(m->calib_text, sizeof m->calib_text, "%.4000s", params.calib_text);
    else
        snprintf(m->calib_text, sizeof m->calib_text, "%.4000s/%s", m->dir, AP_CALIB_DEFAULT_TEXT);
    /* GEMMs outside the attention loop use every thread of the model */
    openblas_set_num_threads(m->n_threads);
    enum ap_status st = ap_method_create_for(params.method, decoder, &m->method);
    if (st == AP_OK) st = decoder ? ap_llama_load(m, gguf, params) : ap_bert_load(m, path, params);
    if (st == AP_OK) st = ap_model_calibrate_method(m, m->dir, m->calib_text);
    if (st != AP_OK) {
        ap_model_free(m);
        return st;
    }
    const char *name = decoder ? gguf : path;
    const char *base = strrchr(name, '/');
    base = base && base[1] ? base + 1 : name;
    if (decoder && strcmp(base, "model.gguf") == 0) { /* name it after its directory */
        const char *d = strrchr(m->dir, '/');
        base = d && d[1] ? d + 1 : m->dir;
    }
    snprintf(m->info.name, sizeof m->info.name, "%.127s", base);
    snprintf(m->info.method, sizeof m->info.method, "%s", params.method && *params.method ? params.method : "dense");
    if (!decoder) m->info.n_kv_heads = m->info.n_heads;
    *out = m;
    return AP_OK;
}

void ap_model_free(struct ap_model *m) {
    if (!m) return;
    ap_method_free(m->method);
    ap_tokenizer_free(m->tok);
    ap_safetensors_close(m->st);
    ap_llama_free(m->llama);
    free(m->fused_buf);
    free(m->w.layers);
    ap_arena_free(&m->arena);
    free(m);
}

enum ap_status ap_model_set_method(struct ap_model *m, const char *spec) {
    struct ap_method *fresh = NULL, *old = m->method;
    enum ap_status st = ap_method_create_for(spec, m->info.arch == AP_ARCH_LLAMA, &fresh);
    if (st != AP_OK) return st;
    char old_note[sizeof m->info.method_note];
    memcpy(old_note, m->info.method_note, sizeof old_note);
    m->method = fresh;
    m->info.method_note[0] = '\0';
    st = ap_model_calibrate_method(m, m->dir, m->calib_text);
    if (st != AP_OK) {
        m->method = old;
        memcpy(m->info.method_note, old_note, sizeof old_note);
        ap_method_free(fresh);
        return st;
    }
    ap_method_free(old);
    snprintf(m->info.method, sizeof m->info.method, "%s", spec && *spec ? spec : "dense");
    return AP_OK;
}

void ap_model_set_observer(struct ap_model *m, struct ap_model_observer observer) { m->observer = observer; }

struct ap_method *ap_model_method(struct ap_model *m) { return m->method; }

void ap_model_get_info(const struct ap_model *m, struct ap_model_info *info) { *info = m->info; }

const struct ap_tokenizer *ap_model_tokenizer(const struct ap_model *m) { return m->tok; }

enum ap_status ap_model_forward(struct ap_model *m, const int32_t *ids, int32_t n, float *hidden_states,
                                float *embedding) {
    if (m->llama)
        return ap_error(AP_ERR_UNSUPPORTED, "%s is a decoder: use ap_model_decode, not ap_model_forward", m->info.name);
    return ap_bert_forward(m, ids, n, hidden_states, embedding);
}

enum ap_status ap_model_embed(struct ap_model *m, const char *text, size_t len, float *out) {
    if (m->llama)
        return ap_error(AP_ERR_UNSUPPORTED, "%s is a decoder; embed takes a BERT model", m->info.name);
    int32_t n = 0;
    enum ap_status st = ap_tokenizer_encode(m->tok, text, len, m->info.max_tokens, m->ids, m->s_cap, &n);
    if (st != AP_OK) return st;
    return ap_bert_forward(m, m->ids, n, NULL, out);
}

enum ap_status ap_model_embed_ids(struct ap_model *m, const int32_t *ids, const int32_t *lens, int64_t n, float *out) {
    if (m->llama)
        return ap_error(AP_ERR_UNSUPPORTED, "%s is a decoder; embed takes a BERT model", m->info.name);
    if (n < 0) return ap_error(AP_ERR_INVALID_ARG, "%lld sequences", (long long)n);
    /* everything checked first, so that a bad sequence fails before any work */
    for (int64_t s = 0, r = 0; s < n; s++) {
        if (lens[s] < 1 || lens[s] > m->s_cap)
            return ap_error(AP_ERR_RANGE, "sequence %lld: %d tokens; this model takes 1..%d", (long long)s, lens[s],
                            m->s_cap);
        for (int32_t i = 0; i < lens[s]; i++, r++)
            if (ids[r] < 0 || ids[r] >= m->info.vocab_size)
                return ap_error(AP_ERR_RANGE,
                                "sequence %lld: token id %d at position %d is outside the vocabulary (0..%d)",
                                (long long)s, ids[r], i, m->info.vocab_size - 1);
    }
    const int pack = ap_bert_can_pack(m);
    const int32_t D = m->info.hidden;
    for (int64_t s = 0; s < n;) {
        /* as many whole sequences as fit R_cap rows (one always fits) */
        int64_t rows = lens[s], e = s + 1;
        while (pack && e < n && rows + lens[e] <= m->r_cap) rows += lens[e++];
        enum ap_status st = pack ? ap_bert_embed_packed(m, ids, lens + s, (int32_t)(e - s), out + s * D)
                                 : ap_bert_forward(m, ids, lens[s], NULL, out + s * D);
        if (st != AP_OK)
            return e - s == 1 ? ap_error_prefix(st, "sequence %lld", (long long)s)
                              : ap_error_prefix(st, "sequences %lld..%lld", (long long)s, (long long)(e - 1));
        ids += rows;
        s = e;
    }
    return AP_OK;
}

enum ap_status ap_model_run(struct ap_model *m, const int32_t *ids, int32_t T) {
    if (!m->llama) return ap_bert_forward(m, ids, T, NULL, NULL);
    ap_model_reset(m);
    return ap_llama_decode(m, ids, T, NULL, NULL);
}

enum ap_status ap_model_decode(struct ap_model *m, const int32_t *ids, int32_t n, float *hidden, float *logits_last) {
    if (!m->llama) return ap_error(AP_ERR_UNSUPPORTED, "%s is an encoder; decode takes a decoder (GGUF)", m->info.name);
    return ap_llama_decode(m, ids, n, hidden, logits_last);
}

enum ap_status ap_model_logits(const struct ap_model *m, const float *hidden, int32_t n, float *logits) {
    if (!m->llama) return ap_error(AP_ERR_UNSUPPORTED, "%s is an encoder: it has no logits", m->info.name);
    if (n < 0) return ap_error(AP_ERR_INVALID_ARG, "%d rows of hidden states", n);
    ap_llama_lm_head(m, hidden, n, logits);
    return AP_OK;
}

void ap_model_reset(struct ap_model *m) {
    if (m->llama) m->llama->n_past = 0;
}

int32_t ap_model_n_past(const struct ap_model *m) { return m->llama ? m->llama->n_past : 0; }
