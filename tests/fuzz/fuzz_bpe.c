/* fuzz_bpe.c — libFuzzer target for the byte-level BPE tokenizer.
 *
 * Each input is (1) encoded as text by two tokenizers built from arrays: a
 * tiny "smollm" one whose vocabulary lacks most bytes (they are dropped),
 * and a "gpt2" one with a token for every byte, BOS and EOS; and (2) read as
 * a tokenizer spec: lines up to a line "--" are tokens (a token starting with
 * '<' is a control token), lines after it merges; when that loads, it
 * encodes a fixed text and the input itself.
 *
 * Invariants: valid UTF-8 encodes (AP_OK) and anything ap_utf8_validate
 * rejects gives AP_ERR_ENCODING, as for WordPiece; ids lie in [0, V);
 * truncating to k tokens keeps the first ids of the full encoding (BOS and
 * EOS kept); too small an ids array gives AP_ERR_RANGE with the full count;
 * decoding the ids gives the text back, less the bytes without a token of
 * their own (the fixed tokenizers; a fuzzed vocabulary may spell tokens
 * outside GPT-2's byte alphabet, so there only decoding is checked).
 *
 * Seeds: tests/corpus/bpe (texts, broken UTF-8, specs good and bad).
 *
 * Build: make fuzz-build (clang, libFuzzer with ASan and UBSan)
 * Run:   build-fuzz/fuzz_bpe -max_total_time=60 tests/corpus/bpe */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "fuzz.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

#define CAP 4096
#define G "\xc4\xa0" /* Ġ, the space byte in GPT-2's spelling */

static void check(int cond) {
    if (!cond) abort();
}

/* Encode with tok and check the invariants; exact: also the round trip. */
static void exercise(const struct ap_tokenizer *tok, const uint8_t *data, size_t size, int exact) {
    static int32_t full[CAP], part[CAP];
    int32_t n = -1, m = -1;
    const char *text = (const char *)data;
    const struct ap_bpe_state *b = &tok->bpe;
    size_t bad = ap_utf8_validate(data, size);
    int32_t max_tokens = 0;
    enum ap_status st = ap_tokenizer_encode(tok, text, size, max_tokens, full, CAP, &n);
    if (bad != size) {
        check(st == AP_ERR_ENCODING);
        return;
    }
    if (st == AP_ERR_RANGE) { /* more than CAP tokens: a short prefix must still work */
        check(n > CAP);
        max_tokens = 64;
        exact = 0;
        st = ap_tokenizer_encode(tok, text, size, max_tokens, full, CAP, &n);
    }
    check(st == AP_OK);
    check(n >= b->add_bos + b->add_eos && n <= CAP);
    if (b->add_bos) check(full[0] == b->bos_id);
    if (b->add_eos) check(full[n - 1] == b->eos_id);
    int32_t V = ap_tokenizer_vocab_size(tok);
    for (int32_t i = 0; i < n; i++) check(full[i] >= 0 && full[i] < V && ap_tokenizer_token(tok, full[i]));

    int32_t added = b->add_bos + b->add_eos, k = added + (int32_t)(size % 5);
    if (k < n && k > 0) {
        check(ap_tokenizer_encode(tok, text, size, k, part, CAP, &m) == AP_OK);
        check(m == k && memcmp(part, full, sizeof(int32_t) * (size_t)(k - b->add_eos)) == 0);
        if (b->add_eos) check(part[k - 1] == b->eos_id);
    }
    if (n > 0) {
        check(ap_tokenizer_encode(tok, text, size, max_tokens, part, n - 1, &m) == AP_ERR_RANGE);
        check(m == n);
    }

    /* decode: ask for the length, then decode into exactly that much */
    size_t len = 0, len2 = 0;
    st = ap_tokenizer_decode(tok, full, n, NULL, 0, &len);
    check(st == (len ? AP_ERR_RANGE : AP_OK));
    char *dec = malloc(len + 1), *kept = malloc(size + 1);
    check(dec && kept);
    check(ap_tokenizer_decode(tok, full, n, dec, len, &len2) == AP_OK && len2 == len);
    if (exact) {
        /* the text less the bytes without a token, added tokens kept whole */
        size_t n_kept = 0;
        for (size_t i = 0; i < size;) {
            size_t sl = 0;
            for (int32_t j = 0; j < b->n_special && !sl; j++) {
                const char *sp = ap_tokenizer_token(tok, b->special[j]);
                size_t l = strlen(sp);
                if (l <= size - i && memcmp(data + i, sp, l) == 0) sl = l;
            }
            if (sl) {
                memcpy(kept + n_kept, data + i, sl);
                n_kept += sl;
                i += sl;
                continue;
            }
            if (b->byte_id[data[i]] >= 0) kept[n_kept++] = (char)data[i];
            i++;
        }
        size_t skip = b->add_bos ? strlen(ap_tokenizer_token(tok, b->bos_id)) : 0;
        size_t tail = b->add_eos ? strlen(ap_tokenizer_token(tok, b->eos_id)) : 0;
        check(len == skip + n_kept + tail && memcmp(dec + skip, kept, n_kept) == 0);
    }
    free(dec);
    free(kept);
}

/* The tiny vocabulary of tests/unit/test_bpe.c: most bytes have no token. */
static struct ap_tokenizer *tiny(void) {
    static const char *const toks[] = {
        "<|endoftext|>", "<|im_end|>", "a", "b", "d", "e", "h", "l", "o", "r", "s", "w", "'", "1", "2", ".", "!",
        "\xc3\x83", "\xc2\xa9", G, "\xc4\x8a", "\xc4\x89", "he", "ll", "hell", "hello", G "w", "or", G "wor",
        G "worl", G "world", "aa", G G, "'s", "12", G "1"};
    static const char *const merges[] = {"h e", "l l", "he ll", "hell o", G " w", "o r", G "w or", G "wor l",
                                         G "worl d", "a a", G " " G, "' s", "1 2", G " 1"};
    enum { V = sizeof toks / sizeof toks[0], M = sizeof merges / sizeof merges[0] };
    struct ap_bpe_str t[V], mg[M];
    int32_t types[V];
    for (int i = 0; i < V; i++) {
        t[i].data = toks[i];
        t[i].len = strlen(toks[i]);
        types[i] = i < 2 ? 3 : 1;
    }
    for (int i = 0; i < M; i++) {
        mg[i].data = merges[i];
        mg[i].len = strlen(merges[i]);
    }
    struct ap_bpe_spec s = ap_bpe_default_spec();
    s.pre = "smollm";
    s.n_tokens = V;
    s.tokens = t;
    s.types = types;
    s.n_merges = M;
    s.merges = mg;
    struct ap_tokenizer *tok = NULL;
    check(ap_bpe_load_arrays(&s, "tiny", &tok) == AP_OK);
    return tok;
}

/* Every byte a token (GPT-2's spelling), some merges, BOS and EOS. */
static struct ap_tokenizer *full_bytes(void) {
    static char spell[256][4];
    static const char *const extra[] = {"<s>", "</s>", "th", "the", G "the", "in", "ing", G G, "\xc3\x83\xc2\xa9"};
    static const char *const merges[] = {"t h", "th e", G " the", "i n", "in g", G " " G, "\xc3\x83 \xc2\xa9"};
    enum { E = sizeof extra / sizeof extra[0], M = sizeof merges / sizeof merges[0] };
    struct ap_bpe_str t[256 + E], mg[M];
    int32_t types[256 + E];
    for (int c = 0; c < 256; c++) {
        /* GPT-2's byte-to-unicode table */
        uint32_t cp = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174 ? (uint32_t)c
                      : c <= 32                                                  ? 256u + (uint32_t)c
                      : c <= 160                                                 ? 256u + 33 + (uint32_t)c - 127
                                                                                 : 256u + 67;
        size_t n = ap_utf8_encode(cp, (uint8_t *)spell[c]);
        t[c].data = spell[c];
        t[c].len = n;
        types[c] = 1;
    }
    for (int i = 0; i < E; i++) {
        t[256 + i].data = extra[i];
        t[256 + i].len = strlen(extra[i]);
        types[256 + i] = i < 2 ? 3 : 1;
    }
    for (int i = 0; i < M; i++) {
        mg[i].data = merges[i];
        mg[i].len = strlen(merges[i]);
    }
    struct ap_bpe_spec s = ap_bpe_default_spec();
    s.pre = "gpt2";
    s.n_tokens = 256 + E;
    s.tokens = t;
    s.types = types;
    s.n_merges = M;
    s.merges = mg;
    s.bos_id = 256;
    s.eos_id = 257;
    s.add_bos = 1;
    s.add_eos = 1;
    struct ap_tokenizer *tok = NULL;
    check(ap_bpe_load_arrays(&s, "bytes", &tok) == AP_OK);
    return tok;
}

/* The input as a spec: tokens, a line "--", merges. */
static void as_spec(const uint8_t *data, size_t size) {
    enum { MAX_LINES = 512 };
    struct ap_bpe_str lines[MAX_LINES];
    int32_t types[MAX_LINES];
    int32_t n = 0, sep = -1;
    for (size_t pos = 0; pos < size && n < MAX_LINES;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (sep < 0 && end - pos == 2 && data[pos] == '-' && data[pos + 1] == '-') {
            sep = n;
        } else {
            lines[n].data = (const char *)data + pos;
            lines[n].len = end - pos;
            types[n] = end > pos && data[pos] == '<' ? 3 : 1;
            n++;
        }
        pos = end + 1;
    }
    if (sep < 0) return;
    struct ap_bpe_spec s = ap_bpe_default_spec();
    s.pre = size % 2 ? "smollm" : "gpt2";
    s.n_tokens = sep;
    s.tokens = lines;
    s.types = types;
    s.n_merges = n - sep;
    s.merges = lines + sep;
    struct ap_tokenizer *tok = NULL;
    if (ap_bpe_load_arrays(&s, "input", &tok) != AP_OK) {
        check(tok == NULL);
        return;
    }
    static const char text[] = "The quick brown fox's 12 jumps,\n\n  over <|im_end|> \xc3\xa9t\xc3\xa9 \xe4\xb8\xad";
    exercise(tok, (const uint8_t *)text, sizeof text - 1, 0);
    exercise(tok, data, size, 0);
    for (int32_t id = 0; id < ap_tokenizer_vocab_size(tok); id++) {
        const char *t = ap_tokenizer_token(tok, id);
        check(t != NULL);
        size_t len = strlen(t);
        check(len == 0 || ap_tokenizer_lookup(tok, t, len) == id);
    }
    ap_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct ap_tokenizer *toks[2];
    if (!toks[0]) {
        toks[0] = tiny();
        toks[1] = full_bytes();
    }
    for (int i = 0; i < 2; i++) exercise(toks[i], data, size, 1);
    as_spec(data, size);
    return 0;
}
