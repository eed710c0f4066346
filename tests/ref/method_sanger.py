#!/usr/bin/env python3
"""method_sanger.py — NumPy reference of Sanger's mask prediction and pack & split (MICRO 2021).

    method_sanger.py --fixtures DIR

Written from the paper (§4.1-4.3, Algorithm 1) and its public artifact's
configuration, whole tensors at a time:
    normalize_qk = inner_product:  q^ = q / |q|, k^ = k / |k|   (rows; off: q^ = q)
    Q(x) = clamp(round(gamma x), -M, M),  M = 2^(bits-1) - 1,  gamma = M / thr,
        thr = max |x| over the head's valid rows (or a given range); round half to even
    S^ = Q(q^) Q(k^)^T / (gamma_q gamma_k) * |q| |k|^T * scale     (scale = float32 1/sqrt(d))
    P^ = softmax of S^ over the keys each query sees;  M = P^ > t   (the artifact's '>')
    a row that keeps nothing keeps its largest S^ (keep_max = 1; our rule, docs/methods/sanger.md)
    pack & split (fig. 3): column groups of `ports` columns; a sub-row is one query's
        slice of a group holding a valid pair; pack drops the sub-rows with no kept pair;
        split makes ceil(nnz / pes) rows of one; blocks = ceil(rows / pe_rows) per group.
        "before" = no pack (empty sub-rows occupy a row), split all the same.

Reads DIR/qkv_{real,rand}_{q,k}.npy (L, H, S, d) float32. For every setting
NAME and set SET writes into DIR (as tests/ref/method_hammer.py):
    sanger_NAME_spec.txt, sanger_SET_set.txt, sanger_stat_names.txt
    sanger_NAME_SET_mask.npy     uint8 (L, H, S, S)
    sanger_NAME_SET_stats.npy    float64 (L, H, 12) in the order of sanger_stat_names.txt
    sanger_NAME_SET_ties.npy     int64 (n, 4): (layer, head, i, j) with |P^ - t| <= 1e-6 t, and,
                                 in rows that keep nothing, pairs within 1e-9 of the row's max S^
    sanger_NAME_SET_unstable.npy uint8 (L, H): a gamma x within 1e-9 of a rounding boundary
                                 (k + 1/2) inside the clamp range: its code could flip
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402

STAT_NAMES = ["kept", "pred_macs", "rows_empty", "groups", "subrows_nonempty", "subrows_empty", "subrows_before",
              "subrows_after", "blocks_before", "blocks_after", "pe_slots_before", "pe_slots_after"]

# Fixed settings: the defaults (SQuAD threshold, the artifact's normalization,
# the paper's 64 ports / 16 PEs / 64 rows); the GLUE threshold with 3 bits,
# no normalization, no empty-row rule and a smaller array; 8 bits with fixed
# (clipping) quantizer ranges and a tiny array.
SETTINGS = {
    "def": dict(t=2e-3, bits=4, normalize=1, thr_q=0.0, thr_k=0.0, keep_max=1, ports=64, pes=16, pe_rows=64),
    "alt": dict(t=2e-2, bits=3, normalize=0, thr_q=0.0, thr_k=0.0, keep_max=0, ports=32, pes=8, pe_rows=16),
    "thr": dict(t=5e-3, bits=8, normalize=1, thr_q=0.5, thr_k=0.6, keep_max=1, ports=16, pes=4, pe_rows=8),
}
SETS = {"real": ("real", -1, 0), "rand": ("rand", -1, 0), "randpad": ("rand", 87, 1)}

TIE_REL = 1e-6
FLIP_ABS = 1e-9


def validity(S, T, valid_len, causal):
    qv = np.ones(S, bool) if valid_len < 0 else np.arange(S) < valid_len
    kv = np.ones(T, bool) if valid_len < 0 else np.arange(T) < valid_len
    V = qv[:, None] & kv[None, :]
    if causal:
        V &= np.arange(T)[None, :] <= np.arange(S)[:, None] + (T - S)
    return V, qv, kv


def quantize(X, valid, bits, thr_given, normalize):
    """X (H, N, d) float64 -> codes (H, N, d), gamma (H,), norms (H, N), unstable (H,)."""
    M = 2 ** (bits - 1) - 1
    norms = np.sqrt((X * X).sum(axis=2)) if normalize else np.ones(X.shape[:2])
    Xh = X / np.where(norms > 0, norms, 1.0)[:, :, None]
    thr = np.abs(Xh[:, valid, :]).max(axis=(1, 2)) if thr_given <= 0 else np.full(X.shape[0], thr_given)
    gamma = np.where(thr > 0, M / np.where(thr > 0, thr, 1.0), 0.0)
    G = gamma[:, None, None] * Xh
    codes = np.clip(np.rint(G), -M, M).astype(np.int64)
    frac = np.abs(G - (np.floor(G) + 0.5))
    unstable = ((frac <= FLIP_ABS * np.maximum(1.0, np.abs(G))) & (np.abs(G) < M + 0.5))[:, valid, :].any(axis=(1, 2))
    return codes, gamma, norms, unstable


def pack_split(keep, V, ports, pes, pe_rows):
    """keep (H, S, T) bool, V (S, T) -> dict of (H,) counts."""
    H, S, T = keep.shape
    out = {n: np.zeros(H, np.int64) for n in STAT_NAMES[3:10]}
    for c0 in range(0, T, ports):
        exists = V[:, c0:c0 + ports].any(axis=1)[None, :]  # (1, S): sub-row holds a valid pair
        nnz = (keep[:, :, c0:c0 + ports] & V[None, :, c0:c0 + ports]).sum(axis=2)  # (H, S)
        empty = (exists & (nnz == 0)).sum(axis=1)
        parts = -(-nnz // pes)  # ceil
        after = np.where(exists, parts, 0).sum(axis=1)
        before = after + empty
        out["groups"] += exists.any()
        out["subrows_nonempty"] += (exists & (nnz > 0)).sum(axis=1)
        out["subrows_empty"] += empty
        out["subrows_before"] += before
        out["subrows_after"] += after
        out["blocks_before"] += -(-before // pe_rows)
        out["blocks_after"] += -(-after // pe_rows)
    return out


def sanger_layer(Q, K, V, qv, kv, p, scale):
    H, S, d = Q.shape
    qc, gq, nq, uq = quantize(Q, qv, p["bits"], p["thr_q"], p["normalize"])
    kc, gk, nk, uk = quantize(K, kv, p["bits"], p["thr_k"], p["normalize"])
    dot = np.einsum("hsc,htc->hst", qc, kc).astype(np.float64)
    gg = gq * gk
    Sh = np.where(gg[:, None, None] > 0,
                  dot / np.where(gg > 0, gg, 1.0)[:, None, None] * nq[:, :, None] * nk[:, None, :] * scale, 0.0)
    Sm = np.where(V[None], Sh, -np.inf)
    row_valid = V.any(axis=1)
    smax = np.where(row_valid[None, :], Sm.max(axis=2), 0.0)
    E = np.exp(Sm - smax[:, :, None])
    P = E / np.where(row_valid[None, :], E.sum(axis=2), 1.0)[:, :, None]
    keep = (P > p["t"]) & V[None]
    empty = row_valid[None, :] & ~keep.any(axis=2)
    atmax = (Sm == smax[:, :, None]) & V[None]
    fallback = atmax & empty[:, :, None] & bool(p["keep_max"])
    keep |= fallback
    nv = V.sum()
    stats = np.zeros((H, len(STAT_NAMES)))
    ps = pack_split(keep, V, p["ports"], p["pes"], p["pe_rows"])
    stats[:, 0] = keep.sum(axis=(1, 2))
    stats[:, 1] = nv * d
    stats[:, 2] = empty.sum(axis=1)
    for i, n in enumerate(STAT_NAMES[3:10]):
        stats[:, 3 + i] = ps[n]
    stats[:, 10] = ps["subrows_before"] * p["pes"]
    stats[:, 11] = ps["subrows_after"] * p["pes"]
    near = V[None] & (np.abs(P - p["t"]) <= TIE_REL * p["t"])
    near |= (empty[:, :, None] & V[None] & ~atmax &
             (np.abs(Sm - smax[:, :, None]) <= FLIP_ABS * np.maximum(1.0, np.abs(smax[:, :, None]))))
    return keep.astype(np.uint8), stats, np.argwhere(near), (uq | uk).astype(np.uint8)


def main():
    D = rc.fixtures_dir(__doc__.split("\n")[0])
    rc.write_spec_set_files(D, "sanger", STAT_NAMES, SETTINGS, SETS)
    for set_name, (src, valid_len, causal) in SETS.items():
        q, k = (x.astype(np.float64) for x in rc.load_qkv(D, src))
        L, H, S, d = q.shape
        scale = float(np.float32(1.0) / np.sqrt(np.float32(d)))  # the model's float32 1/sqrt(d)
        V, qv, kv = validity(S, S, valid_len, causal)
        for name, p in SETTINGS.items():
            mask = np.zeros((L, H, S, S), np.uint8)
            stats = np.zeros((L, H, len(STAT_NAMES)))
            unstable = np.zeros((L, H), np.uint8)
            ties = []
            for l in range(L):
                mask[l], stats[l], t, unstable[l] = sanger_layer(q[l], k[l], V, qv, kv, p, scale)
                ties.extend((l, h, i, j) for h, i, j in t)
            pre = os.path.join(D, f"sanger_{name}_{set_name}")
            rc.save_arrays(pre, mask=mask, stats=stats, ties=np.array(ties, np.int64).reshape(-1, 4),
                           unstable=unstable)


if __name__ == "__main__":
    main()
