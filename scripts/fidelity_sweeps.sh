#!/usr/bin/env bash
# fidelity_sweeps.sh [TOOL] [OUT_DIR] — the density-fidelity sweeps of
# docs/results.md: every method over the same chunks of Emma (30 chunks of
# 256 tokens = 7,680 tokens), one CSV per method in OUT_DIR (default
# build/sweeps), then the tables (scripts/sweep_table.py). Takes ~40 minutes
# on 2 cores. AP_SWEEP_TOKENS changes the amount of text.
set -euo pipefail
TOOL=${1:-build/attnprune}
OUT=${2:-build/sweeps}
cd "$(dirname "$0")/.."
TOKENS=${AP_SWEEP_TOKENS:-7680}
MODEL=models/all-MiniLM-L6-v2
TEXT=data/austen/emma.txt
mkdir -p "$OUT"
run() { # name spec sweep
    rm -f "$OUT/$1.csv"
    echo "== $2 --sweep $3" >&2
    "$TOOL" eval -m "$MODEL" -i "$TEXT" --max-tokens "$TOKENS" -a "$2" --sweep "$3" -o "$OUT/$1.csv" --no-progress
}
run oracle-threshold oracle-threshold t=1e-4,3e-4,1e-3,2e-3,5e-3,1e-2,2e-2,5e-2
run oracle-topk oracle-topk keep=0.05,0.1,0.15,0.2,0.3,0.4,0.5,0.7
run hammer hammer t=0,0.0002,0.0005,0.001
run hammer-paper-cut hammer:cut=4 t=0,0.001,0.005,0.01
run hammer-zero hammer:cut=4,zero=-0.25 t=0.001,0.002,0.0025,0.003,0.004,0.005,0.01,0.02
run sanger sanger t=5e-4,1e-3,2e-3,3e-3,5e-3,1e-2,2e-2
run leopard leopard density=0.1,0.2,0.3,0.4,0.5,0.55,0.6
run sprint sprint density=0.1,0.2,0.3,0.4,0.5,0.55,0.6
run spatten spatten token_keep=0.3,0.5,0.6,0.7,0.8,0.9,0.95
# the defaults of every method on chunks of 512 tokens (the model's position limit)
rm -f "$OUT/defaults-512.csv"
"$TOOL" eval -m "$MODEL" -i "$TEXT" --chunk 512 --max-tokens "$TOKENS" -a dense -a oracle-threshold -a oracle-topk \
    -a hammer -a sanger -a leopard -a sprint -a spatten -o "$OUT/defaults-512.csv" --no-progress
.venv/bin/python scripts/sweep_table.py "$OUT"/*.csv
