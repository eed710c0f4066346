#!/usr/bin/env python3
"""method_spatten.py — NumPy reference for SpAtten (HPCA 2021).

    method_spatten.py --fixtures DIR

Written from the slides and docs/methods/spatten.md, not from the C code.
Three parts, each writing files that start with spatten_ into DIR:

1. The top-k engine (slides "Top-k Engine", "Quick Select"): quick-select
   for the k-th largest with the pivot at the middle of the candidate list
   (candidate lists keep input order), one round over m candidates costing
   ceil(m / P) + 3 cycles; then a filter keeping the elements > k-th and
   those equal to it in index order until k are kept. Random cases:
     spatten_topk_cases.npy   int64 (C, 4): n, k, offset, parallelism P
     spatten_topk_values.npy  float64 (sum n) the inputs, concatenated
     spatten_topk_keep.npy    uint8 (sum n) 1 = kept
     spatten_topk_expect.npy  float64 (C, 3): k-th largest, rounds, cycles

2. Cascade token and head pruning on synthetic per-layer inputs (the
   model's forward pass is not needed to test the decisions): per layer,
   key_prob (H, T) and head_out_abs (H) as the model would report them
   (zero for pruned heads and pruned tokens); token importance accumulates
   the sum over heads of key_prob, head importance head_out_abs; after layer
   l (< L - 1) the top target(l + 1) active tokens / heads by accumulated
   importance stay (schedule in the doc; pinned first/last tokens always).
   Values are multiples of 1/1024 so every sum is exact and ties are real.
     spatten_cascade_settings.json       {"cases": [{name, params, L, H, T}],
                                          "layer_stats": [names]}
     spatten_cascade_<name>_key_prob.npy       float64 (L, H, T) raw inputs
     spatten_cascade_<name>_head_out_abs.npy   float64 (L, H)
     spatten_cascade_<name>_token_active.npy   uint8 (L, T) after each layer
     spatten_cascade_<name>_head_active.npy    uint8 (L, H) after each layer
     spatten_cascade_<name>_layer_stats.npy    float64 (L, 8)

3. The per-head mask on the Q/K/V fixtures (local value pruning and
   progressive quantization), in the format of tests/unit/method_check.h (check 1):
     spatten_settings.json, spatten_<name>_{mask,stats,thr}.npy
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as tests/ref/method_X.py
import refcommon as rc  # noqa: E402


# ------------------------------------------------------------ 1. top-k engine


def quickselect(values, k, P):
    """k-th largest of values (1 <= k <= len), rounds, cycles."""
    seq = list(values)
    rounds = cycles = 0
    while True:
        rounds += 1
        cycles += -(-len(seq) // P) + 3
        pivot = seq[len(seq) // 2]
        greater = [v for v in seq if v > pivot]
        equal = sum(1 for v in seq if v == pivot)
        if len(greater) < k <= len(greater) + equal:
            return pivot, rounds, cycles
        if k <= len(greater):
            seq = greater
        else:
            k -= len(greater) + equal
            seq = [v for v in seq if v < pivot]


def topk(values, cand, k, P):
    """Select k of the candidates (cand: bool list). Returns keep, kth, rounds, cycles."""
    idx = [i for i in range(len(values)) if cand[i]]
    keep = [False] * len(values)
    if k <= 0 or not idx:
        return keep, math.nan, 0, 0
    if k >= len(idx):
        for i in idx:
            keep[i] = True
        return keep, min(values[i] for i in idx), 0, 0
    kth, rounds, cycles = quickselect([values[i] for i in idx], k, P)
    left = k - sum(1 for i in idx if values[i] > kth)
    for i in idx:
        if values[i] > kth:
            keep[i] = True
        elif values[i] == kth and left > 0:
            keep[i] = True
            left -= 1
    return keep, kth, rounds, cycles


def topk_cases(out):
    rng = np.random.default_rng(31337)
    cases, vals, keeps, expect = [], [], [], []
    off = 0
    for c in range(300):
        n = int(rng.integers(1, 300))
        kind = c % 3
        if kind == 0:
            x = rng.standard_normal(n)
        elif kind == 1:
            x = rng.integers(0, 8, n).astype(np.float64)  # many ties
        else:
            x = rng.random(n) * 1e-3
        k = int(rng.integers(1, n + 1)) if c % 10 else n  # sometimes k = n: no round
        P = 16 if c % 4 else 4
        keep, kth, rounds, cycles = topk(list(x), [True] * n, k, P)
        cases.append((n, k, off, P))
        vals.append(x)
        keeps.append(np.array(keep, dtype=np.uint8))
        expect.append((kth, rounds, cycles))
        off += n
    # the slides' example
    x = np.array([7, 2, 6, 4, 9, 1, 3, 5], dtype=np.float64)
    keep, kth, rounds, cycles = topk(list(x), [True] * 8, 4, 16)
    assert kth == 5 and [v for v, k in zip(x, keep) if k] == [7, 6, 9, 5]
    cases.append((8, 4, off, 16))
    vals.append(x)
    keeps.append(np.array(keep, dtype=np.uint8))
    expect.append((kth, rounds, cycles))
    rc.save(os.path.join(out, "spatten_topk_cases.npy"), np.array(cases, dtype=np.int64))
    rc.save(os.path.join(out, "spatten_topk_values.npy"), np.concatenate(vals))
    rc.save(os.path.join(out, "spatten_topk_keep.npy"), np.concatenate(keeps))
    rc.save(os.path.join(out, "spatten_topk_expect.npy"), np.array(expect, dtype=np.float64))


# ------------------------------------------------------------------ 2. cascade

DEFAULTS = {"token_keep": 0.7, "head_keep": 0.9, "start_layer": "auto", "head_start_layer": "auto",
            "schedule": "linear", "keep_first": 1, "keep_last": 0, "topk_parallelism": 16}
LAYER_STATS = ["tokens_active", "tokens_pruned", "heads_active", "heads_pruned",
               "token_topk_rounds", "token_topk_cycles", "head_topk_rounds", "head_topk_cycles"]


def start_of(value, L):
    if value == "auto":
        return min(max(3, math.ceil(0.15 * L)), L - 1)
    return int(value)


def target(schedule, keep, start, m, L, n):
    """Entries the input of layer m keeps, of n."""
    if m < start or start >= L:
        return n
    frac = (m - start + 1) / (L - start)
    if schedule == "linear":
        r = 1.0 - (1.0 - keep) * frac
    elif schedule == "geometric":
        r = keep ** frac
    else:
        r = keep
    return min(n, max(1, math.floor(r * n + 0.5)))


def cascade(key_prob, head_out_abs, params):
    prm = dict(DEFAULTS, **params)
    L, H, T = key_prob.shape
    P = int(prm["topk_parallelism"])
    tok = np.ones(T, dtype=bool)
    head = np.ones(H, dtype=bool)
    timp = np.zeros(T)
    himp = np.zeros(H)
    ts, hs = start_of(prm["start_layer"], L), None
    hs = ts if prm["head_start_layer"] == "auto" else int(prm["head_start_layer"])
    pins = np.zeros(T, dtype=bool)
    if int(prm["keep_first"]):
        pins[0] = True
    if int(prm["keep_last"]):
        pins[T - 1] = True
    tok_hist, head_hist, stats = [], [], np.zeros((L, len(LAYER_STATS)))
    for l in range(L):
        kp = key_prob[l] * head[:, None] * tok[None, :]  # what the model reports
        timp[tok] += kp.sum(axis=0)[tok]
        himp[head] += (head_out_abs[l] * head)[head]
        st = stats[l]
        if l + 1 < L:
            t_target = target(prm["schedule"], float(prm["token_keep"]), ts, l + 1, L, T)
            if t_target < tok.sum():
                cand = tok & ~pins
                k = max(0, t_target - int((tok & pins).sum()))
                keep, _, r, c = topk(list(timp), list(cand), k, P)
                pruned = cand & ~np.array(keep)
                tok = tok & ~pruned
                st[1], st[4], st[5] = pruned.sum(), r, c
            h_target = target(prm["schedule"], float(prm["head_keep"]), hs, l + 1, L, H)
            if h_target < head.sum():
                keep, _, r, c = topk(list(himp), list(head), h_target, P)
                pruned = head & ~np.array(keep)
                head = head & ~pruned
                st[3], st[6], st[7] = pruned.sum(), r, c
        st[0], st[2] = tok.sum(), head.sum()
        tok_hist.append(tok.copy())
        head_hist.append(head.copy())
    return np.array(tok_hist, dtype=np.uint8), np.array(head_hist, dtype=np.uint8), stats


CASCADE = [  # name, params, L, H, T, value range (multiples of 1/1024 below it)
    ("c0", {}, 6, 12, 256, 64),  # DEFAULTS on the default model's shape
    ("c1", {"token_keep": 0.3, "head_keep": 0.5, "schedule": "geometric", "keep_last": 1}, 12, 12, 128, 64),
    ("c2", {"token_keep": 0.2, "head_keep": 0.5, "start_layer": 1, "head_start_layer": 2, "schedule": "step",
            "keep_first": 0}, 6, 4, 40, 0.004),  # values 0..3/1024: ties everywhere
    ("c3", {"token_keep": 0.05, "keep_last": 1, "topk_parallelism": 4}, 4, 3, 10, 2),
    ("c4", {"start_layer": 5, "head_start_layer": 5}, 3, 2, 17, 1),  # start past the last layer: nothing pruned
    ("c5", {"token_keep": 0.5, "head_keep": 1}, 24, 16, 300, 8),
]


def cascade_cases(out):
    rng = np.random.default_rng(271828)
    index = []
    for name, params, L, H, T, vmax in CASCADE:
        units = max(1, int(round(vmax * 1024)))
        kp = rng.integers(0, units, (L, H, T)) / 1024.0
        hoa = rng.integers(0, units * 16, (L, H)) / 1024.0
        tok, head, stats = cascade(kp, hoa, params)
        base = os.path.join(out, f"spatten_cascade_{name}")
        rc.save(base + "_key_prob.npy", kp)
        rc.save(base + "_head_out_abs.npy", hoa)
        rc.save(base + "_token_active.npy", tok)
        rc.save(base + "_head_active.npy", head)
        rc.save(base + "_layer_stats.npy", stats)
        # every parameter spelled out, so the C side does not depend on its own defaults
        full = {**DEFAULTS, **params}
        index.append({"name": name, "params": ",".join(f"{a}={b}" for a, b in full.items()), "L": L, "H": H,
                      "T": T})
    rc.save_json(os.path.join(out, "spatten_cascade_settings.json"), {"cases": index, "layer_stats": LAYER_STATS})


# ------------------------------------------------------- 3. per-head masks

HEAD_DEFAULTS = {"v_keep": 1.0, "pq": 0, "key_bits": 12, "msb_bits": 8, "pq_threshold": 0.1,
                 "topk_parallelism": 16}
# name, fixture, params, valid keys, valid queries, causal, check the engine's rounds (slow in Python)
HEAD_SETTINGS = [
    ("s0", "real", {}, -1, -1, 0, False),  # the defaults: every valid pair
    ("s1", "real", {"v_keep": 0.5}, -1, -1, 0, False),
    ("s2", "rand", {"v_keep": 0.3}, 87, 93, 1, True),
    ("s3", "rand", {"pq": 1, "pq_threshold": 0.3}, 90, -1, 0, True),
    ("s4", "real", {"pq": 1, "msb_bits": 6, "v_keep": 0.4}, -1, -1, 0, False),
    ("s5", "rand", {"pq": 1, "key_bits": 8, "msb_bits": 4, "pq_threshold": 0.5, "v_keep": 0.25}, -1, 70, 0, True),
]


def visibility(S, T, key_len, query_len, causal):
    kv = np.arange(T) < (T if key_len < 0 else key_len)
    qv = np.arange(S) < (S if query_len < 0 else query_len)
    vis = qv[:, None] & kv[None, :]
    if causal:
        vis &= np.arange(T)[None, :] <= np.arange(S)[:, None] + (T - S)
    return vis, kv


def softmax_vis(s, vis):
    s = np.where(vis, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(vis, np.exp(s - m), 0.0)
    t = e.sum(axis=-1, keepdims=True)
    return np.divide(e, t, out=np.zeros_like(e), where=t > 0)


def msb_lsb(k, kv, bits, msb_bits):
    """Dequantized full-width and MSB-only keys of one head (T, d)."""
    amax = np.abs(k[kv].astype(np.float64)).max() if kv.any() else 0.0
    cmax = 2 ** (bits - 1) - 1
    scale = amax / cmax if amax > 0 else 1.0
    code = np.clip(np.rint(k.astype(np.float64) / scale), -cmax, cmax)
    step = 2.0 ** (bits - msb_bits)
    return code * scale, (np.floor(code / step) * step + (step - 1) / 2) * scale


def head_run(q, k, params, vis, kv, rounds_too):
    prm = dict(HEAD_DEFAULTS, **params)
    L, H, S, d = q.shape
    T = k.shape[2]
    scale = np.float64(np.float32(1.0) / np.sqrt(np.float32(d)))
    n = vis.sum(axis=1)
    rows = int((n > 0).sum())
    stat_names = ["kept", "valid", "rows", "v_pruned", "pq_rows", "pq_requant_rows", "pq_key_bits"]
    if rounds_too:
        stat_names += ["v_topk_rounds", "v_topk_cycles"]
    masks = np.zeros((L, H, S, T), dtype=np.uint8)
    stats = np.zeros((L, H, len(stat_names)))
    thr = np.full((L, H, S), np.nan)
    vk = float(prm["v_keep"])
    for l in range(L):
        for h in range(H):
            qq = q[l, h].astype(np.float64)
            if int(prm["pq"]):
                full, msb = msb_lsb(k[l, h], kv, int(prm["key_bits"]), int(prm["msb_bits"]))
                p_msb = softmax_vis(qq @ msb.T * scale, vis)
                p_full = softmax_vis(qq @ full.T * scale, vis)
                pmax = p_msb.max(axis=-1)
                req = (n > 0) & (pmax < float(prm["pq_threshold"]))
                p = np.where(req[:, None], p_full, p_msb)
                stats[l, h, 4] = rows
                stats[l, h, 5] = req.sum()
                stats[l, h, 6] = np.where(n > 0, np.where(req, int(prm["key_bits"]), int(prm["msb_bits"])), 0).sum()
            else:
                p = softmax_vis(qq @ k[l, h].astype(np.float64).T * scale, vis)
            if vk >= 1.0:
                m = vis.copy()
            else:
                m = np.zeros((S, T), dtype=bool)
                for i in range(S):
                    if n[i] == 0:
                        continue
                    kk = max(1, math.ceil(vk * n[i] - 1e-9))
                    if rounds_too:
                        keep, kth, r, c = topk(list(p[i]), list(vis[i]), kk, int(prm["topk_parallelism"]))
                        m[i] = keep
                        stats[l, h, 7] += r
                        stats[l, h, 8] += c
                    else:
                        order = np.argsort(np.where(vis[i], -p[i], np.inf), kind="stable")
                        m[i, order[:kk]] = True
                        kth = p[i, order[kk - 1]]
                    thr[l, h, i] = kth
            masks[l, h] = m
            stats[l, h, 0] = m.sum()
            stats[l, h, 1] = vis.sum()
            stats[l, h, 2] = rows
            stats[l, h, 3] = vis.sum() - m.sum()
    return masks, stats, thr, stat_names


def head_settings(out):
    qkv = {f: rc.load_qkv(out, f) for f in ("real", "rand")}
    index = []
    for name, fix, params, key_len, query_len, causal, rounds_too in HEAD_SETTINGS:
        q, k = qkv[fix]
        vis, kv = visibility(q.shape[2], k.shape[2], key_len, query_len, causal)
        masks, stats, thr, names = head_run(q, k, params, vis, kv, rounds_too)
        base = os.path.join(out, f"spatten_{name}")
        rc.save_arrays(base, mask=masks, stats=stats, thr=thr)
        index.append({"name": name, "fixture": fix, "params": rc.spec_string({**HEAD_DEFAULTS, **params}),
                      "key_len": key_len, "query_len": query_len, "causal": causal, "stats": names})
    rc.write_settings(out, "spatten", index)


def main():
    D = rc.fixtures_dir()
    topk_cases(D)
    cascade_cases(D)
    head_settings(D)


if __name__ == "__main__":
    main()
