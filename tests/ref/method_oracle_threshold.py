#!/usr/bin/env python3
"""method_oracle_threshold.py — NumPy reference for the oracle-threshold baseline.

    method_oracle_threshold.py --fixtures DIR

Written from the definition (docs/methods/oracle-threshold.md), not from the
C code: per valid query row, softmax of scale * q.k over the row's visible
keys (valid and, if causal, not in the future); keep (i, j) iff p_ij > t.
With keep_argmax=1 a row with nothing above t keeps its largest probability
(first index among equal maxima); with keep_argmax=0 it stays empty.

Reads DIR/qkv_{real,rand}_{q,k}.npy (L, H, S, d) float32 and writes into DIR:
    oracle_threshold_settings.json      the settings below, for the C test
    oracle_threshold_<name>_mask.npy    uint8 (L, H, S, S), 1 = kept
    oracle_threshold_<name>_stats.npy   float64 (L, H, 6): kept, valid, rows,
                                        forced_rows, empty_rows, mass_kept
    oracle_threshold_<name>_thr.npy     float64 (L, H, S): t for every row with keys
                                        (NaN otherwise): a C/NumPy difference at a
                                        pair whose probability is within 1e-6 of it
                                        (relative) is a tie
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

# name, fixture, params, valid keys (-1 = all), valid queries (-1 = all), causal
SETTINGS = [
    ("s0", "real", {"t": 2e-3}, -1, -1, 0),  # the default
    ("s1", "rand", {"t": 2e-3}, -1, -1, 0),
    ("s2", "real", {"t": 2e-2}, -1, -1, 0),
    ("s3", "rand", {"t": 0.05}, 87, 93, 1),  # padding and causal
    ("s4", "rand", {"t": 0.5, "keep_argmax": 0}, 70, -1, 0),  # empty rows allowed
    ("s5", "rand", {"t": 0.5, "keep_argmax": 1}, 70, -1, 0),  # ... or forced to their argmax
]
STATS = ["kept", "valid", "rows", "forced_rows", "empty_rows", "mass_kept"]


def visibility(S, T, key_len, query_len, causal):
    kv = np.arange(T) < (T if key_len < 0 else key_len)
    qv = np.arange(S) < (S if query_len < 0 else query_len)
    vis = qv[:, None] & kv[None, :]
    if causal:
        vis &= np.arange(T)[None, :] <= np.arange(S)[:, None] + (T - S)
    return vis  # (S, T)


def run(q, k, params, vis):
    L, H, S, d = q.shape
    t = params["t"]
    keep_argmax = params.get("keep_argmax", 1)
    scale = np.float64(np.float32(1.0) / np.sqrt(np.float32(d)))
    s = np.einsum("lhid,lhjd->lhij", q.astype(np.float64), k.astype(np.float64)) * scale
    s = np.where(vis, s, -np.inf)
    has = vis.any(axis=1)  # (S,) rows with keys
    rowmax = np.max(s, axis=-1, keepdims=True)
    rowmax = np.where(np.isfinite(rowmax), rowmax, 0.0)
    e = np.where(vis, np.exp(s - rowmax), 0.0)
    tot = e.sum(axis=-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    mask = (p > t) & vis
    empty = ~mask.any(axis=-1) & has[None, None, :]  # (L, H, S)
    forced = np.zeros_like(empty)
    if keep_argmax:
        arg = np.argmax(np.where(vis, p, -1.0), axis=-1)  # first index of the maximum
        li, hi, ii = np.nonzero(empty)
        mask[li, hi, ii, arg[li, hi, ii]] = True
        forced, empty = empty, np.zeros_like(empty)
    stats = np.zeros((L, H, len(STATS)))
    stats[..., 0] = mask.sum(axis=(2, 3))
    stats[..., 1] = vis.sum()
    stats[..., 2] = has.sum()
    stats[..., 3] = forced.sum(axis=-1)
    stats[..., 4] = empty.sum(axis=-1)
    stats[..., 5] = np.where(mask, p, 0.0).sum(axis=(2, 3))
    thr = np.where(has, t, np.nan)[None, None, :].repeat(H, 1).repeat(L, 0)
    return mask.astype(np.uint8), stats, thr


def main():
    D = rc.fixtures_dir()
    qkv = {f: rc.load_qkv(D, f) for f in ("real", "rand")}
    index = []
    for name, fix, params, key_len, query_len, causal in SETTINGS:
        q, k = qkv[fix]
        vis = visibility(q.shape[2], k.shape[2], key_len, query_len, causal)
        mask, stats, thr = run(q, k, params, vis)
        rc.save_arrays(os.path.join(D, f"oracle_threshold_{name}"), mask=mask, stats=stats, thr=thr)
        index.append({"name": name, "fixture": fix, "params": rc.spec_string(params), "key_len": key_len,
                      "query_len": query_len, "causal": causal, "stats": STATS})
    rc.write_settings(D, "oracle_threshold", index)


if __name__ == "__main__":
    main()
