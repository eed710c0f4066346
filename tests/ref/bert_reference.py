#!/usr/bin/env python3
"""bert_reference.py — reference fixtures for the C encoder, made by Hugging Face
transformers and sentence-transformers (code we did not write).

    bert_reference.py --model DIR --text FILE --lines N --out DIR

writes into --out:
    embed_texts.txt        the N input lines used (one per line)
    embed_reference.npy    float32 (N, D): SentenceTransformer(DIR).encode(lines)
    hidden_ids.npy         int32 (S,): token ids of one long input (S = the model's
                           position limit, 512 for BERT)
    hidden_states.npy      float32 (L+1, S, D): BertModel(...).hidden_states for it
    tiny-bert/             a second, differently shaped BERT checkpoint with random
                           weights (3 layers, 4 heads, hidden 96, gelu_new, "bert."
                           tensor prefix from BertForMaskedLM, no sentence-transformers
                           files), saved by transformers, with the model's vocab.txt
    tiny_hidden_ids.npy    int32 (S,), and
    tiny_hidden_states.npy float32 (L+1, S, D): its hidden states for the long input

Lines are taken evenly spaced from FILE so short, long and truncated texts all
appear. Everything runs on the CPU with torch's default (non-fast-math) kernels.
"""
import argparse
import os
import sys

import numpy as np


def atomic_save(path, array):
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def make_tiny(args, tok, text):
    """A random BERT of another shape, to show sizes come from config.json."""
    import shutil

    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(1234)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=96, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=160, max_position_embeddings=128, hidden_act="gelu_new",
                     layer_norm_eps=1e-6)
    model = BertForMaskedLM(cfg).eval()
    out_dir = os.path.join(args.out, "tiny-bert")
    tmp_dir = f"{out_dir}.tmp.{os.getpid()}"
    model.save_pretrained(tmp_dir, safe_serialization=True)
    shutil.copy(os.path.join(args.model, "vocab.txt"), os.path.join(tmp_dir, "vocab.txt"))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
    ids = tok(text, truncation=True, max_length=cfg.max_position_embeddings, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.bert(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    hs = torch.stack(out.hidden_states, dim=0)[:, 0].numpy().astype(np.float32)
    atomic_save(os.path.join(args.out, "tiny_hidden_ids.npy"), ids[0].numpy().astype(np.int32))
    atomic_save(os.path.join(args.out, "tiny_hidden_states.npy"), hs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--lines", type=int, default=500)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    with open(args.text, encoding="utf-8") as f:
        all_lines = [line.rstrip("\n") for line in f]
    if not all_lines:
        sys.exit(f"bert_reference.py: {args.text} is empty")
    n = min(args.lines, len(all_lines))
    step = len(all_lines) / n
    lines = [all_lines[int(i * step)] for i in range(n)]

    st = SentenceTransformer(args.model, device="cpu")
    emb = st.encode(lines, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    tmp = os.path.join(args.out, f"embed_texts.txt.tmp.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, os.path.join(args.out, "embed_texts.txt"))
    atomic_save(os.path.join(args.out, "embed_reference.npy"), emb.astype(np.float32))

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).eval()
    limit = model.config.max_position_embeddings
    long_text = " ".join(all_lines[: 400])
    ids = tok(long_text, truncation=True, max_length=limit, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    hs = torch.stack(out.hidden_states, dim=0)[:, 0].numpy().astype(np.float32)
    atomic_save(os.path.join(args.out, "hidden_ids.npy"), ids[0].numpy().astype(np.int32))
    atomic_save(os.path.join(args.out, "hidden_states.npy"), hs)
    make_tiny(args, tok, long_text)
    print(f"bert_reference.py: {n} embeddings, hidden states {hs.shape} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
