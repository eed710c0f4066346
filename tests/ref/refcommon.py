"""refcommon.py — plumbing shared by the method references (tests/ref/method_*.py):
the --fixtures argument, loading the Q/K/V fixtures, atomic saving of .npy,
text and JSON files, and the index files the C tests read
(tests/unit/method_check.h). No method logic lives here: each method_*.py
stays its own implementation of its paper.

The scripts run as `python tests/ref/method_X.py --fixtures DIR`; they put
their own directory on sys.path before `import refcommon`.
"""
import argparse
import json
import os

import numpy as np


def fixtures_dir(description=None):
    """Parse the command line (--fixtures DIR) and return DIR."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--fixtures", required=True)
    return ap.parse_args().fixtures


def load_qkv(fixtures, name, parts=("q", "k")):
    """[qkv_NAME_q.npy, qkv_NAME_k.npy, ...] from tests/ref/qkv_fixture.py, (L, H, S, d) float32 each."""
    return [np.load(os.path.join(fixtures, f"qkv_{name}_{x}.npy")) for x in parts]


def save(path, a):
    """np.save to a temporary file, then rename: a reader never sees half a file."""
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, a)
    os.replace(tmp, path)


def save_arrays(base, **arrays):
    """save(BASE_KEY.npy, value) for each keyword, in the order given."""
    for key, a in arrays.items():
        save(f"{base}_{key}.npy", a)


def save_text(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(path + ".tmp", path)


def spec_string(params):
    """{"t": 0.01, "bits": 4} -> "t=0.01,bits=4", the C parameter string."""
    return ",".join(f"{a}={b}" for a, b in params.items())


def write_settings(fixtures, prefix, index):
    """PREFIX_settings.json {"settings": index} (check 1 of method_check.h)."""
    save_json(os.path.join(fixtures, f"{prefix}_settings.json"), {"settings": index})


def write_spec_set_files(fixtures, method, stat_names, settings, sets):
    """METHOD_stat_names.txt, METHOD_SETTING_spec.txt and METHOD_SET_set.txt
    ("SOURCE VALID_LEN CAUSAL") (check 2 of method_check.h)."""
    save_text(os.path.join(fixtures, f"{method}_stat_names.txt"), "\n".join(stat_names) + "\n")
    for name, p in settings.items():
        save_text(os.path.join(fixtures, f"{method}_{name}_spec.txt"), spec_string(p) + "\n")
    for set_name, (src, valid_len, causal) in sets.items():
        save_text(os.path.join(fixtures, f"{method}_{set_name}_set.txt"), f"{src} {valid_len} {causal}\n")
