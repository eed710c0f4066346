/* test_bpe.c — the byte-level BPE tokenizer: hand-checked cases on a tiny
 * vocabulary (expected ids from Hugging Face tokenizers on the same
 * definition), load errors, decoding, and parity with tokenizers on the
 * SmolLM2 vocabulary (the fixture from tests/ref/bpe_ids.py). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/json_file.h"
#include "model/tokenizer.h"
#include "model/unicode_tables.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

/* A tiny vocabulary: two control tokens, the one-byte tokens of
 * "abdehlorsw'12.!", the two bytes of 'é' (Ã ©), space (Ġ), newline (Ċ) and
 * tab (ĉ), then the merged tokens of k_merges. 'x' has no token. */
#define G "\xc4\xa0" /* Ġ, the space byte */
#define NL "\xc4\x8a" /* Ċ, the newline byte */
static const char *const k_tokens[] = {
    "<|endoftext|>", "<|im_end|>", /* 0 1: control */
    "a", "b", "d", "e", "h", "l", "o", "r", "s", "w", "'", "1", "2", ".", "!", /* 2 .. 16 */
    "\xc3\x83", "\xc2\xa9", G, NL, "\xc4\x89",               /* 17 Ã 18 © 19 Ġ 20 Ċ 21 ĉ */
    "he", "ll", "hell", "hello", G "w", "or", G "wor", G "worl", G "world", "aa", G G, "'s", "12", G "1",
    NL NL, "\xc3\x83\xc2\xa9", G "h", G "he", G "hell", G "hello", /* 22 .. 41 */
};
static const char *const k_merges[] = {
    "h e", "l l", "he ll", "hell o", G " w", "o r", G "w or", G "wor l", G "worl d", "a a",
    G " " G, "' s", "1 2", G " 1", NL " " NL, "\xc3\x83 \xc2\xa9", G " h", G "h e", G "he ll", G "hell o",
};
enum { T_EOT, T_IM_END, T_A, T_B, T_D, T_E, T_H, T_L, T_O, T_R, T_S, T_W, T_APOS, T_1, T_2, T_DOT, T_BANG,
       T_C3, T_A9, T_SP, T_NL, T_TAB, T_HE, T_LL, T_HELL, T_HELLO, T_SP_W, T_OR, T_SP_WOR, T_SP_WORL,
       T_SP_WORLD, T_AA, T_SP_SP, T_APOS_S, T_12, T_SP_1, T_NL_NL, T_E_ACUTE, T_SP_H, T_SP_HE, T_SP_HELL,
       T_SP_HELLO, T_COUNT };
#define N_MERGES ((int32_t)(sizeof k_merges / sizeof k_merges[0]))

struct tiny {
    struct ap_bpe_str tokens[T_COUNT + 1];
    int32_t types[T_COUNT + 1];
    struct ap_bpe_str merges[N_MERGES + 1];
    struct ap_bpe_spec spec;
};

/* The tiny spec with pre-tokenizer pre; callers may change it before loading. */
static void tiny_spec(struct tiny *t, const char *pre) {
    for (int32_t i = 0; i < T_COUNT; i++) {
        t->tokens[i].data = k_tokens[i];
        t->tokens[i].len = strlen(k_tokens[i]);
        t->types[i] = i < 2 ? 3 : 1;
    }
    for (int32_t i = 0; i < N_MERGES; i++) {
        t->merges[i].data = k_merges[i];
        t->merges[i].len = strlen(k_merges[i]);
    }
    t->spec = ap_bpe_default_spec();
    t->spec.pre = pre;
    t->spec.n_tokens = T_COUNT;
    t->spec.tokens = t->tokens;
    t->spec.types = t->types;
    t->spec.n_merges = N_MERGES;
    t->spec.merges = t->merges;
    t->spec.eos_id = T_EOT;
}

static struct ap_tokenizer *tiny(const char *pre) {
    struct tiny t;
    tiny_spec(&t, pre);
    struct ap_tokenizer *tok = NULL;
    if (ap_bpe_load_arrays(&t.spec, "tiny", &tok) != AP_OK)
        ap_test_fail(__FILE__, __LINE__, "tiny BPE: %s", ap_last_error());
    return tok;
}

/* Encode text[0..len) and compare with the expected ids (terminated by -1). */
static void check_ids(int line, const struct ap_tokenizer *tok, const char *text, size_t len, int32_t max_tokens, ...) {
    int32_t want[64], got[64], n_want = 0, n_got = -1;
    va_list ap;
    va_start(ap, max_tokens);
    for (int32_t id; (id = va_arg(ap, int32_t)) >= 0 && n_want < 64;) want[n_want++] = id;
    va_end(ap);
    enum ap_status st = ap_tokenizer_encode(tok, text, len, max_tokens, got, 64, &n_got);
    if (st != AP_OK) {
        ap_test_fail(__FILE__, line, "encode(\"%s\") failed: %s", text, ap_last_error());
        return;
    }
    int same = n_got == n_want;
    for (int32_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
    if (same) return;
    char a[512] = "", b[512] = "";
    for (int32_t i = 0; i < n_got; i++) snprintf(a + strlen(a), sizeof a - strlen(a), " %d", got[i]);
    for (int32_t i = 0; i < n_want; i++) snprintf(b + strlen(b), sizeof b - strlen(b), " %d", want[i]);
    ap_test_fail(__FILE__, line, "encode(\"%s\"):%s, expected%s", text, a, b);
}
#define CHECK_IDS(tok, text, max_tokens, ...) check_ids(__LINE__, tok, text, strlen(text), max_tokens, __VA_ARGS__, -1)

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ------------------------------------------------------- hand-checked */

TEST(bpe_unicode_classes_spot_checks) {
    CHECK_EQ_INT(ap_uc_bpe_class('a'), AP_UC_BPE_L);
    CHECK_EQ_INT(ap_uc_bpe_class('7'), AP_UC_BPE_N | AP_UC_BPE_NUMERIC);
    CHECK_EQ_INT(ap_uc_bpe_class(' '), AP_UC_BPE_S);
    CHECK_EQ_INT(ap_uc_bpe_class('\''), 0);
    CHECK_EQ_INT(ap_uc_bpe_class(0x1C), 0);        /* information separators are not \s */
    CHECK_EQ_INT(ap_uc_bpe_class(0x85), AP_UC_BPE_S); /* NEL */
    CHECK_EQ_INT(ap_uc_bpe_class(0x3000), AP_UC_BPE_S);
    CHECK_EQ_INT(ap_uc_bpe_class(0x200B), 0);      /* zero width space: Cf */
    CHECK_EQ_INT(ap_uc_bpe_class(0x00BD), AP_UC_BPE_N | AP_UC_BPE_NUMERIC); /* ½ */
    CHECK_EQ_INT(ap_uc_bpe_class(0x4E2D), AP_UC_BPE_L);
    CHECK_EQ_INT(ap_uc_bpe_class(0x0301), 0);      /* combining acute: Mn */
    CHECK_EQ_INT(ap_uc_bpe_class(0x1C89), AP_UC_BPE_L); /* Unicode 16, newer than Python 3.11's tables */
    CHECK_EQ_INT(ap_uc_bpe_class(0x10D40), AP_UC_BPE_N | AP_UC_BPE_NUMERIC); /* Garay digit zero, Unicode 16 */
    CHECK_EQ_INT(ap_uc_bpe_class(0x110000), 0);
}

TEST(bpe_merges_by_rank) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    CHECK_IDS(tok, "hello world", 0, T_HELLO, T_SP_WORLD);
    CHECK_IDS(tok, "aaa", 0, T_AA, T_A); /* equal ranks: leftmost first */
    CHECK_IDS(tok, "aaaa", 0, T_AA, T_AA);
    CHECK_IDS(tok, "aaaaa", 0, T_AA, T_AA, T_A);
    CHECK_IDS(tok, "\xc3\xa9\xc3\xa9", 0, T_E_ACUTE, T_E_ACUTE); /* éé: bytes merge back */
    /* "Ġhello" is a token, but " hello" merges "h e" (rank 0) first and no
     * merge joins Ġ with "hello": merges, not a whole-word look-up */
    CHECK_IDS(tok, "  hello", 0, T_SP, T_SP, T_HELLO);
    /* 'x' has no token: dropped, as tokenizers does without unk_token, and
     * its neighbours then merge */
    CHECK_IDS(tok, "hexllo", 0, T_HELLO);
    CHECK_IDS(tok, "xxx", 0, -1); /* no ids at all */
    check_ids(__LINE__, tok, "ab\0d", 4, 0, T_A, T_B, T_D, -1); /* NUL has no token either */
    ap_tokenizer_free(tok);
}

TEST(bpe_gpt2_split_regex) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    /* \s+(?!\S): before a word the last space goes with the word */
    CHECK_IDS(tok, "hello  world", 0, T_HELLO, T_SP, T_SP_WORLD);
    CHECK_IDS(tok, "hello ", 0, T_HELLO, T_SP);
    CHECK_IDS(tok, " ", 0, T_SP);
    CHECK_IDS(tok, "", 0, -1);
    /* ... but a newline is no " ?": "\n\n" before a word is "\n" then "\n" */
    CHECK_IDS(tok, "a\n\nb", 0, T_A, T_NL, T_NL, T_B);
    CHECK_IDS(tok, "a\n\n", 0, T_A, T_NL_NL); /* at the end the run stays whole */
    CHECK_IDS(tok, "hello\tworld", 0, T_HELLO, T_TAB, T_W, T_OR, T_L, T_D);
    /* contractions are lowercase; "'S" is "'" then "S" (no token for S) */
    CHECK_IDS(tok, "hello's", 0, T_HELLO, T_APOS_S);
    CHECK_IDS(tok, "a'S", 0, T_A, T_APOS);
    CHECK_IDS(tok, "a's's", 0, T_A, T_APOS_S, T_APOS_S);
    CHECK_IDS(tok, "'''s", 0, T_APOS, T_APOS, T_APOS, T_S); /* "'''" is one run of other characters */
    CHECK_IDS(tok, "hello!.", 0, T_HELLO, T_BANG, T_DOT);
    ap_tokenizer_free(tok);
}

TEST(bpe_digits_split_only_for_smollm) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    CHECK_IDS(tok, "12 12", 0, T_1, T_2, T_SP, T_1, T_2); /* every digit alone: "1 2" never merges */
    CHECK_IDS(tok, "hello 1", 0, T_HELLO, T_SP, T_1);    /* the space is left before the digit */
    ap_tokenizer_free(tok);
    tok = tiny("gpt2");
    REQUIRE(tok);
    CHECK_IDS(tok, "12 12", 0, T_12, T_SP, T_12);
    CHECK_IDS(tok, "hello 1", 0, T_HELLO, T_SP_1);
    ap_tokenizer_free(tok);
    tok = tiny(NULL); /* no tokenizer.ggml.pre: "default", the GPT-2 regex */
    REQUIRE(tok);
    CHECK_IDS(tok, "12", 0, T_12);
    ap_tokenizer_free(tok);
}

TEST(bpe_added_tokens_in_text) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    /* the text after an added token starts a new segment: "world" has no " " */
    CHECK_IDS(tok, "hello<|im_end|>world", 0, T_HELLO, T_IM_END, T_W, T_OR, T_L, T_D);
    CHECK_IDS(tok, "<|im_end|><|endoftext|>", 0, T_IM_END, T_EOT);
    CHECK_IDS(tok, "hello <|im_end|>", 0, T_HELLO, T_SP, T_IM_END); /* the segment ends after the space */
    CHECK_IDS(tok, "<|im_end", 0, T_E, T_D); /* not an added token; only 'e' and 'd' have tokens */
    ap_tokenizer_free(tok);
}

TEST(bpe_bos_eos_and_truncation) {
    struct tiny t;
    tiny_spec(&t, "smollm");
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_bpe_load_arrays(&t.spec, "tiny", &tok), AP_OK);
    REQUIRE(tok);
    CHECK_IDS(tok, "hello world hello", 2, T_HELLO, T_SP_WORLD); /* max_tokens keeps the first ids */
    CHECK_IDS(tok, "hello world hello", 1, T_HELLO);
    CHECK_IDS(tok, "aaaaa", 2, T_AA, T_AA);
    CHECK_IDS(tok, "hello<|im_end|>world", 2, T_HELLO, T_IM_END);
    ap_tokenizer_free(tok);

    t.spec.bos_id = T_IM_END;
    t.spec.add_bos = 1;
    t.spec.add_eos = 1;
    t.spec.max_tokens = 4;
    CHECK_STATUS(ap_bpe_load_arrays(&t.spec, "tiny", &tok), AP_OK);
    REQUIRE(tok);
    CHECK_IDS(tok, "hello", 0, T_IM_END, T_HELLO, T_EOT);
    CHECK_IDS(tok, "", 0, T_IM_END, T_EOT);
    CHECK_IDS(tok, "hello world hello", 0, T_IM_END, T_HELLO, T_SP_WORLD, T_EOT); /* its own limit: 4 */
    CHECK_IDS(tok, "hello world hello", 3, T_IM_END, T_HELLO, T_EOT);
    CHECK_IDS(tok, "hello world hello", 2, T_IM_END, T_EOT);
    int32_t ids[8], n = -1;
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, 1, ids, 8, &n), AP_ERR_RANGE);
    CHECK(contains(ap_last_error(), "no room for BOS and EOS"));
    ap_tokenizer_free(tok);
}

TEST(bpe_output_too_small_and_bad_text) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    int32_t ids[4] = {0}, n = -1;
    CHECK_STATUS(ap_tokenizer_encode(tok, "aaaaaaaaaa", 10, 0, ids, 4, &n), AP_ERR_RANGE);
    CHECK_EQ_INT(n, 5); /* the room it needs */
    CHECK(contains(ap_last_error(), "room for 4"));
    CHECK_STATUS(ap_tokenizer_encode(tok, "aaaaaaaa", 8, 0, ids, 4, &n), AP_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_STATUS(ap_tokenizer_encode(tok, "aa", 2, 0, NULL, 0, &n), AP_ERR_RANGE);
    CHECK_EQ_INT(n, 1);
    CHECK_STATUS(ap_tokenizer_encode(tok, NULL, 0, 0, NULL, 0, &n), AP_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello \xc3(", 7, 0, ids, 4, &n), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "invalid UTF-8 at byte 6"));
    CHECK_STATUS(ap_tokenizer_encode(tok, "\xed\xa0\x80", 3, 0, ids, 4, &n), AP_ERR_ENCODING); /* surrogate */
    CHECK_STATUS(ap_tokenizer_encode(tok, "a", 1, -1, ids, 4, &n), AP_ERR_INVALID_ARG);
    ap_tokenizer_free(tok);
}

/* A pre-token longer than the stack scratch goes through the heap path. */
TEST(bpe_long_pre_tokens) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    enum { N = 5001 };
    char *text = malloc(N + 1);
    int32_t *ids = malloc(sizeof(int32_t) * N);
    REQUIRE(text && ids);
    memset(text, 'a', N);
    text[N] = '\0';
    int32_t n = 0;
    CHECK_STATUS(ap_tokenizer_encode(tok, text, N, 0, ids, N, &n), AP_OK);
    CHECK_EQ_INT(n, N / 2 + 1);
    int ok = 1;
    for (int32_t i = 0; i < n - 1; i++) ok &= ids[i] == T_AA;
    CHECK(ok && ids[n - 1] == T_A);
    memset(text, ' ', N); /* one whitespace run to the end */
    CHECK_STATUS(ap_tokenizer_encode(tok, text, N, 0, ids, N, &n), AP_OK);
    CHECK_EQ_INT(n, N / 2 + 1);
    CHECK(ids[0] == T_SP_SP && ids[n - 1] == T_SP);
    free(text);
    free(ids);
    ap_tokenizer_free(tok);
}

/* ------------------------------------------------------------- decoding */

TEST(bpe_decode_and_token_spelling) {
    struct ap_tokenizer *tok = tiny("smollm");
    REQUIRE(tok);
    const int32_t ids[] = {T_HELLO, T_SP_WORLD, T_NL_NL, T_E_ACUTE, T_IM_END, T_TAB};
    char buf[64];
    size_t len = 0;
    CHECK_STATUS(ap_tokenizer_decode(tok, ids, 6, buf, sizeof buf, &len), AP_OK);
    CHECK_EQ_INT(len, strlen("hello world\n\n\xc3\xa9<|im_end|>\t"));
    CHECK(strcmp(buf, "hello world\n\n\xc3\xa9<|im_end|>\t") == 0);
    /* half a character: the bytes as they are */
    const int32_t half[] = {T_C3};
    CHECK_STATUS(ap_tokenizer_decode(tok, half, 1, buf, sizeof buf, &len), AP_OK);
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT((uint8_t)buf[0], 0xC3);
    /* too small: the count needed */
    CHECK_STATUS(ap_tokenizer_decode(tok, ids, 2, buf, 5, &len), AP_ERR_RANGE);
    CHECK_EQ_INT(len, 11);
    CHECK_STATUS(ap_tokenizer_decode(tok, ids, 2, buf, 11, &len), AP_OK); /* exact: no NUL */
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK_STATUS(ap_tokenizer_decode(tok, ids, 0, NULL, 0, &len), AP_OK);
    CHECK_EQ_INT(len, 0);
    const int32_t bad[] = {T_A, T_COUNT};
    CHECK_STATUS(ap_tokenizer_decode(tok, bad, 2, buf, sizeof buf, &len), AP_ERR_RANGE);
    CHECK(contains(ap_last_error(), "outside the vocabulary"));
    /* the vocabulary entry is GPT-2's spelling; lookup takes it too */
    CHECK(strcmp(ap_tokenizer_token(tok, T_SP_WORLD), G "world") == 0);
    CHECK(ap_tokenizer_token(tok, T_COUNT) == NULL);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, G "world", strlen(G "world")), T_SP_WORLD);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, " world", 6), -1);
    CHECK_EQ_INT(ap_tokenizer_vocab_size(tok), T_COUNT);
    ap_tokenizer_free(tok);

    /* WordPiece does not decode */
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n";
    struct ap_tokenizer *wp = NULL;
    CHECK_STATUS(ap_wordpiece_load_memory(vocab, sizeof vocab - 1, "v", ap_wordpiece_default_params(), &wp), AP_OK);
    REQUIRE(wp);
    CHECK_STATUS(ap_tokenizer_decode(wp, ids, 1, buf, sizeof buf, &len), AP_ERR_UNSUPPORTED);
    ap_tokenizer_free(wp);
}

/* ---------------------------------------------------------- load errors */

static enum ap_status load_tiny(struct tiny *t) {
    struct ap_tokenizer *tok = (struct ap_tokenizer *)1;
    enum ap_status st = ap_bpe_load_arrays(&t->spec, "m.gguf", &tok);
    if (st == AP_OK) ap_tokenizer_free(tok);
    else if (tok != NULL) ap_test_fail(__FILE__, __LINE__, "*out set on failure");
    return st;
}

TEST(bpe_load_errors_name_the_problem) {
    struct tiny t;
    tiny_spec(&t, "smollm");
    t.spec.model = "llama";
    CHECK_STATUS(load_tiny(&t), AP_ERR_UNSUPPORTED);
    CHECK(contains(ap_last_error(), "m.gguf: tokenizer model (tokenizer.ggml.model) 'llama'"));
    CHECK(contains(ap_last_error(), "SentencePiece"));
    t.spec.model = NULL;
    CHECK_STATUS(load_tiny(&t), AP_ERR_UNSUPPORTED);

    tiny_spec(&t, "qwen2");
    CHECK_STATUS(load_tiny(&t), AP_ERR_UNSUPPORTED);
    CHECK(contains(ap_last_error(), "'qwen2' is not supported"));

    tiny_spec(&t, "smollm");
    t.spec.n_tokens = 0;
    CHECK_STATUS(load_tiny(&t), AP_ERR_EMPTY);

    tiny_spec(&t, "smollm");
    struct ap_bpe_str m = {"he ll", 5};
    t.merges[3] = m; /* "he ll" twice: the later rank wins, no error */
    CHECK_STATUS(load_tiny(&t), AP_OK);
    m.data = "hel lo";
    m.len = 6;
    t.merges[5] = m;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "m.gguf: merge 5 'hel lo': its left part is not in the vocabulary"));
    m.data = "a b";
    m.len = 3;
    t.merges[5] = m;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "the merged token"));
    m.data = "ab";
    m.len = 2;
    t.merges[5] = m;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "merge 5 'ab' is not two tokens separated by one space"));
    m.data = "a  a";
    m.len = 4;
    t.merges[5] = m;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    m.data = NULL;
    m.len = 3;
    t.merges[5] = m;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);

    tiny_spec(&t, "smollm");
    struct ap_bpe_str tk = {"hello", 5};
    t.tokens[T_HE] = tk;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "token 25 'hello' repeats token 22"));
    tk.data = "h\xc3";
    tk.len = 2;
    t.tokens[T_HE] = tk;
    CHECK_STATUS(load_tiny(&t), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "token 22: invalid UTF-8 at byte 1"));
    tk.data = "h\0e";
    tk.len = 3;
    t.tokens[T_HE] = tk;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "NUL"));

    tiny_spec(&t, "smollm");
    t.types[4] = 9;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "token 4 has type 9"));
    tiny_spec(&t, "smollm");
    t.spec.bos_id = T_COUNT;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "bos_token_id 42 is outside the vocabulary of 42 tokens"));
    tiny_spec(&t, "smollm");
    t.spec.add_bos = 1;
    CHECK_STATUS(load_tiny(&t), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "add_bos_token is set but there is no bos_token_id"));
    tiny_spec(&t, "smollm");
    t.spec.add_eos = 2;
    CHECK_STATUS(load_tiny(&t), AP_ERR_INVALID_ARG);
    tiny_spec(&t, "smollm");
    t.spec.max_tokens = -1;
    CHECK_STATUS(load_tiny(&t), AP_ERR_INVALID_ARG);
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_bpe_load_arrays(NULL, "x", &tok), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_bpe_load_arrays(&t.spec, "x", NULL), AP_ERR_INVALID_ARG);
}

/* ------------------------------------------------- parity with Hugging Face */

#define PARITY_HOWTO                                                                                   \
    "make it with: .venv/bin/python tests/ref/bpe_ids.py --out DIR, then run with AP_FIXTURES=DIR " \
    "(make test does both, in build/fixtures)"

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    *size = n;
    return buf;
}

/* The arrays of DIR/bpe/vocab.json (the GGUF's tokenizer metadata as JSON). */
struct json_vocab {
    cJSON *root;
    struct ap_bpe_str *tokens, *merges;
    int32_t *types;
    struct ap_bpe_spec spec;
};

static int json_id(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

static int load_json_vocab(const char *path, struct json_vocab *jv) {
    memset(jv, 0, sizeof *jv);
    if (ap_json_load(path, &jv->root) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s; " PARITY_HOWTO, ap_last_error());
        return 0;
    }
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(jv->root, "tokens");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(jv->root, "token_type");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(jv->root, "merges");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(jv->root, "model");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(jv->root, "pre");
    if (!cJSON_IsArray(toks) || !cJSON_IsArray(types) || !cJSON_IsArray(merges) || !cJSON_IsString(model) ||
        !cJSON_IsString(pre)) {
        ap_test_fail(__FILE__, __LINE__, "%s lacks tokens, token_type, merges, model or pre; " PARITY_HOWTO, path);
        return 0;
    }
    int32_t V = cJSON_GetArraySize(toks), M = cJSON_GetArraySize(merges);
    jv->tokens = malloc(sizeof *jv->tokens * (size_t)V);
    jv->types = malloc(sizeof *jv->types * (size_t)V);
    jv->merges = malloc(sizeof *jv->merges * (size_t)M);
    if (!jv->tokens || !jv->types || !jv->merges || cJSON_GetArraySize(types) != V) return 0;
    int32_t i = 0;
    for (const cJSON *e = toks->child; e; e = e->next, i++) {
        jv->tokens[i].data = e->valuestring;
        jv->tokens[i].len = strlen(e->valuestring);
    }
    i = 0;
    for (const cJSON *e = types->child; e; e = e->next, i++) jv->types[i] = (int32_t)e->valuedouble;
    i = 0;
    for (const cJSON *e = merges->child; e; e = e->next, i++) {
        jv->merges[i].data = e->valuestring;
        jv->merges[i].len = strlen(e->valuestring);
    }
    const cJSON *add_bos = cJSON_GetObjectItemCaseSensitive(jv->root, "add_bos_token");
    const cJSON *add_eos = cJSON_GetObjectItemCaseSensitive(jv->root, "add_eos_token");
    jv->spec = ap_bpe_default_spec();
    jv->spec.model = model->valuestring;
    jv->spec.pre = pre->valuestring;
    jv->spec.n_tokens = V;
    jv->spec.tokens = jv->tokens;
    jv->spec.types = jv->types;
    jv->spec.n_merges = M;
    jv->spec.merges = jv->merges;
    jv->spec.bos_id = json_id(jv->root, "bos_token_id");
    jv->spec.eos_id = json_id(jv->root, "eos_token_id");
    jv->spec.unk_id = json_id(jv->root, "unknown_token_id");
    jv->spec.pad_id = json_id(jv->root, "padding_token_id");
    jv->spec.add_bos = cJSON_IsTrue(add_bos);
    jv->spec.add_eos = cJSON_IsTrue(add_eos);
    return 1;
}

static void free_json_vocab(struct json_vocab *jv) {
    cJSON_Delete(jv->root);
    free(jv->tokens);
    free(jv->types);
    free(jv->merges);
}

/* Undo bpe_ids.py's escape (\xHH) in place; returns the length. */
static size_t unescape(char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
            char hex[3] = {s[i + 2], s[i + 3], 0};
            s[k++] = (char)strtol(hex, NULL, 16);
            i += 3;
        } else {
            s[k++] = s[i];
        }
    }
    return k;
}

static int parse_ids(char *s, int32_t *out, int32_t cap) {
    int32_t n = 0;
    for (char *q = s, *e; *q && n < cap; q = e) {
        long v = strtol(q, &e, 10);
        if (e == q) break;
        out[n++] = (int32_t)v;
    }
    return n;
}

static void print_ids(const char *label, const int32_t *ids, int32_t n) {
    fprintf(stderr, "      %s (%d):", label, n);
    for (int32_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* AP_FIXTURES, or else build/fixtures under the source directory when
 * make test has made the fixture there (so build-asan/tests/unit_tests bpe
 * works from the repository root), or NULL. */
static const char *fixture_dir(void) {
    static char dir[4096];
    const char *fix = ap_test_fixture_dir();
    if (fix) return fix;
    snprintf(dir, sizeof dir, "%s/build/fixtures", ap_test_source_dir());
    char path[4200];
    snprintf(path, sizeof path, "%s/bpe/ids.txt", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    return dir;
}

/* Encode every line of FIX/bpe/ids.txt with tok and compare with the
 * hub ids; decode them back. label names the tokenizer's source. */
static void parity(const struct ap_tokenizer *tok, const char *fix, const char *label) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bpe/ids.txt", fix);
    size_t size = 0;
    char *fixture = read_all(path, &size);
    if (!fixture) {
        ap_test_fail(__FILE__, __LINE__, "cannot read %s; " PARITY_HOWTO, path);
        return;
    }
    enum ap_status st;
    long want_lines = -1, want_differs = -1;
    char *p = fixture;
    while (*p == '#') {
        char *eol = strchr(p, '\n');
        if (!eol) break;
        *eol = '\0';
        if (sscanf(p, "# lines: %ld", &want_lines) == 1) {}
        else if (sscanf(p, "# gguf_differs: %ld", &want_differs) == 1) {}
        p = eol + 1;
    }
    /* buffers grow with the longest line: ids <= bytes of text (+ BOS/EOS) */
    size_t cap = 0;
    int32_t *got = NULL, *want = NULL, *conv = NULL;
    char *dec = NULL, *kept = NULL;
    long lines = 0, tokens = 0, bad = 0, differs = 0, rt_bad = 0, rt_lossy = 0;
    for (char *line = p; *line;) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        char *f[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4 && f[k - 1]; k++) {
            char *tab = strchr(f[k - 1], '\t');
            if (tab) *tab = '\0';
            f[k] = tab ? tab + 1 : NULL;
        }
        if (!f[3]) {
            ap_test_fail(__FILE__, __LINE__, "%s: line %ld is not SET<TAB>TEXT<TAB>IDS<TAB>IDS; " PARITY_HOWTO, path,
                         lines + 1);
            break;
        }
        size_t len = unescape(f[1], strlen(f[1]));
        size_t need = len + strlen(f[2]) + strlen(f[3]) + 16;
        if (need > cap) {
            cap = need;
            free(got);
            free(dec);
            got = malloc(sizeof(int32_t) * cap * 3);
            dec = malloc(cap * 2);
            if (!got || !dec) {
                ap_test_fail(__FILE__, __LINE__, "no memory for a line of %zu bytes", len);
                break;
            }
            want = got + cap;
            conv = got + 2 * cap;
            kept = dec + cap;
        }
        const int32_t CAP = (int32_t)cap;
        int32_t n_want = parse_ids(f[2], want, CAP), n_conv = parse_ids(f[3], conv, CAP), n_got = 0;
        st = ap_tokenizer_encode(tok, f[1], len, 0, got, CAP, &n_got);
        int same = st == AP_OK && n_got == n_want;
        for (int32_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        if (!same) {
            if (bad < 5) {
                fprintf(stderr, "    %s line %ld differs: \"%.*s\"%s\n", f[0], lines + 1, (int)(len < 160 ? len : 160),
                        f[1], len > 160 ? "..." : "");
                if (st != AP_OK) fprintf(stderr, "      encode failed: %s\n", ap_last_error());
                print_ids("got ", got, st == AP_OK ? n_got : 0);
                print_ids("want", want, n_want);
            }
            bad++;
        }
        int conv_same = n_conv == n_want;
        for (int32_t i = 0; conv_same && i < n_conv; i++) conv_same = conv[i] == want[i];
        differs += !conv_same;
        /* round trip: the text back, less the bytes without a token of their
         * own (SmolLM2 has none for 21 bytes, e.g. the 0xF1 and 0xF2 that
         * lead planes 4 to 11: tokenizers drops them too) */
        size_t n_kept = 0;
        for (size_t i = 0; i < len; i++)
            if (tok->bpe.byte_id[(uint8_t)f[1][i]] >= 0) kept[n_kept++] = f[1][i];
        size_t n_dec = 0;
        if (st == AP_OK) {
            enum ap_status ds = ap_tokenizer_decode(tok, got, n_got, dec, cap, &n_dec);
            if (ds != AP_OK || n_dec != n_kept || memcmp(dec, kept, n_kept) != 0) {
                if (rt_bad < 3)
                    fprintf(stderr, "    %s line %ld: decode(encode(text)) gives \"%.*s\"\n", f[0], lines + 1,
                            (int)(n_dec < 160 ? n_dec : 160), dec);
                rt_bad++;
            }
            rt_lossy += n_kept != len;
        }
        tokens += n_want;
        lines++;
        if (!eol) break;
        line = eol + 1;
    }
    if (lines != want_lines)
        ap_test_fail(__FILE__, __LINE__, "%s has %ld lines, its header says %ld; " PARITY_HOWTO, path, lines, want_lines);
    if (bad)
        ap_test_fail(__FILE__, __LINE__, "%s: %ld of %ld lines differ from Hugging Face (first ones above)", label, bad,
                     lines);
    else
        fprintf(stderr, "    %s: %ld lines, %ld tokens identical to Hugging Face tokenizers (SmolLM2's tokenizer.json)\n",
                label, lines, tokens);
    if (rt_bad)
        ap_test_fail(__FILE__, __LINE__, "%s: %ld of %ld lines do not decode back to their text", label, rt_bad, lines);
    else
        fprintf(stderr, "    round trip: all %ld lines decode back (%ld less the bytes the vocabulary lacks)\n", lines,
                rt_lossy);
    fprintf(stderr, "    transformers' own GGUF conversion (ByteLevel without Digits) differs on %ld lines\n", differs);
    if (want_differs >= 0) CHECK_EQ_INT(differs, want_differs);
    free(got);
    free(dec);
    free(fixture);
}

TEST(bpe_parity_with_hugging_face) {
    const char *fix = fixture_dir();
    if (!fix) {
        ap_test_fail(__FILE__, __LINE__,
                     "no fixture (AP_FIXTURES unset, none in build/fixtures): the parity test needs bpe/ids.txt; "
                     PARITY_HOWTO);
        return;
    }
    char path[4096];
    struct json_vocab jv;
    snprintf(path, sizeof path, "%s/bpe/vocab.json", fix);
    if (!load_json_vocab(path, &jv)) {
        free_json_vocab(&jv);
        return;
    }
    struct ap_tokenizer *tok = NULL;
    enum ap_status st = ap_bpe_load_arrays(&jv.spec, path, &tok);
    free_json_vocab(&jv); /* the tokenizer keeps nothing of the spec */
    if (st != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
        return;
    }
    parity(tok, fix, "arrays from vocab.json");
    ap_tokenizer_free(tok);
}

/* ------------------------------------------------------------------ GGUF */

/* A GGUF v3 file with metadata only, built in memory. */
struct gbuf {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
};

static void put(struct gbuf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        AP_ASSERT(b->p != NULL);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_u32(struct gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_bytes(struct gbuf *b, const char *s, size_t n) {
    put_u64(b, n);
    put(b, s, n);
}
static void key(struct gbuf *b, const char *k, enum ap_gguf_type t) {
    put_bytes(b, k, strlen(k));
    put_u32(b, t);
    b->n_kv++;
}
static void kv_str(struct gbuf *b, const char *k, const char *v) {
    key(b, k, AP_GGUF_STRING);
    put_bytes(b, v, strlen(v));
}
static void kv_u32(struct gbuf *b, const char *k, uint32_t v) {
    key(b, k, AP_GGUF_UINT32);
    put_u32(b, v);
}
static void kv_bool(struct gbuf *b, const char *k, int v) {
    key(b, k, AP_GGUF_BOOL);
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void kv_strs(struct gbuf *b, const char *k, const struct ap_bpe_str *s, int32_t n) {
    key(b, k, AP_GGUF_ARRAY);
    put_u32(b, AP_GGUF_STRING);
    put_u64(b, (uint64_t)n);
    for (int32_t i = 0; i < n; i++) put_bytes(b, s[i].data, s[i].len);
}
static void kv_i32s(struct gbuf *b, const char *k, const int32_t *v, int32_t n) {
    key(b, k, AP_GGUF_ARRAY);
    put_u32(b, AP_GGUF_INT32);
    put_u64(b, (uint64_t)n);
    for (int32_t i = 0; i < n; i++) put_u32(b, (uint32_t)v[i]);
}

/* What tiny_gguf writes; NULL or -1 leaves a key out. */
struct gguf_opts {
    const char *model, *pre;
    int32_t n_types; /* entries of token_type (-1: no key) */
    int merges;      /* write the merges */
    int32_t bos;     /* bos_token_id, with add_bos_token true (-1: neither) */
};

/* The tiny vocabulary as a GGUF file's tokenizer.ggml.* keys, opened. */
static struct ap_gguf *tiny_gguf(struct gguf_opts o, struct gbuf *b) {
    struct tiny t;
    tiny_spec(&t, "smollm");
    memset(b, 0, sizeof *b);
    struct gbuf kv = {0};
    if (o.model) kv_str(&kv, "tokenizer.ggml.model", o.model);
    if (o.pre) kv_str(&kv, "tokenizer.ggml.pre", o.pre);
    kv_strs(&kv, "tokenizer.ggml.tokens", t.tokens, T_COUNT);
    if (o.n_types >= 0) kv_i32s(&kv, "tokenizer.ggml.token_type", t.types, o.n_types);
    if (o.merges) kv_strs(&kv, "tokenizer.ggml.merges", t.merges, N_MERGES);
    kv_u32(&kv, "tokenizer.ggml.eos_token_id", T_EOT);
    if (o.bos >= 0) {
        kv_u32(&kv, "tokenizer.ggml.bos_token_id", (uint32_t)o.bos);
        kv_bool(&kv, "tokenizer.ggml.add_bos_token", 1);
    }
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 0); /* tensors */
    put_u64(b, kv.n_kv);
    put(b, kv.p, kv.n);
    free(kv.p);
    struct ap_gguf *g = NULL;
    if (ap_gguf_open_memory(b->p, b->n, "tiny.gguf", &g) != AP_OK)
        ap_test_fail(__FILE__, __LINE__, "tiny.gguf: %s", ap_last_error());
    return g;
}

static enum ap_status load_tiny_gguf(struct gguf_opts o) {
    struct gbuf b;
    struct ap_gguf *g = tiny_gguf(o, &b);
    struct ap_tokenizer *tok = (struct ap_tokenizer *)1;
    enum ap_status st = g ? ap_bpe_load_gguf(g, &tok) : AP_ERR_IO;
    if (st == AP_OK) ap_tokenizer_free(tok);
    else if (tok != NULL) ap_test_fail(__FILE__, __LINE__, "*out set on failure");
    ap_gguf_close(g);
    free(b.p);
    return st;
}

TEST(bpe_gguf_tiny_file) {
    struct gguf_opts o = {"gpt2", "smollm", T_COUNT, 1, -1};
    struct gbuf b;
    struct ap_gguf *g = tiny_gguf(o, &b);
    REQUIRE(g);
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_bpe_load_gguf(g, &tok), AP_OK);
    ap_gguf_close(g); /* the tokenizer keeps nothing of the file */
    free(b.p);
    REQUIRE(tok);
    CHECK_IDS(tok, "hello world<|im_end|>", 0, T_HELLO, T_SP_WORLD, T_IM_END);
    CHECK_IDS(tok, "12 12", 0, T_1, T_2, T_SP, T_1, T_2);
    CHECK_EQ_INT(tok->bpe.eos_id, T_EOT);
    CHECK_EQ_INT(tok->bpe.bos_id, -1);
    ap_tokenizer_free(tok);

    o.pre = NULL; /* no pre: "default" */
    o.bos = T_IM_END;
    g = tiny_gguf(o, &b);
    REQUIRE(g);
    CHECK_STATUS(ap_bpe_load_gguf(g, &tok), AP_OK);
    ap_gguf_close(g);
    free(b.p);
    REQUIRE(tok);
    CHECK_IDS(tok, "12 12", 0, T_IM_END, T_12, T_SP, T_12);
    ap_tokenizer_free(tok);
}

TEST(bpe_gguf_errors_name_the_problem) {
    struct gguf_opts ok = {"gpt2", "smollm", T_COUNT, 1, -1}, o = ok;
    o.model = "llama";
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_UNSUPPORTED);
    CHECK(contains(ap_last_error(), "tiny.gguf: tokenizer model (tokenizer.ggml.model) 'llama' is not supported"));
    o = ok;
    o.model = NULL;
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "tokenizer.ggml.model"));
    o = ok;
    o.pre = "llama-bpe";
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_UNSUPPORTED);
    CHECK(contains(ap_last_error(), "pre-tokenizer (tokenizer.ggml.pre) 'llama-bpe' is not supported"));
    o = ok;
    o.merges = 0;
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "tokenizer.ggml.merges"));
    o = ok;
    o.n_types = 3;
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "token_type must be an integer array of 42 entries"));
    o = ok;
    o.n_types = -1; /* no types: all normal, so "<|im_end|>" is not matched as a whole */
    CHECK_STATUS(load_tiny_gguf(o), AP_OK);
    o = ok;
    o.bos = T_COUNT + 5;
    CHECK_STATUS(load_tiny_gguf(o), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "bos_token_id 47 is outside the vocabulary"));
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_bpe_load_gguf(NULL, &tok), AP_ERR_INVALID_ARG);
}

/* The real thing: SmolLM2's GGUF through the GGUF reader, the same ids as
 * the arrays path on the whole fixture. */
TEST(bpe_gguf_smollm2) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/SmolLM2-135M-Instruct/model.gguf", ap_test_source_dir());
    struct ap_gguf *g = NULL;
    if (ap_gguf_open(path, &g) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s (run scripts/setup.sh to fetch the model)", ap_last_error());
        return;
    }
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_bpe_load_gguf(g, &tok), AP_OK);
    ap_gguf_close(g);
    REQUIRE(tok);
    CHECK_EQ_INT(ap_tokenizer_vocab_size(tok), 49152);
    CHECK_EQ_INT(tok->bpe.n_merges, 48900);
    CHECK_EQ_INT(tok->bpe.n_special, 17);
    CHECK_EQ_INT(tok->bpe.pre, AP_BPE_PRE_SMOLLM);
    CHECK_EQ_INT(tok->bpe.add_bos, 0);
    CHECK_IDS(tok, "Hello, world.", 0, 19556, 28, 905, 30);
    CHECK_IDS(tok, "<|im_start|>user\nIn 2024?<|im_end|>", 0, 1, 4093, 198, 788, 216, 34, 32, 34, 36, 47, 2);
    int missing = 0;
    for (int c = 0; c < 256; c++) missing += tok->bpe.byte_id[c] < 0;
    CHECK_EQ_INT(missing, 21); /* SmolLM2 has no token for 21 bytes (see docs/tokenizer.md) */
    const char *fix = fixture_dir();
    if (fix) parity(tok, fix, "SmolLM2 GGUF");
    else ap_test_fail(__FILE__, __LINE__, "no fixture (AP_FIXTURES unset, none in build/fixtures); " PARITY_HOWTO);
    ap_tokenizer_free(tok);
}
