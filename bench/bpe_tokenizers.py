#!/usr/bin/env python3
"""bpe_tokenizers.py MODEL_DIR TEXT [REPEATS [IDS_OUT]] — time Hugging Face
tokenizers (the SmolLM2 hub definition that tests/ref/bpe_ids.py builds from
the GGUF) on TEXT, the same way bench/bpe_speed.c times ours: the whole file
as one encode call, best of REPEATS (default 5). Also times encode_batch over
the file's lines (tokenizers spreads a batch over its threads; the line
count is RAYON_NUM_THREADS or all cores). Prints "key=value" lines; with
IDS_OUT writes the one-call ids there, one per line."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import bpe_ids  # noqa: E402
import tokenizers  # noqa: E402


def best_of(n, fn):
    best, out = None, None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best, out


def main():
    model, path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    tok = bpe_ids.hub_tokenizer(bpe_ids.gguf_tokenizer_meta(os.path.join(model, "model.gguf")))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    dt, ids = best_of(repeats, lambda: tok.encode(text).ids)
    print(f"version={tokenizers.__version__}")
    print(f"tokens={len(ids)} seconds={dt:.4f} tokens_per_s={len(ids) / dt:.0f} mb_per_s={len(text.encode()) / dt / 1e6:.2f}")
    lines = text.split("\n")
    dt_b, enc = best_of(repeats, lambda: tok.encode_batch(lines))
    n_b = sum(len(e.ids) for e in enc)
    print(f"batch_lines={len(lines)} batch_tokens={n_b} batch_seconds={dt_b:.4f} batch_tokens_per_s={n_b / dt_b:.0f}")
    if len(sys.argv) > 4:
        with open(sys.argv[4], "w") as f:
            f.write("".join(f"{i}\n" for i in ids))


if __name__ == "__main__":
    main()
