/* chunks.h — real text as fixed-length model inputs. For BERT: every
 * line's word pieces (without [CLS]/[SEP]) as one token stream, cut into
 * chunks of T - 2 pieces, each wrapped in [CLS] ... [SEP]. For a decoder
 * (byte-level BPE): the whole text encoded at once, newlines included, cut
 * into chunks of T tokens. A tail shorter than a chunk is dropped, so every
 * chunk has exactly T tokens.
 *
 * Legend: N = chunks, T = tokens per chunk. */
#ifndef AP_MODEL_CHUNKS_H
#define AP_MODEL_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

/* *ids (N, T), malloc'ed; *n_chunks = N. Stops after max_chunks (0 = no
 * limit). label names the text in errors (invalid UTF-8 gives its line). */
enum ap_status ap_text_chunks(const struct ap_tokenizer *tok, const char *text, size_t len, int32_t T,
                              int64_t max_chunks, const char *label, int32_t **ids, int64_t *n_chunks);

/* The whole text as one sequence of token ids (*ids malloc'ed, *n of them),
 * with whatever special tokens the tokenizer adds. */
enum ap_status ap_text_tokens(const struct ap_tokenizer *tok, const char *text, size_t len, const char *label,
                              int32_t **ids, int64_t *n);

/* Read a whole text file; *out is NUL-terminated, malloc'ed. */
enum ap_status ap_read_text_file(const char *path, char **out, size_t *len);

#endif
