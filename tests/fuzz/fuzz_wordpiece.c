/* fuzz_wordpiece.c — libFuzzer target for the WordPiece tokenizer.
 *
 * Each input is (1) encoded as text by three tokenizers over one small
 * vocabulary (BERT defaults; cased with accents stripped and no cleaning; W = 3),
 * checking the invariants below, and (2) loaded as a vocab.txt, which, when it
 * loads, encodes a fixed text and the input itself.
 *
 * Invariants: valid UTF-8 encodes (AP_OK), anything ap_utf8_validate rejects
 * gives AP_ERR_ENCODING; output is [CLS] ... [SEP] with ids in
 * [0, V); truncating to k tokens yields the first k - 1 ids of the full
 * encoding then [SEP]; too small an ids array gives AP_ERR_RANGE with the
 * count the full encoding has.
 *
 * Seeds: tests/corpus/wordpiece (texts, broken UTF-8, vocabularies good and bad).
 *
 * Build: clang -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
 *          tests/fuzz/fuzz_wordpiece.c src/model/utf8.c src/model/wordpiece.c \
 *          src/model/unicode_tables.c src/core/error.c -lm
 * Run:   ./a.out -max_total_time=60 tests/corpus/wordpiece */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "fuzz.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

static const char k_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    "the\nquick\nbrown\nfox\n##es\n##s\n##ing\nun\n##aff\n##able\na\n##a\n##b\n"
    ",\n.\n!\n'\n-\n(\n)\n\xe4\xb8\xad\n\xe6\x96\x87\n\xc3\xa9\n##\xc3\xa9\nE\nCOLE\n##COLE\n";

#define CAP 4096

static void check(int cond) {
    if (!cond) abort();
}

/* Encode with tok and check every invariant in the file comment. */
static void exercise(const struct ap_tokenizer *tok, const uint8_t *data, size_t size) {
    static int32_t full[CAP], part[CAP];
    int32_t n = -1, m = -1;
    const char *text = (const char *)data;
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
        st = ap_tokenizer_encode(tok, text, size, max_tokens, full, CAP, &n);
    }
    check(st == AP_OK);
    check(n >= 2 && n <= CAP);
    check(full[0] == tok->cls_id && full[n - 1] == tok->sep_id);
    int32_t V = ap_tokenizer_vocab_size(tok);
    for (int32_t i = 0; i < n; i++) check(full[i] >= 0 && full[i] < V && ap_tokenizer_token(tok, full[i]));

    int32_t k = 2 + (int32_t)(size % 7);
    if (k < n) {
        check(ap_tokenizer_encode(tok, text, size, k, part, CAP, &m) == AP_OK);
        check(m == k && memcmp(part, full, sizeof(int32_t) * (size_t)(k - 1)) == 0 && part[k - 1] == tok->sep_id);
    }
    if (n > 2) {
        check(ap_tokenizer_encode(tok, text, size, max_tokens, part, n - 1, &m) == AP_ERR_RANGE);
        check(m == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct ap_tokenizer *toks[3];
    if (!toks[0]) {
        struct ap_wordpiece_params p = ap_wordpiece_default_params();
        p.max_tokens = 0;
        check(ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "fuzz", p, &toks[0]) == AP_OK);
        p.lowercase = 0;
        p.strip_accents = 1;
        p.clean_text = 0;
        p.tokenize_chinese_chars = 0;
        check(ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "fuzz", p, &toks[1]) == AP_OK);
        p = ap_wordpiece_default_params();
        p.max_tokens = 0;
        p.max_input_chars_per_word = 3;
        check(ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "fuzz", p, &toks[2]) == AP_OK);
    }
    for (int i = 0; i < 3; i++) exercise(toks[i], data, size);

    /* the input as a vocabulary */
    struct ap_tokenizer *v = NULL;
    struct ap_wordpiece_params p = ap_wordpiece_default_params();
    p.max_tokens = 0;
    if (ap_wordpiece_load_memory((const char *)data, size, "input", p, &v) == AP_OK) {
        static const char text[] = "[CLS] The quick brown fox, unaffable! \xc3\x89" "COLE \xe4\xb8\xad\xe6\x96\x87";
        exercise(v, (const uint8_t *)text, sizeof text - 1);
        exercise(v, data, size);
        for (int32_t id = 0; id < ap_tokenizer_vocab_size(v); id++) {
            const char *t = ap_tokenizer_token(v, id);
            check(t != NULL);
            size_t len = strlen(t);
            check(len == 0 || ap_tokenizer_lookup(v, t, len) == id);
        }
        ap_tokenizer_free(v);
    } else {
        check(v == NULL);
    }
    return 0;
}
