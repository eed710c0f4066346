#!/usr/bin/env bash
# fetch_pydoc.sh OUT_DIR — export the reStructuredText sources of the Python
# 3.11 documentation (Debian package python3.11-doc, already installed by
# setup) as plain UTF-8 lines, a varied text for tokenizer tests: prose,
# code, numbers, long identifiers, and some accents, dashes, quotes and CJK.
#   OUT_DIR/lines.txt   every non-blank line of every _sources/**/*.txt file,
#                       files in byte order of their paths, lines as they are
# The file is written under a temporary name and renamed when complete.
set -euo pipefail
out=${1:?usage: fetch_pydoc.sh OUT_DIR}
src=/usr/share/doc/python3.11/html/_sources
[ -d "$src" ] || { echo "fetch_pydoc.sh: $src not found (apt-get install python3.11-doc)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp "$out/.lines.txt.tmp.XXXXXX")
trap 'rm -f "$tmp"' EXIT
find "$src" -type f -name '*.txt' -print0 | LC_ALL=C sort -z | xargs -0 cat | LC_ALL=C grep -v '^[[:space:]]*$' > "$tmp"
[ -s "$tmp" ] || { echo "fetch_pydoc.sh: no text found under $src" >&2; exit 1; }
chmod 644 "$tmp"
mv -f "$tmp" "$out/lines.txt"
trap - EXIT
