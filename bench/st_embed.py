#!/usr/bin/env python3
"""st_embed.py MODEL TEXT OUT.npy THREADS — the peer: sentence-transformers'
encode on the same lines and threads. Prints "seconds=<encode wall time>"
(model loading excluded, one warm-up call on a few lines first)."""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main():
    model_dir, text, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    with open(text, encoding="utf-8") as f:
        lines = [line.rstrip("\n").rstrip("\r") for line in f]
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(lines[:8], show_progress_bar=False)
    t0 = time.perf_counter()
    emb = model.encode(lines, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    dt = time.perf_counter() - t0
    np.save(out, emb.astype(np.float32))
    print(f"seconds={dt:.4f}")


if __name__ == "__main__":
    main()
