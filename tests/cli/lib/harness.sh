# harness.sh — sourced by tests/cli/*.sh: counters, ok / bad, and expect.
# Each test script ends with `echo "$passed passed, $failed failed"`, the
# line tests/run.sh reads. (In lib/ so run.sh does not take it for a test.)
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; }

# expect NAME STATUS PATTERN -- CMD...: exit status and a stderr/stdout pattern
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then bad "$name" "exit status $rc, expected $want" "output: ${out:0:600}"; return; fi
    if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then bad "$name" "output lacks /$pattern/" "output: ${out:0:600}"; return; fi
    ok "$name"
}
