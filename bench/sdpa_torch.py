#!/usr/bin/env python3
"""sdpa_torch.py — PyTorch's scaled_dot_product_attention (CPU, fp32) on the
shapes of build/bench/attention_heads, the peer of bench/attention_vs_torch.sh.

    sdpa_torch.py THREADS RUNS HEADS CAUSAL S ...

Q, K, V are (1, HEADS, S, 64) float32, uniform in [-1, 1); one warm-up call,
then the median wall time of RUNS calls. Prints CSV: S,heads,causal,torch_ms."""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    if len(sys.argv) < 6:
        sys.exit("usage: sdpa_torch.py THREADS RUNS HEADS CAUSAL S ...")
    threads, runs, heads, causal = (int(x) for x in sys.argv[1:5])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    print("S,heads,causal,torch_ms")
    for s in (int(x) for x in sys.argv[5:]):
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
