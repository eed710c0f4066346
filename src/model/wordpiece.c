/* wordpiece.c — BERT's WordPiece tokenizer, id for id what Hugging Face
 * tokenizers' fast BertTokenizer produces (docs/tokenizer.md).
 *
 * Legend: V = vocabulary size, W = max_input_chars_per_word.
 *
 * Encoding is one streaming pass over the text, stage by stage as tokenizers
 * applies them:
 *
 *   special tokens  [CLS] [SEP] [UNK] [PAD] [MASK] found verbatim in the raw
 *                   text are their own ids and cut the text into segments
 *   clean_text      drop U+0000, U+FFFD, controls; whitespace -> ' '
 *   chinese chars   ' ' c ' ' around CJK ideographs
 *   strip_accents   NFD (decompose, canonical reordering), drop Mn
 *   lowercase       per character, full mapping
 *   pre-tokenizer   split at whitespace (removed) and punctuation (kept as
 *                   one-character words)
 *   WordPiece       greedy longest-match-first per word, "##" on pieces after
 *                   the first; the whole word is [UNK] if a piece is missing
 *                   or it has more than W characters
 *   template        [CLS] pieces [SEP], pieces truncated to max_tokens - 2
 *
 * Per-call memory: a word buffer (4 W + 6 bytes), a canonical-reordering
 * buffer (W + 1 code points) and a piece buffer (W ids). For W <= 200 (BERT
 * uses 100) they live on the stack; above that one malloc per call. Nothing
 * is written into the tokenizer, so one tokenizer serves many threads. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/unicode_tables.h"
#include "model/utf8.h"

#define WP_MAX_WORD_CHARS (1 << 20)  /* upper bound accepted for W            */
#define WP_STACK_WORD_CHARS 200      /* W up to this uses stack scratch        */
#define WP_MAX_VOCAB_BYTES (1u << 30) /* vocabularies are a few hundred KB     */

struct ap_wordpiece_params ap_wordpiece_default_params(void) {
    struct ap_wordpiece_params p = {
        .lowercase = 1,
        .strip_accents = -1,
        .tokenize_chinese_chars = 1,
        .clean_text = 1,
        .max_input_chars_per_word = 100,
        .max_tokens = 512,
    };
    return p;
}

/* ------------------------------------------------------------ vocabulary */

/* The length of line[0..n) less trailing White_Space (Rust's trim_end).
 * The line is valid UTF-8. */
static size_t trim_end(const uint8_t *line, size_t n) {
    size_t keep = 0, pos = 0;
    uint32_t cp;
    while (pos < n) {
        if (!ap_utf8_decode(line, n, &pos, &cp)) return n; /* unreachable: validated */
        if (!(ap_uc_props(cp).flags & AP_UC_WS)) keep = pos;
    }
    return keep;
}

static enum ap_status check_params(struct ap_wordpiece_params *p) {
    if (p->lowercase != 0 && p->lowercase != 1)
        return ap_error(AP_ERR_INVALID_ARG, "wordpiece lowercase must be 0 or 1, got %d", p->lowercase);
    if (p->strip_accents < -1 || p->strip_accents > 1)
        return ap_error(AP_ERR_INVALID_ARG, "wordpiece strip_accents must be -1 (follow lowercase), 0 or 1, got %d",
                        p->strip_accents);
    if (p->tokenize_chinese_chars != 0 && p->tokenize_chinese_chars != 1)
        return ap_error(AP_ERR_INVALID_ARG, "wordpiece tokenize_chinese_chars must be 0 or 1, got %d",
                        p->tokenize_chinese_chars);
    if (p->clean_text != 0 && p->clean_text != 1)
        return ap_error(AP_ERR_INVALID_ARG, "wordpiece clean_text must be 0 or 1, got %d", p->clean_text);
    if (p->max_input_chars_per_word < 1 || p->max_input_chars_per_word > WP_MAX_WORD_CHARS)
        return ap_error(AP_ERR_INVALID_ARG, "wordpiece max_input_chars_per_word must be 1 .. %d, got %d",
                        WP_MAX_WORD_CHARS, p->max_input_chars_per_word);
    if (p->max_tokens < 0 || p->max_tokens == 1)
        return ap_error(AP_ERR_INVALID_ARG,
                        "wordpiece max_tokens must be 0 (no limit) or at least 2 (room for [CLS] and [SEP]), got %d",
                        p->max_tokens);
    if (p->strip_accents < 0) p->strip_accents = p->lowercase;
    return AP_OK;
}

/* A token for a message, cut to fit cap bytes with "..." when longer. */
static void quote_token(char *out, size_t cap, const char *s, size_t n) {
    size_t k = n < cap - 4 ? n : cap - 4;
    memcpy(out, s, k);
    if (k < n) memcpy(out + k, "...", 4);
    else out[k] = '\0';
}

enum ap_status ap_wordpiece_load_memory(const char *data, size_t size, const char *name,
                                        struct ap_wordpiece_params params, struct ap_tokenizer **out) {
    if (!out) return ap_error(AP_ERR_INVALID_ARG, "ap_wordpiece_load_memory: out is NULL");
    *out = NULL;
    if (!name) name = "vocabulary";
    if (!data && size) return ap_error(AP_ERR_INVALID_ARG, "%s: data is NULL", name);
    enum ap_status st = check_params(&params);
    if (st != AP_OK) return ap_error_prefix(st, "%s", name);
    if (size == 0) return ap_error(AP_ERR_EMPTY, "%s: the vocabulary file is empty", name);
    if (size > WP_MAX_VOCAB_BYTES)
        return ap_error(AP_ERR_RANGE, "%s: %zu bytes is too large for a vocabulary (limit %u)", name, size,
                        WP_MAX_VOCAB_BYTES);
    const uint8_t *d = (const uint8_t *)data;

    /* Pass 1: validate, count lines (tokens) and their trimmed bytes. Lines
     * end at '\n'; a final line without one still counts. */
    size_t n_lines = 0, text_bytes = 0;
    for (size_t pos = 0; pos < size;) {
        const uint8_t *nl = memchr(d + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - d) : size;
        size_t bad = ap_utf8_validate(d + pos, end - pos);
        if (bad != end - pos)
            return ap_error(AP_ERR_ENCODING, "%s:%zu: invalid UTF-8 at byte %zu of the file", name, n_lines + 1,
                            pos + bad);
        size_t n = trim_end(d + pos, end - pos);
        if (memchr(d + pos, '\0', n))
            return ap_error(AP_ERR_FORMAT, "%s:%zu: the token contains a NUL byte", name, n_lines + 1);
        text_bytes += n + 1;
        n_lines++;
        pos = end + 1;
    }
    if (n_lines > (size_t)INT32_MAX / 4)
        return ap_error(AP_ERR_RANGE, "%s: %zu lines is too many tokens", name, n_lines);

    /* One block: struct, offsets, hash table, text. */
    uint32_t cap = 1;
    while (cap < 2 * n_lines) cap <<= 1;
    size_t off_bytes = sizeof(uint32_t) * (n_lines + 1);
    size_t hdr = (sizeof(struct ap_tokenizer) + 7) & ~(size_t)7;
    size_t slot_at = hdr, off_at = slot_at + sizeof(uint64_t) * cap, text_at = off_at + off_bytes;
    char *block = calloc(1, text_at + text_bytes);
    if (!block) return ap_error(AP_ERR_NOMEM, "%s: no memory for %zu tokens", name, n_lines);
    struct ap_tokenizer *tok = (struct ap_tokenizer *)block;
    uint64_t *slot = (uint64_t *)(block + slot_at);
    uint32_t *off = (uint32_t *)(block + off_at);
    char *text = block + text_at;
    tok->kind = AP_TOKENIZER_WORDPIECE;
    tok->wp = params;
    tok->vocab.n = (int32_t)n_lines;
    tok->vocab.off = off;
    tok->vocab.text = text;
    tok->vocab.slot = slot;
    tok->vocab.mask = cap - 1;

    /* Pass 2: copy tokens and insert them. */
    size_t t = 0, id = 0;
    for (size_t pos = 0; pos < size; id++) {
        const uint8_t *nl = memchr(d + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - d) : size;
        size_t n = trim_end(d + pos, end - pos);
        off[id] = (uint32_t)t;
        memcpy(text + t, d + pos, n);
        text[t + n] = '\0';
        t += n + 1;
        pos = end + 1;
        if ((int32_t)n > tok->vocab.max_len) tok->vocab.max_len = (int32_t)n;
        if (n == 0) continue; /* an empty entry keeps its id but can never match */
        int32_t prev = ap_vocab_find(&tok->vocab, text + off[id], n);
        if (prev >= 0) {
            char q[48];
            quote_token(q, sizeof q, text + off[id], n);
            free(block);
            return ap_error(AP_ERR_FORMAT, "%s:%zu: duplicate token '%s' (first on line %d)", name, id + 1, q,
                            prev + 1);
        }
        uint32_t h = ap_vocab_hash(text + off[id], n);
        uint32_t i = h & tok->vocab.mask;
        while (slot[i]) i = (i + 1) & tok->vocab.mask;
        slot[i] = ((uint64_t)h << 32) | (uint64_t)(id + 1);
    }
    off[n_lines] = (uint32_t)t;

    static const char *const required[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int32_t *const ids[] = {&tok->pad_id, &tok->unk_id, &tok->cls_id, &tok->sep_id};
    for (int k = 0; k < 4; k++) {
        *ids[k] = ap_vocab_find(&tok->vocab, required[k], strlen(required[k]));
        if (*ids[k] < 0) {
            int bom = size >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF;
            free(block);
            return ap_error(AP_ERR_FORMAT, "%s: no %s entry; a BERT vocabulary needs [PAD], [UNK], [CLS] and [SEP]%s",
                            name, required[k], bom ? " (the file starts with a UTF-8 byte-order mark; remove it)" : "");
        }
    }
    tok->mask_id = ap_vocab_find(&tok->vocab, "[MASK]", 6);
    const int32_t specials[5] = {tok->pad_id, tok->unk_id, tok->cls_id, tok->sep_id, tok->mask_id};
    for (int k = 0; k < 5; k++) {
        if (specials[k] < 0) continue;
        tok->special_ids[tok->n_special++] = specials[k];
        uint8_t b = (uint8_t)text[off[specials[k]]];
        tok->special_first[b >> 3] |= (uint8_t)(1u << (b & 7));
    }
    *out = tok;
    return AP_OK;
}

enum ap_status ap_wordpiece_load(const char *vocab_path, struct ap_wordpiece_params params,
                                 struct ap_tokenizer **out) {
    if (!out) return ap_error(AP_ERR_INVALID_ARG, "ap_wordpiece_load: out is NULL");
    *out = NULL;
    if (!vocab_path) return ap_error(AP_ERR_INVALID_ARG, "ap_wordpiece_load: vocab_path is NULL");
    FILE *f = fopen(vocab_path, "rb");
    if (!f) return ap_error(AP_ERR_IO, "%s: cannot open the vocabulary: %s", vocab_path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    enum ap_status st = AP_OK;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : (size_t)1 << 20;
            if (ncap > WP_MAX_VOCAB_BYTES + 1) ncap = WP_MAX_VOCAB_BYTES + 1;
            if (ncap == cap) break; /* over the limit: the memory loader reports it */
            char *nb = realloc(buf, ncap);
            if (!nb) {
                st = ap_error(AP_ERR_NOMEM, "%s: no memory to read the vocabulary", vocab_path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = ap_error(AP_ERR_IO, "%s: read error: %s", vocab_path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st == AP_OK) st = ap_wordpiece_load_memory(buf, n, vocab_path, params, out);
    free(buf);
    return st;
}

/* --------------------------------------------------------------- encoding */

struct wp_run_entry {
    uint32_t cp;
    uint8_t ccc;
};

/* Per-call state. Buffers are sized from W (see the file comment). */
struct wp_state {
    const struct ap_tokenizer *tok;
    const struct ap_vocab *v;
    int32_t max_chars;        /* W */
    uint8_t *word;            /* (2 + 4 W + 4) two bytes of room for "##", then the word in UTF-8 */
    size_t word_len;          /* bytes of the word after the room */
    int64_t word_chars;       /* code points in the word; past W the bytes stop growing */
    struct wp_run_entry *run; /* (W + 1) pending combining marks (ccc > 0) to reorder */
    int32_t run_len;
    int32_t *pieces;          /* (W) one word's piece ids until the word is known good */
    int32_t *ids;             /* (cap) output */
    int64_t cap, n;           /* room in ids; ids produced (counted past cap) */
    int64_t limit, content;   /* most content pieces (INT64_MAX = none); so far */
    int done;                 /* truncation reached: stop */
};

static void emit(struct wp_state *s, int32_t id) {
    if (s->done) return;
    if (s->n < s->cap) s->ids[s->n] = id;
    s->n++;
    if (++s->content >= s->limit) s->done = 1;
}

/* Greedy longest-match-first over the finished word; all its pieces or one [UNK]. */
static void end_word(struct wp_state *s) {
    if (s->word_chars == 0) return;
    int64_t chars = s->word_chars;
    size_t n = s->word_len;
    s->word_chars = 0;
    s->word_len = 0;
    if (chars > s->max_chars) {
        emit(s, s->tok->unk_id);
        return;
    }
    uint8_t *w = s->word + 2; /* the word; s->word + start is its byte start - 2 */
    int32_t n_pieces = 0;
    size_t start = 0;
    const size_t max_len = (size_t)s->v->max_len;
    while (start < n) {
        /* the longest candidate the vocabulary could hold, on a character boundary */
        size_t room = start ? (max_len > 2 ? max_len - 2 : 0) : max_len;
        size_t end = n - start > room ? start + room : n;
        while (end > start && end < n && (w[end] & 0xC0) == 0x80) end--;
        int32_t id = -1;
        if (start) { /* the bytes before start are consumed: "##" goes there */
            s->word[start] = '#';
            s->word[start + 1] = '#';
        }
        while (end > start) {
            id = start ? ap_vocab_find(s->v, (const char *)s->word + start, end - start + 2)
                       : ap_vocab_find(s->v, (const char *)w, end);
            if (id >= 0) break;
            do end--;
            while (end > start && (w[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            emit(s, s->tok->unk_id);
            return;
        }
        s->pieces[n_pieces++] = id;
        start = end;
    }
    for (int32_t i = 0; i < n_pieces; i++) emit(s, s->pieces[i]);
}

static void add_char(struct wp_state *s, uint32_t cp) {
    if (++s->word_chars > s->max_chars) return; /* over-long: only the count matters */
    s->word_len += ap_utf8_encode(cp, s->word + 2 + s->word_len);
}

/* Pre-tokenizer: whitespace ends a word, punctuation is a word of its own. */
static void pre_tokenize(struct wp_state *s, uint32_t cp) {
    uint8_t f = ap_uc_props(cp).flags;
    if (f & AP_UC_WS) {
        end_word(s);
    } else if (f & AP_UC_PUNCT) {
        end_word(s);
        add_char(s, cp);
        end_word(s);
    } else {
        add_char(s, cp);
    }
}

static void lowercase(struct wp_state *s, uint32_t cp) {
    if (!s->tok->wp.lowercase) {
        pre_tokenize(s, cp);
        return;
    }
    uint32_t m[AP_UC_LOWER_MAX];
    size_t k = ap_uc_lower(cp, m);
    for (size_t i = 0; i < k; i++) pre_tokenize(s, m[i]);
}

/* Canonical reordering: a run of marks with ccc > 0 is sorted by ccc, stably.
 * Nonspacing marks are dropped before they enter the run, which leaves the
 * order of the others as sorting first and dropping after would. A run of
 * more than W kept marks makes the word over-long whatever their order, so
 * a full buffer is flushed early without harm. */
static void flush_run(struct wp_state *s) {
    struct wp_run_entry *r = s->run;
    for (int32_t i = 1; i < s->run_len; i++) {
        struct wp_run_entry e = r[i];
        int32_t j = i;
        while (j > 0 && r[j - 1].ccc > e.ccc) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = e;
    }
    int32_t n = s->run_len;
    s->run_len = 0;
    for (int32_t i = 0; i < n; i++) lowercase(s, r[i].cp);
}

static void strip_accents(struct wp_state *s, uint32_t cp) {
    if (!s->tok->wp.strip_accents) {
        lowercase(s, cp);
        return;
    }
    uint32_t d[AP_UC_NFD_MAX];
    size_t k = ap_uc_nfd(cp, d);
    for (size_t i = 0; i < k; i++) {
        struct ap_uc_props p = ap_uc_props(d[i]);
        if (p.ccc == 0) {
            if (s->run_len) flush_run(s);
            if (!(p.flags & AP_UC_MN)) lowercase(s, d[i]);
        } else if (!(p.flags & AP_UC_MN)) {
            if (s->run_len > s->max_chars) flush_run(s);
            s->run[s->run_len].cp = d[i];
            s->run[s->run_len].ccc = p.ccc;
            s->run_len++;
        }
    }
}

/* clean_text and handle_chinese_chars, then the later stages. */
static void normalize(struct wp_state *s, uint32_t cp) {
    const struct ap_wordpiece_params *wp = &s->tok->wp;
    uint8_t f = ap_uc_props(cp).flags;
    if (wp->clean_text) {
        if (cp == 0 || cp == 0xFFFD || (f & AP_UC_CTRL)) return;
        if (f & AP_UC_WS) cp = ' ';
    }
    if (wp->tokenize_chinese_chars && (f & AP_UC_CJK)) {
        strip_accents(s, ' ');
        strip_accents(s, cp);
        strip_accents(s, ' ');
        return;
    }
    strip_accents(s, cp);
}

/* One stretch of raw text between special tokens: normalized and split on
 * its own, as tokenizers does. */
static void encode_segment(struct wp_state *s, const uint8_t *t, size_t len) {
    const struct ap_wordpiece_params *wp = &s->tok->wp;
    size_t pos = 0;
    while (pos < len && !s->done) {
        uint32_t c = t[pos];
        if (c < 0x80) {
            /* ASCII: no decomposition, ccc 0, lowercase is A-Z only. */
            pos++;
            uint8_t f = ap_uc_ascii_flags[c];
            if (wp->clean_text) {
                if (c == 0 || (f & AP_UC_CTRL)) continue;
            }
            if (s->run_len) flush_run(s);
            if (f & AP_UC_WS) {
                end_word(s);
            } else if (f & AP_UC_PUNCT) {
                end_word(s);
                add_char(s, c);
                end_word(s);
            } else {
                add_char(s, wp->lowercase && c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            continue;
        }
        if (!ap_utf8_decode(t, len, &pos, &c)) break; /* unreachable: validated */
        normalize(s, c);
    }
    if (s->run_len) flush_run(s);
    end_word(s);
}

/* The longest special token spelled at t[0..len), or -1; its length in *n. */
static int32_t match_special(const struct ap_tokenizer *tok, const uint8_t *t, size_t len, size_t *n) {
    int32_t best = -1;
    size_t best_n = 0;
    for (int32_t k = 0; k < tok->n_special; k++) {
        int32_t id = tok->special_ids[k];
        size_t m = tok->vocab.off[id + 1] - 1 - tok->vocab.off[id];
        if (m > best_n && m <= len && memcmp(t, tok->vocab.text + tok->vocab.off[id], m) == 0) {
            best = id;
            best_n = m;
        }
    }
    *n = best_n;
    return best;
}

static enum ap_status wordpiece_encode(const struct ap_tokenizer *tok, const uint8_t *t, size_t len, int64_t limit,
                                       int32_t *ids, int32_t cap, int32_t *n_ids) {
    const int32_t W = tok->wp.max_input_chars_per_word;
    uint8_t word_stack[2 + 4 * WP_STACK_WORD_CHARS + 4];
    struct wp_run_entry run_stack[WP_STACK_WORD_CHARS + 1];
    int32_t pieces_stack[WP_STACK_WORD_CHARS];
    void *heap = NULL;
    struct wp_state s = {.tok = tok, .v = &tok->vocab, .max_chars = W, .ids = ids, .cap = cap, .limit = limit};
    if (W <= WP_STACK_WORD_CHARS) {
        s.word = word_stack;
        s.run = run_stack;
        s.pieces = pieces_stack;
    } else {
        size_t run_at = ((size_t)2 + 4 * (size_t)W + 4 + 7) & ~(size_t)7;
        size_t pieces_at = run_at + sizeof(struct wp_run_entry) * ((size_t)W + 1);
        heap = malloc(pieces_at + sizeof(int32_t) * (size_t)W);
        if (!heap) return ap_error(AP_ERR_NOMEM, "tokenizer: no memory for words of %d characters", W);
        s.word = heap;
        s.run = (struct wp_run_entry *)((char *)heap + run_at);
        s.pieces = (int32_t *)((char *)heap + pieces_at);
    }

    if (cap > 0) ids[0] = tok->cls_id;
    s.n = 1;
    if (limit > 0) {
        size_t seg = 0, pos = 0;
        while (pos < len && !s.done) {
            size_t m;
            int32_t sp;
            uint8_t b = t[pos];
            if (!(tok->special_first[b >> 3] & (1u << (b & 7))) || (sp = match_special(tok, t + pos, len - pos, &m)) < 0) {
                pos++;
                continue;
            }
            encode_segment(&s, t + seg, pos - seg);
            emit(&s, sp);
            pos += m;
            seg = pos;
        }
        if (!s.done) encode_segment(&s, t + seg, len - seg);
    }
    if (s.n < s.cap) ids[s.n] = tok->sep_id;
    s.n++;
    free(heap);

    if (s.n > cap) {
        *n_ids = s.n > INT32_MAX ? INT32_MAX : (int32_t)s.n;
        return ap_error(AP_ERR_RANGE, "tokenizer: ids has room for %d tokens, the text needs %lld with [CLS] and [SEP]",
                        cap, (long long)s.n);
    }
    *n_ids = (int32_t)s.n;
    return AP_OK;
}

/* The WordPiece half of ap_tokenizer_encode (tokenizer.c has checked the
 * arguments and the UTF-8): max_tokens 0 is the tokenizer's own limit, and
 * the limit counts [CLS] and [SEP]. */
enum ap_status ap_wordpiece_encode(const struct ap_tokenizer *tok, const uint8_t *text, size_t len,
                                   int32_t max_tokens, int32_t *ids, int32_t cap, int32_t *n_ids) {
    int32_t eff = max_tokens ? max_tokens : tok->wp.max_tokens;
    if (eff == 1)
        return ap_error(AP_ERR_RANGE, "ap_tokenizer_encode: max_tokens 1 leaves no room for [CLS] and [SEP]; use 2 or more");
    int64_t limit = eff > 0 ? eff - 2 : INT64_MAX;
    return wordpiece_encode(tok, text, len, limit, ids, cap, n_ids);
}
