#!/usr/bin/env bash
# demo.sh TOOL — the main job on the default model and text: describe the
# model, then embed Jane Austen's paragraphs (first AP_DEMO_LINES, default 1000).
set -euo pipefail
TOOL=${1:?usage: demo.sh PATH/TO/attnprune}
cd "$(dirname "$0")/.."
MODEL=models/all-MiniLM-L6-v2
LINES=${AP_DEMO_LINES:-1000}
mkdir -p build/demo
head -n "$LINES" data/austen/paragraphs.txt > build/demo/austen.txt
echo "== attnprune info -m $MODEL"
"$TOOL" info -m "$MODEL"
echo
echo "== attnprune embed -m $MODEL -i build/demo/austen.txt -o build/demo/austen.npy"
"$TOOL" embed -m "$MODEL" -i build/demo/austen.txt -o build/demo/austen.npy --progress
echo
echo "embeddings of $LINES paragraphs of Austen are in build/demo/austen.npy"
