#!/usr/bin/env bash
# fetch_austen.sh OUT_DIR — export Jane Austen's six novels from the Debian
# package r-cran-janeaustenr (R data) to plain UTF-8 text:
#   OUT_DIR/<book>.txt     the novel, one printed line per line, as packaged
#   OUT_DIR/lines.txt      every non-empty line of all six novels
#   OUT_DIR/paragraphs.txt one paragraph per line (lines joined by spaces)
# Files are written under temporary names and renamed when complete.
set -euo pipefail
out=${1:?usage: fetch_austen.sh OUT_DIR}
mkdir -p "$out"
command -v Rscript >/dev/null || { echo "fetch_austen.sh: Rscript not found (apt-get install r-base-core r-cran-janeaustenr)" >&2; exit 1; }
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
Rscript --vanilla - "$tmp" <<'RS'
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(janeaustenr))
books <- c("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
for (b in books) {
  con <- file(file.path(args[1], paste0(b, ".txt")), open = "w", encoding = "UTF-8")
  writeLines(enc2utf8(get(b)), con)
  close(con)
}
RS
books="sensesensibility prideprejudice mansfieldpark emma northangerabbey persuasion"
for b in $books; do cat "$tmp/$b.txt"; done | grep -v '^[[:space:]]*$' > "$tmp/lines.txt"
for b in $books; do cat "$tmp/$b.txt"; echo; done |
    awk 'NF { p = p (p == "" ? "" : " ") $0; next } p != "" { print p; p = "" } END { if (p != "") print p }' \
    > "$tmp/paragraphs.txt"
for f in "$tmp"/*.txt; do mv -f "$f" "$out/$(basename "$f")"; done
