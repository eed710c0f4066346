#!/usr/bin/env python3
"""ppl_table.py DIR — the table of docs/results.md from the per-window CSVs of
`attnprune ppl -o` in DIR (scripts/decoder_sweeps.sh): per context and method
setting, perplexity of dense and of the method, the method's change, density,
mean KL(dense || method) per target and top-1 agreement; then per context the
lowest density per method that keeps perplexity within 1% of dense."""
import csv
import glob
import math
import os
import sys
from collections import defaultdict


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build/decoder-sweeps"
    rows = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(d, "ctx*.csv"))):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                rows[(int(r["ctx"]), r["method"], r["params"])].append(r)
    best = defaultdict(dict)
    print("| ctx | method | params | targets | ppl dense | ppl method | change | density | KL (nats) | top-1 |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (ctx, method, params), rs in sorted(rows.items()):
        n = sum(int(r["scored"]) for r in rs)
        nll = sum(float(r["nll"]) for r in rs)
        nll_d = sum(float(r["nll_dense"]) for r in rs)
        kl = sum(float(r["kl_sum"]) for r in rs) / n
        top1 = sum(int(r["top1_agree"]) for r in rs) / n
        # density weighted by window: windows here are of equal size
        dens = sum(float(r["density"]) for r in rs) / len(rs)
        ppl, ppl_d = math.exp(nll / n), math.exp(nll_d / n)
        change = 100 * (ppl / ppl_d - 1)
        print(f"| {ctx} | {method} | {params} | {n} | {ppl_d:.3f} | {ppl:.3f} | {change:+.2f}% | {dens:.3f} | "
              f"{kl:.5f} | {top1:.4f} |")
        if change <= 1.0:
            b = best[ctx].get(method)
            if b is None or dens < b[0]:
                best[ctx][method] = (dens, params, change)
    print()
    print("Lowest measured density within 1% of dense perplexity:")
    print()
    print("| ctx | method | density | params | change |")
    print("|---:|---|---:|---|---:|")
    for ctx in sorted(best):
        for method, (dens, params, change) in sorted(best[ctx].items()):
            print(f"| {ctx} | {method} | {dens:.3f} | {params} | {change:+.2f}% |")


if __name__ == "__main__":
    main()
