#!/usr/bin/env python3
"""tokenizer_ids.py — reference token ids for the C WordPiece tokenizer
(tests/unit/test_tokenizer.c), from Hugging Face's fast tokenizer.

    tokenizer_ids.py OUT_DIR                      parity set -> OUT_DIR/tokenizer_texts.txt
                                                  and OUT_DIR/tokenizer_ids.txt
    tokenizer_ids.py --text FILE --out FIXTURE    FILE's lines -> FIXTURE
    tokenizer_ids.py --write-parity-texts FILE    only write the parity set's texts

Texts are one per line, UTF-8; only "\n" separates them (a text may hold
"\r", U+2028 or other line-like characters). The fixture is a text format:

    # tokenizer_ids v1
    # texts: tokenizer_texts.txt
    # tokenizer: tokenizers 0.23.3 models/all-MiniLM-L6-v2/tokenizer.json
    # max_length: 256
    # lines: 5034
    # tokens: 172611
    101 7592 1010 2088 1012 102
    ...

header lines are "# key: value" ("texts" is relative to the fixture's
directory unless absolute), then one line per text: its ids, [CLS] ... [SEP],
separated by spaces. Files are written under temporary names and renamed.

The parity set (every selection deterministic):
  * every line of --edge (tests/data/tokenizer_edge.txt), hand-written edge cases
  * 3000 evenly spaced lines of AUSTEN/lines.txt
  * 300 evenly spaced paragraphs of AUSTEN/paragraphs.txt among those of
    1200 characters or more (they pass 256 tokens: truncation) and 200
    evenly spaced paragraphs of any length
  * every non-ASCII line of PYDOC/lines.txt and 1000 evenly spaced ASCII ones
    (PYDOC/lines.txt is made with scripts/fetch_pydoc.sh PYDOC when missing)

The tokenizer is tokenizers.Tokenizer.from_file(MODEL/tokenizer.json) without
padding and with truncation to --max-length (256, the max_seq_length
sentence-transformers uses for all-MiniLM-L6-v2), add_special_tokens=True:
what sentence-transformers' AutoTokenizer call produces. --check-transformers
also runs transformers.AutoTokenizer on every text and insists on equal ids.

Example (from the repository root):
    .venv/bin/python tests/ref/tokenizer_ids.py build/fixtures
"""
import argparse
import os
import subprocess
import sys
import tempfile

import tokenizers


def read_lines(path):
    """Lines split at b"\\n" only (not str.splitlines, which also splits at
    \\r, \\x1c, U+2028 ...), decoded as strict UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8") for p in parts]


def evenly(items, n):
    """n items spread evenly over the list (all of it if shorter)."""
    if len(items) <= n:
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def need(path, hint):
    if not os.path.isfile(path):
        sys.exit(f"tokenizer_ids.py: {path} not found; {hint}")
    return path


def parity_set(args):
    texts = list(read_lines(need(args.edge, "it is part of the repository")))
    austen = args.austen
    lines = read_lines(need(os.path.join(austen, "lines.txt"), "run scripts/setup.sh (or scripts/fetch_austen.sh data/austen)"))
    texts += evenly(lines, 3000)
    paras = read_lines(need(os.path.join(austen, "paragraphs.txt"), "run scripts/setup.sh"))
    texts += evenly([p for p in paras if len(p) >= 1200], 300)
    texts += evenly(paras, 200)
    doc_path = os.path.join(args.pydoc, "lines.txt")
    if not os.path.isfile(doc_path):
        fetch = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fetch_pydoc.sh")
        print(f"tokenizer_ids.py: {doc_path} missing; running scripts/fetch_pydoc.sh {args.pydoc}", file=sys.stderr)
        subprocess.run([fetch, args.pydoc], check=True)
    doc = read_lines(need(doc_path, f"run scripts/fetch_pydoc.sh {args.pydoc}"))
    texts += [t for t in doc if not t.isascii()]
    texts += evenly([t for t in doc if t.isascii()], 1000)
    return texts


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", nargs="?", help="write tokenizer_texts.txt and tokenizer_ids.txt here")
    ap.add_argument("--text", help="tokenize this file's lines instead of the parity set")
    ap.add_argument("--out", help="the fixture file (default OUT_DIR/tokenizer_ids.txt)")
    ap.add_argument("--write-parity-texts", metavar="FILE", help="write the parity set's texts to FILE and stop")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--edge", default="tests/data/tokenizer_edge.txt")
    ap.add_argument("--austen", default="data/austen")
    ap.add_argument("--pydoc", default="data/pydoc")
    ap.add_argument("--check-transformers", action="store_true",
                    help="also compare with transformers.AutoTokenizer (slow to import)")
    args = ap.parse_args()

    if args.write_parity_texts:
        texts = parity_set(args)
        write_atomic(args.write_parity_texts, "".join(t + "\n" for t in texts))
        print(f"tokenizer_ids.py: {len(texts)} texts -> {args.write_parity_texts}", file=sys.stderr)
        return
    if not args.out and not args.out_dir:
        ap.error("give OUT_DIR, or --out FIXTURE (with --text FILE)")
    out = args.out or os.path.join(args.out_dir, "tokenizer_ids.txt")
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)

    if args.text:
        texts = read_lines(need(args.text, "give an existing text file"))
        texts_path = os.path.abspath(args.text)
    else:
        texts = parity_set(args)
        texts_path = os.path.join(out_dir, "tokenizer_texts.txt")
        write_atomic(texts_path, "".join(t + "\n" for t in texts))
    if os.path.dirname(texts_path) == out_dir:
        texts_ref = os.path.basename(texts_path)
    else:
        texts_ref = texts_path
    for i, t in enumerate(texts):
        if "\n" in t:
            sys.exit(f"tokenizer_ids.py: text {i + 1} holds a newline")

    tok_path = need(os.path.join(args.model, "tokenizer.json"), "run scripts/setup.sh")
    tok = tokenizers.Tokenizer.from_file(tok_path)
    tok.no_padding()
    tok.enable_truncation(max_length=args.max_length)
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=True)]

    if args.check_transformers:
        from transformers import AutoTokenizer
        at = AutoTokenizer.from_pretrained(args.model)
        got = at(texts, truncation=True, max_length=args.max_length)["input_ids"]
        bad = [i for i in range(len(texts)) if list(got[i]) != ids[i]]
        if bad:
            sys.exit(f"tokenizer_ids.py: transformers.AutoTokenizer disagrees on {len(bad)} texts, first line {bad[0] + 1}")
        print(f"tokenizer_ids.py: transformers.AutoTokenizer agrees on all {len(texts)} texts", file=sys.stderr)

    n_tokens = sum(len(x) for x in ids)
    head = [
        "# tokenizer_ids v1",
        f"# texts: {texts_ref}",
        f"# tokenizer: tokenizers {tokenizers.__version__} {tok_path}",
        f"# max_length: {args.max_length}",
        f"# lines: {len(texts)}",
        f"# tokens: {n_tokens}",
    ]
    body = [" ".join(str(i) for i in x) for x in ids]
    write_atomic(out, "\n".join(head + body) + "\n")
    print(f"tokenizer_ids.py: {len(texts)} texts, {n_tokens} tokens -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
