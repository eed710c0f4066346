#!/usr/bin/env bash
# decoder_sweeps.sh [TOOL] [OUT_DIR] — perplexity, KL and top-1 agreement
# against dense of every method on the decoder (SmolLM2-135M) on Emma, for
# docs/results.md. One per-window CSV per (context, method setting) in
# OUT_DIR (default build/decoder-sweeps), then the table
# (scripts/ppl_table.py OUT_DIR). AP_CTXS picks the contexts (default
# "1024 2048 4096"), AP_WINDOWS_<ctx> the windows per context (default 2, 1,
# 1), AP_POINTS the settings (default: four per method; see below; bare
# method names run the defaults).
set -euo pipefail
TOOL=${1:-build/attnprune}
OUT=${2:-build/decoder-sweeps}
cd "$(dirname "$0")/.."
MODEL=models/SmolLM2-135M-Instruct/model.gguf
TEXT=data/austen/emma.txt
CTXS=${AP_CTXS:-1024 2048 4096}
mkdir -p "$OUT"
# Four settings per method, bracketing the 1% boundary found at 1024
# tokens; LEOPARD's and SPRINT's `density` is the calibration target (the
# kept fraction of calibration pairs), not the density measured on Emma.
POINTS=${AP_POINTS:-"oracle-topk:keep=0.5 oracle-topk:keep=0.3 oracle-topk:keep=0.2 oracle-topk:keep=0.1
oracle-threshold:t=1e-3 oracle-threshold:t=3e-4 oracle-threshold:t=1e-4 oracle-threshold:t=3e-5
sanger:t=2e-3 sanger:t=1e-3 sanger:t=3e-4 sanger:t=1e-4
hammer:zero=-2 hammer:zero=-4 hammer:zero=-6 hammer:zero=-8
leopard:density=0.55 leopard:density=0.7 leopard:density=0.8 leopard:density=0.9
sprint:density=0.55 sprint:density=0.7 sprint:density=0.8 sprint:density=0.9
spatten:token_keep=1,v_keep=0.3 spatten:token_keep=1,v_keep=0.5 spatten:token_keep=1,v_keep=0.7 spatten:token_keep=0.9"}
for ctx in $CTXS; do
    var=AP_WINDOWS_$ctx
    case $ctx in 1024) def=2 ;; *) def=1 ;; esac
    windows=${!var:-$def}
    for spec in $POINTS; do
        name=$(echo "$spec" | tr ':=,' '___')
        csv="$OUT/ctx$ctx-$name.csv"
        [ -s "$csv" ] && continue # finished earlier: sweeps resume
        echo "== ctx $ctx, $windows window(s): $spec" >&2
        "$TOOL" ppl -m "$MODEL" -i "$TEXT" --ctx "$ctx" --windows "$windows" -a "$spec" -o "$csv.tmp" --no-progress \
            | grep -v '^ppl=' >&2
        mv -f "$csv.tmp" "$csv"
    done
done
.venv/bin/python scripts/ppl_table.py "$OUT"
