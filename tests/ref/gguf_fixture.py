#!/usr/bin/env python3
"""gguf_fixture.py — GGUF files and their expected contents for tests/unit/test_gguf.c.

    gguf_fixture.py --out DIR [--model models/SmolLM2-135M-Instruct/model.gguf]

writes into DIR/gguf/:
    synthetic.gguf      written by the gguf package's GGUFWriter: one metadata
        key of every value type (64-bit integers beyond 2^53, a float64, a
        bool), arrays of strings (empty, non-ASCII, one with a NUL byte),
        int32, uint8, int64, float32 and bool; general.alignment 64; one
        tensor of every ggml type attnprune reads (F32, F16, BF16, Q4_0, Q4_1,
        Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) with random raw blocks, odd row
        counts, a 1-D and a 3-D tensor
    deq_NAME.npy        float32, numpy shape (ne reversed): each tensor as
        gguf.quants.dequantize makes it (the Python port of ggml's
        dequantize_row_*)
    real_NAME.npy       float32 (rows, ne[0]): rows of tensors of the real model,
        dequantized the same way
    expected.json       the metadata (strings as hex, 64-bit integers as decimal
        strings), the tensors' names, types, ne, and the real-model checks

Random raw blocks would hold NaN and infinite f16 scales, which say nothing
about the arithmetic; so the f16 fields of every block (d, and m or dmin) are
overwritten with random finite halves (a few subnormal). BF16 and the other
bits stay random, NaNs included: both sides copy those bits. Seed 20261124.
"""
import argparse
import json
import os

import numpy as np

SEED = 20261124

# byte offsets of the f16 fields inside one block, per type (quants.py layouts)
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}


def save(path, a):
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, np.ascontiguousarray(a, dtype=np.float32))
    os.replace(tmp, path)


def finite_halves(rng, n):
    """n random finite float16 values of both signs, about 1 in 8 subnormal."""
    v = rng.normal(0.0, 0.05, n)
    tiny = rng.random(n) < 0.125
    v[tiny] = rng.normal(0.0, 3e-6, tiny.sum())  # below 2^-14: subnormal halves
    return v.astype(np.float16)


def raw_blocks(rng, qtype, rows, cols):
    """Random raw bytes of a (rows, cols) tensor of qtype, with finite f16 fields."""
    import gguf
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = rows * cols // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    for off in F16_FIELDS[qtype.name]:
        raw[:, off:off + 2] = finite_halves(rng, nb).view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, cols // block * size)


def synthetic(out, rng):
    import gguf
    from gguf import GGMLQuantizationType as T, GGUFValueType as V

    path = os.path.join(out, "synthetic.gguf")
    w = gguf.GGUFWriter(path + ".tmp", arch="synthetic")
    w.add_custom_alignment(64)
    kvs = []  # (key, type name, value) in file order after the writer's own

    def kv(key, vtype, value, sub=None):
        w.add_key_value(key, value, vtype, sub_type=sub)
        kvs.append((key, vtype, value, sub))

    kv("test.uint8", V.UINT8, 200)
    kv("test.int8", V.INT8, -100)
    kv("test.uint16", V.UINT16, 60000)
    kv("test.int16", V.INT16, -30000)
    kv("test.uint32", V.UINT32, 4000000000)
    kv("test.int32", V.INT32, -2000000000)
    kv("test.float32", V.FLOAT32, 3.14159)
    kv("test.bool", V.BOOL, True)
    kv("test.bool_false", V.BOOL, False)
    kv("test.string", V.STRING, "h\u00e9llo, w\u00f6rld \u2713")
    kv("test.empty_string", V.STRING, "")
    kv("test.uint64", V.UINT64, (1 << 63) + 5)
    kv("test.int64", V.INT64, -(1 << 62) - 3)
    kv("test.float64", V.FLOAT64, 2.718281828459045)
    kv("test.small_uint64", V.UINT64, 7)
    kv("test.string_array", V.ARRAY, ["", "a", "\u00fc", "\u65e5\u672c\u8a9e", "", "nul\x00inside", "tab\t",
                                     "\U0001F600"], V.STRING)
    kv("test.int32_array", V.ARRAY, [0, -1, 2147483647, -2147483648, 42], V.INT32)
    kv("test.uint8_array", V.ARRAY, [0, 255, 128], V.UINT8)
    kv("test.int64_array", V.ARRAY, [-(1 << 62), 1 << 62, -1], V.INT64)
    kv("test.float32_array", V.ARRAY, [0.5, -1.25, 1e-8, 3.0e38], V.FLOAT32)
    kv("test.bool_array", V.ARRAY, [True, False, True], V.BOOL)

    tensors = []  # (name, type, numpy shape, raw or values)

    def tensor(name, qtype, shape, data):
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
        tensors.append((name, qtype, shape, data))

    tensor("f32.weight", T.F32, (3, 5), rng.normal(0, 1, (3, 5)).astype(np.float32))
    tensor("f32.bias", T.F32, (7,), rng.normal(0, 1, (7,)).astype(np.float32))
    f16 = finite_halves(rng, 5 * 8).reshape(5, 8)
    f16.view(np.uint16)[0, :4] = [0x7C00, 0xFC00, 0x0001, 0x8000]  # inf, -inf, smallest subnormal, -0
    tensor("f16.weight", T.F16, (5, 8), f16)
    tensor("bf16.weight", T.BF16, (3, 6), rng.integers(0, 256, (3, 12), dtype=np.uint8))
    for qt, rows, cols in [(T.Q4_0, 3, 64), (T.Q4_1, 5, 32), (T.Q5_0, 3, 96), (T.Q5_1, 3, 64), (T.Q8_0, 5, 64),
                           (T.Q4_K, 3, 256), (T.Q5_K, 3, 512), (T.Q6_K, 3, 256)]:
        tensor(qt.name.lower() + ".weight", qt, (rows, cols), raw_blocks(rng, qt, rows, cols))
    raw3 = raw_blocks(rng, T.Q8_0, 2 * 3, 64).reshape(2, 3, 68)
    tensor("q8_0.cube", T.Q8_0, (2, 3, 64), raw3)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)

    exp_tensors = []
    for name, qt, shape, data in tensors:
        if qt == T.F32:
            deq = data
        else:
            raw = data.view(np.uint8) if qt == T.F16 else data
            deq = gguf.quants.dequantize(raw, qt)
        deq = np.asarray(deq, dtype=np.float32).reshape(shape)
        fname = "deq_" + name.replace(".", "_") + ".npy"
        save(os.path.join(out, fname), deq)
        exp_tensors.append({"name": name, "type": qt.name, "ne": list(reversed(shape)), "npy": fname})

    def json_value(vtype, value):
        if vtype == V.STRING:
            return value.encode("utf-8").hex()
        if vtype in (V.UINT64, V.INT64):
            return str(value)
        if vtype == V.FLOAT32:
            return float(np.float32(value))
        return value

    exp_kv = []
    for key, vtype, value, sub in kvs:
        e = {"key": key, "type": vtype.name.lower()}
        if vtype == V.ARRAY:
            e["elem_type"] = sub.name.lower()
            e["value"] = [json_value(sub, x) for x in value]
        else:
            e["value"] = json_value(vtype, value)
        exp_kv.append(e)

    # what GGUFReader (the package's own reader) says of the file
    r = gguf.GGUFReader(path)
    n_kv = len(r.fields) - 3  # minus GGUF.version, GGUF.tensor_count, GGUF.kv_count
    keys = [f.name for f in r.fields.values()][3:]
    return {"file": "synthetic.gguf", "version": int(r.fields["GGUF.version"].parts[0][0]), "alignment": 64,
            "kv_count": n_kv, "keys_in_order": keys, "kv": exp_kv, "tensors": exp_tensors}


def real(out, model):
    import gguf

    r = gguf.GGUFReader(model)
    by_name = {t.name: t for t in r.tensors}
    checks = []
    for name, rows in [("blk.0.attn_q.weight", [0, 1, 2, 3, 300, 575]),
                       ("token_embd.weight", list(range(8)) + list(range(49144, 49152))),
                       ("blk.0.attn_norm.weight", [0])]:
        t = by_name[name]
        data = np.asarray(t.data)
        if data.ndim == 1:
            data = data.reshape(1, -1)
        sel = data[rows]
        deq = gguf.quants.dequantize(sel.view(np.uint8) if t.tensor_type != gguf.GGMLQuantizationType.F32 else sel,
                                     t.tensor_type)
        deq = np.asarray(deq, dtype=np.float32).reshape(len(rows), -1)
        fname = "real_" + name.replace(".", "_") + ".npy"
        save(os.path.join(out, fname), deq)
        checks.append({"name": name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape],
                       "rows": rows, "npy": fname})

    tok = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tok.parts[i]).hex() for i in tok.data]
    ttype = r.fields["tokenizer.ggml.token_type"]
    types = [int(ttype.parts[i][0]) for i in ttype.data]
    pick = [0, 1, 2, 100, 1000, len(tokens) - 1]
    return {"model": os.path.abspath(model), "tensor_count": len(r.tensors),
            "kv_count": len(r.fields) - 3, "block_count": int(r.fields["llama.block_count"].parts[-1][0]),
            "rms_eps": float(r.fields["llama.attention.layer_norm_rms_epsilon"].parts[-1][0]),
            "n_tokens": len(tokens), "tokens": {str(i): tokens[i] for i in pick},
            "token_types": {str(i): types[i] for i in pick}, "tensors": checks}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                    "models", "SmolLM2-135M-Instruct", "model.gguf"))
    args = ap.parse_args()
    out = os.path.join(args.out, "gguf")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    exp = {"synthetic": synthetic(out, rng), "real": real(out, args.model)}
    tmp = os.path.join(out, "expected.json.tmp")
    with open(tmp, "w") as f:
        json.dump(exp, f, indent=1)
    os.replace(tmp, os.path.join(out, "expected.json"))
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"gguf_fixture: {len(os.listdir(out))} files, {total} bytes in {out}")


if __name__ == "__main__":
    main()
