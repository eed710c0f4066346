#!/usr/bin/env python3
"""method_leopard.py — an independent NumPy reference for LEOPARD (ISCA 2022;
thesis chapter 2, section 2.2.4, figure 2.4, table 2.1), written from the paper.

    method_leopard.py --fixtures DIR

Reads DIR/qkv_{real,rand}_{q,k,v}.npy (L, H, S, d) float32 and, for each data
set X in {real, rand} and setting Y in SETTINGS, writes into DIR:

    leopard_X_Y_th.npy     (L,) float64   the layer thresholds used (scaled-score units)
    leopard_X_Y_mask.npy   (L, H, S, S) uint8   1 = kept
    leopard_X_Y_tie.npy    (L, H, S, S) uint8   1 = the quantized score is within
                           1e-6 * max(1, |Th|) of Th (a decision either way is accepted)
    leopard_X_Y_stats.npy  (L, H, 13) float64, columns STAT_COLUMNS

The model, from the paper and the documented choices of docs/methods/leopard.md:
  * score s = q.k / sqrt(d), kept iff s >= Th (scores "lower than the threshold" are pruned);
  * Q: q_bits fixed point (two's complement, symmetric), K: sign-magnitude with
    n = k_bits - 1 magnitude bits; one power-of-two scale per head and tensor,
    2^e with e the smallest integer such that max|x| < 2^e; round half away from 0;
  * the key word [sign, b1 (MSB) .. bn] is read B bits per cycle from the top; after
    t magnitude bits the partial sum is P_t and the margin
        M_t = (sum over i with sign(q_i) = sign(k_i) of |q_i|) * (2^-t - 2^-n)
    (key magnitudes as fractions 0.b1..bn, q in its fixed-point units); the score is
    pruned at the first cycle with P_t + M_t < Th, both scaled to score units.
  * K bits read per score = bits of the key word read when it stops (sign included).

Thresholds (fixed, documented settings): Th_l is the (1 - density) quantile
(numpy linear interpolation) of layer l's float scaled scores over all heads;
setting s2 uses one threshold for all layers (the quantile over every layer).
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only cost time
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

SETTINGS = {
    "s1": dict(q_bits=12, k_bits=12, B=2, density=0.25, per_layer=True),   # the defaults
    "s2": dict(q_bits=10, k_bits=8, B=3, density=0.10, per_layer=False),
}
STAT_COLUMNS = ["kept", "valid", "pruned", "kbits_pruned", "kbits_kept", "steps_pruned", "steps_kept",
                "pruned_kbits_1_2", "pruned_kbits_3_4", "pruned_kbits_5_6", "pruned_kbits_7_8",
                "pruned_kbits_9_10", "pruned_kbits_11_up"]
TIE_REL = 1e-6


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def exponent(x):
    """smallest e with max|x| < 2^e (0 for an all-zero tensor)"""
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return 0 if m == 0.0 else int(np.frexp(m)[1])


def head(q, k, scale, th, q_bits, k_bits, B):
    """mask, tie, stats (len 13) of one head; q (S, d), k (T, d) float32"""
    q = q.astype(np.float64)
    k = k.astype(np.float64)
    n = k_bits - 1
    eq, ek = exponent(q), exponent(k)
    qtop = 2 ** (q_bits - 1) - 1
    qc = np.clip(round_half_away(q * 2.0 ** (q_bits - 1 - eq)), -qtop, qtop)          # (S, d)
    kmag = np.minimum(round_half_away(np.abs(k) * 2.0 ** (n - ek)), 2 ** n - 1)      # (T, d)
    kneg = k < 0
    ksgn = np.where(kneg, -1.0, 1.0)
    # value of one integer unit of q_code * k_magnitude_code, in scaled-score units
    unit = 2.0 ** (eq - (q_bits - 1)) * 2.0 ** (ek - n)
    to_score = lambda x: x * unit * np.float64(scale)  # noqa: E731

    full = qc @ (ksgn * kmag).T                                # exact: integers < 2^53
    score = to_score(full)
    kept = score >= th
    tie = np.abs(score - th) <= TIE_REL * max(1.0, abs(th))

    # margin weight: |q_i| where the signs agree (q >= 0 has sign bit 0, like k >= 0)
    qabs = np.abs(qc)
    splus = (qabs * (qc >= 0)) @ (~kneg).T.astype(np.float64) + (qabs * (qc < 0)) @ kneg.T.astype(np.float64)
    total = n + 1
    cycles = -(-total // B)
    bits = np.full(full.shape, total, dtype=np.int64)         # kept scores read every bit
    stop = np.zeros(full.shape, dtype=bool)
    for c in range(1, cycles + 1):
        read = min(c * B, total)
        t = read - 1
        trunc = np.floor(kmag / 2.0 ** (n - t)) * 2.0 ** (n - t)     # the top t magnitude bits
        p = qc @ (ksgn * trunc).T
        m = splus * (2.0 ** (-t) - 2.0 ** (-n)) * 2.0 ** n           # M_t in the same units as p
        now = (~stop) & (to_score(p + m) < th)
        bits[now] = read
        stop |= now
    assert np.array_equal(stop, ~kept), "early termination changed a decision"
    steps = -(-bits // B)
    pruned = ~kept
    hist = [int(np.sum(pruned & (np.minimum((bits - 1) // 2, 5) == b))) for b in range(6)]
    stats = [kept.sum(), kept.size, pruned.sum(), bits[pruned].sum(), bits[kept].sum(),
             steps[pruned].sum(), steps[kept].sum()] + hist
    return kept.astype(np.uint8), tie.astype(np.uint8), np.array(stats, dtype=np.float64)


def run(q, k, name, setting, out_dir):
    L, H, S, d = q.shape
    scale = np.float32(1.0) / np.sqrt(np.float32(d))
    cfg = SETTINGS[setting]
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
            mask[l, h], tie[l, h], stats[l, h] = head(q[l, h], k[l, h], scale, th[l], cfg["q_bits"],
                                                      cfg["k_bits"], cfg["B"])
    base = os.path.join(out_dir, f"leopard_{name}_{setting}")
    rc.save_arrays(base, th=th, mask=mask, tie=tie, stats=stats)
    pr = stats[..., 2].sum()
    print(f"leopard {name} {setting}: density {stats[..., 0].sum() / stats[..., 1].sum():.4f}, "
          f"mean K bits per pruned score {stats[..., 3].sum() / max(pr, 1):.3f}, ties {int(tie.sum())}")


def main():
    D = rc.fixtures_dir(__doc__.split("\n")[0])
    for name in ("real", "rand"):
        q, k = rc.load_qkv(D, name)
        for setting in SETTINGS:
            run(q, k, name, setting, D)


if __name__ == "__main__":
    main()
