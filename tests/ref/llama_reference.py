#!/usr/bin/env python3
"""llama_reference.py — reference fixtures and perplexities for the C decoder,
made by Hugging Face transformers loading the same GGUF file (code we did not
write: transformers dequantizes the GGUF with the gguf package, un-permutes
the Q/K weights and runs LlamaForCausalLM in float32 on the CPU).

    llama_reference.py --gguf FILE --text FILE --out DIR      fixtures for make test
    llama_reference.py --gguf FILE --text FILE --ppl --ctx N [--stride N] [--windows N]
                                                              one perplexity, printed

Tokens: the text is tokenized by the model's Hugging Face tokenizer as
published with SmolLM2 (byte-level BPE, Digits(individual_digits) then
ByteLevel pre-tokenization), built here with the tokenizers library from the
GGUF's own vocabulary and merges.

Fixtures written into --out/llama/:
    ids.npy          int32 (S,)   the first S = 160 tokens of the text
    logits_rows.npy  float32 (4, V) the logits at positions 0, 1, S/2, S-1
    rows.npy         int32 (4,)   those positions
    argmax.npy       int32 (S,)   argmax of the logits at every position
    lse.npy          float32 (S,) log-sum-exp of the logits at every position
    greedy.npy       int32 (G,)   greedy continuation of ids[:32], G = 24 tokens
    ppl_text.txt     the text of the first 1024 tokens (their decoding; it encodes back to them)
    ppl.json         perplexity of those 1024 tokens at ctx 256, stride 192

Perplexity follows Hugging Face's guide: windows [b, min(b + ctx, N)) for
b = 0, stride, 2 stride, ...; a window scores the targets t >= b + 1 not
scored by an earlier window (t >= the previous window's end); the last window
is the one reaching N (or the --windows limit). ppl = exp(mean NLL).
"""
import argparse
import json
import math
import os
import sys

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the test log


def hub_tokenizer(gguf_path):
    """SmolLM2's tokenizer.json, rebuilt from the GGUF's vocabulary and merges."""
    from gguf import GGUFReader
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(gguf_path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in r.fields["tokenizer.ggml.token_type"].data]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty == 3])  # control tokens
    return tok


def load_model(gguf_path):
    import torch
    from transformers import AutoModelForCausalLM

    d, f = os.path.split(os.path.abspath(gguf_path))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    return model.eval()


def perplexity(model, ids, ctx, stride, max_windows=0):
    """(ppl, scored targets, windows) as the module docstring defines them."""
    import torch

    n = len(ids)
    nll, count, prev_end, windows = 0.0, 0, 0, 0
    for begin in range(0, n, stride):
        end = min(begin + ctx, n)
        first = max(begin + 1, prev_end)
        if first < end:
            x = torch.tensor([ids[begin:end]])
            with torch.no_grad():
                logits = model(x).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            t = torch.arange(first, end)
            nll -= logp[t - begin - 1, torch.tensor(ids[first:end])].sum().item()
            count += end - first
            windows += 1
        prev_end = end
        if end == n or (max_windows and windows >= max_windows):
            break
    return math.exp(nll / count), count, windows


def atomic_save(path, array):
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def fixtures(args, model, tok, text):
    import torch

    out = os.path.join(args.out, "llama")
    os.makedirs(out, exist_ok=True)
    ids = tok.encode(text).ids
    S = 160
    prompt = ids[:S]
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0]
    rows = np.array([0, 1, S // 2, S - 1], dtype=np.int32)
    atomic_save(os.path.join(out, "ids.npy"), np.array(prompt, dtype=np.int32))
    atomic_save(os.path.join(out, "rows.npy"), rows)
    atomic_save(os.path.join(out, "logits_rows.npy"), logits[rows].numpy().astype(np.float32))
    atomic_save(os.path.join(out, "argmax.npy"), logits.argmax(-1).numpy().astype(np.int32))
    atomic_save(os.path.join(out, "lse.npy"), torch.logsumexp(logits.double(), -1).numpy().astype(np.float32))
    with torch.no_grad():
        g = model.generate(torch.tensor([ids[:32]]), max_new_tokens=24, do_sample=False, num_beams=1,
                           pad_token_id=0)
    atomic_save(os.path.join(out, "greedy.npy"), g[0, 32:].numpy().astype(np.int32))
    head = tok.decode(ids[:1024])
    assert tok.encode(head).ids == ids[:1024], "the first 1024 tokens do not round-trip"
    with open(os.path.join(out, "ppl_text.txt"), "w", encoding="utf-8") as f:
        f.write(head)
    ppl, count, windows = perplexity(model, ids[:1024], 256, 192)
    tmp = os.path.join(out, f"ppl.json.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump({"tokens": 1024, "ctx": 256, "stride": 192, "ppl": ppl, "scored": count, "windows": windows}, f)
    os.replace(tmp, os.path.join(out, "ppl.json"))
    print(f"llama_reference: fixtures in {out} (ppl {ppl:.4f} over {count} targets)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out")
    ap.add_argument("--ppl", action="store_true")
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--stride", type=int, default=0, help="0 = ctx")
    ap.add_argument("--windows", type=int, default=0, help="at most this many windows (0 = all)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    tok = hub_tokenizer(args.gguf)
    model = load_model(args.gguf)
    if args.ppl:
        ids = tok.encode(text).ids
        ppl, count, windows = perplexity(model, ids, args.ctx, args.stride or args.ctx, args.windows)
        print(f"tokens={len(ids)} ctx={args.ctx} stride={args.stride or args.ctx} windows={windows} scored={count}")
        print(f"ppl={ppl:.6f}")
        return 0
    if not args.out:
        ap.error("--out is required unless --ppl is given")
    fixtures(args, model, tok, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
