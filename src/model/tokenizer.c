/* tokenizer.c — the public ap_tokenizer_* functions of attnprune.h: argument
 * and UTF-8 checks shared by every kind, then a dispatch on the kind
 * (wordpiece.c, bpe.c); and the vocabulary hash table both kinds use. */
#include <string.h>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

/* ------------------------------------------------------------ vocabulary */

/* FNV-1a: tokens are a few bytes long, so a simple byte loop is enough. */
uint32_t ap_vocab_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t ap_vocab_find(const struct ap_vocab *v, const char *s, size_t n) {
    uint32_t h = ap_vocab_hash(s, n);
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        uint64_t e = v->slot[i];
        if (!e) return -1;
        if ((uint32_t)(e >> 32) != h) continue;
        int32_t id = (int32_t)(uint32_t)e - 1;
        if (v->off[id + 1] - 1 - v->off[id] == n && memcmp(v->text + v->off[id], s, n) == 0) return id;
    }
}

int32_t ap_tokenizer_lookup(const struct ap_tokenizer *tok, const char *s, size_t len) {
    if (!tok || (!s && len)) return -1;
    return ap_vocab_find(&tok->vocab, s, len);
}

/* Every kind is one allocation. */
void ap_tokenizer_free(struct ap_tokenizer *tok) { free(tok); }

/* ------------------------------------------------------------ public API */

enum ap_status ap_tokenizer_encode(const struct ap_tokenizer *tok, const char *text, size_t len, int32_t max_tokens,
                                   int32_t *ids, int32_t cap, int32_t *n_ids) {
    if (n_ids) *n_ids = 0;
    if (!tok) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_encode: tokenizer is NULL");
    if (!n_ids) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_encode: n_ids is NULL");
    if (!text && len) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_encode: text is NULL but len is %zu", len);
    if (cap < 0 || (!ids && cap > 0))
        return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_encode: ids must hold cap >= 0 entries (cap %d, ids %s)",
                        cap, ids ? "set" : "NULL");
    if (max_tokens < 0)
        return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_encode: max_tokens must be >= 0 (0 = the tokenizer's own), got %d",
                        max_tokens);
    const uint8_t *t = (const uint8_t *)text;
    size_t bad = len ? ap_utf8_validate(t, len) : 0;
    if (bad != len)
        return ap_error(AP_ERR_ENCODING, "invalid UTF-8 at byte %zu (0x%02X) of a %zu-byte text", bad, t[bad], len);
    switch (tok->kind) {
    case AP_TOKENIZER_WORDPIECE: return ap_wordpiece_encode(tok, t, len, max_tokens, ids, cap, n_ids);
    case AP_TOKENIZER_BPE: return ap_bpe_encode(tok, t, len, max_tokens, ids, cap, n_ids);
    }
    return ap_error(AP_ERR_UNSUPPORTED, "ap_tokenizer_encode: unknown tokenizer kind %d", (int)tok->kind);
}

enum ap_status ap_tokenizer_decode(const struct ap_tokenizer *tok, const int32_t *ids, int32_t n, char *buf,
                                   size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!tok) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_decode: tokenizer is NULL");
    if (!len) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_decode: len is NULL");
    if (n < 0 || (!ids && n > 0))
        return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_decode: ids must hold n >= 0 entries (n %d, ids %s)", n,
                        ids ? "set" : "NULL");
    if (!buf && cap > 0) return ap_error(AP_ERR_INVALID_ARG, "ap_tokenizer_decode: buf is NULL but cap is %zu", cap);
    switch (tok->kind) {
    case AP_TOKENIZER_WORDPIECE:
        return ap_error(AP_ERR_UNSUPPORTED,
                        "ap_tokenizer_decode: WordPiece (BERT) ids do not decode back to text; only byte-level BPE does");
    case AP_TOKENIZER_BPE: return ap_bpe_decode(tok, ids, n, buf, cap, len);
    }
    return ap_error(AP_ERR_UNSUPPORTED, "ap_tokenizer_decode: unknown tokenizer kind %d", (int)tok->kind);
}

const char *ap_tokenizer_token(const struct ap_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->vocab.n) return NULL;
    return tok->vocab.text + tok->vocab.off[id];
}

int32_t ap_tokenizer_vocab_size(const struct ap_tokenizer *tok) { return tok ? tok->vocab.n : 0; }

int32_t ap_tokenizer_eos(const struct ap_tokenizer *tok) {
    return tok && tok->kind == AP_TOKENIZER_BPE ? tok->bpe.eos_id : -1;
}
