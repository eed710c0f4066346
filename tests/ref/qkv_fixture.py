#!/usr/bin/env python3
"""qkv_fixture.py — Q, K, V inputs for the methods' bit-for-bit tests.

    qkv_fixture.py --model DIR --text FILE --out DIR [--tokens 256]

writes into --out (all float32, C order):
    qkv_real_q.npy, qkv_real_k.npy, qkv_real_v.npy   (L, H, S, d): the real per-head
        queries, keys and values of all-MiniLM-L6-v2 (transformers BertModel, eval mode)
        on one chunk of S tokens of FILE, taken from the layers' own query/key/value
        projections of the dense model's hidden states
    qkv_rand_q.npy, qkv_rand_k.npy, qkv_rand_v.npy   (4, 3, 100, 32): standard normal
        with a per-channel offset (keys skewed off zero, as the HAMMER paper observes),
        numpy seed 20261123; S = 100 is deliberately not a multiple of 16 or 64
"""
import argparse
import os

import numpy as np


def save(path, a):
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, np.ascontiguousarray(a, dtype=np.float32))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).eval()
    with open(args.text, encoding="utf-8") as f:
        text = " ".join(line.strip() for _, line in zip(range(2000), f))
    ids = tok(text, truncation=True, max_length=args.tokens, return_tensors="pt")["input_ids"]
    cfg = model.config
    H, d = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        qs, ks, vs = [], [], []
        for layer, x in zip(model.encoder.layer, out.hidden_states[:-1]):
            att = layer.attention.self
            S = x.shape[1]
            qs.append(att.query(x)[0].view(S, H, d).transpose(0, 1))
            ks.append(att.key(x)[0].view(S, H, d).transpose(0, 1))
            vs.append(att.value(x)[0].view(S, H, d).transpose(0, 1))
    save(os.path.join(args.out, "qkv_real_q.npy"), torch.stack(qs).numpy())
    save(os.path.join(args.out, "qkv_real_k.npy"), torch.stack(ks).numpy())
    save(os.path.join(args.out, "qkv_real_v.npy"), torch.stack(vs).numpy())

    rng = np.random.default_rng(20261123)
    shape = (4, 3, 100, 32)
    q = rng.standard_normal(shape) * 2.0
    k = rng.standard_normal(shape) * 2.0 + rng.standard_normal((4, 3, 1, 32)) * 3.0
    v = rng.standard_normal(shape)
    save(os.path.join(args.out, "qkv_rand_q.npy"), q)
    save(os.path.join(args.out, "qkv_rand_k.npy"), k)
    save(os.path.join(args.out, "qkv_rand_v.npy"), v)


if __name__ == "__main__":
    main()
