#!/usr/bin/env python3
"""sdpa_torch.py — PyTorch's scaled_dot_product_attention (CPU, fp32) on the
shapes and data of build/bench/attention_heads, the peer of
bench/attention_vs_torch.sh.

    sdpa_torch.py THREADS RUNS HEADS CAUSAL [--qkv PREFIX] S ...

Q, K, V are (1, HEADS, S, 64) float32: with --qkv, the first S rows of
PREFIX_{q,k,v}.npy ((H, N, 64), HEADS then comes from the file), otherwise
uniform in [-1, 1). One warm-up call, then the median wall time of RUNS
calls. Prints CSV: S,heads,causal,torch_ms."""
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    args = sys.argv[1:]
    qkv = None
    if "--qkv" in args:
        i = args.index("--qkv")
        qkv = args[i + 1]
        del args[i : i + 2]
    if len(args) < 5:
        sys.exit("usage: sdpa_torch.py THREADS RUNS HEADS CAUSAL [--qkv PREFIX] S ...")
    threads, runs, heads, causal = (int(x) for x in args[:4])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    full = None
    if qkv:
        full = [torch.from_numpy(np.load(f"{qkv}_{p}.npy")) for p in "qkv"]
        heads = full[0].shape[0]
    print("S,heads,causal,torch_ms")
    for s in (int(x) for x in args[4:]):
        if full:
            q, k, v = (t[:, :s, :].unsqueeze(0).contiguous() for t in full)
        else:
            q, k, v = (torch.rand(1, heads, s, 64, generator=g) * 2 - 1 for _ in range(3))
        with torch.inference_mode():
            F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                times.append((time.perf_counter() - t0) * 1e3)
        print(f"{s},{heads},{causal},{statistics.median(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
