#!/usr/bin/env bash
# test_sim.sh TOOL — the simulators from the command line: synthetic traces,
# `attnprune sim` on every configuration (JSON fields, CSV row, golden
# reports diffed), invariants across all accelerators (denser traces never
# cheaper, density 1 never faster than the baseline), `attnprune compare` on
# a real encoder trace and a real decoder trace, and the failures.
set -u
TOOL=${1:?usage: test_sim.sh PATH/TO/attnprune}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MODEL=${AP_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
DECODER=${AP_DECODER:-$ROOT/models/SmolLM2-135M-Instruct/model.gguf}
PY=$ROOT/.venv/bin/python
TEXT=$ROOT/data/austen/persuasion.txt
[ -f "$TEXT" ] || TEXT=$ROOT/data/austen/emma.txt
GOLDEN=$ROOT/tests/golden/sim
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$ROOT/tests/cli/lib/harness.sh"

# The accelerators: every configuration naming a baseline; and all files.
ACCELS=$(grep -l '^ *baseline *=' configs/*.ini | sort)
ALL=$(ls configs/*.ini | sort)
[ -n "$ACCELS" ] && ok "configs: $(echo $ACCELS | wc -w) accelerators" || bad "configs: no accelerator configuration"

# --- synthetic traces -------------------------------------------------------
# The golden trace: small, with every statistic exercised.
GSPEC=$(cat "$GOLDEN/trace.spec")
expect "trace --synthetic" 0 "synthetic trace written" -- "$TOOL" trace --synthetic "$GSPEC" -o "$T/g"
expect "trace --synthetic: unknown key" 1 "unknown key 'density2'" -- "$TOOL" trace --synthetic "density2=1" -o "$T/x"
expect "trace --synthetic: bad value" 1 "padding=2: expected" -- "$TOOL" trace --synthetic "padding=2" -o "$T/x"
expect "trace --synthetic with -m" 2 "drop -m" -- "$TOOL" trace --synthetic "S=8" -m "$MODEL" -o "$T/x"
[ ! -e "$T/x" ] && ok "failed synthetic traces leave nothing" || bad "failed synthetic traces leave nothing"

# --- sim on every configuration: fields, CSV row, golden report -------------
for cfg in $ALL; do
    name=$(basename "$cfg" .ini)
    out=$("$TOOL" sim --arch "$cfg" --trace "$T/g" -o "$T/$name.json" 2>&1); rc=$?
    if [ $rc != 0 ]; then bad "sim $name" "status $rc: ${out:0:400}"; continue; fi
    # stdout: the CSV header and one row with as many fields
    nh=$(sed -n 1p <<<"$out" | awk -F, '{print NF}'); nr=$(sed -n 2p <<<"$out" | awk -F, '{print NF}')
    [ "$nh" = "$nr" ] && [ "$(wc -l <<<"$out")" = 2 ] && ok "sim $name: CSV row" || bad "sim $name: CSV row" "$out"
    chk=$("$PY" - "$T/$name.json" "$GOLDEN/$name.json" 2>&1 <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
need = ["arch", "cycles", "seconds", "energy_pj", "energy_by_component", "utilization", "dram_bytes", "gops",
        "gops_per_j", "speedup_vs_baseline", "energy_ratio_vs_baseline"]
miss = [k for k in need if k not in r]
if miss: sys.exit("missing fields %s" % miss)
if not (r["cycles"] > 0 and r["energy_pj"] > 0 and 0 <= r["utilization"] <= 1): sys.exit("cycles/energy/utilization out of range: %s" % r)
if abs(sum(r["energy_by_component"].values()) - r["energy_pj"]) > 1e-9 * r["energy_pj"]: sys.exit("components do not sum to energy_pj")
if abs(r["seconds"] - r["cycles"] / r["clock_hz"]) > 1e-12 * r["seconds"]: sys.exit("seconds != cycles / clock")
try:
    g = json.load(open(sys.argv[2]))
except FileNotFoundError:
    sys.exit("no golden report %s (tests/golden/sim/update.sh writes them)" % sys.argv[2])
def diff(a, b, path):
    if isinstance(b, dict):
        if not isinstance(a, dict) or set(a) != set(b): return "%s: keys %s vs golden %s" % (path, sorted(a) if isinstance(a, dict) else a, sorted(b))
        for k in b:
            d = diff(a[k], b[k], path + "." + k)
            if d: return d
    elif isinstance(b, (int, float)) and not isinstance(b, bool):
        if not isinstance(a, (int, float)) or abs(a - b) > 1e-9 * max(abs(a), abs(b), 1e-30): return "%s: %r vs golden %r" % (path, a, b)
    elif a != b: return "%s: %r vs golden %r" % (path, a, b)
    return None
d = diff(r, g, "report")
if d: sys.exit(d)
EOF
)
    [ $? = 0 ] && ok "sim $name: fields and golden report" || bad "sim $name: fields and golden report" "$chk"
done

# --- invariants across every accelerator ------------------------------------
# 128 tokens: every head fits every on-chip buffer (S-SPRINT holds 128 keys
# of d = 64), so at density 1 nothing but the predictor separates an
# accelerator from its baseline. (Longer heads at density 1 still gain on
# SPRINT from its reuse between adjacent queries, which its baseline lacks:
# docs/sim/sprint.md.)
"$TOOL" trace --synthetic "S=128,layers=2,heads=4,density=0.2,bits=8" -o "$T/d20" > /dev/null 2>&1
"$TOOL" trace --synthetic "S=128,layers=2,heads=4,density=0.5,bits=8" -o "$T/d50" > /dev/null 2>&1
"$TOOL" trace --synthetic "S=128,layers=2,heads=4,density=1,bits=12" -o "$T/d100" > /dev/null 2>&1
for cfg in $ACCELS; do
    name=$(basename "$cfg" .ini)
    "$TOOL" sim --arch "$cfg" --trace "$T/d20" -o "$T/i20.json" > /dev/null 2>&1 &&
    "$TOOL" sim --arch "$cfg" --trace "$T/d50" -o "$T/i50.json" > /dev/null 2>&1 &&
    "$TOOL" sim --arch "$cfg" --trace "$T/d100" -o "$T/i100.json" > /dev/null 2>&1 || { bad "invariants $name: sim failed"; continue; }
    chk=$("$PY" - "$T/i20.json" "$T/i50.json" "$T/i100.json" 2>&1 <<'EOF'
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
if not (a["cycles"] <= b["cycles"] <= c["cycles"]): sys.exit("cycles not monotone in density: %g %g %g" % (a["cycles"], b["cycles"], c["cycles"]))
if not (a["energy_pj"] <= b["energy_pj"] <= c["energy_pj"]): sys.exit("energy not monotone in density: %g %g %g" % (a["energy_pj"], b["energy_pj"], c["energy_pj"]))
# the baseline computes every valid pair: the same at every density
if abs(a["baseline_cycles"] - c["baseline_cycles"]) > 1e-9 * c["baseline_cycles"]: sys.exit("baseline depends on density")
# at density 1 nothing is saved: the predictor can only add
if c["speedup_vs_baseline"] > 1 + 1e-9 or c["energy_ratio_vs_baseline"] > 1 + 1e-9:
    sys.exit("density 1 faster or cheaper than the baseline: %g %g" % (c["speedup_vs_baseline"], c["energy_ratio_vs_baseline"]))
if c["dram_bytes"] < a["dram_bytes"]: sys.exit("denser trace moved fewer bytes")
EOF
)
    [ $? = 0 ] && ok "invariants $name" || bad "invariants $name" "$chk"
done

# --- compare: one table, real traces ----------------------------------------
expect "compare on the golden trace" 0 "accelerators and their baselines simulated" -- \
    "$TOOL" compare --trace "$T/g" --csv "$T/cmp.csv"
rows=$(($(wc -l < "$T/cmp.csv") - 1))
[ "$rows" = "$(echo $ACCELS | wc -w)" ] && ok "compare CSV: a row per accelerator" || bad "compare CSV: a row per accelerator" "$(cat "$T/cmp.csv")"
if "$TOOL" trace -m "$MODEL" -i "$TEXT" -a leopard --max-tokens 256 --chunk 128 -o "$T/enc" > /dev/null 2>&1; then
    expect "compare on a real encoder trace (leopard)" 0 "^leopard-ae " -- "$TOOL" compare --trace "$T/enc"
else
    bad "trace of the encoder for compare"
fi
if [ -f "$DECODER" ]; then
    if "$TOOL" trace -m "$DECODER" -i "$TEXT" -a sanger:t=1e-2 --max-tokens 256 --chunk 128 -o "$T/dec" > /dev/null 2>&1; then
        grep -q '"causal":[[:space:]]*true' "$T/dec/trace.json" && ok "decoder trace is causal" || bad "decoder trace is causal"
        expect "compare on a real decoder trace (sanger)" 0 "^sanger " -- "$TOOL" compare --trace "$T/dec"
    else
        bad "trace of the decoder for compare"
    fi
fi

# --- failures -----------------------------------------------------------------
first=$(echo $ACCELS | awk '{print $1}')
expect "sim: --arch required" 2 "--arch" -- "$TOOL" sim --trace "$T/g"
expect "sim: missing trace" 1 "trace.json" -- "$TOOL" sim --arch "$first" --trace "$T/none"
expect "sim: missing config" 1 "nosuch.ini" -- "$TOOL" sim --arch "$T/nosuch.ini" --trace "$T/g"
{ cat "$first"; printf '\n[tech]\nsram_pj = 1\n'; } > "$T/badtech.ini"
sed -i 's|^ *baseline *=.*||' "$T/badtech.ini"
expect "sim: unknown technology key" 1 "sram_pj" -- "$TOOL" sim --arch "$T/badtech.ini" --trace "$T/g"
{ cat "$first"; printf '\n[arch2]\nx = 1\n'; } > "$T/badkey.ini"
sed -i 's|^ *baseline *=.*||' "$T/badkey.ini"
expect "sim: unknown key" 1 "unknown key 'x' in \[arch2\]" -- "$TOOL" sim --arch "$T/badkey.ini" --trace "$T/g"
sed 's|^ *clock_mhz *=.*|clock_mhz = fast|; s|^ *baseline *=.*||' "$first" > "$T/badclock.ini"
expect "sim: bad number" 1 "clock_mhz = 'fast'" -- "$TOOL" sim --arch "$T/badclock.ini" --trace "$T/g"
expect "sim: -o into a missing folder" 1 "cannot write" -- "$TOOL" sim --arch "$first" --trace "$T/g" -o "$T/no/dir/x.json"
[ -z "$(ls "$T" | grep '\.tmp\.')" ] && ok "nothing half-written" || bad "nothing half-written" "$(ls "$T")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
