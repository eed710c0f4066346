#!/usr/bin/env bash
# attention_vs_torch.sh [BUILD_DIR] — our attention against PyTorch's
# scaled_dot_product_attention (torch CPU, fp32) on the same shapes, in one
# run, 2 threads each: d = 64; 12 heads bidirectional (the encoder's shape)
# and 9 heads causal (SmolLM2's); S = 512 ... 8192. Writes bench/results.csv
#   S,heads,causal,method,density,ours_ms,torch_ms,speedup
# (speedup = torch_ms / ours_ms; medians of AP_BENCH_RUNS calls, default 5)
# through a temporary file, and prints it. Only our dense kernel so far
# (method "dense"); the pruned methods join with the sparse kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
RUNS=${AP_BENCH_RUNS:-5}
SIZES=${AP_BENCH_SIZES:-512 1024 2048 4096 8192}
OUT=bench/results.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cfg in "12 0" "9 1"; do
    set -- $cfg
    echo "attention, $1 heads, causal=$2: ours" >&2
    "$B/bench/attention_heads" -t 2 -r "$RUNS" -H "$1" -c "$2" $SIZES | tail -n +2 >>"$tmp/ours.csv"
    echo "attention, $1 heads, causal=$2: torch SDPA" >&2
    .venv/bin/python bench/sdpa_torch.py 2 "$RUNS" "$1" "$2" $SIZES | tail -n +2 >>"$tmp/torch.csv"
done
.venv/bin/python - "$tmp/ours.csv" "$tmp/torch.csv" "$OUT.tmp" <<'PY'
import csv, sys
torch = {}
for s, h, c, ms in csv.reader(open(sys.argv[2])):
    torch[(s, h, c)] = float(ms)
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["S", "heads", "causal", "method", "density", "ours_ms", "torch_ms", "speedup"])
    for s, h, c, method, dens, ours, _gflops in csv.reader(open(sys.argv[1])):
        t = torch[(s, h, c)]
        w.writerow([s, h, c, method, dens, ours, f"{t:.3f}", f"{t / float(ours):.3f}"])
PY
mv -f "$OUT.tmp" "$OUT"
column -s, -t <"$OUT"
