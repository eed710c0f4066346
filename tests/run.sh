#!/usr/bin/env bash
# run.sh BUILD_DIR [VARIANT] — the whole test suite, as `make test` runs it.
#
#   1. reference fixtures from tests/ref/*.py (PyTorch / transformers), made
#      once per model and script version into BUILD_DIR/fixtures
#   2. the C unit tests (BUILD_DIR/tests/unit_tests)
#   3. the fuzz corpora replayed through each parser (BUILD_DIR/tests/replay_*)
#   4. the command-line tests (tests/cli/*.sh)
#
# Ends with the line "N passed, N failed" that CI reads; exits non-zero if
# anything failed.
set -uo pipefail
B=${1:?usage: tests/run.sh BUILD_DIR [VARIANT]}
VARIANT=${2:-release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=.venv/bin/python
export AP_MODEL_DIR="$ROOT/models/all-MiniLM-L6-v2"
export AP_DECODER="$ROOT/models/SmolLM2-135M-Instruct/model.gguf"
DECODER_DIR="$ROOT/models/SmolLM2-135M-Instruct"
export AP_FIXTURES="$ROOT/$B/fixtures"
export AP_SOURCE_DIR="$ROOT"
export AP_TOOL="$ROOT/$B/attnprune"
export AP_VARIANT="$VARIANT"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

passed=0
failed=0
failures=()
record() { # name status
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1"; fi
}

# -- 1. fixtures ------------------------------------------------------------
stamp_want=$( (cat tests/ref/*.py tests/data/* "$AP_MODEL_DIR/config.json" scripts/requirements.txt;
               stat -c '%s %Y' "$DECODER_DIR/model.gguf" 2>/dev/null) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$AP_FIXTURES/.stamp" 2>/dev/null)" != "$stamp_want" ]; then
    echo "making reference fixtures in $AP_FIXTURES (PyTorch, transformers, sentence-transformers)"
    mkdir -p "$AP_FIXTURES"
    ok=0
    $PY tests/ref/bert_reference.py --model "$AP_MODEL_DIR" --text data/austen/paragraphs.txt \
        --lines 300 --out "$AP_FIXTURES" || ok=1
    $PY tests/ref/tokenizer_ids.py --model "$AP_MODEL_DIR" "$AP_FIXTURES" || ok=1
    $PY tests/ref/bpe_ids.py --model "$DECODER_DIR" --out "$AP_FIXTURES" || ok=1
    $PY tests/ref/qkv_fixture.py --model "$AP_MODEL_DIR" --text data/austen/emma.txt --out "$AP_FIXTURES" || ok=1
    $PY tests/ref/llama_reference.py --gguf "$AP_DECODER" --text data/austen/emma.txt --out "$AP_FIXTURES" || ok=1
    $PY tests/ref/gguf_fixture.py --out "$AP_FIXTURES" || ok=1
    for ref in tests/ref/method_*.py; do
        [ -f "$ref" ] || continue
        $PY "$ref" --fixtures "$AP_FIXTURES" || ok=1
    done
    record "fixtures" $ok
    [ $ok = 0 ] && echo "$stamp_want" > "$AP_FIXTURES/.stamp"
fi

# -- 2. unit tests ----------------------------------------------------------
out=$("$B/tests/unit_tests" 2>&1); rc=$?
echo "$out" | grep -v '^ok ' | grep -v 'passed, .* failed$'
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ -n "$line" ]; then
    up=${line%% passed*}; uf=${line#*, }; uf=${uf%% failed}
    passed=$((passed + up)); failed=$((failed + uf))
    echo "unit tests: $line"
    [ "$rc" = 0 ] || [ "$uf" != 0 ] || record "unit_tests exit status $rc" 1
else
    record "unit_tests (crashed, status $rc)" 1
fi

# -- 2b. the SIMD kernels' fallbacks, forced ---------------------------------
# The kernels pick their widest variant at run time; AP_CPU=avx2 takes
# AVX-512 away and AP_CPU=scalar everything, as on CPUs without them. The
# tests of every kernel with SIMD variants, and the model paths over them,
# run again under each.
for cpu in avx2 scalar; do
    for f in attention_ lowbit gelu sanger hammer sprint bert_ llama_logits llama_fused; do
        out=$(AP_CPU=$cpu "$B/tests/unit_tests" "$f" 2>&1); rc=$?
        line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
        case "$line" in
            "0 passed, 0 failed"|"") record "AP_CPU=$cpu $f (no test ran, status $rc)" 1 ;;
            *" 0 failed") record "AP_CPU=$cpu $f: $line" "$rc" ;;
            *) echo "$out" | grep -v '^ok '; record "AP_CPU=$cpu $f: $line" 1 ;;
        esac
    done
done

# -- 3. fuzz corpus replay ----------------------------------------------------
for bin in "$B"/tests/replay_fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/replay_fuzz_}
    "$bin" "tests/corpus/$name" > /dev/null 2>&1
    record "corpus replay: $name" $?
done

# -- 4. command-line tests ----------------------------------------------------
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    out=$(bash "$t" "$AP_TOOL" 2>&1); rc=$?
    echo "$out" | grep -E '^(FAIL|    )' || true
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -n "$line" ]; then
        up=${line%% passed*}; uf=${line#*, }; uf=${uf%% failed}
        passed=$((passed + up)); failed=$((failed + uf))
        echo "$(basename "$t"): $line"
    else
        record "$(basename "$t") (no summary, status $rc)" 1
    fi
done

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "variant $VARIANT"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
