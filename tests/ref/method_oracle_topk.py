#!/usr/bin/env python3
"""method_oracle_topk.py — NumPy reference for the oracle-topk baseline.

    method_oracle_topk.py --fixtures DIR

Written from the definition (docs/methods/oracle-topk.md), not from the C
code: per valid query row, softmax of scale * q.k over the row's visible
keys (valid and, if causal, not in the future); keep the k_row largest,
where k_row = min(k, n) if k > 0 else max(1, ceil(keep * n - 1e-9)) for n
visible keys; ties at the k-th largest value go to the lower key index
(a stable sort of -p).

Reads DIR/qkv_{real,rand}_{q,k}.npy (L, H, S, d) float32 and writes into DIR:
    oracle_topk_settings.json          the settings below, for the C test
    oracle_topk_<name>_mask.npy        uint8 (L, H, S, S), 1 = kept
    oracle_topk_<name>_stats.npy       float64 (L, H, 4): kept, valid, rows, mass_kept
    oracle_topk_<name>_thr.npy         float64 (L, H, S): the k-th largest probability
                                       of each row (NaN for rows without keys), the
                                       value near which a C/NumPy difference is a tie
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

# name, fixture, params, valid keys (-1 = all), valid queries (-1 = all), causal
SETTINGS = [
    ("s0", "real", {"keep": 0.25}, -1, -1, 0),  # the default
    ("s1", "rand", {"keep": 0.25}, -1, -1, 0),
    ("s2", "real", {"k": 16}, -1, -1, 0),
    ("s3", "rand", {"keep": 0.3}, 87, 93, 1),  # padding and causal
    ("s4", "rand", {"k": 5}, 60, -1, 0),
]
STATS = ["kept", "valid", "rows", "mass_kept"]


def visibility(S, T, key_len, query_len, causal):
    kv = np.arange(T) < (T if key_len < 0 else key_len)
    qv = np.arange(S) < (S if query_len < 0 else query_len)
    vis = qv[:, None] & kv[None, :]
    if causal:
        vis &= np.arange(T)[None, :] <= np.arange(S)[:, None] + (T - S)
    return vis  # (S, T)


def run(q, k, params, vis):
    L, H, S, d = q.shape
    T = k.shape[2]
    scale = np.float64(np.float32(1.0) / np.sqrt(np.float32(d)))
    s = np.einsum("lhid,lhjd->lhij", q.astype(np.float64), k.astype(np.float64)) * scale
    s = np.where(vis, s, -np.inf)
    n = vis.sum(axis=1)  # (S,) visible keys per row
    rowmax = np.max(s, axis=-1, keepdims=True)
    rowmax = np.where(np.isfinite(rowmax), rowmax, 0.0)
    e = np.where(vis, np.exp(s - rowmax), 0.0)
    tot = e.sum(axis=-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    if params.get("k", 0) > 0:
        krow = np.minimum(params["k"], n)
    else:
        krow = np.array([max(1, math.ceil(params["keep"] * m - 1e-9)) if m > 0 else 0 for m in n])
    order = np.argsort(np.where(vis, -p, np.inf), axis=-1, kind="stable")  # descending p, lower index first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(T), order.shape), axis=-1)
    mask = (rank < krow[None, None, :, None]) & vis
    thr = np.full((L, H, S), np.nan)
    for i in range(S):
        if krow[i] > 0:
            thr[:, :, i] = np.take_along_axis(p[:, :, i, :], order[:, :, i, krow[i] - 1 : krow[i]], axis=-1)[..., 0]
    rows = float((n > 0).sum())
    stats = np.zeros((L, H, len(STATS)))
    stats[..., 0] = mask.sum(axis=(2, 3))
    stats[..., 1] = vis.sum()
    stats[..., 2] = rows
    stats[..., 3] = np.where(mask, p, 0.0).sum(axis=(2, 3))
    return mask.astype(np.uint8), stats, thr


def main():
    D = rc.fixtures_dir()
    qkv = {f: rc.load_qkv(D, f) for f in ("real", "rand")}
    index = []
    for name, fix, params, key_len, query_len, causal in SETTINGS:
        q, k = qkv[fix]
        vis = visibility(q.shape[2], k.shape[2], key_len, query_len, causal)
        mask, stats, thr = run(q, k, params, vis)
        rc.save_arrays(os.path.join(D, f"oracle_topk_{name}"), mask=mask, stats=stats, thr=thr)
        index.append({"name": name, "fixture": fix, "params": rc.spec_string(params), "key_len": key_len,
                      "query_len": query_len, "causal": causal, "stats": STATS})
    rc.write_settings(D, "oracle_topk", index)


if __name__ == "__main__":
    main()
