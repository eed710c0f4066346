#!/usr/bin/env python3
"""Write the seed corpora of the file-reader fuzz targets.

    .venv/bin/python tests/fuzz/make_corpus.py     # from the repository root

tests/corpus/safetensors/  seeds for tests/fuzz/fuzz_safetensors.c
tests/corpus/npy/          seeds for tests/fuzz/fuzz_npy.c
tests/corpus/gguf/         seeds for tests/fuzz/fuzz_gguf.c

Each directory gets valid files and one file per way the reader must refuse
one (the name says which: ok_* are valid, bad_* must fail). Files are built
byte by byte with struct and json, so each malformation is deliberate; a few
are written by the real NumPy, safetensors and gguf libraries instead (np_*,
lib_*), so the readers are checked against files their authors' code
produced. Those need numpy, safetensors, torch and gguf (all in .venv);
without them they are left as they are.

tests/unit/test_io.c reads some of these files and checks exact values: keep
the two in step.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ST_DIR = os.path.join(ROOT, "tests", "corpus", "safetensors")
NPY_DIR = os.path.join(ROOT, "tests", "corpus", "npy")
GGUF_DIR = os.path.join(ROOT, "tests", "corpus", "gguf")


def write(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------- safetensors

def st_bytes(header, data=b"", align=8, misalign=0, raw_header=None):
    """A safetensors file: header (a dict, dumped as JSON, or raw_header
    bytes as given), padded with spaces so that the data section starts at a
    multiple of `align` plus `misalign`, then data."""
    if raw_header is None:
        h = json.dumps(header, separators=(",", ":")).encode()
        while (8 + len(h)) % align != misalign % align:
            h += b" "
    else:
        h = raw_header
    return struct.pack("<Q", len(h)) + h + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def u16(*bits):
    return struct.pack("<%dH" % len(bits), *bits)


# Known bit patterns, checked value by value in tests/unit/test_io.c.
F16_BITS = [0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555, 0x8001]
BF16_BITS = [0x3F80, 0xC040, 0x0001, 0x007F, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x4049, 0x3E20]


def safetensors_corpus():
    os.makedirs(ST_DIR, exist_ok=True)
    w = lambda name, data: write(ST_DIR, name + ".safetensors", data)

    # --- valid
    # Two F32 tensors and metadata; the data section is 8-aligned.
    w("ok_f32", st_bytes({
        "__metadata__": {"format": "pt", "note": "two small tensors"},
        "a.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "a.bias": {"dtype": "F32", "shape": [3], "data_offsets": [24, 36]},
    }, f32(1, 2, 3, 4, 5, 6) + f32(-0.5, 0.25, 1e-3)))

    # F32, F16 and BF16 with the bit patterns above, a scalar, an empty
    # tensor and an I64 one.
    d32 = f32(1.5, -2.0, 3.25, 0.0)
    d16 = u16(*F16_BITS)
    dbf = u16(*BF16_BITS)
    di64 = struct.pack("<2q", -7, 1 << 40)
    dsc = f32(42.0)
    parts, header, off = [], {}, 0
    for name, dtype, shape, blob in [
        ("f32", "F32", [2, 2], d32), ("f16", "F16", [len(F16_BITS)], d16), ("bf16", "BF16", [len(BF16_BITS)], dbf),
        ("i64", "I64", [2], di64), ("scalar", "F32", [], dsc), ("empty", "F32", [0, 4], b""),
    ]:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        parts.append(blob)
        off += len(blob)
    w("ok_mixed", st_bytes(header, b"".join(parts)))

    # The same F32 tensor with the data section 2 bytes off a 4-byte boundary:
    # the f32 accessor must copy it rather than hand out a misaligned pointer.
    w("ok_misaligned", st_bytes({"m": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}},
                                f32(7.0, -8.5, 9.25), align=4, misalign=2))

    # Every other dtype, and tensors that share bytes (allowed).
    blobs = [("F64", struct.pack("<d", 2.5)), ("I32", struct.pack("<i", -3)), ("I16", struct.pack("<h", 300)),
             ("I8", struct.pack("<b", -5)), ("U8", b"\xff"), ("BOOL", b"\x01")]
    header, data = {}, b""
    for dt, blob in blobs:
        header[dt.lower()] = {"dtype": dt, "shape": [1], "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    header["overlap"] = {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}
    w("ok_dtypes_overlap", st_bytes(header, data))

    w("ok_no_tensors", st_bytes({"__metadata__": {"format": "np"}}))

    # --- malformed files
    one = {"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    data8 = f32(1, 2)

    def tensor(**fields):
        entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
        for k, v in fields.items():
            if v is None:
                del entry[k]
            else:
                entry[k] = v
        return st_bytes({"t": entry}, data8)

    w("bad_short_file", b"\x10\x00\x00\x00\x00")
    w("bad_header_past_end", struct.pack("<Q", 1000) + b'{"t":{}}')
    w("bad_header_absurd", struct.pack("<Q", 1 << 40) + b"{}")
    w("bad_header_not_json", st_bytes(None, raw_header=b'{"t": {"dtype": "F32",'))
    w("bad_header_not_object", st_bytes(None, raw_header=b"[1, 2, 3]"))
    w("bad_header_trailing_text", st_bytes(None, raw_header=b"{} xyz"))
    w("bad_header_utf8", st_bytes(None, raw_header=b'{"t\xff": {}}'))
    w("bad_entry_not_object", st_bytes({"t": [1, 2]}))
    w("bad_missing_dtype", tensor(dtype=None))
    w("bad_missing_shape", tensor(shape=None))
    w("bad_dtype_unknown", tensor(dtype="F33"))
    w("bad_dtype_unsupported_u16", tensor(dtype="U16", shape=[4]))
    w("bad_shape_not_array", tensor(shape=2))
    w("bad_shape_negative", tensor(shape=[-2]))
    w("bad_shape_fraction", tensor(shape=[2.5]))
    w("bad_shape_nine_dims", tensor(shape=[1] * 9))
    w("bad_shape_beyond_2p53", st_bytes(None, raw_header=b'{"t":{"dtype":"F32","shape":[9007199254740993],'
                                                         b'"data_offsets":[0,8]}}', data=data8))
    w("bad_shape_overflow", tensor(shape=[1 << 50, 1 << 50, 1 << 50]))
    w("bad_offsets_one_number", tensor(data_offsets=[0]))
    w("bad_offsets_reversed", tensor(data_offsets=[8, 0]))
    w("bad_offsets_past_end", tensor(data_offsets=[0, 16], shape=[4]))
    w("bad_offsets_size_mismatch", tensor(shape=[3]))
    w("bad_metadata_not_string", st_bytes({"__metadata__": {"epoch": 3}, **one}, data8))
    w("bad_duplicate_name", st_bytes(None, raw_header=b'{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                                      b'"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                     data=data8))

    # --- written by the safetensors library itself (through torch, for bfloat16)
    try:
        import torch
        from safetensors.torch import save as st_save_torch
    except ImportError:
        print("make_corpus: torch/safetensors not installed; lib_torch.safetensors left as it is", file=sys.stderr)
        return
    w("lib_torch", st_save_torch({
        "w": torch.tensor([[0.5, -1.0], [2.0, 1e-8]], dtype=torch.float32),
        "h": torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16),
        "b": torch.tensor([1.0, -2.0, 0.15625, 3.0e38], dtype=torch.bfloat16),
        "ids": torch.tensor([3, 1, 4], dtype=torch.int64),
    }, metadata={"format": "pt"}))


# --------------------------------------------------------------------- npy

def npy_bytes(header_text, data=b"", version=(1, 0), header_len=None, pad=True):
    """A .npy file with header_text (a str) padded like NumPy (spaces and
    '\\n' up to a multiple of 64); header_len overrides the stored length."""
    h = header_text.encode("latin1" if version < (3, 0) else "utf8")
    prefix = 10 if version == (1, 0) else 12
    if pad:
        h += b" " * ((64 - (prefix + len(h) + 1) % 64) % 64) + b"\n"
    n = len(h) if header_len is None else header_len
    pre = b"\x93NUMPY" + bytes(version)
    pre += struct.pack("<H", n) if prefix == 10 else struct.pack("<I", n)
    return pre + h + data


def npy_corpus():
    os.makedirs(NPY_DIR, exist_ok=True)
    w = lambda name, data: write(NPY_DIR, name + ".npy", data)

    # --- valid, hand-written: the variations Python's dict syntax allows
    six = f32(1, 2, 3, 4, 5, 6)
    w("ok_plain", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six))
    w("ok_keys_reordered_dquotes",
      npy_bytes('{"shape":(3,2),"fortran_order":False,"descr":"<f4"}', six))
    w("ok_long_suffix_native", npy_bytes("{'descr': '=f4', 'fortran_order': False, 'shape': (2L, 3L), }", six))
    w("ok_scalar_i32", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", struct.pack("<i", -9)))
    w("ok_version2", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                               struct.pack("<2q", 1, -1), version=(2, 0)))
    w("ok_unpadded_bigendian_byte", npy_bytes("{'descr':'>i1','fortran_order':False,'shape':(2,)}", b"\x7f\x80",
                                              pad=False))

    # --- malformed, or valid NumPy that attnprune does not read
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    two = f32(1, 2)
    w("bad_short", b"\x93NUM")
    w("bad_magic", b"\x93NUMPZ\x01\x00" + npy_bytes(hdr, two)[8:])
    w("bad_truncated_preamble", b"\x93NUMPY\x02\x00\x40")
    w("bad_version", b"\x93NUMPY\x04\x00" + npy_bytes(hdr, two)[8:])
    w("bad_header_past_end", npy_bytes(hdr, two, header_len=4000))
    w("bad_not_dict", npy_bytes("['<f4', False, (2,)]", two))
    w("bad_missing_shape", npy_bytes("{'descr': '<f4', 'fortran_order': False, }", two))
    w("bad_unknown_key", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two))
    w("bad_duplicate_key", npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", two))
    w("bad_fortran_order", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", two))
    w("bad_big_endian", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two))
    w("bad_dtype_u4", npy_bytes("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", two))
    w("bad_structured", npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", two))
    w("bad_shape_not_tuple", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", two))
    w("bad_shape_negative", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two))
    w("bad_shape_nine_dims", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }",
                                       two))
    w("bad_shape_overflow", npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                      "'shape': (4294967296, 4294967296, 2), }", two))
    w("bad_data_truncated", npy_bytes(hdr, two[:6]))
    w("bad_trailing_bytes", npy_bytes(hdr, two + b"\x00"))

    # --- written by NumPy itself (values checked in tests/unit/test_io.c)
    try:
        import numpy as np
    except ImportError:
        print("make_corpus: numpy not installed; np_*.npy left as they are", file=sys.stderr)
        return
    np.save(os.path.join(NPY_DIR, "np_f32_2x3.npy"),
            np.array([[0.5, -1.25, 3.0], [1e-3, 65504.0, -0.0]], dtype=np.float32))
    np.save(os.path.join(NPY_DIR, "np_f64_scalar.npy"), np.array(3.25))
    np.save(os.path.join(NPY_DIR, "np_f16.npy"), np.array([1.0, -2.0, 6.1035156e-05, np.inf], dtype=np.float16))
    np.save(os.path.join(NPY_DIR, "np_bool_empty.npy"), np.zeros((0, 3), dtype=np.bool_))
    with open(os.path.join(NPY_DIR, "np_v3_i32.npy"), "wb") as f:
        np.lib.format.write_array(f, np.array([[1, -2], [3, -4]], dtype=np.int32), version=(3, 0))


# -------------------------------------------------------------------- gguf

# value types and ggml tensor types, numbered as in the file
G_U8, G_I8, G_U16, G_I16, G_U32, G_I32, G_F32, G_BOOL, G_STR, G_ARR, G_U64, G_I64, G_F64 = range(13)
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22),
        "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176),
        "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}


def g_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def g_kv(key, vtype, payload):
    """A metadata entry: key, value type, and the value's bytes as given."""
    return g_str(key) + struct.pack("<I", vtype) + payload


def g_array(elem_type, items):
    """An array value's bytes: items are already-packed element bytes."""
    return struct.pack("<IQ", elem_type, len(items)) + b"".join(items)


def g_tensor(name, ne, ttype, offset):
    return g_str(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", ttype,
                                                                                                      offset)


def gguf_bytes(kvs, tensors, data=b"", version=3, align=32, n_kv=None, n_tensors=None, magic=b"GGUF"):
    """A GGUF file: kvs (packed entries), tensors (packed infos), padding to
    align, then data. n_kv and n_tensors override the counts."""
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tensors)
    if tensors or data:
        body += b"\0" * ((-len(body)) % align)
    return body + data


def gguf_corpus():
    os.makedirs(GGUF_DIR, exist_ok=True)
    w = lambda name, data: write(GGUF_DIR, name + ".gguf", data)
    u32 = lambda v: struct.pack("<I", v)

    # --- valid
    kvs = [g_kv("general.architecture", G_STR, g_str("llama")),
           g_kv("llama.block_count", G_U32, u32(2)),
           g_kv("a.eps", G_F32, struct.pack("<f", 1e-5)),
           g_kv("a.flag", G_BOOL, b"\x01"),
           g_kv("tokenizer.ggml.tokens", G_ARR, g_array(G_STR, [g_str(t) for t in ["<s>", "", "\u00e9t\u00e9", "a"]])),
           g_kv("a.ids", G_ARR, g_array(G_I32, [struct.pack("<i", v) for v in (-1, 0, 7)]))]
    f32 = struct.pack("<8f", *[i - 3.5 for i in range(8)])
    q8 = b"".join(b"\x00\x3c" + bytes((j - 16 + b) & 0xff for j in range(32)) for b in range(2))
    tensors = [g_tensor("t.a", [8], 0, 0), g_tensor("t.b", [32, 2], 8, 32)]
    w("ok_small", gguf_bytes(kvs, tensors, f32 + q8))
    w("ok_v2_metadata_only", gguf_bytes([g_kv("k", G_U64, struct.pack("<Q", 12345))], [], version=2))
    w("ok_empty", gguf_bytes([], []))
    w("ok_alignment_64", gguf_bytes([g_kv("general.alignment", G_U32, u32(64))], [g_tensor("x", [4], 0, 0)],
                                    struct.pack("<4f", 1, 2, 3, 4), align=64))
    # one small tensor of every type, raw bytes with a finite f16 scale pattern
    infos, data = [], b""
    for i, (name, (tt, be, bb)) in enumerate(sorted(GGML.items())):
        n_blocks = 2 if be > 1 else 16
        blob = bytes((7 * k + 3 * i) & 0xff for k in range(n_blocks * bb))
        if be > 1:  # make every byte of each block an f16 of modest size: 0x3c3c... = 1.0586
            blob = bytes(0x3c if k % 2 else (7 * k) & 0xff for k in range(len(blob)))
        data += b"\0" * ((-len(data)) % 32)
        infos.append(g_tensor(name.lower(), [be * n_blocks // (2 if be > 1 else 1), 2 if be > 1 else 1], tt,
                              len(data)))
        data += blob
    w("ok_every_type", gguf_bytes([g_kv("general.architecture", G_STR, g_str("types"))], infos, data))
    w("ok_3d", gguf_bytes([], [g_tensor("cube", [32, 2, 2], 8, 0)], q8 + q8))

    # --- malformed
    small = gguf_bytes(kvs, tensors, f32 + q8)
    w("bad_short", b"GGU")
    w("bad_magic", b"GGML" + small[4:])
    w("bad_version_1", small[:4] + u32(1) + small[8:])
    w("bad_version_4", small[:4] + u32(4) + small[8:])
    w("bad_big_endian", small[:4] + struct.pack(">I", 3) + small[8:])
    w("bad_truncated_data", small[:-1])
    w("bad_truncated_kv", small[:150])
    w("bad_kv_count_lie", gguf_bytes(kvs, tensors, f32 + q8, n_kv=1 << 40))
    w("bad_tensor_count_lie", gguf_bytes(kvs, tensors, f32 + q8, n_tensors=(1 << 64) - 1))
    w("bad_string_length_lie", gguf_bytes([g_kv("k", G_STR, struct.pack("<Q", 1 << 62) + b"abc")], []))
    w("bad_array_length_lie", gguf_bytes([g_kv("k", G_ARR, struct.pack("<IQ", G_U32, 1 << 61) + u32(1))], []))
    w("bad_string_array_lie", gguf_bytes([g_kv("k", G_ARR, struct.pack("<IQ", G_STR, 3) + g_str("a"))], []))
    w("bad_nested_array", gguf_bytes([g_kv("k", G_ARR, g_array(G_ARR, [g_array(G_U8, [b"\x01"])]))], []))
    w("bad_value_type", gguf_bytes([g_kv("k", 13, u32(0))], []))
    w("bad_bool_value", gguf_bytes([g_kv("k", G_BOOL, b"\x02")], []))
    w("bad_empty_key", gguf_bytes([g_kv("", G_U32, u32(1))], []))
    w("bad_duplicate_key", gguf_bytes([g_kv("k", G_U8, b"\x01"), g_kv("k", G_U8, b"\x02")], []))
    w("bad_alignment_zero", gguf_bytes([g_kv("general.alignment", G_U32, u32(0))], []))
    w("bad_alignment_not_pow2", gguf_bytes([g_kv("general.alignment", G_U32, u32(48))], []))
    w("bad_alignment_type", gguf_bytes([g_kv("general.alignment", G_I32, u32(32))], []))
    w("bad_duplicate_tensor", gguf_bytes([], [g_tensor("t", [8], 0, 0), g_tensor("t", [8], 0, 32)], f32 + f32))
    w("bad_misaligned_offset", gguf_bytes([], [g_tensor("t", [8], 0, 4)], f32 + f32))
    w("bad_out_of_file", gguf_bytes([], [g_tensor("t", [16], 0, 0)], f32))
    w("bad_unknown_type", gguf_bytes([], [g_tensor("t", [8], 99, 0)], f32))
    w("bad_unsupported_q2_k", gguf_bytes([], [g_tensor("t", [256], 10, 0)], bytes(84)))
    w("bad_ragged_row", gguf_bytes([], [g_tensor("t", [33, 2], 8, 0)], q8 + q8))
    w("bad_zero_dims", gguf_bytes([], [g_tensor("t", [], 0, 0)], f32))
    w("bad_five_dims", gguf_bytes([], [g_tensor("t", [1, 1, 1, 1, 8], 0, 0)], f32))
    w("bad_shape_overflow", gguf_bytes([], [g_tensor("t", [1 << 40, 1 << 40], 0, 0)], f32))
    w("bad_name_too_long", gguf_bytes([], [g_tensor("n" * 65, [8], 0, 0)], f32))

    # --- written by the gguf package itself
    try:
        import numpy as np
        import gguf
    except ImportError:
        print("make_corpus: numpy/gguf not installed; lib_*.gguf left as they are", file=sys.stderr)
        return
    path = os.path.join(GGUF_DIR, "lib_writer.gguf")
    gw = gguf.GGUFWriter(path, arch="llama")
    gw.add_block_count(1)
    gw.add_token_list(["<s>", "</s>", "hello"])
    gw.add_float64("a.f64", 0.25)
    gw.add_tensor("w", np.arange(12, dtype=np.float32).reshape(3, 4))
    gw.add_tensor("h", np.array([1, -2, 0.5, 65504], dtype=np.float16))
    gw.add_tensor("q", np.frombuffer(q8, dtype=np.uint8).reshape(2, 34), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()


def main():
    safetensors_corpus()
    npy_corpus()
    gguf_corpus()
    for d in (ST_DIR, NPY_DIR, GGUF_DIR):
        print("%s: %d files" % (os.path.relpath(d, ROOT), len(os.listdir(d))))


if __name__ == "__main__":
    main()
