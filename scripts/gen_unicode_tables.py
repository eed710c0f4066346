#!/usr/bin/env python3
"""gen_unicode_tables.py [--no-reference] [OUT_DIR] — write src/model/unicode_tables.{c,h},
the character data the WordPiece (BERT) normalizer and pre-tokenizer and the
byte-level BPE (GPT-2) pre-tokenizer need:

  * one sorted range table of character classes, each range with a flag set
    and a canonical combining class (ccc):
      WHITESPACE  Unicode White_Space (what Rust's char::is_whitespace tests)
      CONTROL     what BERT's clean_text drops: Cc, Cf, Co, except \\t \\n \\r
      PUNCT       ASCII punctuation (Rust's is_ascii_punctuation) or category P*
      CJK         the "Chinese character" blocks as BERT defines them
      MN          general category Mn (nonspacing mark; dropped by strip_accents)
  * a sorted (code point -> sequence) table of full canonical decompositions
    (NFD), Hangul syllables excepted (they are decomposed by formula in C);
  * a sorted (code point -> sequence) table of full per-character lowercase
    mappings (str.lower() on one character, so no final-sigma context);
  * a 128-entry flag table for ASCII, the fast path;
  * ap_uc_props / ap_uc_nfd / ap_uc_lower: binary-search look-ups;
  * a second range table of the classes the byte-level BPE pre-tokenizers
    test, with its own 128-entry ASCII table and ap_uc_bpe_class:
      BPE_L        \\p{L} of the GPT-2 split regex (Oniguruma, as tokenizers runs it)
      BPE_N        \\p{N} of that regex
      BPE_S        \\s of that regex
      BPE_NUMERIC  Rust's char::is_numeric (Nd, Nl, No), what the Digits
                   pre-tokenizer isolates

Everything starts from Python's unicodedata and str.lower(). The reference the
C tokenizer must match is Hugging Face tokenizers, though, and it does not use
one Unicode version: its categories come from the Rust crate unicode_categories
(Unicode 8.0 tables), its NFD from unicode-normalization-alignments (about
Unicode 10), and its case mapping from Rust's std (Unicode 16 and later). So,
unless --no-reference is given, the script asks the installed tokenizers
package, one code point at a time, what its BertNormalizer and BertPreTokenizer
do, and where that differs from unicodedata it takes the reference's answer.
The BPE classes are checked the same way: Oniguruma's \\s, \\p{L} and \\p{N}
through tokenizers' Split pre-tokenizer (the same regex engine and syntax
its ByteLevel pre-tokenizer uses), char::is_numeric through its Digits
pre-tokenizer. Oniguruma and Rust's std are Unicode 16 or later, so
Python 3.11's Unicode 14 misses their newer letters and digits.
The differences are counted in the generated file's header. Without
--no-reference the script needs `tokenizers` importable (run it with the
project's .venv/bin/python).

Default OUT_DIR: src/model next to this script's repository.
"""
import argparse
import os
import sys
import tempfile
import unicodedata

MAX_CP = 0x110000

# BERT's "Chinese character" blocks, as Hugging Face tokenizers' BertNormalizer
# lists them. Note the gap 0x2B820..0x2B91F: Google's original BERT (and the
# Python BertTokenizer) covers 0x2B820..0x2CEAF in one range; tokenizers does not.
CJK_RANGES = [
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
]

ASCII_PUNCT = set(b'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')

F_WS, F_CTRL, F_PUNCT, F_CJK, F_MN = 1, 2, 4, 8, 16
FLAG_NAMES = [(F_WS, "AP_UC_WS"), (F_CTRL, "AP_UC_CTRL"), (F_PUNCT, "AP_UC_PUNCT"),
              (F_CJK, "AP_UC_CJK"), (F_MN, "AP_UC_MN")]

B_L, B_N, B_S, B_NUM = 1, 2, 4, 8
BPE_NAMES = [(B_L, "AP_UC_BPE_L"), (B_N, "AP_UC_BPE_N"), (B_S, "AP_UC_BPE_S"), (B_NUM, "AP_UC_BPE_NUMERIC")]


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3


def from_unicodedata():
    """Per-code-point flags, ccc, NFD and lowercase from Python alone."""
    flags = [0] * MAX_CP
    ccc = [0] * MAX_CP
    nfd = {}
    lower = {}
    for cp in range(MAX_CP):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        f = 0
        # str.isspace() is White_Space plus the four information separators
        # U+001C..U+001F (bidi class B/S); Rust's is_whitespace excludes them.
        if ch.isspace() and not (0x1C <= cp <= 0x1F):
            f |= F_WS
        if cat in ("Cc", "Cf", "Co") and ch not in "\t\n\r":
            f |= F_CTRL
        if (cp < 128 and cp in ASCII_PUNCT) or cat.startswith("P"):
            f |= F_PUNCT
        if any(lo <= cp <= hi for lo, hi in CJK_RANGES):
            f |= F_CJK
        if cat == "Mn":
            f |= F_MN
        flags[cp] = f
        ccc[cp] = unicodedata.combining(ch)
        if not hangul_syllable(cp):
            d = unicodedata.normalize("NFD", ch)
            if d != ch:
                nfd[cp] = [ord(c) for c in d]
        lo = ch.lower()
        if lo != ch:
            lower[cp] = [ord(c) for c in lo]
    return flags, ccc, nfd, lower


def patch_from_reference(flags, ccc, nfd, lower):
    """Take Hugging Face tokenizers' answer wherever it differs; return a
    {table: count} summary and the tokenizers version."""
    import tokenizers
    from tokenizers import normalizers, pre_tokenizers

    def bert(clean=False, chinese=False, strip=False, low=False):
        return normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese,
                                          strip_accents=strip, lowercase=low)

    n_clean, n_cjk, n_strip, n_lower = bert(clean=True), bert(chinese=True), bert(strip=True), bert(low=True)
    n_nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()
    changed = {"whitespace": 0, "control": 0, "punctuation": 0, "cjk": 0, "nonspacing mark": 0,
               "ccc": 0, "nfd": 0, "lowercase": 0}

    def setflag(cp, bit, on, name):
        if bool(flags[cp] & bit) != on:
            flags[cp] ^= bit
            changed[name] += 1

    for cp in range(MAX_CP):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        # clean_text: dropped (control), mapped to ' ' (whitespace) or kept.
        r = n_clean.normalize_str(ch)
        if cp not in (0, 0xFFFD):
            setflag(cp, F_CTRL, r == "", "control")
        # pre-tokenizer: "a" + ch + "a" splits into [a, a] around whitespace
        # and into [a, ch, a] around punctuation.
        parts = [t for t, _ in pre.pre_tokenize_str("a" + ch + "a")]
        setflag(cp, F_WS, parts == ["a", "a"], "whitespace")
        setflag(cp, F_PUNCT, parts == ["a", ch, "a"], "punctuation")
        setflag(cp, F_CJK, n_cjk.normalize_str(ch) == " " + ch + " ", "cjk")
        # decomposition
        d = n_nfd.normalize_str(ch)
        if not hangul_syllable(cp):
            want = [ord(c) for c in d] if d != ch else None
            if nfd.get(cp) != want:
                changed["nfd"] += 1
                if want is None:
                    del nfd[cp]
                else:
                    nfd[cp] = want
        # nonspacing marks: only observable on characters NFD leaves alone
        if d == ch:
            setflag(cp, F_MN, n_strip.normalize_str(ch) == "", "nonspacing mark")
        # combining class: U+0345 has the highest class (240), so a mark the
        # reference knows as combining (0 < ccc < 240) moves in front of it.
        if 0 < ccc[cp] < 240 and d == ch:
            if n_nfd.normalize_str("a\u0345" + ch) != "a" + ch + "\u0345":
                ccc[cp] = 0
                changed["ccc"] += 1
        lo = n_lower.normalize_str(ch)
        want = [ord(c) for c in lo] if lo != ch else None
        if lower.get(cp) != want:
            changed["lowercase"] += 1
            if want is None:
                del lower[cp]
            else:
                lower[cp] = want
    return changed, tokenizers.__version__


def bpe_from_unicodedata():
    """Per-code-point BPE class bits from Python alone: L*, N*, White_Space, N*."""
    cls = [0] * MAX_CP
    for cp in range(MAX_CP):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        f = 0
        if cat.startswith("L"):
            f |= B_L
        if cat.startswith("N"):
            f |= B_N | B_NUM
        if ch.isspace() and not (0x1C <= cp <= 0x1F):
            f |= B_S
        cls[cp] = f
    return cls


def bpe_patch_from_reference(cls):
    """Take tokenizers' answer for the BPE classes; return {class: count}."""
    from tokenizers import Regex, pre_tokenizers

    changed = {"letter": 0, "number": 0, "space": 0, "numeric": 0}
    cps = [cp for cp in range(MAX_CP) if not is_surrogate(cp)]

    def matched(pattern):
        """The code points the pattern matches, one character at a time:
        Split(..., "removed") keeps what it does not match, with offsets."""
        split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
        out = set()
        for i in range(0, len(cps), 4096):
            block = cps[i:i + 4096]
            text = "".join(chr(c) for c in block)
            kept = [False] * len(block)
            for piece, (a, b) in split.pre_tokenize_str(text):
                assert text[a:b] == piece, "Split offsets are not character offsets"
                for k in range(a, b):
                    kept[k] = True
            out.update(c for k, c in enumerate(block) if not kept[k])
        return out

    digits = pre_tokenizers.Digits(individual_digits=True)
    sets = [(B_L, "letter", matched(r"\p{L}")), (B_N, "number", matched(r"\p{N}")),
            (B_S, "space", matched(r"\s"))]
    for cp in cps:
        for bit, name, got in sets:
            if bool(cls[cp] & bit) != (cp in got):
                cls[cp] ^= bit
                changed[name] += 1
        # Digits isolates numeric characters: "a" c "a" -> three pieces
        numeric = len(digits.pre_tokenize_str("a" + chr(cp) + "a")) == 3
        if bool(cls[cp] & B_NUM) != numeric:
            cls[cp] ^= B_NUM
            changed["numeric"] += 1
    return changed


def check_assumptions(flags, ccc, nfd, lower):
    """The C normalizer streams characters and relies on these; fail loudly
    if a future Unicode version breaks one."""
    for cp in range(MAX_CP):
        if ccc[cp] and flags[cp] & (F_WS | F_CTRL | F_PUNCT | F_CJK):
            sys.exit(f"gen_unicode_tables.py: U+{cp:04X} has ccc {ccc[cp]} and is whitespace, control, "
                     "punctuation or CJK; the C normalizer assumes combining marks are none of these")
    assert max(len(v) for v in nfd.values()) <= 4, "NFD sequences longer than 4"
    assert max(len(v) for v in lower.values()) <= 3, "lowercase sequences longer than 3"
    for v in nfd.values():
        for c in v:
            assert c not in nfd and not hangul_syllable(c), "NFD table must hold full decompositions"


def check_bpe_assumptions(cls):
    """The C scanner treats letter, number and space as disjoint classes."""
    for cp in range(MAX_CP):
        c = cls[cp] & (B_L | B_N | B_S)
        if c & (c - 1):
            sys.exit(f"gen_unicode_tables.py: U+{cp:04X} is in two of \\p{{L}}, \\p{{N}}, \\s; the BPE scanner assumes not")


def bpe_ranges(cls):
    """Maximal runs of equal BPE class bits, code points above 127 with any set."""
    out = []
    cp = 128
    while cp < MAX_CP:
        if cls[cp] == 0:
            cp += 1
            continue
        lo = cp
        while cp + 1 < MAX_CP and cls[cp + 1] == cls[lo]:
            cp += 1
        out.append((lo, cp, cls[lo]))
        cp += 1
    return out


def bpe_expr(f):
    names = [n for bit, n in BPE_NAMES if f & bit]
    return "|".join(names) if names else "0"


def ranges(flags, ccc):
    """Maximal runs of equal (flags, ccc), code points above 127 with any set."""
    out = []
    cp = 128
    while cp < MAX_CP:
        key = (flags[cp], ccc[cp])
        if key == (0, 0):
            cp += 1
            continue
        lo = cp
        while cp + 1 < MAX_CP and (flags[cp + 1], ccc[cp + 1]) == key:
            cp += 1
        out.append((lo, cp, key[0], key[1]))
        cp += 1
    return out


def flag_expr(f):
    names = [n for bit, n in FLAG_NAMES if f & bit]
    return "|".join(names) if names else "0"


def seq_table(name, mapping):
    """A sorted {cp, offset, length} index into one pool of code points."""
    pool = []
    rows = []
    for cp in sorted(mapping):
        seq = mapping[cp]
        rows.append((cp, len(pool), len(seq)))
        pool.extend(seq)
    assert len(pool) < 65536
    lines = [f"static const uint32_t {name}_pool[{len(pool)}] = {{"]
    for i in range(0, len(pool), 10):
        lines.append("    " + ", ".join(f"0x{c:04X}" for c in pool[i:i + 10]) + ",")
    lines.append("};")
    lines.append(f"static const struct ap_uc_seq {name}[{len(rows)}] = {{")
    for i in range(0, len(rows), 4):
        lines.append("    " + " ".join(f"{{0x{c:04X}, {o}, {n}}}," for c, o, n in rows[i:i + 4]))
    lines.append("};")
    return "\n".join(lines), len(rows), len(pool)


HEADER_H = """\
/* unicode_tables.h — character classes, canonical decompositions and lowercase
 * mappings for the WordPiece (BERT) normalizer and pre-tokenizer, and the
 * character classes of the byte-level BPE (GPT-2) pre-tokenizers.
 *
 * GENERATED by scripts/gen_unicode_tables.py — do not edit; run
 *     .venv/bin/python scripts/gen_unicode_tables.py
 * Data: @SOURCE@
 *
 * Classes follow Hugging Face tokenizers (BertNormalizer, BertPreTokenizer,
 * ByteLevel's regex, Digits), which is what the tokenizers must reproduce
 * (see docs/tokenizer.md). */
#ifndef AP_MODEL_UNICODE_TABLES_H
#define AP_MODEL_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define AP_UC_WS 0x01u    /* White_Space (Rust char::is_whitespace)                   */
#define AP_UC_CTRL 0x02u  /* dropped by clean_text: Cc, Cf, Co, except \\t \\n \\r     */
#define AP_UC_PUNCT 0x04u /* ASCII punctuation or general category P*                 */
#define AP_UC_CJK 0x08u   /* padded with spaces by handle_chinese_chars               */
#define AP_UC_MN 0x10u    /* general category Mn, dropped by strip_accents            */

#define AP_UC_NFD_MAX 4   /* longest full canonical decomposition (code points) */
#define AP_UC_LOWER_MAX 3 /* longest full lowercase mapping (code points)       */

/* The classes and the canonical combining class of one code point. */
struct ap_uc_props {
    uint8_t flags; /* AP_UC_* bits */
    uint8_t ccc;   /* canonical combining class, 0 for starters */
};

/* The Unicode source of the tables, for messages and docs. */
extern const char ap_uc_source[];

/* Flags of the ASCII characters, indexed by byte (the fast path). */
extern const uint8_t ap_uc_ascii_flags[128];

/* Classes of cp (any value; out-of-range code points have none). */
struct ap_uc_props ap_uc_props(uint32_t cp);

/* Full canonical decomposition of cp into out (Hangul syllables included);
 * returns its length, 1 (out[0] = cp) when cp does not decompose. */
size_t ap_uc_nfd(uint32_t cp, uint32_t out[AP_UC_NFD_MAX]);

/* Full lowercase mapping of cp on its own (no context) into out; returns its
 * length, 1 (out[0] = cp) when cp has none. */
size_t ap_uc_lower(uint32_t cp, uint32_t out[AP_UC_LOWER_MAX]);

/* Classes of the byte-level BPE pre-tokenizers. L, N and S are disjoint. */
#define AP_UC_BPE_L 0x01u       /* \\p{L} of the GPT-2 split regex (Oniguruma)          */
#define AP_UC_BPE_N 0x02u       /* \\p{N} of that regex                                 */
#define AP_UC_BPE_S 0x04u       /* \\s of that regex (White_Space)                      */
#define AP_UC_BPE_NUMERIC 0x08u /* Rust char::is_numeric: isolated by Digits             */

/* BPE classes of the ASCII characters, indexed by byte. */
extern const uint8_t ap_uc_bpe_ascii[128];

/* BPE classes of cp (any value; out-of-range code points have none). */
uint8_t ap_uc_bpe_class(uint32_t cp);

#endif
"""

CODE_C = """\

/* ------------------------------------------------------------- look-ups */

struct ap_uc_props ap_uc_props(uint32_t cp) {
    struct ap_uc_props p = {0, 0};
    if (cp < 128) {
        p.flags = ap_uc_ascii_flags[cp];
        return p;
    }
    size_t lo = 0, hi = sizeof ap_uc_ranges / sizeof ap_uc_ranges[0];
    while (lo < hi) { /* first range with hi >= cp */
        size_t mid = lo + (hi - lo) / 2;
        if (ap_uc_ranges[mid].hi < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < sizeof ap_uc_ranges / sizeof ap_uc_ranges[0] && ap_uc_ranges[lo].lo <= cp) {
        p.flags = ap_uc_ranges[lo].flags;
        p.ccc = ap_uc_ranges[lo].ccc;
    }
    return p;
}

static const struct ap_uc_seq *find_seq(const struct ap_uc_seq *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && t[lo].cp == cp ? &t[lo] : NULL;
}

/* Hangul syllables decompose by formula (Unicode chapter 3.12): 11172
 * syllables would otherwise take most of the table. */
enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
       HANGUL_V_N = 21, HANGUL_T_N = 28, HANGUL_N = 11172 };

size_t ap_uc_nfd(uint32_t cp, uint32_t out[AP_UC_NFD_MAX]) {
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_N) {
        uint32_t s = cp - HANGUL_S, t = s % HANGUL_T_N;
        out[0] = HANGUL_L + s / (HANGUL_V_N * HANGUL_T_N);
        out[1] = HANGUL_V + (s % (HANGUL_V_N * HANGUL_T_N)) / HANGUL_T_N;
        if (t == 0) return 2;
        out[2] = HANGUL_T + t;
        return 3;
    }
    const struct ap_uc_seq *e = cp < 0xC0 ? NULL : find_seq(ap_uc_nfd_map, sizeof ap_uc_nfd_map / sizeof ap_uc_nfd_map[0], cp);
    if (!e) {
        out[0] = cp;
        return 1;
    }
    for (size_t i = 0; i < e->len; i++) out[i] = ap_uc_nfd_map_pool[e->off + i];
    return e->len;
}

size_t ap_uc_lower(uint32_t cp, uint32_t out[AP_UC_LOWER_MAX]) {
    if (cp < 128) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    const struct ap_uc_seq *e = find_seq(ap_uc_lower_map, sizeof ap_uc_lower_map / sizeof ap_uc_lower_map[0], cp);
    if (!e) {
        out[0] = cp;
        return 1;
    }
    for (size_t i = 0; i < e->len; i++) out[i] = ap_uc_lower_map_pool[e->off + i];
    return e->len;
}

uint8_t ap_uc_bpe_class(uint32_t cp) {
    if (cp < 128) return ap_uc_bpe_ascii[cp];
    size_t lo = 0, hi = sizeof ap_uc_bpe_ranges / sizeof ap_uc_bpe_ranges[0];
    while (lo < hi) { /* first range with hi >= cp */
        size_t mid = lo + (hi - lo) / 2;
        if (ap_uc_bpe_ranges[mid].hi < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < sizeof ap_uc_bpe_ranges / sizeof ap_uc_bpe_ranges[0] && ap_uc_bpe_ranges[lo].lo <= cp)
        return ap_uc_bpe_ranges[lo].flags;
    return 0;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?",
                    default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "model")))
    ap.add_argument("--no-reference", action="store_true",
                    help="use unicodedata alone, without checking against Hugging Face tokenizers")
    args = ap.parse_args()

    flags, ccc, nfd, lower = from_unicodedata()
    bpe = bpe_from_unicodedata()
    source = f"Unicode {unicodedata.unidata_version} (Python {sys.version.split()[0]} unicodedata)"
    notes = []
    if not args.no_reference:
        try:
            changed, version = patch_from_reference(flags, ccc, nfd, lower)
            bpe_changed = bpe_patch_from_reference(bpe)
        except ImportError:
            sys.exit("gen_unicode_tables.py: the Python package 'tokenizers' is needed to check the tables "
                     "against Hugging Face (run with .venv/bin/python), or pass --no-reference")
        source += f", patched to agree with Hugging Face tokenizers {version}"
        notes.append(f" * Code points where tokenizers {version} differs from unicodedata and was followed")
        notes.append(" * (its categories are Unicode 8.0, its NFD about Unicode 10, its case mapping")
        notes.append(" * Rust std's, Unicode 16 or later):")
        notes.append(" *   " + ", ".join(f"{k} {v}" for k, v in changed.items()))
        notes.append(" * and for the BPE classes (Oniguruma's and Rust's Unicode 16 or later):")
        notes.append(" *   " + ", ".join(f"{k} {v}" for k, v in bpe_changed.items()))
    check_assumptions(flags, ccc, nfd, lower)
    check_bpe_assumptions(bpe)
    brng = bpe_ranges(bpe)

    rng = ranges(flags, ccc)
    nfd_src, nfd_rows, nfd_pool = seq_table("ap_uc_nfd_map", nfd)
    low_src, low_rows, low_pool = seq_table("ap_uc_lower_map", lower)

    out = []
    out.append("/* unicode_tables.c — GENERATED by scripts/gen_unicode_tables.py; do not edit.")
    out.append(f" * Data: {source}.")
    out.extend(notes)
    out.append(f" * {len(rng)} class ranges, {nfd_rows} decompositions ({nfd_pool} code points),")
    out.append(f" * {low_rows} lowercase mappings ({low_pool} code points), {len(brng)} BPE class ranges. */")
    out.append('#include "model/unicode_tables.h"')
    out.append("")
    out.append(f'const char ap_uc_source[] = "{source}";')
    out.append("")
    out.append("struct ap_uc_range {")
    out.append("    uint32_t lo, hi; /* inclusive */")
    out.append("    uint8_t flags, ccc;")
    out.append("};")
    out.append("")
    out.append("struct ap_uc_seq {")
    out.append("    uint32_t cp;")
    out.append("    uint16_t off, len; /* into the table's pool */")
    out.append("};")
    out.append("")
    out.append("const uint8_t ap_uc_ascii_flags[128] = {")
    for i in range(0, 128, 8):
        out.append("    " + " ".join(f"{flag_expr(flags[c])}," for c in range(i, i + 8)))
    out.append("};")
    out.append("")
    out.append(f"/* Code points 128 and up with any class or a nonzero ccc: {{lo, hi, flags, ccc}}. */")
    out.append(f"static const struct ap_uc_range ap_uc_ranges[{len(rng)}] = {{")
    for lo, hi, f, c in rng:
        out.append(f"    {{0x{lo:04X}, 0x{hi:04X}, {flag_expr(f)}, {c}}},")
    out.append("};")
    out.append("")
    out.append("/* Full canonical decompositions, Hangul syllables excepted. */")
    out.append(nfd_src)
    out.append("")
    out.append("/* Full lowercase mappings of single characters. */")
    out.append(low_src)
    out.append("")
    out.append("/* BPE classes of the ASCII characters. */")
    out.append("const uint8_t ap_uc_bpe_ascii[128] = {")
    for i in range(0, 128, 8):
        out.append("    " + " ".join(f"{bpe_expr(bpe[c])}," for c in range(i, i + 8)))
    out.append("};")
    out.append("")
    out.append("struct ap_uc_bpe_range {")
    out.append("    uint32_t lo, hi; /* inclusive */")
    out.append("    uint8_t flags;")
    out.append("};")
    out.append("")
    out.append("/* Code points 128 and up with any BPE class: {lo, hi, flags}. */")
    out.append(f"static const struct ap_uc_bpe_range ap_uc_bpe_ranges[{len(brng)}] = {{")
    for lo, hi, f in brng:
        out.append(f"    {{0x{lo:04X}, 0x{hi:04X}, {bpe_expr(f)}}},")
    out.append("};")
    out.append(CODE_C)

    os.makedirs(args.out_dir, exist_ok=True)
    for name, text in (("unicode_tables.h", HEADER_H.replace("@SOURCE@", source)), ("unicode_tables.c", "\n".join(out))):
        path = os.path.join(args.out_dir, name)
        fd, tmp = tempfile.mkstemp(prefix=name + ".tmp.", dir=args.out_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        print(f"gen_unicode_tables.py: wrote {path} ({len(text)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
