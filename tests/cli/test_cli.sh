#!/usr/bin/env bash
# test_cli.sh TOOL — the attnprune command as a user meets it: help, info,
# embed from a file and from stdin, and every documented failure (a clear
# message, a non-zero exit, no output file left behind).
set -u
TOOL=${1:?usage: test_cli.sh PATH/TO/attnprune}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=${AP_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
PY=$ROOT/.venv/bin/python
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$ROOT/tests/cli/lib/harness.sh"

# no file at $1 and no temporary file beside it
expect_no_output() {
    local f=$1 name=$2
    local left
    left=$(ls -a "$(dirname "$f")" | grep -F "$(basename "$f")" || true)
    if [ -n "$left" ]; then bad "$name" "files left behind: $left"; else ok "$name"; fi
}

head -n 20 "$ROOT/data/austen/paragraphs.txt" > "$T/in.txt"

expect "help" 0 "embed" -- "$TOOL" --help
expect "no command" 2 "usage: attnprune" -- "$TOOL"
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$TOOL" frobnicate
expect "version" 0 "^attnprune [0-9]+\.[0-9]+\.[0-9]+" -- "$TOOL" --version
expect "embed --help" 0 "-o, --output" -- "$TOOL" embed --help
expect "info --help" 0 "-m, --model" -- "$TOOL" info --help
expect "methods" 0 "^dense — " -- "$TOOL" methods
expect "info" 0 "heads +12 \(head dim 32\)" -- "$TOOL" info -m "$MODEL"

# the decoder: ppl and generate
DEC=$ROOT/models/SmolLM2-135M-Instruct/model.gguf
head -c 3000 "$ROOT/data/austen/emma.txt" > "$T/emma-head.txt"
expect "ppl --help" 0 "--stride N" -- "$TOOL" ppl --help
expect "ppl without -m" 2 "-m MODEL.gguf is required" -- "$TOOL" ppl -i "$T/emma-head.txt"
expect "ppl stride above ctx" 2 "--stride 300 exceeds --ctx 200" -- "$TOOL" ppl -m "$DEC" -i "$T/emma-head.txt" --ctx 200 --stride 300
expect "ppl of an encoder" 1 "not a decoder" -- "$TOOL" ppl -m "$MODEL" -i "$T/emma-head.txt" --ctx 128
expect "ppl dense, last line ppl=" 0 "^ppl=[0-9]+\.[0-9]+$" -- "$TOOL" ppl -m "$DEC" -i "$T/emma-head.txt" --ctx 128 -t 2 --no-progress
expect "ppl with a method and CSV" 0 "top-1" -- "$TOOL" ppl -m "$DEC" -i "$T/emma-head.txt" --ctx 128 -a oracle-topk:keep=0.5 -o "$T/ppl.csv" -t 2 --no-progress
rows=$(($(wc -l < "$T/ppl.csv") - 1))
if [ "$rows" -ge 2 ] && head -1 "$T/ppl.csv" | grep -q '^method,params,ctx,stride,window'; then ok "ppl CSV has a header and a row per window"; else bad "ppl CSV has a header and a row per window" "$(cat "$T/ppl.csv")"; fi
expect "generate" 0 "generated 4 tokens" -- "$TOOL" generate -m "$DEC" -p "It is a truth universally" -n 4 --ignore-eos -t 2
expect "generate without a prompt" 2 "-p PROMPT is required" -- "$TOOL" generate -m "$DEC"
expect "info: layers" 0 "layers +6" -- "$TOOL" info -m "$MODEL"
expect "info: max tokens" 0 "max tokens +256" -- "$TOOL" info -m "$MODEL"
expect "info: pooling" 0 "pooling +mean, L2-normalized" -- "$TOOL" info -m "$MODEL"

# --- embed, from a file and from stdin
expect "embed file" 0 "embedded 20 lines" -- "$TOOL" embed -m "$MODEL" -i "$T/in.txt" -o "$T/a.npy" -t 2
expect "embed stdin" 0 "" -- bash -c "\"$TOOL\" embed -m \"$MODEL\" -o \"$T/b.npy\" -q < \"$T/in.txt\""
if cmp -s "$T/a.npy" "$T/b.npy"; then ok "stdin and file give identical output"; else bad "stdin and file give identical output"; fi
shape=$("$PY" -c "import numpy as np; a = np.load('$T/a.npy'); print(a.dtype, a.shape, round(float(np.linalg.norm(a, axis=1).min()), 4))" 2>&1)
if [ "$shape" = "float32 (20, 384) 1.0" ]; then ok "embed writes float32 (lines, hidden), unit rows"; else bad "embed output shape" "$shape"; fi
printf 'one\n\nthree' > "$T/blank.txt"
expect "embed keeps empty lines, counts a last line without newline" 0 "embedded 3 lines" -- \
    "$TOOL" embed -m "$MODEL" -i "$T/blank.txt" -o "$T/c.npy"
printf 'one\r\ntwo\r\n' > "$T/crlf.txt"; printf 'one\ntwo\n' > "$T/lf.txt"
"$TOOL" embed -m "$MODEL" -i "$T/crlf.txt" -o "$T/crlf.npy" -q && "$TOOL" embed -m "$MODEL" -i "$T/lf.txt" -o "$T/lf.npy" -q
if cmp -s "$T/crlf.npy" "$T/lf.npy"; then ok "CRLF line ends read as LF"; else bad "CRLF line ends read as LF"; fi
"$TOOL" embed -m "$MODEL" -i "$T/in.txt" -o "$T/small-batch.npy" -q -t 1 --batch-tokens 1
close=$("$PY" -c "import numpy as np; print(float(abs(np.load('$T/a.npy') - np.load('$T/small-batch.npy')).max()) < 1e-6)" 2>&1)
if [ "$close" = "True" ]; then ok "--batch-tokens and --threads do not change the embeddings"; else bad "--batch-tokens and --threads do not change the embeddings" "$close"; fi
expect "progress when forced" 0 "progress: " -- "$TOOL" embed -m "$MODEL" -i "$T/in.txt" -o "$T/d.npy" --progress

# --- failures: message, status, and no output left behind
expect "missing -o" 2 "-o OUT.npy is required" -- "$TOOL" embed -m "$MODEL" -i "$T/in.txt"
expect "missing -m" 2 "-m MODEL_DIR is required" -- "$TOOL" embed -i "$T/in.txt" -o "$T/x.npy"
expect "bad --threads" 2 "--threads expects an integer" -- "$TOOL" embed -m "$MODEL" -o "$T/x.npy" -t two
expect "bad --batch-tokens" 2 "--batch-tokens" -- "$TOOL" embed -m "$MODEL" -o "$T/x.npy" --batch-tokens 0
expect "missing model dir" 1 "/no/such/model/config.json: cannot open" -- "$TOOL" embed -m /no/such/model -i "$T/in.txt" -o "$T/x.npy"
mkdir -p "$T/broken"; echo '{"model_type": "bert",' > "$T/broken/config.json"
expect "broken model dir" 1 "broken/config.json: invalid JSON" -- "$TOOL" embed -m "$T/broken" -i "$T/in.txt" -o "$T/x.npy"
mkdir -p "$T/noweights"; cp "$MODEL/config.json" "$MODEL/vocab.txt" "$T/noweights/"
expect "model dir without weights" 1 "noweights/model.safetensors" -- "$TOOL" embed -m "$T/noweights" -i "$T/in.txt" -o "$T/x.npy"
expect "unreadable input" 1 "no-such-input.txt: cannot open" -- "$TOOL" embed -m "$MODEL" -i "$T/no-such-input.txt" -o "$T/x.npy"
printf 'good line\nbad \xff byte\n' > "$T/bad-utf8.txt"
expect "invalid UTF-8" 1 "bad-utf8.txt:2: invalid UTF-8 at byte 4" -- "$TOOL" embed -m "$MODEL" -i "$T/bad-utf8.txt" -o "$T/x.npy"
: > "$T/empty.txt"
expect "empty input" 1 "empty.txt: empty input" -- "$TOOL" embed -m "$MODEL" -i "$T/empty.txt" -o "$T/x.npy"
expect "unwritable output dir" 1 "cannot write /no/such/dir/x.npy" -- "$TOOL" embed -m "$MODEL" -i "$T/in.txt" -o /no/such/dir/x.npy
expect_no_output "$T/x.npy" "no output or temporary file after failures"
cp "$T/a.npy" "$T/keep.npy"
"$TOOL" embed -m "$MODEL" -i "$T/bad-utf8.txt" -o "$T/keep.npy" 2>/dev/null
if cmp -s "$T/a.npy" "$T/keep.npy"; then ok "a failed run leaves an existing output untouched"; else bad "a failed run leaves an existing output untouched"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
