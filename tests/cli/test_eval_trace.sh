#!/usr/bin/env bash
# test_eval_trace.sh TOOL — `attnprune eval` and `attnprune trace` on real
# text: CSV rows and their invariants, appending, sweeps, the trace files,
# and the failures (clear message, non-zero exit, nothing half-written).
set -u
TOOL=${1:?usage: test_eval_trace.sh PATH/TO/attnprune}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=${AP_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
PY=$ROOT/.venv/bin/python
TEXT=$ROOT/data/austen/persuasion.txt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$ROOT/tests/cli/lib/harness.sh"

# --- eval: dense against itself is exact
expect "eval dense" 0 "^dense +1\.0000 +1\.0000 +0\.0000 +1\.000000 +1\.000000" -- \
    "$TOOL" eval -m "$MODEL" -i "$TEXT" -a dense --max-tokens 512 -o "$T/e.csv"
row=$(sed -n 2p "$T/e.csv")
case "$row" in
    dense,,1.000000,1.000000,0.000000,1.00000000,1.00000000,2,512,*) ok "eval CSV row for dense" ;;
    *) bad "eval CSV row for dense" "$row" ;;
esac
"$TOOL" eval -m "$MODEL" -i "$TEXT" -a dense --max-tokens 256 -o "$T/e.csv" > /dev/null 2>&1
if [ "$(grep -c '^method,' "$T/e.csv")" = 1 ] && [ "$(wc -l < "$T/e.csv")" = 3 ]; then
    ok "eval appends rows under one header"
else
    bad "eval appends rows under one header" "$(cat "$T/e.csv")"
fi
expect "eval: unknown method" 1 "unknown method 'nosuch'" -- "$TOOL" eval -m "$MODEL" -i "$TEXT" -a nosuch -o "$T/x.csv" --max-tokens 256
expect "eval: unknown parameter" 1 "method 'dense': unknown parameter 'k'" -- \
    "$TOOL" eval -m "$MODEL" -i "$TEXT" -a dense --sweep k=1,2 -o "$T/x.csv" --max-tokens 256
expect "eval: bad --sweep" 2 "--sweep expects KEY=v1,v2" -- "$TOOL" eval -m "$MODEL" -i "$TEXT" -a dense --sweep k -o "$T/x.csv"
expect "eval: no -a" 2 "at least one -a METHOD" -- "$TOOL" eval -m "$MODEL" -i "$TEXT" -o "$T/x.csv"
printf 'too short\n' > "$T/short.txt"
expect "eval: text shorter than a chunk" 1 "short.txt: fewer than 254 tokens" -- "$TOOL" eval -m "$MODEL" -i "$T/short.txt" -a dense -o "$T/x.csv"
[ ! -e "$T/x.csv" ] && ok "failed evals write no CSV" || bad "failed evals write no CSV" "$(cat "$T/x.csv")"

# --- trace
expect "trace dense" 0 "trace of dense written" -- "$TOOL" trace -m "$MODEL" -i "$TEXT" -a dense --max-tokens 512 -o "$T/tr"
check=$("$PY" - "$T/tr" <<'PY' 2>&1
import csv, json, sys
import numpy as np
d = sys.argv[1]
meta = json.load(open(f"{d}/trace.json"))
assert meta["format"] == "attnprune-trace" and meta["version"] == 1, meta
L, H, N, T = meta["layers"], meta["heads"], meta["chunks"], meta["tokens_per_chunk"]
assert (L, H, N, T) == (6, 12, 2, 256), (L, H, N, T)
heads = list(csv.DictReader(open(f"{d}/heads.csv")))
assert len(heads) == N * L * H, len(heads)
assert all(int(r["kept"]) == int(r["valid"]) == T * T for r in heads)
layers = list(csv.DictReader(open(f"{d}/layers.csv")))
assert len(layers) == N * L and all(int(r["tokens_active"]) == T and int(r["heads_active"]) == H for r in layers)
rows = np.load(f"{d}/rows.npy")
assert rows.shape == (N, L, H, T) and rows.dtype == np.int32 and (rows == T).all()
print("consistent")
PY
)
[ "$check" = consistent ] && ok "trace files agree with each other and with dense" || bad "trace files agree" "$check"
expect "trace replaces a trace" 0 "" -- "$TOOL" trace -m "$MODEL" -i "$TEXT" --max-tokens 256 -o "$T/tr"
mkdir -p "$T/notrace"; echo keep > "$T/notrace/file"
expect "trace refuses a directory that is not a trace" 1 "not a trace directory" -- "$TOOL" trace -m "$MODEL" -i "$TEXT" --max-tokens 256 -o "$T/notrace"
[ -f "$T/notrace/file" ] && ok "the refused directory is untouched" || bad "the refused directory is untouched"
expect "trace: unknown method" 1 "unknown method" -- "$TOOL" trace -m "$MODEL" -i "$TEXT" -a nosuch -o "$T/tr2"
left=$(ls -a "$T" | grep -E 'tmp|tr2' || true)
[ -z "$left" ] && ok "failed traces leave nothing behind" || bad "failed traces leave nothing behind" "$left"

# --- every method runs inside the model from the command line, with its defaults
methods=$("$TOOL" methods | sed -n 's/^\([a-z0-9-]*\) — .*/\1/p')
n_methods=$(wc -w <<<"$methods")
[ "$n_methods" -ge 8 ] && ok "methods lists $n_methods methods" || bad "methods lists every method" "$methods"
for m in $methods; do
    out=$("$TOOL" eval -m "$MODEL" -i "$TEXT" -a "$m" --max-tokens 256 -o "$T/all.csv" 2>&1); rc=$?
    line=$(grep -E "^$m +[0-9]" <<<"$out")
    density=$(awk '{print $2}' <<<"$line")
    if [ $rc != 0 ] || [ -z "$density" ]; then bad "eval -a $m" "status $rc" "${out:0:400}"; continue; fi
    if [ "$m" = dense ]; then want=1; else want=$(awk -v d="$density" 'BEGIN { print (d < 1.0) ? 1 : 0 }'); fi
    [ "$want" = 1 ] && ok "eval -a $m runs (density $density)" || bad "eval -a $m prunes" "$line"
done
grep -q "calibrated (not learned)" "$T/all.csv" && ok "calibrated thresholds say so in the CSV" ||
    bad "calibrated thresholds say so in the CSV" "$(cut -c1-200 "$T/all.csv")"
expect "trace leopard" 0 "" -- "$TOOL" trace -m "$MODEL" -i "$TEXT" -a leopard --max-tokens 256 -o "$T/trl"
check=$("$PY" - "$T/trl" <<'PY' 2>&1
import csv, json, sys
d = sys.argv[1]
meta = json.load(open(f"{d}/trace.json"))
assert meta["method"] == "leopard" and "calibrated (not learned)" in meta["method_note"], meta["method_note"]
assert meta["params"]["B"] == "2" and meta["params"]["k_bits"] == "12", meta["params"]
rows = list(csv.DictReader(open(f"{d}/heads.csv")))
assert "kbits_pruned" in rows[0], list(rows[0])
pruned = sum(float(r["pruned"]) for r in rows)
kept = sum(int(r["kept"]) for r in rows)
valid = sum(int(r["valid"]) for r in rows)
assert pruned == valid - kept and 0 < kept < valid, (pruned, kept, valid)
bits = sum(float(r["kbits_pruned"]) for r in rows) / pruned
assert 1 <= bits <= 12, bits
print("consistent")
PY
)
[ "$check" = consistent ] && ok "leopard trace: parameters, note, bits per pruned score" || bad "leopard trace" "$check"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
