/* bpe_gguf.c — a byte-level BPE tokenizer from a GGUF file's
 * tokenizer.ggml.* metadata, the keys llama.cpp's convert_hf_to_gguf.py
 * writes:
 *
 *   model            "gpt2" (byte-level BPE); anything else is refused
 *   pre              the pre-tokenizer name ("smollm", "gpt2", "default";
 *                    absent = "default")
 *   tokens           V strings, GPT-2's byte-to-unicode spelling
 *   token_type       V integers (1 normal, 3 control, 4 user-defined, ...);
 *                    absent = all normal
 *   merges           M strings "left right", rank order
 *   bos_token_id, eos_token_id, unknown_token_id, padding_token_id
 *   add_bos_token, add_eos_token
 *
 * Everything else is ap_bpe_load_arrays' (bpe.c): this file only turns the
 * metadata into a struct ap_bpe_spec whose strings point into the mapped
 * file, and the loader copies what it keeps. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/gguf.h"
#include "model/tokenizer.h"

#define KEY "tokenizer.ggml."

/* A metadata string as a C string in buf (cap bytes): the key must be a
 * string; one longer than buf or holding a NUL is cut, which can only make
 * it an unknown name, and shown with "...". */
static enum ap_status get_name(const struct ap_gguf *g, const char *key, char *buf, size_t cap) {
    struct ap_gguf_str s;
    enum ap_status st = ap_gguf_get_str(g, key, &s);
    if (st != AP_OK) return st;
    size_t n = s.len < cap - 4 ? (size_t)s.len : cap - 4;
    const char *nul = n ? memchr(s.data, '\0', n) : NULL;
    if (nul) n = (size_t)(nul - s.data);
    memcpy(buf, s.data, n);
    if (n < s.len) memcpy(buf + n, "...", 4);
    else buf[n] = '\0';
    return AP_OK;
}

/* An optional token id: -1 when absent. */
static enum ap_status get_id(const struct ap_gguf *g, const char *key, int32_t *out) {
    *out = -1;
    if (!ap_gguf_find_kv(g, key)) return AP_OK;
    uint32_t v = 0;
    enum ap_status st = ap_gguf_get_u32(g, key, &v);
    if (st != AP_OK) return st;
    if (v > INT32_MAX) return ap_error(AP_ERR_FORMAT, "%s: %s is %u, not a token id", ap_gguf_label(g), key, v);
    *out = (int32_t)v;
    return AP_OK;
}

static enum ap_status get_flag(const struct ap_gguf *g, const char *key, int32_t *out) {
    *out = 0;
    if (!ap_gguf_find_kv(g, key)) return AP_OK;
    int v = 0;
    enum ap_status st = ap_gguf_get_bool(g, key, &v);
    *out = v ? 1 : 0;
    return st;
}

static int is_integer_type(enum ap_gguf_type t) {
    return t == AP_GGUF_UINT8 || t == AP_GGUF_INT8 || t == AP_GGUF_UINT16 || t == AP_GGUF_INT16 ||
           t == AP_GGUF_UINT32 || t == AP_GGUF_INT32 || t == AP_GGUF_UINT64 || t == AP_GGUF_INT64;
}

enum ap_status ap_bpe_load_gguf(const struct ap_gguf *g, struct ap_tokenizer **out) {
    if (!out) return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_load_gguf: out is NULL");
    *out = NULL;
    if (!g) return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_load_gguf: the GGUF file is NULL");
    const char *name = ap_gguf_label(g);
    char model[64], pre[64];
    enum ap_status st = get_name(g, KEY "model", model, sizeof model);
    if (st != AP_OK) return st;
    int have_pre = ap_gguf_find_kv(g, KEY "pre") != NULL;
    if (have_pre && (st = get_name(g, KEY "pre", pre, sizeof pre)) != AP_OK) return st;

    struct ap_bpe_spec spec = ap_bpe_default_spec();
    spec.model = model;
    spec.pre = have_pre ? pre : NULL;
    if (strcmp(model, "gpt2") != 0) return ap_bpe_load_arrays(&spec, name, out); /* its message */

    const struct ap_gguf_kv *tokens = NULL, *merges = NULL, *types = ap_gguf_find_kv(g, KEY "token_type");
    if ((st = ap_gguf_get_array(g, KEY "tokens", AP_GGUF_STRING, &tokens)) != AP_OK) return st;
    if ((st = ap_gguf_get_array(g, KEY "merges", AP_GGUF_STRING, &merges)) != AP_OK) return st;
    if (tokens->n > INT32_MAX || merges->n > INT32_MAX)
        return ap_error(AP_ERR_RANGE, "%s: %llu tokens and %llu merges are too many", name,
                        (unsigned long long)tokens->n, (unsigned long long)merges->n);
    if (types && (types->type != AP_GGUF_ARRAY || !is_integer_type(types->elem_type) || types->n != tokens->n))
        return ap_error(AP_ERR_FORMAT, "%s: " KEY "token_type must be an integer array of %llu entries, one per token",
                        name, (unsigned long long)tokens->n);
    const size_t V = (size_t)tokens->n, M = (size_t)merges->n;
    struct ap_bpe_str *strs = malloc(sizeof *strs * (V + M + 1));
    int32_t *type = types ? malloc(sizeof *type * (V + 1)) : NULL;
    if (!strs || (types && !type)) {
        free(strs);
        free(type);
        return ap_error(AP_ERR_NOMEM, "%s: no memory for %zu tokens", name, V);
    }
    for (size_t i = 0; i < V; i++) {
        struct ap_gguf_str s = ap_gguf_array_str(g, tokens, i);
        strs[i].data = s.data;
        strs[i].len = (size_t)s.len;
        if (type) {
            int64_t t = ap_gguf_array_int(types, i);
            if (t < 0 || t > 6) {
                free(strs);
                free(type);
                return ap_error(AP_ERR_FORMAT, "%s: token %zu has type %lld; types are 0 .. 6", name, i, (long long)t);
            }
            type[i] = (int32_t)t;
        }
    }
    for (size_t i = 0; i < M; i++) {
        struct ap_gguf_str s = ap_gguf_array_str(g, merges, i);
        strs[V + i].data = s.data;
        strs[V + i].len = (size_t)s.len;
    }
    spec.n_tokens = (int32_t)V;
    spec.tokens = strs;
    spec.types = type;
    spec.n_merges = (int32_t)M;
    spec.merges = strs + V;
    if ((st = get_id(g, KEY "bos_token_id", &spec.bos_id)) == AP_OK &&
        (st = get_id(g, KEY "eos_token_id", &spec.eos_id)) == AP_OK &&
        (st = get_id(g, KEY "unknown_token_id", &spec.unk_id)) == AP_OK &&
        (st = get_id(g, KEY "padding_token_id", &spec.pad_id)) == AP_OK &&
        (st = get_flag(g, KEY "add_bos_token", &spec.add_bos)) == AP_OK &&
        (st = get_flag(g, KEY "add_eos_token", &spec.add_eos)) == AP_OK)
        st = ap_bpe_load_arrays(&spec, name, out);
    free(strs);
    free(type);
    return st;
}
