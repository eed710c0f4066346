#!/usr/bin/env bash
# sim_real_traces.sh [TOOL] [TOKENS_ENC] [TOKENS_DEC] — the accelerators on
# real traces from our models: each method traced on the same text of Emma
# (the encoder all-MiniLM-L6-v2 in 512-token chunks; the decoder SmolLM2-135M
# in 1,024-token causal prefills, when present), each accelerator simulated
# on its own method's trace (HAMMER and the ELSA-like baseline on hammer's,
# Sanger on sanger's, LEOPARD on leopard's, SPRINT on sprint's, SpAtten on
# spatten's), printed as one markdown table per model. Traces are kept in
# bench/traces/ (ignored by git) for `attnprune compare --trace`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TOOL=${1:-build/attnprune}
ENC_TOKENS=${2:-2048}
DEC_TOKENS=${3:-2048}
TEXT=data/austen/emma.txt
OUT=bench/traces
mkdir -p "$OUT"
ENC=models/all-MiniLM-L6-v2
DEC=models/SmolLM2-135M-Instruct/model.gguf
method_of() { # accelerator configuration -> method that drives it
    case "$1" in
        hammer*|elsa*) echo hammer ;; sanger*) echo sanger ;; leopard*) echo leopard ;;
        sprint*) echo sprint ;; spatten*) echo spatten ;; *) echo dense ;;
    esac
}
table() { # model_label trace_prefix
    echo
    echo "| $1 | method trace | density | cycles | time (µs) | energy (µJ) | GOP/s | GOP/J | DRAM (MB) | speedup | energy × |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for cfg in $(grep -l '^ *baseline *=' configs/*.ini | sort); do
        name=$(basename "$cfg" .ini); m=$(method_of "$name")
        dens=$(awk -F, 'NR > 1 { v += $6; k += $7 } END { printf "%.3f", k / v }' "$2-$m/heads.csv")
        "$TOOL" sim --arch "$cfg" --trace "$2-$m" -o "$OUT/r.json" > /dev/null
        .venv/bin/python - "$OUT/r.json" "$name" "$m" "$dens" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("| %s | %s | %s | %.4g | %.1f | %.2f | %.0f | %.0f | %.2f | %.2f× | %.2f× |" % (
    sys.argv[2], sys.argv[3], sys.argv[4], r["cycles"], r["seconds"] * 1e6, r["energy_pj"] * 1e-6, r["gops"],
    r["gops_per_j"], r["dram_bytes"] / 1e6, r["speedup_vs_baseline"] or 0, r["energy_ratio_vs_baseline"] or 0))
PY
    done
}
for m in hammer sanger leopard sprint spatten; do
    [ -f "$OUT/enc-$m/trace.json" ] || "$TOOL" trace -m "$ENC" -i "$TEXT" -a "$m" --max-tokens "$ENC_TOKENS" -o "$OUT/enc-$m" 2> /dev/null
done
table "all-MiniLM-L6-v2 (encoder, $ENC_TOKENS tokens in 512-token chunks)" "$OUT/enc"
if [ -f "$DEC" ]; then
    for m in hammer sanger leopard sprint spatten; do
        [ -f "$OUT/dec-$m/trace.json" ] || "$TOOL" trace -m "$DEC" -i "$TEXT" -a "$m" --max-tokens "$DEC_TOKENS" -o "$OUT/dec-$m" 2> /dev/null
    done
    table "SmolLM2-135M (decoder, $DEC_TOKENS tokens in 1,024-token prefills)" "$OUT/dec"
fi
rm -f "$OUT/r.json"
