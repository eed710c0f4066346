#!/usr/bin/env python3
"""bpe_ids.py — reference token ids for the C byte-level BPE tokenizer
(tests/unit/test_bpe.c), from Hugging Face tokenizers.

    bpe_ids.py --out DIR                   write DIR/bpe/vocab.json and DIR/bpe/ids.txt

(bench/bpe_tokenizers.py times the same tokenizer; bench/bpe_vs_tokenizers.sh
compares it with ours.)

The reference is SmolLM2's tokenizer.json as published on the Hugging Face
hub, rebuilt from the GGUF's own vocabulary and merges (read with the gguf
package): no normalizer; pre-tokenizer Sequence[Digits(individual_digits=
true), ByteLevel(add_prefix_space=false, trim_offsets=true, use_regex=true)];
model BPE (no dropout, no unk_token, fuse_unk false, byte_fallback false,
ignore_merges false); the control tokens (token type 3, "<|endoftext|>",
"<|im_start|>", ...) as special added tokens; decoder ByteLevel; no template
(no BOS or EOS). llama.cpp's pre-tokenizer "smollm" is the same split
(\\p{N} on its own, then the GPT-2 regex).

For comparison only, the same texts also go through what transformers makes
of the GGUF itself (AutoTokenizer.from_pretrained(dir, gguf_file=...)): a
ByteLevel pre-tokenizer without the Digits split. Its ids are written
alongside; the C test counts the lines where the two differ but checks only
the hub definition.

Texts (every selection deterministic), in this order:
  edge      about 130 hand-written edge cases (EDGE below)
  austen    the first 2000 lines of AUSTEN/lines.txt
  pydoc     every non-ASCII line of PYDOC/lines.txt and 1000 evenly spaced others
  random    1000 random strings over a mixed alphabet (seed 1234): spaces,
            tabs, newlines, contractions, digits, letters and marks of many
            scripts, code points from every plane, special tokens

DIR/bpe/vocab.json holds the GGUF's tokenizer.ggml.* metadata as JSON (model,
pre, tokens, token_type, merges, the special ids, add_bos_token,
add_eos_token), so the C test can build the tokenizer through
ap_bpe_load_arrays without a GGUF reader. DIR/bpe/ids.txt is text:

    # bpe_ids v1
    # tokenizer: ...
    # lines: N
    # tokens: T                       (hub ids in all)
    # gguf_differs: D                 (lines where transformers' GGUF tokenizer differs)
    # hub_roundtrip_fails: R          (lines where tokenizers' decode(encode(x)) != x)
    SET<TAB>TEXT<TAB>HUB IDS<TAB>GGUF IDS

one line per text; TEXT with every byte below 0x20, 0x7F and the backslash
written as \\xHH; ids separated by spaces. Files are written under temporary
names and renamed.
"""
import argparse
import json
import os
import random
import sys
import tempfile

import tokenizers
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

EDGE = [
    # empty, whitespace alone
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t \t",
    # whitespace around and between words: \s+(?!\S) leaves the last space to the word
    "hello", " hello", "hello ", "hello  ", "  hello", "hello world", "hello  world", "hello   world",
    "hello\tworld", "hello\t\tworld", "hello \tworld", "hello\t world", "hello\n world", "hello \nworld",
    "a\n\n\nb", "a \n \n b", "trailing spaces   ", "trailing newline\n", "\n\nleading newlines",
    "a\r\nb\r\nc", "line one\nline two\n",
    # digits: each numeric character is its own piece
    "12345", "3.14", "3.14159265358979", "1,000,000", "x1y2z3", " 42", "in 1999 and 2024.",
    "\u0663\u0664\u0665 Arabic-Indic", "\u00b9\u00b2\u00b3 \u00bd \u2153 \u216b", "\u0967\u0968\u0969",
    "\u2460\u2461\u2462", "\U0001d7d9\U0001d7da\U0001d7db", "0x1F 1e-9 -7",
    # contractions: lowercase only, no word boundary needed
    "it's", "It's", "IT'S", "don't", "we're", "they've", "I'm", "you'll", "he'd", "'s", "'S", "''s", "' s",
    "rock 'n' roll", "'tis", "o'clock", "it\u2019s (curly)", "'ll've'd", "'",
    # punctuation and code
    "Hello, world!", "!!!", "...", "?", "-", "\u2014", "(a)", "[b]", "{c}", "a+b=c", "#include <stdio.h>",
    "def f(x):\n    return x ** 2\n", "http://example.com/a?b=c&d=e", "foo@bar.com", "$100.00",
    "\u20ac5 \u00a33 \u00a57", "100%", "    indented", "\tif (x) {\n\t\ty();\n\t}",
    # emoji, scripts
    "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1eb\U0001f1f7",
    "I \u2764 NY", "\u4e2d\u6587\u5b57\u7b26", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e44\u0e17\u0e22",
    # marks, compatibility characters, unusual spaces and controls
    "caf\u00e9", "cafe\u0301", "e\u0301\u0302", "\u0301 lone combining", "\u01c4 \u01c5 \u01c6", "\ufb01 ligature",
    "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48", "\u00a0nbsp\u00a0", "a\u2003em space",
    "a\u3000b", "zero\u200bwidth", "soft\u00adhyphen", "\ufeffBOM", "\u0085NEL", "a\u2028b\u2029c",
    "\x00nul", "\x07bell\x1b[0m", "\x1c\x1d\x1e\x1f", "a \u00a0 b", " \u3000x",
    # letters and digits newer than Python 3.11's Unicode 14
    "\u1c89\u1c8a \ua7cb\ua7cc", "\U00010d40\U00010d41\U00010d49 Garay digits", "\U000105c0\U000105c1",
    # special (added) tokens in the text
    "<|endoftext|>", "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n", "a<|im_end|>b",
    "<|im_end|><|im_end|>", "<|im_end", "<|im_end|", "< |im_end|>", " <|endoftext|> ", "<repo_name>x<file_sep>y",
    "<reponame><repo_name>", "12<|endoftext|>34", "it<|im_end|>'s",
    # long words and runs
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ab" * 50, "Supercalifragilisticexpialidocious", "x" * 300,
    "\U0001f600" * 40, " " * 40 + "x", "-" * 80, "1" * 100,
]

RANDOM_POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") + list("0123456789") + [" "] * 12 +
    ["\t", "\n", "\r", "\r\n", "  ", "'", "'s", "'S", "'ll", "'re", "'ve", "'d", "'m", "'t"] +
    list(".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`\"") +
    ["\u00e9", "\u00df", "\u4e2d", "\u03a9", "\u0663", "\u00bd", "\u00b2", "\U0001f600", "\u0301", "\u00a0",
     "\u3000", "\u2028", "\u200b", "\u0085", "\u2019", "\u00ad", "\ufeff", "\u0915\u094d", "\uac00",
     "\u1c89", "\U00010d40", "<|im_end|>", "<|endoftext|>", "<|im_start|>"]
)


def random_texts(n, seed=1234):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 24)):
            if rng.random() < 0.12:  # any code point, any plane
                while True:
                    cp = rng.choice([rng.randrange(0x80, 0x800), rng.randrange(0x800, 0x10000),
                                     rng.randrange(0x10000, 0x110000)])
                    if not 0xD800 <= cp <= 0xDFFF:
                        break
                parts.append(chr(cp))
            else:
                parts.append(rng.choice(RANDOM_POOL))
        out.append("".join(parts))
    return out


def read_lines(path):
    """Lines split at b"\\n" only, decoded as strict UTF-8."""
    with open(path, "rb") as f:
        parts = f.read().split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8") for p in parts]


def evenly(items, n):
    if len(items) <= n:
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def need(path, hint):
    if not os.path.isfile(path):
        sys.exit(f"bpe_ids.py: {path} not found; {hint}")
    return path


def escape(text):
    out = []
    for b in text.encode("utf-8"):
        out.append(f"\\x{b:02x}" if b < 0x20 or b == 0x7F or b == 0x5C else chr(b))
    return "".join(out).encode("latin-1").decode("utf-8")


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def gguf_tokenizer_meta(path):
    """The tokenizer.ggml.* metadata of a GGUF file as plain Python values."""
    r = GGUFReader(path)

    def field(key):
        return r.fields.get(f"tokenizer.ggml.{key}")

    def string(key):
        f = field(key)
        return None if f is None else bytes(f.parts[f.data[0]]).decode("utf-8")

    def strings(key):
        f = field(key)
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    def scalar(key):
        f = field(key)
        return None if f is None else f.parts[f.data[0]].tolist()[0]

    tt = field("token_type")
    meta = {
        "model": string("model"),
        "pre": string("pre"),
        "tokens": strings("tokens"),
        "token_type": [int(tt.parts[i][0]) for i in tt.data] if tt else None,
        "merges": strings("merges"),
    }
    for key in ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id"):
        v = scalar(key)
        meta[key] = -1 if v is None else int(v)
    for key in ("add_bos_token", "add_eos_token"):
        v = scalar(key)
        meta[key] = bool(v) if v is not None else False
    return meta


def hub_tokenizer(meta):
    """SmolLM2's tokenizer.json, as published, from the GGUF's vocabulary."""
    if meta["model"] != "gpt2" or meta["pre"] != "smollm":
        sys.exit(f"bpe_ids.py: expected a gpt2/smollm GGUF, got {meta['model']}/{meta['pre']}")
    vocab = {t: i for i, t in enumerate(meta["tokens"])}
    if len(vocab) != len(meta["tokens"]):
        sys.exit("bpe_ids.py: the GGUF vocabulary repeats a token")
    merges = [tuple(m.split(" ")) for m in meta["merges"]]
    bpe = models.BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None, fuse_unk=False,
                     byte_fallback=False, ignore_merges=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    types = meta["token_type"]
    tok.add_special_tokens([AddedToken(meta["tokens"][i], special=True, normalized=False)
                            for i in range(len(types)) if types[i] == 3])
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="fixture directory; files go to OUT/bpe/")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct")
    ap.add_argument("--austen", default="data/austen")
    ap.add_argument("--pydoc", default="data/pydoc")
    ap.add_argument("--no-transformers", action="store_true",
                    help="skip transformers' GGUF tokenizer (its column is then a copy of the hub ids)")
    args = ap.parse_args()

    gguf_path = need(os.path.join(args.model, "model.gguf"), "run scripts/setup.sh (or scripts/fetch_smollm2.sh)")
    meta = gguf_tokenizer_meta(gguf_path)
    tok = hub_tokenizer(meta)

    texts = [("edge", t) for t in EDGE]
    austen = read_lines(need(os.path.join(args.austen, "lines.txt"), "run scripts/setup.sh"))
    texts += [("austen", t) for t in austen[:2000]]
    doc = read_lines(need(os.path.join(args.pydoc, "lines.txt"), f"run scripts/fetch_pydoc.sh {args.pydoc}"))
    texts += [("pydoc", t) for t in doc if not t.isascii()]
    texts += [("pydoc", t) for t in evenly([t for t in doc if t.isascii()], 1000)]
    texts += [("random", t) for t in random_texts(1000)]
    plain = [t for _, t in texts]

    hub = [e.ids for e in tok.encode_batch(plain, add_special_tokens=True)]
    roundtrip_fails = sum(1 for t, ids in zip(plain, hub) if tok.decode(ids, skip_special_tokens=False) != t)

    if args.no_transformers:
        conv = hub
        conv_name = "not run (--no-transformers)"
    else:
        import transformers
        from transformers import AutoTokenizer
        conv_tok = AutoTokenizer.from_pretrained(args.model, gguf_file="model.gguf")
        conv = [list(x) for x in conv_tok(plain, add_special_tokens=True)["input_ids"]]
        conv_name = f"transformers {transformers.__version__} AutoTokenizer(gguf_file=model.gguf)"
    differs = [i for i in range(len(plain)) if conv[i] != hub[i]]
    by_set = {}
    for i in differs:
        by_set[texts[i][0]] = by_set.get(texts[i][0], 0) + 1

    out_dir = os.path.join(args.out, "bpe")
    os.makedirs(out_dir, exist_ok=True)
    meta_out = dict(meta)
    meta_out["source"] = os.path.abspath(gguf_path)
    write_atomic(os.path.join(out_dir, "vocab.json"), json.dumps(meta_out, ensure_ascii=False))
    n_tokens = sum(len(x) for x in hub)
    head = [
        "# bpe_ids v1",
        f"# tokenizer: tokenizers {tokenizers.__version__}, SmolLM2 hub definition (Digits + ByteLevel + BPE) "
        f"from {gguf_path}",
        f"# comparison: {conv_name}",
        f"# lines: {len(texts)}",
        f"# tokens: {n_tokens}",
        f"# gguf_differs: {len(differs)}",
        f"# hub_roundtrip_fails: {roundtrip_fails}",
    ]
    body = [f"{s}\t{escape(t)}\t{' '.join(map(str, h))}\t{' '.join(map(str, c))}"
            for (s, t), h, c in zip(texts, hub, conv)]
    write_atomic(os.path.join(out_dir, "ids.txt"), "\n".join(head + body) + "\n")
    print(f"bpe_ids.py: {len(texts)} texts, {n_tokens} tokens -> {out_dir}; transformers' GGUF tokenizer differs "
          f"on {len(differs)} ({', '.join(f'{k} {v}' for k, v in sorted(by_set.items())) or 'none'}); "
          f"tokenizers' own round trip fails on {roundtrip_fails}", file=sys.stderr)
    for i in differs[:3]:
        print(f"  differs: {plain[i]!r}\n    hub  {hub[i]}\n    gguf {conv[i]}", file=sys.stderr)


if __name__ == "__main__":
    main()
