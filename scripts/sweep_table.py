#!/usr/bin/env python3
"""sweep_table.py CSV... — markdown tables of `attnprune eval` sweeps: each
setting's density and fidelity, then per CSV the lowest measured density
whose mean embedding cosine reaches 0.99 and 0.999 (among the settings run)."""
import csv
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    summary = []
    print("| method | params | density | mass recall | out rel err | cos mean | cos min |")
    print("|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in sorted(rows, key=lambda r: -float(r["density"])):
            print(f"| {r['method']} | `{r['params']}` | {float(r['density']):.3f} | {float(r['mass_recall']):.3f} | "
                  f"{float(r['out_rel_err']):.3f} | {float(r['emb_cos_mean']):.5f} | {float(r['emb_cos_min']):.5f} |")
        best = {}
        for bound in (0.99, 0.999):
            ok = [r for r in rows if float(r["emb_cos_mean"]) >= bound]
            best[bound] = min(ok, key=lambda r: float(r["density"])) if ok else None
        name = rows[0]["method"] if rows else path
        summary.append((path, name, best))
    print()
    print("| sweep | lowest density with cos mean >= 0.99 | setting | lowest density with cos mean >= 0.999 | setting |")
    print("|---|---|---|---|---|")
    for path, name, best in summary:
        cells = []
        for bound in (0.99, 0.999):
            r = best[bound]
            cells += [f"{float(r['density']):.3f}", f"`{r['params']}`"] if r else ["not reached", "-"]
        label = path.rsplit("/", 1)[-1].removesuffix(".csv")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
