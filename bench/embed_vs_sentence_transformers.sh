#!/usr/bin/env bash
# embed_vs_sentence_transformers.sh TOOL [LINES] [THREADS]
#
# Embeds the same LINES paragraphs of Jane Austen (default 500) with
# `attnprune embed` and with sentence-transformers (torch 2.13.0 CPU) on the
# same THREADS (default 2), in one run; reports both wall times, the ratio,
# and the agreement of the two outputs. Appends a row to bench/results-embed.csv:
#   date,lines,tokens,threads,ours_s,st_s,ratio_ours_over_st,cos_min
# Our time is the embed loop as the tool reports it (model loading excluded,
# as it is for the peer).
set -euo pipefail
TOOL=${1:?usage: embed_vs_sentence_transformers.sh TOOL [LINES] [THREADS]}
LINES=${2:-500}
THREADS=${3:-2}
cd "$(dirname "$0")/.."
MODEL=models/all-MiniLM-L6-v2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -n "$LINES" data/austen/paragraphs.txt > "$T/in.txt"

ours=$("$TOOL" embed -m "$MODEL" -i "$T/in.txt" -o "$T/ours.npy" -t "$THREADS" --no-progress 2>&1 | tail -1)
ours_s=$(sed -n 's/.* in \([0-9.]*\) s,.*/\1/p' <<<"$ours")
tokens=$(sed -n 's/.*lines (\([0-9]*\) tokens).*/\1/p' <<<"$ours")
st_s=$(.venv/bin/python bench/st_embed.py "$MODEL" "$T/in.txt" "$T/st.npy" "$THREADS" | sed -n 's/^seconds=//p')
cos_min=$(.venv/bin/python -c "
import numpy as np
a, b = np.load('$T/ours.npy'), np.load('$T/st.npy')
c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(f'{c.min():.8f}')")
ratio=$(python3 -c "print(f'{$ours_s / $st_s:.3f}')")
echo "embed, $LINES lines ($tokens tokens), $THREADS threads:"
echo "  attnprune embed         $ours_s s"
echo "  sentence-transformers   $st_s s"
echo "  time ratio ours/theirs  $ratio  (speedup $(python3 -c "print(f'{$st_s / $ours_s:.2f}')")x)"
echo "  min cosine between the two outputs: $cos_min"
[ -f bench/results-embed.csv ] || echo "date,lines,tokens,threads,ours_s,st_s,ratio_ours_over_st,cos_min" > bench/results-embed.csv
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$LINES,$tokens,$THREADS,$ours_s,$st_s,$ratio,$cos_min" >> bench/results-embed.csv
