#!/usr/bin/env bash
# attention_vs_torch.sh [BUILD_DIR] — our attention against PyTorch's
# scaled_dot_product_attention (torch CPU, fp32) on the same shapes and data,
# in one run, 2 threads each, d = 64, S = 512 ... 8192:
#   random  12 heads bidirectional (the encoder's shape) and 9 heads causal,
#           uniform Q/K/V: our dense (flash) kernel;
#   real    9 heads causal, Q/K/V of SmolLM2-135M's layer 15 on the first S
#           tokens of Emma (bench/capture_qkv, one dense prefill of the
#           longest S, cached in bench/qkv_smollm2_l15_*.npy): dense, and
#           the fused predictor + sparse rows of each method spec in
#           AP_BENCH_METHODS (default "sanger:t=1e-3 sanger:t=1e-2
#           hammer:t=0.01 sprint:th=2,b=0"), and once at the longest S (one call, a
#           memory and feasibility check rather than a timing) the other
#           methods with a row-block predictor, AP_BENCH_ONCE (default
#           "leopard:th=2 sprint:th=2 oracle-topk:keep=0.1
#           oracle-threshold:t=1e-2"; thresholds given, not calibrated).
# Writes bench/results.csv
#   S,heads,causal,data,method,density,ours_ms,pred_ms,torch_ms,speedup,pred_frac,work_mb
# speedup = torch_ms / ours_ms; pred_frac = pred_ms / our dense ms at that S
# (the predictor's cost against our dense kernel); work_mb = memory our kernels
# and predictor use besides Q, K, V, O. Medians of AP_BENCH_RUNS calls
# (default 5). Written through a temporary file, then printed.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
RUNS=${AP_BENCH_RUNS:-5}
SIZES=${AP_BENCH_SIZES:-512 1024 2048 4096 8192}
METHODS=${AP_BENCH_METHODS:-sanger:t=1e-3 sanger:t=1e-2 hammer:t=0.01 sprint:th=2,b=0}
ONCE=${AP_BENCH_ONCE:-leopard:th=2 sprint:th=2 oracle-topk:keep=0.1 oracle-threshold:t=1e-2}
OUT=bench/results.csv
QKV=bench/qkv_smollm2_l15
MODEL=models/SmolLM2-135M-Instruct/model.gguf
TEXT=data/austen/emma.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
max=0
for s in $SIZES; do [ "$s" -gt "$max" ] && max=$s; done
for cfg in "12 0" "9 1"; do
    set -- $cfg
    echo "attention, random Q/K/V, $1 heads, causal=$2: ours" >&2
    "$B/bench/attention_heads" -t 2 -r "$RUNS" -H "$1" -c "$2" $SIZES | tail -n +2 | sed 's/^/random,/' >>"$tmp/ours.csv"
    echo "attention, random Q/K/V, $1 heads, causal=$2: torch SDPA" >&2
    .venv/bin/python bench/sdpa_torch.py 2 "$RUNS" "$1" "$2" $SIZES | tail -n +2 | sed 's/^/random,/' >>"$tmp/torch.csv"
done
have=0
if [ -f "${QKV}_q.npy" ]; then
    have=$(.venv/bin/python -c "import numpy as np; print(np.load('${QKV}_q.npy', mmap_mode='r').shape[1])")
fi
if [ "$have" -lt "$max" ]; then
    echo "capturing real Q/K/V: SmolLM2 layer 15 over $max tokens of $TEXT (one dense prefill)" >&2
    "$B/bench/capture_qkv" "$MODEL" "$TEXT" "$max" 15 "$QKV"
fi
methods=(-a dense)
for spec in $METHODS; do methods+=(-a "$spec"); done
echo "attention, real Q/K/V (SmolLM2 layer 15), causal: ours" >&2
"$B/bench/attention_heads" -t 2 -r "$RUNS" -c 1 --qkv "$QKV" "${methods[@]}" $SIZES | tail -n +2 | sed 's/^/real,/' >>"$tmp/ours.csv"
if [ -n "$ONCE" ]; then
    once=()
    for spec in $ONCE; do once+=(-a "$spec"); done
    echo "attention, real Q/K/V, S = $max, one call each: ${ONCE}" >&2
    "$B/bench/attention_heads" -t 2 -r 1 -c 1 --qkv "$QKV" "${once[@]}" "$max" | tail -n +2 | sed 's/^/real,/' >>"$tmp/ours.csv"
fi
echo "attention, real Q/K/V (SmolLM2 layer 15), causal: torch SDPA" >&2
.venv/bin/python bench/sdpa_torch.py 2 "$RUNS" 9 1 --qkv "$QKV" $SIZES | tail -n +2 | sed 's/^/real,/' >>"$tmp/torch.csv"
.venv/bin/python - "$tmp/ours.csv" "$tmp/torch.csv" "$OUT.tmp" <<'PY'
import csv, sys
torch, dense = {}, {}
for data, s, h, c, ms in csv.reader(open(sys.argv[2])):
    torch[(data, s, h, c)] = float(ms)
rows = list(csv.reader(open(sys.argv[1])))
for data, s, h, c, method, dens, ours, pred, gflops, work in rows:
    if method == "dense":
        dense[(data, s, h, c)] = float(ours)
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["S", "heads", "causal", "data", "method", "density", "ours_ms", "pred_ms", "torch_ms", "speedup",
                "pred_frac", "work_mb"])
    for data, s, h, c, method, dens, ours, pred, gflops, work in rows:
        key = (data, s, h, c)
        t = torch[key]
        frac = float(pred) / dense[key] if key in dense else 0.0
        w.writerow([s, h, c, data, method, dens, ours, pred, f"{t:.3f}", f"{t / float(ours):.3f}", f"{frac:.3f}", work])
PY
mv -f "$OUT.tmp" "$OUT"
.venv/bin/python - "$OUT" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
PY
