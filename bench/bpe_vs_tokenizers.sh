#!/usr/bin/env bash
# bpe_vs_tokenizers.sh [BUILD_DIR] [TEXT] [REPEATS]
#
# Byte-level BPE speed: our tokenizer (bench/bpe_speed.c, linked against
# BUILD_DIR/libattnprune.a, default build) against Hugging Face tokenizers
# (bench/bpe_tokenizers.py) on TEXT (default data/austen/emma.txt) with
# SmolLM2's vocabulary, both encoding the whole file as one text on one
# thread, best of REPEATS (default 5); also tokenizers' encode_batch over the
# lines on every core, for reference. Checks that the two id sequences are
# identical. Appends a row to bench/results-bpe.csv:
#   date,text,tokens,ours_s,ours_tokens_per_s,hf_s,hf_tokens_per_s,hf_batch_tokens_per_s,identical
set -euo pipefail
B=${1:-build}
TEXT=${2:-data/austen/emma.txt}
REPEATS=${3:-5}
cd "$(dirname "$0")/.."
MODEL=models/SmolLM2-135M-Instruct
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
[ -f "$B/libattnprune.a" ] || { echo "bpe_vs_tokenizers.sh: $B/libattnprune.a missing; run make" >&2; exit 1; }
cc -std=c11 -O2 -D_DEFAULT_SOURCE -Iinclude -Isrc bench/bpe_speed.c "$B/libattnprune.a" -lcjson -lm -o "$T/bpe_speed"
ours=$("$T/bpe_speed" "$MODEL/model.gguf" "$TEXT" "$REPEATS" "$T/ours.txt")
hf=$(RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-$(nproc)} .venv/bin/python bench/bpe_tokenizers.py "$MODEL" "$TEXT" "$REPEATS" "$T/hf.txt")
get() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
same=no; cmp -s "$T/ours.txt" "$T/hf.txt" && same=yes
o_s=$(get seconds "$ours"); o_r=$(get tokens_per_s "$ours"); n=$(get tokens "$ours")
h_s=$(get seconds "$hf"); h_r=$(get tokens_per_s "$hf"); hb_r=$(get batch_tokens_per_s "$hf")
echo "byte-level BPE on $TEXT ($n tokens, SmolLM2 vocabulary), one thread, whole file as one text:"
echo "  attnprune            $o_s s  $o_r tokens/s"
echo "  tokenizers $(get version "$hf")   $h_s s  $h_r tokens/s"
echo "  speedup              $(python3 -c "print(f'{$h_s / $o_s:.2f}')")x"
echo "  tokenizers encode_batch over lines, $(nproc) cores: $hb_r tokens/s"
echo "  ids identical: $same"
[ -f bench/results-bpe.csv ] || echo "date,text,tokens,ours_s,ours_tokens_per_s,hf_s,hf_tokens_per_s,hf_batch_tokens_per_s,identical" > bench/results-bpe.csv
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$TEXT,$n,$o_s,$o_r,$h_s,$h_r,$hb_r,$same" >> bench/results-bpe.csv
[ "$same" = yes ]
