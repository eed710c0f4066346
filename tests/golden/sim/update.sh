#!/usr/bin/env bash
# update.sh [TOOL] — rewrite the golden simulator reports: every
# configs/*.ini on the synthetic trace of trace.spec. tests/cli/test_sim.sh
# diffs each report against these (relative tolerance 1e-9), so a change of
# any simulator's output shows in review: run this only for an intended
# change, read `git diff tests/golden`, and say why in the commit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TOOL=${1:-$ROOT/build/attnprune}
cd "$ROOT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$TOOL" trace --synthetic "$(cat tests/golden/sim/trace.spec)" -o "$T/g" 2> /dev/null
for cfg in configs/*.ini; do
    name=$(basename "$cfg" .ini)
    "$TOOL" sim --arch "$cfg" --trace "$T/g" -o "tests/golden/sim/$name.json" > /dev/null
    echo "tests/golden/sim/$name.json"
done
