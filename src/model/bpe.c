/* bpe.c — byte-level BPE as GPT-2 and SmolLM2 use it, id for id what Hugging
 * Face tokenizers produces for the model's tokenizer.json (docs/tokenizer.md).
 *
 * Legend: V = vocabulary size, M = merges, n = bytes of one pre-token.
 *
 * Encoding, stage by stage as tokenizers applies them:
 *
 *   added tokens    control and user-defined tokens ("<|im_end|>") found
 *                   verbatim in the text, leftmost and then longest first,
 *                   are their own ids and cut the text into segments
 *   Digits          ("smollm" only) every numeric character (Rust's
 *                   char::is_numeric) a piece of its own
 *   ByteLevel       the GPT-2 split regex on each piece,
 *                     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *                   with Oniguruma's classes, by a hand-written scanner
 *                   (split_regex); each match is a pre-token
 *   BPE             a pre-token's bytes, each as its one-character token in
 *                   GPT-2's byte-to-unicode spelling, merged pair by pair,
 *                   lowest merge rank first and leftmost among equals,
 *                   exactly as tokenizers' Word::merge_all (stale queue
 *                   entries included); no whole-word shortcut
 *                   (ignore_merges is false), no unk (a byte without a
 *                   token is dropped, as tokenizers does without unk_token)
 *   template        BOS / EOS when the GGUF asks for them; truncation keeps
 *                   the first max_tokens ids, BOS and EOS included
 *
 * Decoding maps every token back through the byte table (ap_bpe_decode).
 *
 * Per-call memory: the symbols of one pre-token and its merge queue, on the
 * stack for pre-tokens up to BPE_STACK_BYTES bytes, one malloc (grown as
 * needed) for longer ones. Nothing is written into the tokenizer, so one
 * tokenizer serves many threads. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/unicode_tables.h"
#include "model/utf8.h"

#define BPE_STACK_BYTES 256          /* pre-tokens up to this use stack scratch   */
#define BPE_MAX_TOKENS (1 << 24)     /* vocabularies hold tens of thousands       */
#define BPE_MAX_TEXT_BYTES (1u << 30) /* all token text, so offsets fit uint32_t */

enum {
    TYPE_NORMAL = 1,
    TYPE_CONTROL = 3,
    TYPE_USER_DEFINED = 4,
    TYPE_MAX = 6,
};

struct ap_bpe_spec ap_bpe_default_spec(void) {
    struct ap_bpe_spec s = {.model = "gpt2", .bos_id = -1, .eos_id = -1, .unk_id = -1, .pad_id = -1};
    return s;
}

/* ------------------------------------------------- GPT-2 byte-to-unicode */

/* GPT-2 spells every byte as one printable character: the printable bytes
 * of Latin-1 (33..126, 161..172, 174..255) as themselves, the other 68
 * (0..32, 127..160, 173) as U+0100.. in order, so ' ' is 'Ġ' (U+0120). */
static uint32_t byte_to_cp(uint8_t b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    if (b <= 32) return 256u + b;
    if (b <= 160) return 256u + 33 + (b - 127u);
    return 256u + 33 + 34; /* 173, the soft hyphen */
}

/* The byte cp spells, or -1 if cp is none of GPT-2's 256 characters. */
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 32 + 34) return (int)(cp - 256 - 33 + 127);
    if (cp == 256 + 33 + 34) return 173;
    return -1;
}

/* The bytes token s[0..n) decodes to, written to out (n bytes of room
 * suffice); returns their count. A token with a character outside the
 * table decodes to its own bytes, as tokenizers' ByteLevel decoder does. */
static size_t decode_token(const uint8_t *s, size_t n, uint8_t *out) {
    size_t pos = 0, k = 0;
    uint32_t cp;
    while (pos < n) {
        int b = ap_utf8_decode(s, n, &pos, &cp) ? cp_to_byte(cp) : -1;
        if (b < 0) {
            memcpy(out, s, n);
            return n;
        }
        out[k++] = (uint8_t)b;
    }
    return k;
}

/* ------------------------------------------------------------ merge table */

static uint32_t pair_hash(int32_t left, int32_t right) {
    uint64_t k = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32);
}

static const struct ap_bpe_merge *merge_find(const struct ap_bpe_state *b, int32_t left, int32_t right) {
    for (uint32_t i = pair_hash(left, right) & b->merge_mask;; i = (i + 1) & b->merge_mask) {
        const struct ap_bpe_merge *m = &b->merge[i];
        if (m->left < 0) return NULL;
        if (m->left == left && m->right == right) return m;
    }
}

/* ------------------------------------------------------------------ load */

/* A token or merge for a message: cut to fit cap bytes, "..." when longer,
 * bytes below 0x20 as '?'. */
static void quote(char *out, size_t cap, const char *s, size_t n) {
    size_t k = n < cap - 4 ? n : cap - 4;
    for (size_t i = 0; i < k; i++) out[i] = (uint8_t)s[i] < 0x20 ? '?' : s[i];
    if (k < n) memcpy(out + k, "...", 4);
    else out[k] = '\0';
}

static enum ap_status check_id(const char *name, const char *what, int32_t id, int32_t V) {
    if (id < -1 || id >= V)
        return ap_error(AP_ERR_FORMAT, "%s: %s %d is outside the vocabulary of %d tokens", name, what, id, V);
    return AP_OK;
}

static enum ap_status parse_pre(const char *name, const char *pre, enum ap_bpe_pre *out) {
    if (!pre || strcmp(pre, "default") == 0 || strcmp(pre, "gpt2") == 0) *out = AP_BPE_PRE_GPT2;
    else if (strcmp(pre, "smollm") == 0) *out = AP_BPE_PRE_SMOLLM;
    else
        return ap_error(AP_ERR_UNSUPPORTED,
                        "%s: pre-tokenizer (tokenizer.ggml.pre) '%s' is not supported; known: 'smollm' "
                        "(digits split, then the GPT-2 regex), 'gpt2' and 'default' (the GPT-2 regex)",
                        name, pre);
    return AP_OK;
}

/* Everything about the spec that can be checked before allocating. */
static enum ap_status check_spec(const struct ap_bpe_spec *sp, const char *name, enum ap_bpe_pre *pre,
                                 size_t *text_bytes) {
    if (!sp->model || strcmp(sp->model, "gpt2") != 0)
        return ap_error(AP_ERR_UNSUPPORTED,
                        "%s: tokenizer model (tokenizer.ggml.model) '%s' is not supported; only 'gpt2' "
                        "(byte-level BPE) is%s",
                        name, sp->model ? sp->model : "(none)",
                        sp->model && strcmp(sp->model, "llama") == 0 ? " ('llama' is SentencePiece)" : "");
    enum ap_status st = parse_pre(name, sp->pre, pre);
    if (st != AP_OK) return st;
    if (sp->n_tokens <= 0) return ap_error(AP_ERR_EMPTY, "%s: the vocabulary has no tokens", name);
    if (sp->n_tokens > BPE_MAX_TOKENS)
        return ap_error(AP_ERR_RANGE, "%s: %d tokens is too many (limit %d)", name, sp->n_tokens, BPE_MAX_TOKENS);
    if (!sp->tokens) return ap_error(AP_ERR_INVALID_ARG, "%s: tokens is NULL", name);
    if (sp->n_merges < 0 || sp->n_merges > BPE_MAX_TOKENS || (!sp->merges && sp->n_merges > 0))
        return ap_error(AP_ERR_INVALID_ARG, "%s: %d merges (merges %s)", name, sp->n_merges,
                        sp->merges ? "set" : "NULL");
    const int32_t V = sp->n_tokens;
    if ((st = check_id(name, "bos_token_id", sp->bos_id, V)) != AP_OK) return st;
    if ((st = check_id(name, "eos_token_id", sp->eos_id, V)) != AP_OK) return st;
    if ((st = check_id(name, "unknown_token_id", sp->unk_id, V)) != AP_OK) return st;
    if ((st = check_id(name, "padding_token_id", sp->pad_id, V)) != AP_OK) return st;
    if (sp->add_bos != 0 && sp->add_bos != 1)
        return ap_error(AP_ERR_INVALID_ARG, "%s: add_bos must be 0 or 1, got %d", name, sp->add_bos);
    if (sp->add_eos != 0 && sp->add_eos != 1)
        return ap_error(AP_ERR_INVALID_ARG, "%s: add_eos must be 0 or 1, got %d", name, sp->add_eos);
    if (sp->add_bos && sp->bos_id < 0)
        return ap_error(AP_ERR_FORMAT, "%s: add_bos_token is set but there is no bos_token_id", name);
    if (sp->add_eos && sp->eos_id < 0)
        return ap_error(AP_ERR_FORMAT, "%s: add_eos_token is set but there is no eos_token_id", name);
    if (sp->max_tokens < 0 || (sp->max_tokens > 0 && sp->max_tokens < sp->add_bos + sp->add_eos))
        return ap_error(AP_ERR_INVALID_ARG, "%s: max_tokens must be 0 (no limit) or at least %d (BOS and EOS), got %d",
                        name, sp->add_bos + sp->add_eos, sp->max_tokens);

    size_t total = 0;
    for (int32_t i = 0; i < V; i++) {
        const struct ap_bpe_str *t = &sp->tokens[i];
        if (!t->data && t->len) return ap_error(AP_ERR_INVALID_ARG, "%s: token %d is NULL", name, i);
        const uint8_t *d = (const uint8_t *)t->data;
        size_t bad = t->len ? ap_utf8_validate(d, t->len) : 0;
        if (bad != t->len)
            return ap_error(AP_ERR_ENCODING, "%s: token %d: invalid UTF-8 at byte %zu", name, i, bad);
        if (t->len && memchr(d, '\0', t->len)) return ap_error(AP_ERR_FORMAT, "%s: token %d contains a NUL byte", name, i);
        if (t->len >= BPE_MAX_TEXT_BYTES || total + t->len + 1 > BPE_MAX_TEXT_BYTES)
            return ap_error(AP_ERR_RANGE, "%s: the tokens hold more than %u bytes", name, BPE_MAX_TEXT_BYTES);
        total += t->len + 1;
        if (sp->types && (sp->types[i] < 0 || sp->types[i] > TYPE_MAX))
            return ap_error(AP_ERR_FORMAT, "%s: token %d has type %d; types are 0 .. %d", name, i, sp->types[i],
                            TYPE_MAX);
    }
    *text_bytes = total;
    return AP_OK;
}

/* Add merge rank of spec to the table: "left right" -> the pair's ids and
 * the id of their concatenation. buf has room for the merge's bytes. */
static enum ap_status add_merge(struct ap_tokenizer *tok, struct ap_bpe_merge *table, const struct ap_bpe_str *m,
                                int32_t rank, char *buf, const char *name) {
    char q[64];
    const char *sp = m->data && m->len ? memchr(m->data, ' ', m->len) : NULL;
    size_t nl = sp ? (size_t)(sp - m->data) : 0, nr = sp ? m->len - nl - 1 : 0;
    if (!m->data || !sp || nl == 0 || nr == 0 || memchr(sp + 1, ' ', nr)) {
        quote(q, sizeof q, m->data ? m->data : "", m->data ? m->len : 0);
        return ap_error(AP_ERR_FORMAT, "%s: merge %d '%s' is not two tokens separated by one space", name, rank, q);
    }
    int32_t left = ap_vocab_find(&tok->vocab, m->data, nl);
    int32_t right = ap_vocab_find(&tok->vocab, sp + 1, nr);
    memcpy(buf, m->data, nl);
    memcpy(buf + nl, sp + 1, nr);
    int32_t id = ap_vocab_find(&tok->vocab, buf, nl + nr);
    if (left < 0 || right < 0 || id < 0) {
        quote(q, sizeof q, m->data, m->len);
        const char *missing = left < 0 ? "its left part" : right < 0 ? "its right part" : "the merged token";
        return ap_error(AP_ERR_FORMAT, "%s: merge %d '%s': %s is not in the vocabulary", name, rank, q, missing);
    }
    uint32_t i = pair_hash(left, right) & tok->bpe.merge_mask;
    while (table[i].left >= 0 && !(table[i].left == left && table[i].right == right))
        i = (i + 1) & tok->bpe.merge_mask;
    /* a pair listed twice keeps its later rank: tokenizers collects the
     * merges into a hash map, where the later insertion wins */
    table[i].left = left;
    table[i].right = right;
    table[i].rank = rank;
    table[i].id = id;
    return AP_OK;
}

enum ap_status ap_bpe_load_arrays(const struct ap_bpe_spec *sp, const char *name, struct ap_tokenizer **out) {
    if (!out) return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_load_arrays: out is NULL");
    *out = NULL;
    if (!name) name = "tokenizer";
    if (!sp) return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_load_arrays: spec is NULL");
    enum ap_bpe_pre pre = AP_BPE_PRE_GPT2;
    size_t text_bytes = 0;
    enum ap_status st = check_spec(sp, name, &pre, &text_bytes);
    if (st != AP_OK) return st;
    const size_t V = (size_t)sp->n_tokens, M = (size_t)sp->n_merges;

    size_t n_special = 0, longest_merge = 0;
    for (size_t i = 0; i < V; i++)
        if (sp->types && (sp->types[i] == TYPE_CONTROL || sp->types[i] == TYPE_USER_DEFINED) && sp->tokens[i].len)
            n_special++;
    for (size_t i = 0; i < M; i++)
        if (sp->merges[i].len > longest_merge) longest_merge = sp->merges[i].len;

    /* One block: struct, vocabulary hash slots, merge table, offsets,
     * decoded offsets, special ids, types, token text, decoded bytes (a
     * token decodes to at most its own length). */
    uint32_t vcap = 2, mcap = 2;
    while (vcap < 2 * V) vcap <<= 1;
    while (mcap < 2 * M) mcap <<= 1;
    size_t at = (sizeof(struct ap_tokenizer) + 7) & ~(size_t)7;
    const size_t slot_at = at;
    at += sizeof(uint64_t) * vcap;
    const size_t merge_at = at;
    at += sizeof(struct ap_bpe_merge) * mcap;
    const size_t off_at = at;
    at += sizeof(uint32_t) * (V + 1);
    const size_t dec_off_at = at;
    at += sizeof(uint32_t) * (V + 1);
    const size_t special_at = at;
    at += sizeof(int32_t) * n_special;
    const size_t type_at = at;
    at += V;
    const size_t text_at = at;
    at += text_bytes;
    const size_t dec_at = at;
    at += text_bytes;
    char *block = calloc(1, at);
    char *buf = malloc(longest_merge + 1);
    if (!block || !buf) {
        free(block);
        free(buf);
        return ap_error(AP_ERR_NOMEM, "%s: no memory for %zu tokens and %zu merges", name, V, M);
    }
    struct ap_tokenizer *tok = (struct ap_tokenizer *)block;
    uint64_t *slot = (uint64_t *)(block + slot_at);
    struct ap_bpe_merge *merge = (struct ap_bpe_merge *)(block + merge_at);
    uint32_t *off = (uint32_t *)(block + off_at), *dec_off = (uint32_t *)(block + dec_off_at);
    int32_t *special = (int32_t *)(block + special_at);
    uint8_t *type = (uint8_t *)(block + type_at);
    char *text = block + text_at;
    uint8_t *dec = (uint8_t *)(block + dec_at);
    struct ap_bpe_state *b = &tok->bpe;
    tok->kind = AP_TOKENIZER_BPE;
    tok->vocab.n = (int32_t)V;
    tok->vocab.off = off;
    tok->vocab.text = text;
    tok->vocab.slot = slot;
    tok->vocab.mask = vcap - 1;
    tok->pad_id = sp->pad_id;
    tok->unk_id = sp->unk_id;
    tok->cls_id = tok->sep_id = tok->mask_id = -1;
    b->pre = pre;
    b->n_merges = (int32_t)M;
    b->merge = merge;
    b->merge_mask = mcap - 1;
    b->dec_off = dec_off;
    b->dec = dec;
    b->type = type;
    b->special = special;
    b->bos_id = sp->bos_id;
    b->eos_id = sp->eos_id;
    b->add_bos = sp->add_bos;
    b->add_eos = sp->add_eos;
    b->max_tokens = sp->max_tokens;

    /* tokens: copy, decode, insert */
    size_t t = 0, d = 0;
    for (size_t i = 0; i < V && st == AP_OK; i++) {
        const struct ap_bpe_str *s = &sp->tokens[i];
        type[i] = (uint8_t)(sp->types ? sp->types[i] : TYPE_NORMAL);
        off[i] = (uint32_t)t;
        dec_off[i] = (uint32_t)d;
        if (s->len) memcpy(text + t, s->data, s->len);
        text[t + s->len] = '\0';
        d += decode_token((const uint8_t *)text + t, s->len, dec + d);
        t += s->len + 1;
        if ((int32_t)s->len > tok->vocab.max_len) tok->vocab.max_len = (int32_t)s->len;
        if (s->len == 0) continue; /* an empty entry keeps its id but can never match */
        int32_t prev = ap_vocab_find(&tok->vocab, text + off[i], s->len);
        if (prev >= 0) {
            char q[48];
            quote(q, sizeof q, s->data, s->len);
            st = ap_error(AP_ERR_FORMAT, "%s: token %zu '%s' repeats token %d", name, i, q, prev);
            break;
        }
        uint32_t h = ap_vocab_hash(text + off[i], s->len);
        uint32_t k = h & tok->vocab.mask;
        while (slot[k]) k = (k + 1) & tok->vocab.mask;
        slot[k] = ((uint64_t)h << 32) | (uint64_t)(i + 1);
    }
    off[V] = (uint32_t)t;
    dec_off[V] = (uint32_t)d;

    for (int c = 0; c < 256; c++) {
        uint8_t u[AP_UTF8_MAX];
        size_t n = ap_utf8_encode(byte_to_cp((uint8_t)c), u);
        b->byte_id[c] = ap_vocab_find(&tok->vocab, (const char *)u, n);
    }

    for (size_t i = 0; i < mcap; i++) merge[i].left = -1;
    for (size_t i = 0; i < M && st == AP_OK; i++) st = add_merge(tok, merge, &sp->merges[i], (int32_t)i, buf, name);
    free(buf);
    if (st != AP_OK) {
        free(block);
        return st;
    }

    /* added tokens, longest first, so the first match at a position is the
     * longest (an insertion sort: there are a handful) */
    for (size_t i = 0; i < V; i++) {
        if (!(type[i] == TYPE_CONTROL || type[i] == TYPE_USER_DEFINED) || sp->tokens[i].len == 0) continue;
        size_t j = (size_t)b->n_special++;
        size_t len = sp->tokens[i].len;
        while (j > 0 && sp->tokens[special[j - 1]].len < len) {
            special[j] = special[j - 1];
            j--;
        }
        special[j] = (int32_t)i;
        uint8_t c = (uint8_t)text[off[i]];
        tok->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
    }
    *out = tok;
    return AP_OK;
}

/* --------------------------------------------------------------- encoding */

struct bpe_sym {
    int32_t id;
    int32_t prev, next; /* indices of the neighbours, -1 at the ends */
    int32_t alive;      /* 0 once merged into its left neighbour    */
};

struct bpe_cand { /* a merge candidate: the pair starting at pos */
    int32_t rank, pos, id;
};

/* Per-call state. */
struct bpe_run {
    const struct ap_bpe_state *b;
    int32_t *ids;           /* (cap) output */
    int64_t cap, n;         /* room in ids; ids produced (counted past cap) */
    int64_t limit, content; /* most ids between BOS and EOS (INT64_MAX = none); so far */
    int done;               /* truncation reached or out of memory: stop */
    enum ap_status st;
    struct bpe_sym *sym;    /* (room) one pre-token's symbols */
    struct bpe_cand *queue; /* (3 room) its merge candidates, a binary min-heap */
    size_t room;            /* bytes of pre-token the scratch holds */
    void *big;              /* heap scratch for long pre-tokens, or NULL */
};

static void emit(struct bpe_run *r, int32_t id) {
    if (r->done) return;
    if (r->n < r->cap) r->ids[r->n] = id;
    r->n++;
    if (++r->content >= r->limit) r->done = 1;
}

static int cand_less(struct bpe_cand a, struct bpe_cand b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(struct bpe_cand *h, size_t *n, struct bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0 && cand_less(c, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static struct bpe_cand heap_pop(struct bpe_cand *h, size_t *n) {
    struct bpe_cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(h[c + 1], h[c])) c++;
        if (!cand_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* Make the scratch hold a pre-token of n bytes. */
static int reserve(struct bpe_run *r, size_t n) {
    if (n <= r->room) return 1;
    size_t room = r->room * 2 > n ? r->room * 2 : n;
    void *big = malloc(room * (sizeof(struct bpe_sym) + 3 * sizeof(struct bpe_cand)));
    if (!big) {
        r->st = ap_error(AP_ERR_NOMEM, "tokenizer: no memory for a pre-token of %zu bytes", n);
        r->done = 1;
        return 0;
    }
    free(r->big);
    r->big = big;
    r->sym = big;
    r->queue = (struct bpe_cand *)(r->sym + room);
    r->room = room;
    return 1;
}

/* BPE on one pre-token w[0..n): tokenizers' Word::merge_all. */
static void bpe_word(struct bpe_run *r, const uint8_t *w, size_t n) {
    const struct ap_bpe_state *b = r->b;
    if (r->done) return;
    if (n == 1) {
        if (b->byte_id[w[0]] >= 0) emit(r, b->byte_id[w[0]]);
        return;
    }
    if (!reserve(r, n)) return;
    struct bpe_sym *s = r->sym;
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = b->byte_id[w[i]];
        if (id < 0) continue; /* no token for this byte and no unk: dropped */
        s[k].id = id;
        s[k].prev = k - 1;
        s[k].next = k + 1;
        s[k].alive = 1;
        k++;
    }
    if (k == 0) return;
    s[k - 1].next = -1;
    struct bpe_cand *q = r->queue;
    size_t nq = 0;
    for (int32_t i = 0; i + 1 < k; i++) {
        const struct ap_bpe_merge *m = merge_find(b, s[i].id, s[i + 1].id);
        if (m) heap_push(q, &nq, (struct bpe_cand){m->rank, i, m->id});
    }
    while (nq) {
        struct bpe_cand top = heap_pop(q, &nq);
        struct bpe_sym *cur = &s[top.pos];
        if (!cur->alive || cur->next < 0) continue;
        struct bpe_sym *right = &s[cur->next];
        /* a stale entry: the pair here has changed since it was queued */
        const struct ap_bpe_merge *m = merge_find(b, cur->id, right->id);
        if (!m || m->id != top.id) continue;
        cur->id = top.id;
        right->alive = 0;
        cur->next = right->next;
        if (cur->next >= 0) s[cur->next].prev = top.pos;
        if (cur->prev >= 0 && (m = merge_find(b, s[cur->prev].id, cur->id)))
            heap_push(q, &nq, (struct bpe_cand){m->rank, cur->prev, m->id});
        if (cur->next >= 0 && (m = merge_find(b, cur->id, s[cur->next].id)))
            heap_push(q, &nq, (struct bpe_cand){m->rank, top.pos, m->id});
    }
    for (int32_t i = 0; i >= 0; i = s[i].next) emit(r, s[i].id); /* symbol 0 is never merged away */
}

/* The BPE classes of the character at t[pos] (pos < len; t is valid
 * UTF-8); *next is the position after it. */
static uint8_t class_at(const uint8_t *t, size_t len, size_t pos, size_t *next) {
    if (t[pos] < 0x80) {
        *next = pos + 1;
        return ap_uc_bpe_ascii[t[pos]];
    }
    uint32_t cp = 0;
    *next = pos;
    if (!ap_utf8_decode(t, len, next, &cp)) { /* unreachable: validated */
        *next = pos + 1;
        return 0;
    }
    return ap_uc_bpe_class(cp);
}

#define CLASS_MASK (AP_UC_BPE_L | AP_UC_BPE_N | AP_UC_BPE_S) /* 0 within it: "other" */

/* The GPT-2 split regex over t[0..len), leftmost-first as Oniguruma runs it,
 * each match handed to bpe_word:
 *
 *   's|'t|'re|'ve|'m|'ll|'d   a contraction, lowercase only
 *    ?\p{L}+  ?\p{N}+         a letter run or a number run, with one ASCII
 *    ?[^\s\p{L}\p{N}]+        space in front if there is one; "other" runs
 *                              likewise ("'S" is "'" then "S")
 *   \s+(?!\S)                 a whitespace run up to the end, or, before a
 *                              non-space, all of it but its last character
 *                              (which then leads the next match: "  a" is
 *                              " " then " a")
 *   \s+                       one whitespace character before a non-space
 *                              that no earlier alternative took ("\na") */
static void split_regex(struct bpe_run *r, const uint8_t *t, size_t len) {
    size_t pos = 0;
    while (pos < len && !r->done) {
        const size_t start = pos;
        const uint8_t c = t[pos];
        if (c == '\'' && pos + 1 < len) {
            const uint8_t c1 = t[pos + 1];
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                bpe_word(r, t + pos, 2);
                pos += 2;
                continue;
            }
            if (pos + 2 < len) {
                const uint8_t c2 = t[pos + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                    bpe_word(r, t + pos, 3);
                    pos += 3;
                    continue;
                }
            }
        }
        size_t next;
        uint8_t k = class_at(t, len, pos, &next) & CLASS_MASK;
        if (c == ' ' && next < len) { /* " ?" before a letter, number or other run */
            size_t next2;
            const uint8_t k2 = class_at(t, len, next, &next2) & CLASS_MASK;
            if (k2 != AP_UC_BPE_S) {
                k = k2;
                next = next2;
            }
        }
        if (k != AP_UC_BPE_S) {
            size_t q = next, q2;
            while (q < len && (class_at(t, len, q, &q2) & CLASS_MASK) == k) q = q2;
            bpe_word(r, t + start, q - start);
            pos = q;
            continue;
        }
        size_t last = pos, q = next, q2;
        int32_t count = 1;
        while (q < len && (class_at(t, len, q, &q2) & AP_UC_BPE_S)) {
            last = q;
            q = q2;
            count++;
        }
        if (q < len && count > 1) q = last; /* (?!\S): the last one stays for the next match */
        bpe_word(r, t + start, q - start);
        pos = q;
    }
}

/* One stretch of text between added tokens, pre-tokenized on its own. */
static void encode_segment(struct bpe_run *r, const uint8_t *t, size_t len) {
    if (r->b->pre != AP_BPE_PRE_SMOLLM) {
        split_regex(r, t, len);
        return;
    }
    /* Digits(individual_digits): each numeric character is a piece (and so
     * a pre-token) of its own; the regex runs on the pieces between. */
    size_t piece = 0, pos = 0, next;
    while (pos < len && !r->done) {
        if (class_at(t, len, pos, &next) & AP_UC_BPE_NUMERIC) {
            split_regex(r, t + piece, pos - piece);
            bpe_word(r, t + pos, next - pos);
            piece = next;
        }
        pos = next;
    }
    split_regex(r, t + piece, len - piece);
}

/* The longest added token spelled at t[0..len), or -1; its length in *n. */
static int32_t match_special(const struct ap_tokenizer *tok, const uint8_t *t, size_t len, size_t *n) {
    const struct ap_bpe_state *b = &tok->bpe;
    for (int32_t k = 0; k < b->n_special; k++) {
        int32_t id = b->special[k];
        size_t m = tok->vocab.off[id + 1] - 1 - tok->vocab.off[id];
        if (m <= len && memcmp(t, tok->vocab.text + tok->vocab.off[id], m) == 0) {
            *n = m;
            return id;
        }
    }
    return -1;
}

enum ap_status ap_bpe_encode(const struct ap_tokenizer *tok, const uint8_t *t, size_t len, int32_t max_tokens,
                             int32_t *ids, int32_t cap, int32_t *n_ids) {
    const struct ap_bpe_state *b = &tok->bpe;
    const int32_t eff = max_tokens ? max_tokens : b->max_tokens, added = b->add_bos + b->add_eos;
    if (eff > 0 && eff < added)
        return ap_error(AP_ERR_RANGE, "ap_tokenizer_encode: max_tokens %d leaves no room for BOS and EOS; use %d or more",
                        eff, added);
    struct bpe_sym sym_stack[BPE_STACK_BYTES];
    struct bpe_cand queue_stack[3 * BPE_STACK_BYTES];
    struct bpe_run r = {.b = b, .ids = ids, .cap = cap, .limit = eff > 0 ? eff - added : INT64_MAX,
                        .st = AP_OK, .sym = sym_stack, .queue = queue_stack, .room = BPE_STACK_BYTES};
    if (b->add_bos) {
        if (cap > 0) ids[0] = b->bos_id;
        r.n = 1;
    }
    if (r.limit > 0) {
        size_t seg = 0, pos = 0, m = 0;
        while (pos < len && !r.done) {
            int32_t sp;
            const uint8_t c = t[pos];
            if (!(tok->special_first[c >> 3] & (1u << (c & 7))) || (sp = match_special(tok, t + pos, len - pos, &m)) < 0) {
                pos++;
                continue;
            }
            encode_segment(&r, t + seg, pos - seg);
            emit(&r, sp);
            pos += m;
            seg = pos;
        }
        if (!r.done) encode_segment(&r, t + seg, len - seg);
    }
    free(r.big);
    if (r.st != AP_OK) return r.st;
    if (b->add_eos) {
        if (r.n < r.cap) ids[r.n] = b->eos_id;
        r.n++;
    }
    if (r.n > cap) {
        *n_ids = r.n > INT32_MAX ? INT32_MAX : (int32_t)r.n;
        return ap_error(AP_ERR_RANGE, "tokenizer: ids has room for %d tokens, the text needs %lld", cap, (long long)r.n);
    }
    *n_ids = (int32_t)r.n;
    return AP_OK;
}

/* --------------------------------------------------------------- decoding */

enum ap_status ap_bpe_decode(const struct ap_tokenizer *tok, const int32_t *ids, int32_t n, char *buf, size_t cap,
                             size_t *len) {
    if (len) *len = 0;
    if (!tok || !len || n < 0 || (!ids && n > 0) || (!buf && cap > 0))
        return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_decode: tokenizer, ids, buf or len missing");
    if (tok->kind != AP_TOKENIZER_BPE) return ap_error(AP_ERR_INVALID_ARG, "ap_bpe_decode: not a BPE tokenizer");
    const struct ap_bpe_state *b = &tok->bpe;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->vocab.n)
            return ap_error(AP_ERR_RANGE, "ap_tokenizer_decode: id %d (at %d) is outside the vocabulary of %d tokens",
                            ids[i], i, tok->vocab.n);
        size_t k = b->dec_off[ids[i] + 1] - b->dec_off[ids[i]];
        if (total + k <= cap) memcpy(buf + total, b->dec + b->dec_off[ids[i]], k);
        total += k;
    }
    *len = total;
    if (total > cap)
        return ap_error(AP_ERR_RANGE, "ap_tokenizer_decode: buf has room for %zu bytes, the text needs %zu", cap, total);
    if (total < cap) buf[total] = '\0';
    return AP_OK;
}
