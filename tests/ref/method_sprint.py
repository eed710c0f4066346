#!/usr/bin/env python3
"""method_sprint.py — an independent NumPy reference for SPRINT (thesis chapter 3:
in-memory approximate thresholding, eq. 3.3; spatial locality, eq. 3.4 / 3.5; token
interleaving; 2-D sequence reduction), written from the paper.

    method_sprint.py --fixtures DIR

Reads DIR/qkv_{real,rand}_{q,k,v}.npy (L, H, S, d) float32 and, for each data set X
in {real, rand} and setting Y in SETTINGS, writes into DIR:

    sprint_X_Y_th.npy     (L,) float64   the layer thresholds used (scaled-score units)
    sprint_X_Y_mask.npy   (L, H, S, S) uint8   1 = kept (the in-memory decision)
    sprint_X_Y_tie.npy    (L, H, S, S) uint8   1 = the in-memory score is within
                          1e-6 * max(1, |Th|) of Th (a decision either way is accepted)
    sprint_X_Y_stats.npy  (L, H, 14) float64, columns STAT_COLUMNS

The model, from the paper and the documented choices of docs/methods/sprint.md:
  * Q and K are stored as data_bits two's complement fixed point (8 bits), one
    power-of-two scale 2^e per head and tensor, e the smallest integer with
    max|x| < 2^e, round half away from zero, symmetric clamp;
  * the transposable ReRAM holds the msb_bits MSBs of each key element (4), and the
    query's msb_bits MSBs go through the DAC: x4 = floor(x8 / 2^(data_bits - msb_bits)),
    standing for the value x4 * 2^(data_bits - msb_bits) (msb "floor") or for the middle
    of the interval the dropped bits span, (x4 + 1/2) * 2^(data_bits - msb_bits) (msb "mid");
  * the analog dot product a = q4.k4 has b-bit output precision (b = 5): quantized
    symmetrically over the head's full scale R = max |a| (valid pairs), 2^(b-1) - 1
    levels per sign, halves away from zero; b = 0 = exact;
  * Prune = argwhere(Score_R^b < Th) (eq. 3.3), with the score in q.k/sqrt(d) units;
  * queries in order; P^t the prune vector; memory requests P^{t-1} & ~P^t (eq. 3.4),
    on-chip reuse ~P^{t-1} & ~P^t (eq. 3.5), with a buffer of `capacity` keys that
    holds the previous query's unpruned keys (the last `capacity` of them in key order
    if there are more); key 4n+i (generally j mod N) goes to CORELET i.

Thresholds (fixed, documented settings): Th_l is the (1 - density) quantile (numpy
linear interpolation) of layer l's float scaled scores over all heads, or one
threshold over all layers (per_layer False).
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only cost time
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

SETTINGS = {
    # the defaults: 8-bit data, 4 MSBs, b = 5, S-SPRINT (1 CORELET, 16 KB -> capacity 16 KB / (2 d bytes))
    "s1": dict(data_bits=8, msb_bits=4, msb="mid", b=5, corelets=1, onchip_kb=16, capacity=0, density=0.25,
               per_layer=True),
    "s2": dict(data_bits=8, msb_bits=3, msb="floor", b=4, corelets=4, onchip_kb=16, capacity=48, density=0.40,
               per_layer=False),
    "s3": dict(data_bits=6, msb_bits=4, msb="mid", b=0, corelets=2, onchip_kb=16, capacity=20, density=0.25,
               per_layer=True),
}
STAT_COLUMNS = ["kept", "valid", "pad_queries", "pad_keys", "first_fetch", "fetched", "reused", "adjacent_new",
                "adjacent_slots", "corelet_max", "corelet0", "corelet1", "corelet2", "corelet3"]
TIE_REL = 1e-6


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def exponent(x):
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return 0 if m == 0.0 else int(np.frexp(m)[1])


def msb_codes(x, data_bits, msb_bits):
    e = exponent(x)
    top = 2 ** (data_bits - 1) - 1
    full = np.clip(round_half_away(x.astype(np.float64) * 2.0 ** (data_bits - 1 - e)), -top, top)
    return np.floor(full / 2 ** (data_bits - msb_bits)), e


def movement(kept, capacity, corelets):
    """per-head data-movement statistics, processing query rows in order"""
    S, T = kept.shape
    unpruned_prev = np.zeros(T, bool)   # ~P^{t-1}
    onchip = np.zeros(T, bool)
    first_fetch = fetched = reused = adj_new = adj_slots = cmax = 0
    shares = np.zeros(4, np.int64)
    for t in range(S):
        row = kept[t].astype(bool)
        u = int(row.sum())
        r = int((row & onchip).sum())
        reused += r
        fetched += u - r
        if t == 0:
            first_fetch = u
        else:
            adj_new += int((~unpruned_prev & row).sum())     # eq. 3.4: P^{t-1} & ~P^t
            adj_slots += T
        per = np.array([row[c::corelets].sum() for c in range(corelets)], np.int64)
        shares[:corelets] += per
        cmax += int(per.max())
        idx = np.flatnonzero(row)
        onchip = np.zeros(T, bool)
        onchip[idx[-capacity:] if len(idx) > capacity else idx] = True
        unpruned_prev = row
    return [0, 0, first_fetch, fetched, reused, adj_new, adj_slots, cmax] + list(shares)


def head(q, k, scale, th, cfg, capacity):
    db, mb, b = cfg["data_bits"], cfg["msb_bits"], cfg["b"]
    q4, eq = msb_codes(q, db, mb)
    k4, ek = msb_codes(k, db, mb)
    step_q, step_k = 2.0 ** (eq - mb + 1), 2.0 ** (ek - mb + 1)    # value of one MSB code step
    if cfg["msb"] == "mid":                          # x4 + 1/2 = (2 x4 + 1) half steps
        q4, k4, step_q, step_k = 2 * q4 + 1, 2 * k4 + 1, step_q / 2, step_k / 2
    a = q4 @ k4.T                                     # exact integers
    unit = np.float64(scale) * step_q * step_k
    if b:
        ai = a.astype(np.int64)
        R = int(np.abs(ai).max())
        L = 2 ** (b - 1) - 1
        code = np.sign(ai) * ((2 * np.abs(ai) * L + R) // (2 * R)) if R else np.zeros_like(ai)
        value = code.astype(np.float64) * R / L * unit
    else:
        value = a * unit
    kept = value >= th
    tie = np.abs(value - th) <= TIE_REL * max(1.0, abs(th))
    stats = [kept.sum(), kept.size] + movement(kept, capacity, cfg["corelets"])
    return kept.astype(np.uint8), tie.astype(np.uint8), np.array(stats, np.float64)


def run(q, k, name, setting, out_dir):
    L, H, S, d = q.shape
    scale = np.float32(1.0) / np.sqrt(np.float32(d))
    cfg = SETTINGS[setting]
    capacity = cfg["capacity"] or max(1, int(cfg["onchip_kb"] * 1024 // (2 * d * cfg["data_bits"] / 8)))
    scores = (q.astype(np.float64) @ np.swapaxes(k.astype(np.float64), -1, -2)) * np.float64(scale)
    if cfg["per_layer"]:
        th = np.array([np.quantile(scores[l].ravel(), 1.0 - cfg["density"]) for l in range(L)])
    else:
        th = np.full(L, np.quantile(scores.ravel(), 1.0 - cfg["density"]))
    mask = np.zeros((L, H, S, S), np.uint8)
    tie = np.zeros((L, H, S, S), np.uint8)
    stats = np.zeros((L, H, len(STAT_COLUMNS)), np.float64)
    for l in range(L):
        for h in range(H):
            mask[l, h], tie[l, h], stats[l, h] = head(q[l, h], k[l, h], scale, th[l], cfg, capacity)
    base = os.path.join(out_dir, f"sprint_{name}_{setting}")
    rc.save_arrays(base, th=th, mask=mask, tie=tie, stats=stats)
    col = {c: stats[..., i].sum() for i, c in enumerate(STAT_COLUMNS)}
    exact = scores >= th[:, None, None, None]
    print(f"sprint {name} {setting}: density {col['kept'] / col['valid']:.4f} "
          f"(exact scores at the same thresholds {exact.mean():.4f}, agreement {(exact == mask).mean():.4f}), "
          f"newly fetched between adjacent queries {col['adjacent_new'] / col['adjacent_slots']:.2%} of the "
          f"sequence, capacity {capacity}, ties {int(tie.sum())}")


def main():
    D = rc.fixtures_dir(__doc__.split("\n")[0])
    for name in ("real", "rand"):
        q, k = rc.load_qkv(D, name)
        for setting in SETTINGS:
            run(q, k, name, setting, D)


if __name__ == "__main__":
    main()
