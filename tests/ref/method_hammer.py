#!/usr/bin/env python3
"""method_hammer.py — NumPy reference of HAMMER's mask prediction (IEEE CAL 2022).

    method_hammer.py --fixtures DIR

Written from the paper's equations, whole tensors at a time:
    eq. 8   m = mean over the valid tokens of K;  K' = K - m
    eq. 6   quant(x) = factor * sgn(x) if |x| >= cut else sgn(x),  sgn(0) = +1
    eq. 9   A = quant(Q) quant(K')^T                     (integers)
    §3.3    F = shifted ReLU of (A - zero point): 0 for x <= 0, slope 1, 2, 4, 8
            past the break points (cont), or x << (break points below x) (shift),
            or max(x, 0) (plain)
    §4      keep (i, j) iff F_ij > t * sum_j F_ij over the keys row i sees
and, where the paper is silent (docs/methods/hammer.md), a row that keeps
nothing keeps its largest A_ij when keep_max = 1.

Reads DIR/qkv_{real,rand}_{q,k}.npy (L, H, S, d) float32. For every setting
NAME of SETTINGS and every set SET of SETS writes into DIR:
    hammer_NAME_spec.txt        the parameter string the C test passes to `hammer`
    hammer_SET_set.txt          "SOURCE VALID_LEN CAUSAL": fixture, valid tokens (-1 = all), causal
    hammer_stat_names.txt       the stat names, one a line, in the order of the stats arrays
    hammer_NAME_SET_mask.npy    uint8 (L, H, S, S), 1 = kept
    hammer_NAME_SET_stats.npy   float64 (L, H, 8): the stats of hammer_stat_names.txt
    hammer_NAME_SET_ties.npy    int64 (n, 4): (layer, head, i, j) of valid pairs within 1e-6
                                (relative) of the threshold t * sum_j F_ij
    hammer_NAME_SET_unstable.npy uint8 (L, H): 1 where an element of K - m lies within
                                1e-9 of the cut or of 0, so a last-bit difference in the
                                mean could flip its code (and any decision of the head)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

STAT_NAMES = ["kept", "approx_macs", "mean_ops", "relu_zero", "rows_empty", "fallback_kept", "q_large", "k_large"]

# Fixed settings: one at the defaults, one far from them (other shape, factor,
# cut, break points, a negative zero point), one without mean redistribution
# or the empty-row rule.
SETTINGS = {
    "def": dict(t=0.01, factor=8, cut=4.0, b1=0.25, b2=0.5, b3=1.0, relu="cont", zero=0.0, mean=1, keep_max=1),
    "alt": dict(t=0.002, factor=4, cut=2.0, b1=0.125, b2=0.25, b3=0.5, relu="shift", zero=-0.25, mean=1, keep_max=1),
    "nomean": dict(t=0.05, factor=16, cut=3.0, b1=0.5, b2=1.0, b3=2.0, relu="plain", zero=0.0, mean=0, keep_max=0),
}
# Sets: (fixture, valid tokens or -1 for all, causal). randpad pads the random
# fixture after token 87 (queries and keys) and makes it causal.
SETS = {"real": ("real", -1, 0), "rand": ("rand", -1, 0), "randpad": ("rand", 87, 1)}

TIE_REL = 1e-6
FLIP_ABS = 1e-9


def validity(S, T, valid_len, causal):
    """(S, T) bool: valid query, valid key, not in the causal future; and the (S,), (T,) token masks."""
    qv = np.ones(S, bool) if valid_len < 0 else np.arange(S) < valid_len
    kv = np.ones(T, bool) if valid_len < 0 else np.arange(T) < valid_len
    V = qv[:, None] & kv[None, :]
    if causal:
        V &= np.arange(T)[None, :] <= np.arange(S)[:, None] + (T - S)
    return V, qv, kv


def quant(x, cut, factor):
    """eq. 6 with sgn(0) = +1."""
    sign = np.where(x < 0, -1, 1).astype(np.int64)
    return sign * np.where(np.abs(x) >= cut, factor, 1).astype(np.int64)


def linearize(x, breaks, shape):
    """The shifted ReLU of integer array x."""
    x = np.asarray(x, np.int64)
    pos = np.maximum(x, 0)
    if shape == "plain":
        return pos
    b = list(breaks)
    if shape == "shift":
        s = (x > b[0]).astype(np.int64) + (x > b[1]) + (x > b[2])
        return pos << s
    edges = [0] + b + [np.iinfo(np.int64).max // 16]
    y = np.zeros_like(pos)
    for seg in range(4):  # slope 2**seg on (edges[seg], edges[seg + 1]]
        y += np.clip(pos - edges[seg], 0, edges[seg + 1] - edges[seg]) << seg
    return y


def hammer_layer(Q, K, V, qv, kv, p):
    """Q, K: (H, S, d), (H, T, d) float64 of one layer. Returns mask (H, S, T),
    stats (H, 8), ties (list of (h, i, j)), unstable (H,)."""
    H, S, d = Q.shape
    T = K.shape[1]
    if p["mean"]:
        m = K[:, kv, :].mean(axis=1, keepdims=True)  # (H, 1, d)
    else:
        m = np.zeros((H, 1, d))
    Kp = K - m
    Qc = quant(Q, p["cut"], p["factor"])
    Kc = quant(Kp, p["cut"], p["factor"])
    A = np.einsum("hsc,htc->hst", Qc, Kc)
    rnd = lambda v: int(np.floor(v * d + 0.5))
    breaks = [rnd(p["b1"]), rnd(p["b2"]), rnd(p["b3"])]
    F = linearize(A - rnd(p["zero"]), breaks, p["relu"])
    F = np.where(V[None], F, 0)
    bound = p["t"] * F.sum(axis=2).astype(np.float64)  # (H, S): t * sum_j f(a_ij)
    keep = (F.astype(np.float64) > bound[:, :, None]) & V[None]
    row_valid = V.any(axis=1)[None, :]  # (1, S)
    empty = row_valid & ~keep.any(axis=2)  # (H, S)
    Amask = np.where(V[None], A, np.iinfo(np.int64).min)
    amax = Amask.max(axis=2, keepdims=True)
    fallback = (Amask == amax) & V[None] & empty[:, :, None] & bool(p["keep_max"])
    keep |= fallback
    nv = V.sum()
    stats = np.zeros((H, len(STAT_NAMES)))
    stats[:, 0] = keep.sum(axis=(1, 2))
    stats[:, 1] = nv * d
    stats[:, 2] = 2 * kv.sum() * d if p["mean"] else 0
    stats[:, 3] = ((F == 0) & V[None]).sum(axis=(1, 2))
    stats[:, 4] = empty.sum(axis=1)
    stats[:, 5] = fallback.sum(axis=(1, 2))
    stats[:, 6] = (np.abs(Q[:, qv, :]) >= p["cut"]).sum(axis=(1, 2))
    stats[:, 7] = (np.abs(Kp[:, kv, :]) >= p["cut"]).sum(axis=(1, 2))
    near = V[None] & (bound[:, :, None] > 0) & (np.abs(F - bound[:, :, None]) <= TIE_REL * bound[:, :, None])
    ties = np.argwhere(near)
    kk = np.abs(Kp[:, kv, :])
    unstable = ((np.abs(kk - p["cut"]) <= FLIP_ABS * max(1.0, p["cut"])) | (kk <= FLIP_ABS)).any(axis=(1, 2))
    return keep.astype(np.uint8), stats, ties, unstable.astype(np.uint8)


def main():
    D = rc.fixtures_dir(__doc__.split("\n")[0])
    rc.write_spec_set_files(D, "hammer", STAT_NAMES, SETTINGS, SETS)
    for set_name, (src, valid_len, causal) in SETS.items():
        q, k = (x.astype(np.float64) for x in rc.load_qkv(D, src))
        L, H, S, d = q.shape
        V, qv, kv = validity(S, S, valid_len, causal)
        for name, p in SETTINGS.items():
            mask = np.zeros((L, H, S, S), np.uint8)
            stats = np.zeros((L, H, len(STAT_NAMES)))
            unstable = np.zeros((L, H), np.uint8)
            ties = []
            for l in range(L):
                mask[l], stats[l], t, unstable[l] = hammer_layer(q[l], k[l], V, qv, kv, p)
                ties.extend((l, h, i, j) for h, i, j in t)
            pre = os.path.join(D, f"hammer_{name}_{set_name}")
            rc.save_arrays(pre, mask=mask, stats=stats, ties=np.array(ties, np.int64).reshape(-1, 4),
                           unstable=unstable)


if __name__ == "__main__":
    main()
