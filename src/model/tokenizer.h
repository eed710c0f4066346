/* tokenizer.h — the library's tokenizers behind the public ap_tokenizer_*
 * functions of attnprune.h (tokenizer.c dispatches on the kind):
 *
 *   WordPiece as BERT uses it (wordpiece.c), reproducing Hugging Face
 *   tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + "[CLS] $A
 *   [SEP]" template, id for id;
 *   byte-level BPE as GPT-2 and SmolLM2 use it (bpe.c), reproducing
 *   tokenizers' [Digits +] ByteLevel pre-tokenizer + BPE model + ByteLevel
 *   decoder, id for id (docs/tokenizer.md).
 *
 * Legend: V = vocabulary size, W = max_input_chars_per_word, M = BPE merges.
 *
 * Usage:
 *     struct ap_wordpiece_params p = ap_wordpiece_default_params();
 *     struct ap_tokenizer *tok = NULL;
 *     if (ap_wordpiece_load("models/all-MiniLM-L6-v2/vocab.txt", p, &tok) != AP_OK) ... ap_last_error()
 *     int32_t ids[256], n = 0;
 *     ap_tokenizer_encode(tok, "Hello, world.", 13, 0, ids, 256, &n);   // 101 7592 1010 2088 1012 102
 *     ap_tokenizer_free(tok);
 *
 *     struct ap_gguf *g = NULL;                    // byte-level BPE from a GGUF's tokenizer.ggml.* keys
 *     if (ap_gguf_open("models/SmolLM2-135M-Instruct/model.gguf", &g) != AP_OK) ...
 *     enum ap_status st = ap_bpe_load_gguf(g, &tok);
 *     ap_gguf_close(g);                            // the tokenizer keeps nothing of the file
 *     ap_tokenizer_encode(tok, "Hello, world.", 13, 0, ids, 256, &n);   // 19556 28 905 30
 *     char text[64]; size_t len;
 *     ap_tokenizer_decode(tok, ids, n, text, sizeof text, &len);       // "Hello, world.", len 13
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
    AP_TOKENIZER_BPE = 2,       /* GPT-2 family: byte-level pre-tokenizer, merges by rank          */
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

/* ---------------------------------------------------------- byte-level BPE */

/* The pre-tokenizers of byte-level BPE, by their GGUF name
 * (tokenizer.ggml.pre). Both end in the GPT-2 split regex
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * as Hugging Face's ByteLevel(use_regex=true) applies it. */
enum ap_bpe_pre {
    AP_BPE_PRE_GPT2 = 1,   /* "gpt2", "default": the regex alone                               */
    AP_BPE_PRE_SMOLLM = 2, /* "smollm": Digits(individual_digits) first, every numeric
                              character a piece of its own, then the regex on what is left */
};

/* A byte string, not NUL-terminated (GGUF stores strings so). */
struct ap_bpe_str {
    const char *data;
    size_t len;
};

/* What a byte-level BPE tokenizer is made of, each field named after the
 * GGUF key (tokenizer.ggml.*) it comes from. The loader copies everything. */
struct ap_bpe_spec {
    const char *model;               /* tokenizer.ggml.model: must be "gpt2"                           */
    const char *pre;                 /* tokenizer.ggml.pre: "smollm", "gpt2", "default" (NULL = "default") */
    int32_t n_tokens;                /* V                                                               */
    const struct ap_bpe_str *tokens; /* (V) in GPT-2's byte-to-unicode spelling, e.g. "\xc4\xa0the" (Ġthe) */
    const int32_t *types;            /* (V) llama.cpp token types (1 normal, 2 unknown, 3 control,
                                        4 user-defined, 5 unused, 6 byte; 0 undefined); NULL = all normal */
    int32_t n_merges;                /* M                                                               */
    const struct ap_bpe_str *merges; /* (M) "left right", highest priority (rank 0) first              */
    int32_t bos_id, eos_id;          /* -1 = none                                                       */
    int32_t unk_id, pad_id;          /* -1 = none; recorded only: Hugging Face's BPE here has no unk   */
    int32_t add_bos, add_eos;        /* put bos_id before / eos_id after every encoding (0 or 1)       */
    int32_t max_tokens;              /* the tokenizer's own truncation length, BOS/EOS included; 0 = none */
};

/* A spec with every id -1, nothing added, no limit, pre NULL and no arrays. */
struct ap_bpe_spec ap_bpe_default_spec(void);

/* One merge rule in the hash table: the pair (left, right) of token ids
 * becomes token id at priority rank (lower merges first). */
struct ap_bpe_merge {
    int32_t left, right; /* left = -1: an empty slot */
    int32_t rank, id;
};

struct ap_bpe_state {
    enum ap_bpe_pre pre;
    int32_t n_merges;                 /* M                                                      */
    const struct ap_bpe_merge *merge; /* (merge_mask + 1) open-addressing table of the M merges */
    uint32_t merge_mask;
    int32_t byte_id[256];             /* the id of each byte's one-character token, -1 if absent */
    const uint32_t *dec_off;          /* (V + 1) token i decodes to dec[dec_off[i] .. dec_off[i + 1]) */
    const uint8_t *dec;               /* every token's decoded bytes                            */
    const uint8_t *type;              /* (V) token types as given (0 .. 6)                      */
    int32_t n_special;                /* control and user-defined tokens, matched verbatim     */
    const int32_t *special;           /* (n_special) their ids, longest text first             */
    int32_t bos_id, eos_id, add_bos, add_eos;
    int32_t max_tokens;               /* 0 = none                                               */
};

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

/* A loaded tokenizer of either kind: one allocation (ap_tokenizer_free). */
struct ap_tokenizer {
    enum ap_tokenizer_kind kind;
    struct ap_vocab vocab;
    int32_t pad_id, unk_id;           /* -1 when a BPE vocabulary has none                       */
    int32_t cls_id, sep_id, mask_id;  /* WordPiece; mask_id = -1 when the vocabulary has none    */
    /* WordPiece special tokens matched verbatim in the raw text before
     * normalization, as Hugging Face's added-token pass does ([PAD] [UNK]
     * [CLS] [SEP] [MASK]); BPE keeps its list in bpe. */
    int32_t n_special;
    int32_t special_ids[5];
    uint8_t special_first[32];     /* either kind: bit set of the first bytes of its special tokens */
    struct ap_wordpiece_params wp; /* WordPiece, with strip_accents resolved to 0 or 1 */
    struct ap_bpe_state bpe;       /* BPE */
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

/* Build a byte-level BPE tokenizer from spec; name labels messages (a file
 * name). Checks, naming the token or merge at fault: model "gpt2" and a known
 * pre (AP_ERR_UNSUPPORTED otherwise), at least one token, tokens valid
 * UTF-8 without NUL bytes and not repeated (AP_ERR_FORMAT), types 0 .. 6,
 * every merge "left right" of two tokens whose concatenation is a token,
 * ids in range. A merge listed twice keeps its later rank, as Hugging Face's
 * merge map does. *out is set only on success. */
enum ap_status ap_bpe_load_arrays(const struct ap_bpe_spec *spec, const char *name, struct ap_tokenizer **out);

/* The same from a GGUF file's tokenizer.ggml.* metadata (bpe_gguf.c):
 * tokenizer.ggml.model must be "gpt2" and tokenizer.ggml.pre (absent =
 * "default") one ap_bpe_pre names; bos/eos/unknown/padding ids and
 * add_bos_token/add_eos_token are read when present (absent: none, 0). */
struct ap_gguf;
enum ap_status ap_bpe_load_gguf(const struct ap_gguf *g, struct ap_tokenizer **out);

/* Token ids back to bytes, as Hugging Face's ByteLevel decoder does before
 * its lossy UTF-8 conversion: every token's characters mapped back through
 * GPT-2's byte-to-unicode table; a token with a character outside the table
 * (a control token such as "<|im_end|>" has none) gives its own UTF-8 bytes.
 * Writes the bytes to buf (cap bytes, no NUL counted), a NUL after them if
 * there is room, and their count to *len. The bytes may end inside a UTF-8
 * sequence (decode a prefix of ids while generating, the rest later).
 * AP_ERR_RANGE for an id outside [0, V), or when cap is too small (*len
 * then holds the count needed). */
enum ap_status ap_bpe_decode(const struct ap_tokenizer *tok, const int32_t *ids, int32_t n, char *buf, size_t cap,
                             size_t *len);

void ap_tokenizer_free(struct ap_tokenizer *tok);

/* The id of the vocabulary entry spelled s[0..len), or -1. */
int32_t ap_tokenizer_lookup(const struct ap_tokenizer *tok, const char *s, size_t len);

/* ------------------------------------------------ internal: tokenizer.c */

/* FNV-1a of n bytes, the vocabulary table's hash. */
uint32_t ap_vocab_hash(const char *s, size_t n);
/* The id of s[0..n) in v, or -1. */
int32_t ap_vocab_find(const struct ap_vocab *v, const char *s, size_t n);

/* Each kind's half of ap_tokenizer_encode, called with checked arguments and
 * valid UTF-8 text; max_tokens 0 = the tokenizer's own limit. */
enum ap_status ap_wordpiece_encode(const struct ap_tokenizer *tok, const uint8_t *text, size_t len,
                                   int32_t max_tokens, int32_t *ids, int32_t cap, int32_t *n_ids);
enum ap_status ap_bpe_encode(const struct ap_tokenizer *tok, const uint8_t *text, size_t len, int32_t max_tokens,
                             int32_t *ids, int32_t cap, int32_t *n_ids);

#endif
