/* chunks.c — real text cut into fixed-length chunks of token ids. */
#include "model/chunks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/tokenizer.h"

enum ap_status ap_read_text_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ap_error(AP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (!got) break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return ap_error(AP_ERR_NOMEM, "%s: out of memory reading it", path);
    if (err) {
        free(buf);
        return ap_error(AP_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AP_OK;
}

enum ap_status ap_text_tokens(const struct ap_tokenizer *tok, const char *text, size_t len, const char *label,
                              int32_t **ids_out, int64_t *n_out) {
    *ids_out = NULL;
    *n_out = 0;
    if (len > (size_t)INT32_MAX / 2)
        return ap_error(AP_ERR_RANGE, "%s: %zu bytes of text; at most %d at once", label, len, INT32_MAX / 2);
    int32_t cap = (int32_t)(len / 3 + 1024), n = 0;
    for (;;) {
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
        if (!ids) return ap_error(AP_ERR_NOMEM, "%s: out of memory for %d token ids", label, cap);
        enum ap_status st = ap_tokenizer_encode(tok, text, len, INT32_MAX, ids, cap, &n);
        if (st == AP_ERR_RANGE && n > cap) { /* more tokens than guessed: once more with room */
            free(ids);
            cap = n;
            continue;
        }
        if (st != AP_OK) {
            free(ids);
            return ap_error_prefix(st, "%s", label);
        }
        *ids_out = ids;
        *n_out = n;
        return AP_OK;
    }
}

/* A decoder's chunks: the whole text as one token stream (BPE keeps the
 * newlines), cut into chunks of T with no special tokens. */
static enum ap_status stream_chunks(const struct ap_tokenizer *tok, const char *text, size_t len, int32_t T,
                                    int64_t max_chunks, const char *label, int32_t **ids_out, int64_t *n_out) {
    int32_t *ids = NULL;
    int64_t n = 0;
    enum ap_status st = ap_text_tokens(tok, text, len, label, &ids, &n);
    if (st != AP_OK) return st;
    int64_t n_chunks = n / T;
    if (max_chunks && n_chunks > max_chunks) n_chunks = max_chunks;
    if (!n_chunks) {
        free(ids);
        return ap_error(AP_ERR_EMPTY, "%s: %lld tokens of text, fewer than one chunk of %d", label, (long long)n, T);
    }
    *ids_out = ids; /* the chunks are the stream's first n_chunks * T ids */
    *n_out = n_chunks;
    return AP_OK;
}

enum ap_status ap_text_chunks(const struct ap_tokenizer *tok, const char *text, size_t len, int32_t T,
                              int64_t max_chunks, const char *label, int32_t **ids_out, int64_t *n_out) {
    *ids_out = NULL;
    *n_out = 0;
    if (tok->kind == AP_TOKENIZER_BPE) {
        if (T < 1) return ap_error(AP_ERR_INVALID_ARG, "chunks of %d tokens", T);
        return stream_chunks(tok, text, len, T, max_chunks, label, ids_out, n_out);
    }
    if (T < 3) return ap_error(AP_ERR_INVALID_ARG, "chunks of %d tokens leave no room for text", T);
    int32_t cap = 1 << 14, n = 0;
    int32_t *line_ids = malloc(sizeof(int32_t) * (size_t)cap);
    int64_t chunk_cap = 16, n_chunks = 0;
    int32_t *chunks = malloc(sizeof(int32_t) * (size_t)T * (size_t)chunk_cap);
    if (!line_ids || !chunks) {
        free(line_ids), free(chunks);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory cutting it into chunks", label);
    }
    enum ap_status st = AP_OK;
    int32_t fill = 1; /* position 0 is [CLS] */
    int64_t line_no = 1;
    for (size_t start = 0; start < len && (!max_chunks || n_chunks < max_chunks);) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t line_len = nl ? (size_t)(nl - (text + start)) : len - start;
        st = ap_tokenizer_encode(tok, text + start, line_len, INT32_MAX, line_ids, cap, &n);
        if (st == AP_ERR_RANGE && n > cap) { /* a long line: grow and encode it again */
            int32_t *bigger = realloc(line_ids, sizeof(int32_t) * (size_t)n);
            if (!bigger) {
                st = ap_error(AP_ERR_NOMEM, "%s: out of memory", label);
                break;
            }
            line_ids = bigger;
            cap = n;
            continue;
        }
        if (st != AP_OK) {
            st = ap_error_prefix(st, "%s:%lld", label, (long long)line_no);
            break;
        }
        for (int32_t i = 1; i + 1 < n; i++) { /* the pieces, without [CLS] and [SEP] */
            if (n_chunks == chunk_cap) {
                int32_t *bigger = realloc(chunks, sizeof(int32_t) * (size_t)T * (size_t)(chunk_cap * 2));
                if (!bigger) {
                    st = ap_error(AP_ERR_NOMEM, "%s: out of memory", label);
                    break;
                }
                chunks = bigger;
                chunk_cap *= 2;
            }
            int32_t *c = chunks + n_chunks * T;
            c[fill++] = line_ids[i];
            if (fill == T - 1) {
                c[0] = line_ids[0];     /* [CLS] */
                c[T - 1] = line_ids[n - 1]; /* [SEP] */
                n_chunks++;
                fill = 1;
                if (max_chunks && n_chunks >= max_chunks) break;
            }
        }
        if (st != AP_OK) break;
        start += line_len + 1;
        line_no++;
    }
    free(line_ids);
    if (st != AP_OK) {
        free(chunks);
        return st;
    }
    if (!n_chunks) {
        free(chunks);
        return ap_error(AP_ERR_EMPTY, "%s: fewer than %d tokens of text, not one chunk", label, T - 2);
    }
    *ids_out = chunks;
    *n_out = n_chunks;
    return AP_OK;
}
