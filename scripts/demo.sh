#!/usr/bin/env bash
# demo.sh TOOL — the main job on the default model and text: describe the
# model, embed Jane Austen's paragraphs, then run every attention method on
# chunks of Persuasion and print one table of density against fidelity;
# then trace Sanger on the same text and simulate every accelerator on it.
#   AP_DEMO_LINES  paragraphs to embed (default 300)
#   AP_DEMO_TOKENS tokens of text per method in the table (default 2560)
set -euo pipefail
TOOL=${1:?usage: demo.sh PATH/TO/attnprune}
cd "$(dirname "$0")/.."
MODEL=models/all-MiniLM-L6-v2
LINES=${AP_DEMO_LINES:-300}
TOKENS=${AP_DEMO_TOKENS:-2560}
mkdir -p build/demo
head -n "$LINES" data/austen/paragraphs.txt > build/demo/austen.txt
echo "== attnprune info -m $MODEL"
"$TOOL" info -m "$MODEL"
echo
echo "== attnprune embed -m $MODEL -i build/demo/austen.txt -o build/demo/austen.npy"
"$TOOL" embed -m "$MODEL" -i build/demo/austen.txt -o build/demo/austen.npy --progress
echo
methods=$("$TOOL" methods | sed -n 's/^\([a-z0-9-]*\) — .*/\1/p')
args=()
for m in $methods; do args+=(-a "$m"); done
echo "== attnprune eval -m $MODEL -i data/austen/persuasion.txt ${args[*]} --max-tokens $TOKENS (defaults of every method)"
rm -f build/demo/methods.csv
"$TOOL" eval -m "$MODEL" -i data/austen/persuasion.txt "${args[@]}" --max-tokens "$TOKENS" \
    -o build/demo/methods.csv --no-progress
echo
echo "== attnprune trace -m $MODEL -i data/austen/persuasion.txt -a sanger --max-tokens 1024 -o build/demo/trace-sanger"
"$TOOL" trace -m "$MODEL" -i data/austen/persuasion.txt -a sanger --max-tokens 1024 -o build/demo/trace-sanger --no-progress
echo
echo "== attnprune compare --trace build/demo/trace-sanger (every accelerator and its baseline on that trace)"
"$TOOL" compare --trace build/demo/trace-sanger --csv build/demo/accelerators.csv
echo
echo "embeddings: build/demo/austen.npy; the tables as CSV: build/demo/methods.csv, build/demo/accelerators.csv"
