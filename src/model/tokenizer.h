/* tokenizer.h — the library's tokenizers behind the public ap_tokenizer_*
 * functions of attnprune.h. Today: WordPiece as BERT uses it (wordpiece.c),
 * reproducing Hugging Face tokenizers' BertNormalizer + BertPreTokenizer +
 * WordPiece + "[CLS] $A [SEP]" template, id for id (docs/tokenizer.md).
 *
 * Legend: V = vocabulary size, W = max_input_chars_per_word.
 *
 * Usage:
 *     struct ap_wordpiece_params p = ap_wordpiece_default_params();
 *     struct ap_tokenizer *tok = NULL;
 *     if (ap_wordpiece_load("models/all-MiniLM-L6-v2/vocab.txt", p, &tok) != AP_OK) ... ap_last_error()
 *     int32_t ids[256], n = 0;
 *     ap_tokenizer_encode(tok, "Hello, world.", 13, 0, ids, 256, &n);   // 101 7592 1010 2088 1012 102
 *     ap_tokenizer_free(tok);
 *
 * A loaded tokenizer is read-only: ap_tokenizer_encode may run on one
 * tokenizer from several threads at once. */
#ifndef AP_MODEL_TOKENIZER_H
#define AP_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

enum ap_tokenizer_kind {
    AP_TOKENIZER_WORDPIECE = 1, /* BERT: normalizer, whitespace/punctuation split, greedy "##" pieces */
    AP_TOKENIZER_BPE = 2,       /* byte-level BPE from a GGUF file (GPT-2 style; SmolLM2) */
};

/* How a WordPiece tokenizer normalizes and splits; the fields mirror
 * tokenizer.json's BertNormalizer and WordPiece model. Booleans are 0 or 1. */
struct ap_wordpiece_params {
    int32_t lowercase;                /* per-character full lowercase mapping (1)               */
    int32_t strip_accents;            /* NFD, then drop nonspacing marks; -1 = follow lowercase */
    int32_t tokenize_chinese_chars;   /* put spaces around CJK ideographs (1)                   */
    int32_t clean_text;               /* drop control characters, map whitespace to ' ' (1)     */
    int32_t max_input_chars_per_word; /* W: longer words become [UNK] (100), 1 .. 1048576       */
    int32_t max_tokens;               /* truncation length with [CLS] and [SEP] (512); 0 = none */
};

struct ap_wordpiece_params ap_wordpiece_default_params(void);

/* Vocabulary: V tokens, NUL-terminated, in one block; a hash table maps
 * bytes to ids. Shared by every tokenizer kind. */
struct ap_vocab {
    int32_t n;            /* V */
    int32_t max_len;      /* longest token in bytes */
    const uint32_t *off;  /* (V + 1) token i is text[off[i] .. off[i + 1] - 1), then a NUL */
    const char *text;     /* all tokens, each followed by a NUL */
    const uint64_t *slot; /* (mask + 1) hash table: (hash << 32) | (id + 1), 0 = empty */
    uint32_t mask;        /* table size - 1 (a power of two, at least 2 V) */
};

struct ap_tokenizer {
    enum ap_tokenizer_kind kind;
    struct ap_vocab vocab;
    int32_t pad_id, unk_id, cls_id, sep_id, mask_id; /* mask_id = -1 when the vocabulary has none */
    /* Special tokens matched verbatim in the raw text before normalization,
     * as Hugging Face's added-token pass does ([PAD] [UNK] [CLS] [SEP] [MASK]). */
    int32_t n_special;
    int32_t special_ids[5];
    uint8_t special_first[32]; /* bit set of the first bytes of the special tokens */
    struct ap_wordpiece_params wp; /* with strip_accents resolved to 0 or 1 */
};

/* Load a BERT vocab.txt: one token per line, id = line number - 1. Lines end
 * at '\n'; trailing White_Space (so a '\r' of CRLF files) is trimmed, as
 * tokenizers' WordPiece::read_file does. A line left empty keeps its id but
 * matches nothing. Fails, naming the file and line, on an empty file, invalid
 * UTF-8, a NUL byte, a duplicate token, or a missing [PAD], [UNK], [CLS] or
 * [SEP]; params are checked too. *out is set only on success. */
enum ap_status ap_wordpiece_load(const char *vocab_path, struct ap_wordpiece_params params,
                                 struct ap_tokenizer **out);

/* The same from size bytes in memory (not kept); name labels messages. */
enum ap_status ap_wordpiece_load_memory(const char *data, size_t size, const char *name,
                                        struct ap_wordpiece_params params, struct ap_tokenizer **out);

struct ap_gguf;
/* Build the byte-level BPE tokenizer a GGUF file carries (tokenizer.ggml.*). */
enum ap_status ap_bpe_load_gguf(const struct ap_gguf *g, struct ap_tokenizer **out);

void ap_tokenizer_free(struct ap_tokenizer *tok);

/* The id of the vocabulary entry spelled s[0..len), or -1. */
int32_t ap_tokenizer_lookup(const struct ap_tokenizer *tok, const char *s, size_t len);

#endif
