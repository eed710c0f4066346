#!/usr/bin/env bash
# valgrind.sh TOOL — attnprune embed under valgrind memcheck on a few lines of
# real text; fails on any memory error or definite leak in attnprune's code.
# OpenBLAS and OpenMP thread pools stay alive until exit by design; they show
# as "possibly lost" / "still reachable" and are not counted.
set -euo pipefail
TOOL=${1:?usage: valgrind.sh PATH/TO/attnprune}
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -n 5 data/austen/paragraphs.txt > "$T/in.txt"
printf 'bad \xff\n' > "$T/bad.txt"
run() {
    echo "== valgrind $*"
    OPENBLAS_NUM_THREADS=1 valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$@"
}
run "$TOOL" embed -m models/all-MiniLM-L6-v2 -i "$T/in.txt" -o "$T/out.npy" -t 1
run "$TOOL" info -m models/all-MiniLM-L6-v2 > /dev/null
# the failure paths free what they allocated, too
set +e
run "$TOOL" embed -m models/all-MiniLM-L6-v2 -i "$T/bad.txt" -o "$T/bad.npy" -t 1
rc=$?
set -e
[ $rc = 1 ] || { echo "valgrind.sh: expected exit 1 from the invalid-UTF-8 run, got $rc"; exit 1; }
echo "valgrind: clean"
