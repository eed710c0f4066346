/* test_tokenizer.c — the WordPiece tokenizer: hand-checked cases on a tiny
 * vocabulary, UTF-8 decoding, vocabulary errors, and parity with Hugging
 * Face's fast tokenizer on a few thousand lines (the fixture from
 * tests/ref/tokenizer_ids.py). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnprune.h"
#include "model/tokenizer.h"
#include "model/unicode_tables.h"
#include "model/utf8.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

/* A tiny vocabulary; ids are line numbers - 1 (listed on the right). */
static const char k_vocab[] =
    "[PAD]\n"   /* 0 */
    "[UNK]\n"   /* 1 */
    "[CLS]\n"   /* 2 */
    "[SEP]\n"   /* 3 */
    "[MASK]\n"  /* 4 */
    "un\n"      /* 5 */
    "##aff\n"   /* 6 */
    "##able\n"  /* 7 */
    "aff\n"     /* 8 */
    "##a\n"     /* 9 */
    "##ff\n"    /* 10 */
    "hello\n"   /* 11 */
    "world\n"   /* 12 */
    ",\n"       /* 13 */
    ".\n"       /* 14 */
    "!\n"       /* 15 */
    "'\n"       /* 16 */
    "don\n"     /* 17 */
    "t\n"       /* 18 */
    "ecole\n"   /* 19 */
    "##s\n"     /* 20 */
    "ECOLE\n"   /* 21 */
    "\xe4\xb8\xad\n" /* 22 中 */
    "\xe6\x96\x87\n" /* 23 文 */
    "a\n"       /* 24 */
    "##b\n"     /* 25 */
    "i\n"       /* 26 */
    "\xcf\x83\n" /* 27 σ */
    "ss\n"      /* 28 */
    "stra\n"    /* 29 */
    "##\xc3\x9f\n" /* 30 ##ß */
    "\xc3\xa9\n"  /* 31 é */
    "x\xf0\x9d\x85\xa5\xf0\x9d\x85\xad\n"; /* 32 x U+1D165 (ccc 216) U+1D16D (ccc 226): spacing marks */

enum { V_PAD, V_UNK, V_CLS, V_SEP, V_MASK, V_UN, V_HH_AFF, V_HH_ABLE, V_AFF, V_HH_A, V_HH_FF, V_HELLO, V_WORLD,
       V_COMMA, V_DOT, V_BANG, V_APOS, V_DON, V_T, V_ECOLE, V_HH_S, V_ECOLE_UP, V_ZHONG, V_WEN, V_A, V_HH_B, V_I,
       V_SIGMA, V_SS, V_STRA, V_HH_SZ, V_E_ACUTE, V_X_MARKS, V_COUNT };

static struct ap_tokenizer *tiny(struct ap_wordpiece_params p) {
    struct ap_tokenizer *tok = NULL;
    enum ap_status st = ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "tiny", p, &tok);
    if (st != AP_OK) ap_test_fail(__FILE__, __LINE__, "tiny vocabulary: %s", ap_last_error());
    return tok;
}

/* Encode text and compare with the expected ids (terminated by -1). */
static void check_ids(int line, const struct ap_tokenizer *tok, const char *text, int32_t max_tokens, ...) {
    int32_t want[64], got[64], n_want = 0, n_got = -1;
    va_list ap;
    va_start(ap, max_tokens);
    for (int32_t id; (id = va_arg(ap, int32_t)) >= 0 && n_want < 64;) want[n_want++] = id;
    va_end(ap);
    enum ap_status st = ap_tokenizer_encode(tok, text, strlen(text), max_tokens, got, 64, &n_got);
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
#define CHECK_IDS(tok, text, max_tokens, ...) check_ids(__LINE__, tok, text, max_tokens, __VA_ARGS__, -1)

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ------------------------------------------------------------ UTF-8 */

TEST(utf8_round_trip_every_code_point) {
    uint8_t buf[AP_UTF8_MAX];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t n = ap_utf8_encode(cp, buf);
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            if (n != 0) ap_test_fail(__FILE__, __LINE__, "surrogate U+%04X encoded", cp);
            continue;
        }
        size_t pos = 0;
        uint32_t back = 0;
        if (n < 1 || !ap_utf8_decode(buf, n, &pos, &back) || back != cp || pos != n) {
            ap_test_fail(__FILE__, __LINE__, "U+%04X does not round-trip", cp);
            return;
        }
        if (ap_utf8_validate(buf, n - 1) != 0 && n > 1) {
            ap_test_fail(__FILE__, __LINE__, "U+%04X truncated was accepted", cp);
            return;
        }
    }
    CHECK_EQ_INT(ap_utf8_encode(0x110000, buf), 0);
}

TEST(utf8_rejects_ill_formed_sequences) {
    static const struct {
        const char *s;
        size_t len, bad;
    } cases[] = {
        {"plain ascii", 11, 11},
        {"ab\xC3", 3, 2},                /* truncated 2-byte */
        {"\xC0\xAF", 2, 0},              /* overlong '/' */
        {"\xC1\xBF", 2, 0},              /* overlong */
        {"x\xE0\x80\xAF", 4, 1},         /* overlong 3-byte */
        {"xy\xED\xA0\x80", 5, 2},        /* surrogate U+D800 */
        {"\xED\x9F\xBF", 3, 3},          /* U+D7FF is fine */
        {"\xF0\x80\x80\xAF", 4, 0},      /* overlong 4-byte */
        {"\xF4\x90\x80\x80", 4, 0},      /* U+110000 */
        {"\xF4\x8F\xBF\xBF", 4, 4},      /* U+10FFFF is fine */
        {"\xF5\x80\x80\x80", 4, 0},      /* lead byte past F4 */
        {"ok\x80", 3, 2},                /* stray continuation */
        {"\xE2\x82", 2, 0},              /* truncated 3-byte */
        {"\xE2\x82x", 3, 0},             /* broken 3-byte */
        {"\xC3\xA9\xC3\xA9\xFF", 5, 4},  /* 0xFF */
        {"0123456789abcdef\xC3", 17, 16}, /* after the 8-byte ASCII skip */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = ap_utf8_validate((const uint8_t *)cases[i].s, cases[i].len);
        if (got != cases[i].bad)
            ap_test_fail(__FILE__, __LINE__, "case %zu: first invalid byte %zu, expected %zu", i, got, cases[i].bad);
    }
}

/* ------------------------------------------------------------- tables */

TEST(unicode_tables_spot_checks) {
    CHECK(ap_uc_props(' ').flags & AP_UC_WS);
    CHECK(ap_uc_props(0x3000).flags & AP_UC_WS);
    CHECK(ap_uc_props(0x00A0).flags & AP_UC_WS);
    CHECK(!(ap_uc_props(0x200B).flags & AP_UC_WS)); /* zero width space is Cf */
    CHECK(ap_uc_props(0x200B).flags & AP_UC_CTRL);
    CHECK(ap_uc_props(0x0007).flags & AP_UC_CTRL);
    CHECK(!(ap_uc_props('\t').flags & AP_UC_CTRL));
    CHECK(ap_uc_props('$').flags & AP_UC_PUNCT);    /* Sc, but ASCII punctuation */
    CHECK(ap_uc_props(0x2014).flags & AP_UC_PUNCT); /* em dash */
    CHECK(!(ap_uc_props(0x20AC).flags & AP_UC_PUNCT)); /* euro sign is Sc */
    CHECK(ap_uc_props(0x4E2D).flags & AP_UC_CJK);
    CHECK(!(ap_uc_props(0x2B820).flags & AP_UC_CJK)); /* tokenizers' gap */
    CHECK(!(ap_uc_props(0x3042).flags & AP_UC_CJK));  /* hiragana */
    CHECK(ap_uc_props(0x0301).flags & AP_UC_MN);
    CHECK_EQ_INT(ap_uc_props(0x0301).ccc, 230);
    CHECK_EQ_INT(ap_uc_props(0x0316).ccc, 220);
    CHECK_EQ_INT(ap_uc_props(0x110000).flags, 0);
    uint32_t d[AP_UC_NFD_MAX];
    CHECK_EQ_INT(ap_uc_nfd(0x00C9, d), 2); /* É */
    CHECK_EQ_INT(d[0], 'E');
    CHECK_EQ_INT(d[1], 0x0301);
    CHECK_EQ_INT(ap_uc_nfd(0x1F82, d), 4); /* ᾂ: alpha, psili, varia, ypogegrammeni */
    CHECK_EQ_INT(ap_uc_nfd(0xD55C, d), 3); /* 한 */
    CHECK_EQ_INT(d[0], 0x1112);
    CHECK_EQ_INT(d[1], 0x1161);
    CHECK_EQ_INT(d[2], 0x11AB);
    CHECK_EQ_INT(ap_uc_nfd('a', d), 1);
    uint32_t l[AP_UC_LOWER_MAX];
    CHECK_EQ_INT(ap_uc_lower(0x0130, l), 2); /* İ -> i + combining dot above */
    CHECK_EQ_INT(l[0], 'i');
    CHECK_EQ_INT(l[1], 0x0307);
    CHECK_EQ_INT(ap_uc_lower(0x03A3, l), 1); /* Σ -> σ, never ς on its own */
    CHECK_EQ_INT(l[0], 0x03C3);
    CHECK_EQ_INT(ap_uc_lower(0x1E9E, l), 1); /* ẞ -> ß */
    CHECK_EQ_INT(l[0], 0x00DF);
}

/* ------------------------------------------------------- hand-checked */

TEST(wordpiece_greedy_longest_match) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_IDS(tok, "unaffable", 0, V_CLS, V_UN, V_HH_AFF, V_HH_ABLE, V_SEP); /* ##aff before ##a ##ff */
    CHECK_IDS(tok, "affable", 0, V_CLS, V_AFF, V_HH_ABLE, V_SEP);           /* first piece without ## */
    CHECK_IDS(tok, "ab", 0, V_CLS, V_A, V_HH_B, V_SEP);
    CHECK_IDS(tok, "unaffa", 0, V_CLS, V_UN, V_HH_AFF, V_HH_A, V_SEP);
    CHECK_IDS(tok, "hello world", 0, V_CLS, V_HELLO, V_WORLD, V_SEP);
    CHECK_IDS(tok, "", 0, V_CLS, V_SEP);
    CHECK_IDS(tok, " \t\n ", 0, V_CLS, V_SEP);
    ap_tokenizer_free(tok);
}

TEST(wordpiece_unknown_words_are_one_unk) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_IDS(tok, "xyz", 0, V_CLS, V_UNK, V_SEP);
    CHECK_IDS(tok, "unxyz hello", 0, V_CLS, V_UNK, V_HELLO, V_SEP); /* not un + [UNK] */
    CHECK_IDS(tok, "ba", 0, V_CLS, V_UNK, V_SEP);                   /* "##a" cannot start a word */
    ap_tokenizer_free(tok);

    struct ap_wordpiece_params p = ap_wordpiece_default_params();
    p.max_input_chars_per_word = 5;
    tok = tiny(p);
    REQUIRE(tok);
    CHECK_IDS(tok, "unaff", 0, V_CLS, V_UN, V_HH_AFF, V_SEP);    /* 5 characters: fine */
    CHECK_IDS(tok, "unaffa", 0, V_CLS, V_UNK, V_SEP);            /* 6: [UNK] */
    CHECK_IDS(tok, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 a", 0, V_CLS, V_UNK, V_A, V_SEP); /* chars, not bytes */
    ap_tokenizer_free(tok);
}

TEST(wordpiece_punctuation_and_whitespace_split) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_IDS(tok, "hello,world!", 0, V_CLS, V_HELLO, V_COMMA, V_WORLD, V_BANG, V_SEP);
    CHECK_IDS(tok, "don't", 0, V_CLS, V_DON, V_APOS, V_T, V_SEP);
    CHECK_IDS(tok, "hello\xc2\xa0world", 0, V_CLS, V_HELLO, V_WORLD, V_SEP);         /* NBSP */
    CHECK_IDS(tok, "hello\xe3\x80\x80world", 0, V_CLS, V_HELLO, V_WORLD, V_SEP);     /* ideographic space */
    CHECK_IDS(tok, "hel\x07lo wor\xe2\x80\x8bld", 0, V_CLS, V_HELLO, V_WORLD, V_SEP); /* BEL, ZWSP dropped */
    CHECK_IDS(tok, "hel\xef\xbf\xbdlo", 0, V_CLS, V_HELLO, V_SEP);                   /* U+FFFD dropped */
    CHECK_IDS(tok, "\xe4\xb8\xad\xe6\x96\x87", 0, V_CLS, V_ZHONG, V_WEN, V_SEP);     /* 中文: one word each */
    CHECK_IDS(tok, "hello\xe2\x80\x94world", 0, V_CLS, V_HELLO, V_UNK, V_WORLD, V_SEP); /* em dash */
    /* NUL is dropped by clean_text (length-delimited input, not C strings) */
    int32_t ids[8], n = 0;
    CHECK_STATUS(ap_tokenizer_encode(tok, "hel\0lo", 6, 0, ids, 8, &n), AP_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(ids[1], V_HELLO);
    ap_tokenizer_free(tok);
}

TEST(wordpiece_lowercase_and_accents) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_IDS(tok, "\xc3\x89" "COLE", 0, V_CLS, V_ECOLE, V_SEP);          /* ÉCOLE */
    CHECK_IDS(tok, "\xc3\x89" "coles", 0, V_CLS, V_ECOLE, V_HH_S, V_SEP); /* Écoles */
    CHECK_IDS(tok, "e\xcc\x81" "cole", 0, V_CLS, V_ECOLE, V_SEP);         /* e + combining acute */
    CHECK_IDS(tok, "HeLLo", 0, V_CLS, V_HELLO, V_SEP);
    CHECK_IDS(tok, "\xc4\xb0", 0, V_CLS, V_I, V_SEP);                     /* İ -> I + dot -> i */
    CHECK_IDS(tok, "\xce\xa3", 0, V_CLS, V_SIGMA, V_SEP);                 /* Σ -> σ */
    CHECK_IDS(tok, "STRA\xc3\x9f", 0, V_CLS, V_STRA, V_HH_SZ, V_SEP);     /* ß stays ß */
    CHECK_IDS(tok, "\xe2\x84\xaa", 0, V_CLS, V_UNK, V_SEP);               /* Kelvin sign -> K -> k: not in vocab */
    /* NFD's canonical reordering puts ccc 216 before 226; the marks are Mc, so they stay */
    CHECK_IDS(tok, "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", 0, V_CLS, V_X_MARKS, V_SEP);
    CHECK_IDS(tok, "x\xf0\x9d\x85\xa5\xf0\x9d\x85\xad", 0, V_CLS, V_X_MARKS, V_SEP);
    /* a dropped mark inside the run does not end it (U+0334, ccc 1) ... */
    CHECK_IDS(tok, "x\xf0\x9d\x85\xad\xcc\xb4\xf0\x9d\x85\xa5", 0, V_CLS, V_X_MARKS, V_SEP);
    /* ... but a dropped starter does (U+034F grapheme joiner: Mn with ccc 0): no reordering */
    CHECK_IDS(tok, "x\xf0\x9d\x85\xad\xcd\x8f\xf0\x9d\x85\xa5", 0, V_CLS, V_UNK, V_SEP);
    ap_tokenizer_free(tok);

    /* lowercase off: strip_accents follows it (off) */
    struct ap_wordpiece_params p = ap_wordpiece_default_params();
    p.lowercase = 0;
    tok = tiny(p);
    REQUIRE(tok);
    CHECK_IDS(tok, "ECOLE", 0, V_CLS, V_ECOLE_UP, V_SEP);
    CHECK_IDS(tok, "\xc3\x89" "COLE", 0, V_CLS, V_UNK, V_SEP);
    CHECK_IDS(tok, "\xc3\xa9", 0, V_CLS, V_E_ACUTE, V_SEP);
    CHECK_IDS(tok, "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", 0, V_CLS, V_UNK, V_SEP); /* no NFD, no reordering */
    ap_tokenizer_free(tok);

    p.strip_accents = 1;
    tok = tiny(p);
    REQUIRE(tok);
    CHECK_IDS(tok, "\xc3\x89" "COLE", 0, V_CLS, V_ECOLE_UP, V_SEP);
    ap_tokenizer_free(tok);

    /* lowercase on, accents kept */
    p = ap_wordpiece_default_params();
    p.strip_accents = 0;
    tok = tiny(p);
    REQUIRE(tok);
    CHECK_IDS(tok, "\xc3\x89", 0, V_CLS, V_E_ACUTE, V_SEP);
    CHECK_IDS(tok, "\xc3\x89" "COLE", 0, V_CLS, V_UNK, V_SEP);
    ap_tokenizer_free(tok);
}

TEST(wordpiece_special_tokens_in_text) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_IDS(tok, "hello [MASK] world", 0, V_CLS, V_HELLO, V_MASK, V_WORLD, V_SEP);
    CHECK_IDS(tok, "[CLS]hello[SEP]", 0, V_CLS, V_CLS, V_HELLO, V_SEP, V_SEP);
    CHECK_IDS(tok, "a[UNK]ab", 0, V_CLS, V_A, V_UNK, V_A, V_HH_B, V_SEP); /* a new word after it */
    CHECK_IDS(tok, "[mask]", 0, V_CLS, V_UNK, V_UNK, V_UNK, V_SEP);      /* case-sensitive: [ mask ] */
    ap_tokenizer_free(tok);
}

TEST(wordpiece_truncation) {
    struct ap_wordpiece_params p = ap_wordpiece_default_params();
    p.max_tokens = 5;
    struct ap_tokenizer *tok = tiny(p);
    REQUIRE(tok);
    CHECK_IDS(tok, "hello world hello world", 4, V_CLS, V_HELLO, V_WORLD, V_SEP);
    CHECK_IDS(tok, "hello world hello world", 2, V_CLS, V_SEP);
    CHECK_IDS(tok, "hello world hello world", 0, V_CLS, V_HELLO, V_WORLD, V_HELLO, V_SEP); /* params: 5 */
    CHECK_IDS(tok, "unaffable", 4, V_CLS, V_UN, V_HH_AFF, V_SEP); /* cuts inside a word, as HF */
    CHECK_IDS(tok, "hello", 100, V_CLS, V_HELLO, V_SEP);
    int32_t ids[8], n = -1;
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, 1, ids, 8, &n), AP_ERR_RANGE);
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, -3, ids, 8, &n), AP_ERR_INVALID_ARG);
    ap_tokenizer_free(tok);

    p.max_tokens = 0; /* no limit */
    tok = tiny(p);
    REQUIRE(tok);
    char text[4000] = "";
    for (int i = 0; i < 500; i++) strcat(text, "hello ");
    int32_t *big = malloc(sizeof(int32_t) * 600);
    REQUIRE(big);
    CHECK_STATUS(ap_tokenizer_encode(tok, text, strlen(text), 0, big, 600, &n), AP_OK);
    CHECK_EQ_INT(n, 502);
    CHECK_EQ_INT(big[501], V_SEP);
    free(big);
    ap_tokenizer_free(tok);
}

TEST(wordpiece_output_too_small) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    int32_t ids[3] = {0, 0, 0}, n = -1;
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello world", 11, 0, ids, 3, &n), AP_ERR_RANGE);
    CHECK_EQ_INT(n, 4); /* the room it needs */
    CHECK(contains(ap_last_error(), "room for 3"));
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, 0, ids, 3, &n), AP_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, 0, NULL, 0, &n), AP_ERR_RANGE);
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello", 5, 0, NULL, 4, &n), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_tokenizer_encode(tok, NULL, 5, 0, ids, 3, &n), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_tokenizer_encode(NULL, "x", 1, 0, ids, 3, &n), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_tokenizer_encode(tok, NULL, 0, 0, ids, 3, &n), AP_OK);
    CHECK_EQ_INT(n, 2);
    ap_tokenizer_free(tok);
}

TEST(wordpiece_invalid_utf8_offset) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    int32_t ids[16], n = -1;
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello \xc3(", 7, 0, ids, 16, &n), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "invalid UTF-8 at byte 6"));
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(ap_tokenizer_encode(tok, "\xed\xa0\x80", 3, 0, ids, 16, &n), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "at byte 0"));
    CHECK_STATUS(ap_tokenizer_encode(tok, "hello world\xf4\x90\x80\x80", 15, 0, ids, 16, &n), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "at byte 11"));
    ap_tokenizer_free(tok);
}

TEST(wordpiece_token_and_vocab_size) {
    struct ap_tokenizer *tok = tiny(ap_wordpiece_default_params());
    REQUIRE(tok);
    CHECK_EQ_INT(ap_tokenizer_vocab_size(tok), V_COUNT);
    CHECK(strcmp(ap_tokenizer_token(tok, V_HH_AFF), "##aff") == 0);
    CHECK(strcmp(ap_tokenizer_token(tok, V_E_ACUTE), "\xc3\xa9") == 0);
    CHECK(ap_tokenizer_token(tok, -1) == NULL);
    CHECK(ap_tokenizer_token(tok, V_COUNT) == NULL);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "world", 5), V_WORLD);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "worl", 4), -1);
    CHECK_EQ_INT(tok->mask_id, V_MASK);
    CHECK_EQ_INT(ap_tokenizer_vocab_size(NULL), 0);
    ap_tokenizer_free(tok);
}

/* ------------------------------------------------------ vocabulary files */

static enum ap_status load_str(const char *s, struct ap_tokenizer **out) {
    return ap_wordpiece_load_memory(s, strlen(s), "v.txt", ap_wordpiece_default_params(), out);
}

TEST(vocab_errors_name_file_and_line) {
    struct ap_tokenizer *tok = (struct ap_tokenizer *)1;
    CHECK_STATUS(load_str("", &tok), AP_ERR_EMPTY);
    CHECK(tok == NULL);
    CHECK(contains(ap_last_error(), "v.txt"));
    CHECK_STATUS(load_str("[PAD]\n[CLS]\n[SEP]\nhello\n", &tok), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "[UNK]"));
    CHECK_STATUS(load_str("[PAD]\n[UNK]\n[CLS]\nhello\n[SEP]\nhello\n", &tok), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "v.txt:6: duplicate token 'hello' (first on line 4)"));
    CHECK_STATUS(load_str("[PAD]\n[UNK]\nhel\xc3lo\n", &tok), AP_ERR_ENCODING);
    CHECK(contains(ap_last_error(), "v.txt:3:"));
    static const char with_nul[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\0b\n";
    CHECK_STATUS(ap_wordpiece_load_memory(with_nul, sizeof with_nul - 1, "v.txt", ap_wordpiece_default_params(), &tok),
                 AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "v.txt:5:"));
    CHECK_STATUS(load_str("\xef\xbb\xbf[PAD]\n[UNK]\n[CLS]\n[SEP]\n", &tok), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), "byte-order mark"));
    struct ap_wordpiece_params p = ap_wordpiece_default_params();
    p.max_input_chars_per_word = 0;
    CHECK_STATUS(ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "tiny", p, &tok), AP_ERR_INVALID_ARG);
    CHECK(contains(ap_last_error(), "max_input_chars_per_word"));
    p = ap_wordpiece_default_params();
    p.strip_accents = 2;
    CHECK_STATUS(ap_wordpiece_load_memory(k_vocab, sizeof k_vocab - 1, "tiny", p, &tok), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_wordpiece_load("/nonexistent/vocab.txt", ap_wordpiece_default_params(), &tok), AP_ERR_IO);
    CHECK(contains(ap_last_error(), "/nonexistent/vocab.txt"));
}

TEST(vocab_crlf_and_trailing_whitespace_are_trimmed) {
    /* as tokenizers' WordPiece::read_file: lines() then trim_end() */
    const char *v = "[PAD]\r\n[UNK]\r\n[CLS] \r\n[SEP]\t\r\nhello\xe3\x80\x80\r\n\r\n  lead\r\nlast";
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(load_str(v, &tok), AP_OK);
    REQUIRE(tok);
    CHECK_EQ_INT(ap_tokenizer_vocab_size(tok), 8);
    CHECK_EQ_INT(tok->cls_id, 2);
    CHECK_EQ_INT(tok->sep_id, 3);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "hello", 5), 4);
    CHECK(strcmp(ap_tokenizer_token(tok, 5), "") == 0); /* empty line keeps its id */
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "  lead", 6), 6);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "last", 4), 7);
    CHECK_EQ_INT(ap_tokenizer_lookup(tok, "", 0), -1);
    CHECK_IDS(tok, "Hello", 0, 2, 4, 3);
    ap_tokenizer_free(tok);
}

TEST(vocab_load_from_file) {
    char path[] = "/tmp/ap_test_vocab_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    REQUIRE(f);
    fwrite(k_vocab, 1, sizeof k_vocab - 1, f);
    fclose(f);
    struct ap_tokenizer *tok = NULL;
    CHECK_STATUS(ap_wordpiece_load(path, ap_wordpiece_default_params(), &tok), AP_OK);
    if (tok) {
        CHECK_EQ_INT(ap_tokenizer_vocab_size(tok), V_COUNT);
        CHECK_IDS(tok, "Hello, world!", 0, V_CLS, V_HELLO, V_COMMA, V_WORLD, V_BANG, V_SEP);
    }
    ap_tokenizer_free(tok);
    f = fopen(path, "wb");
    REQUIRE(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n", f);
    fclose(f);
    CHECK_STATUS(ap_wordpiece_load(path, ap_wordpiece_default_params(), &tok), AP_ERR_FORMAT);
    CHECK(contains(ap_last_error(), path));
    CHECK(contains(ap_last_error(), "[SEP]"));
    unlink(path);
}

/* ------------------------------------------------- parity with Hugging Face */

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

#define PARITY_HOWTO                                                                                     \
    "make it with: scripts/fetch_pydoc.sh data/pydoc && .venv/bin/python tests/ref/tokenizer_ids.py DIR, " \
    "then run with AP_FIXTURES=DIR AP_MODEL_DIR=models/all-MiniLM-L6-v2"

static void print_ids(const char *label, const int32_t *ids, int32_t n) {
    fprintf(stderr, "      %s (%d):", label, n);
    for (int32_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

TEST(wordpiece_parity_with_hugging_face) {
    const char *fix = ap_test_fixture_dir(), *model = ap_test_model_dir();
    if (!fix) {
        ap_test_fail(__FILE__, __LINE__, "AP_FIXTURES is not set: the parity test needs tokenizer_ids.txt; " PARITY_HOWTO);
        return;
    }
    if (!model) {
        ap_test_fail(__FILE__, __LINE__, "AP_MODEL_DIR is not set: the parity test needs the model's vocab.txt; " PARITY_HOWTO);
        return;
    }
    char path[4096];
    size_t fsize = 0, tsize = 0;
    snprintf(path, sizeof path, "%s/tokenizer_ids.txt", fix);
    char *fixture = read_all(path, &fsize);
    if (!fixture) {
        ap_test_fail(__FILE__, __LINE__, "cannot read %s; " PARITY_HOWTO, path);
        return;
    }
    /* header: "# key: value" lines; texts is relative to the fixture's directory unless absolute */
    const char *texts_name = NULL;
    char *p = fixture;
    long max_length = -1, n_lines = -1;
    while (*p == '#') {
        char *eol = strchr(p, '\n');
        if (!eol) break;
        *eol = '\0';
        if (strncmp(p, "# texts: ", 9) == 0) texts_name = p + 9;
        else if (sscanf(p, "# max_length: %ld", &max_length) == 1) {}
        else if (sscanf(p, "# lines: %ld", &n_lines) == 1) {}
        p = eol + 1;
    }
    if (!texts_name || !texts_name[0] || max_length < 0 || n_lines < 0) {
        ap_test_fail(__FILE__, __LINE__, "%s: header lacks texts, max_length or lines; " PARITY_HOWTO, path);
        free(fixture);
        return;
    }
    if (texts_name[0] == '/') snprintf(path, sizeof path, "%s", texts_name);
    else snprintf(path, sizeof path, "%s/%s", fix, texts_name);
    char *texts = read_all(path, &tsize);
    struct ap_tokenizer *tok = NULL;
    char vocab[4096];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", model);
    if (!texts) ap_test_fail(__FILE__, __LINE__, "cannot read %s; " PARITY_HOWTO, path);
    else if (ap_wordpiece_load(vocab, ap_wordpiece_default_params(), &tok) != AP_OK)
        ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
    if (!texts || !tok) {
        free(fixture);
        free(texts);
        return;
    }

    enum { CAP = 1024 };
    int32_t got[CAP], want[CAP];
    long line = 0, tokens = 0, bad = 0;
    const char *t = texts, *tend = texts + tsize;
    while (line < n_lines && t < tend) {
        const char *nl = memchr(t, '\n', (size_t)(tend - t));
        size_t len = nl ? (size_t)(nl - t) : (size_t)(tend - t);
        /* the expected ids */
        int32_t n_want = 0;
        char *eol = strchr(p, '\n');
        if (eol) *eol = '\0';
        for (char *q = p, *e; *q && n_want < CAP; q = e) {
            long v = strtol(q, &e, 10);
            if (e == q) break;
            want[n_want++] = (int32_t)v;
        }
        p = eol ? eol + 1 : p + strlen(p);
        int32_t n_got = 0;
        enum ap_status st = ap_tokenizer_encode(tok, t, len, (int32_t)max_length, got, CAP, &n_got);
        int same = st == AP_OK && n_got == n_want;
        for (int32_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        if (!same) {
            if (bad < 5) {
                fprintf(stderr, "    line %ld differs: \"%.*s\"%s\n", line + 1, (int)(len < 160 ? len : 160), t,
                        len > 160 ? "..." : "");
                if (st != AP_OK) fprintf(stderr, "      encode failed: %s\n", ap_last_error());
                print_ids("got ", got, st == AP_OK ? n_got : 0);
                print_ids("want", want, n_want);
            }
            bad++;
        }
        tokens += n_want;
        line++;
        t += len + 1;
    }
    if (line != n_lines)
        ap_test_fail(__FILE__, __LINE__, "%s has %ld lines, the fixture %ld; regenerate: " PARITY_HOWTO, path, line,
                     n_lines);
    if (bad)
        ap_test_fail(__FILE__, __LINE__, "%ld of %ld lines differ from Hugging Face (first ones above)", bad, line);
    else
        fprintf(stderr, "    parity: %ld lines, %ld tokens identical to Hugging Face\n", line, tokens);
    ap_tokenizer_free(tok);
    free(fixture);
    free(texts);
}
