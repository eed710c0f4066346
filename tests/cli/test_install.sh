#!/usr/bin/env bash
# test_install.sh TOOL — `make install` into a scratch prefix, then build the
# usage example from the top of include/attnprune.h against the installed
# header, pkg-config file and shared library, and run it on the default model.
# (Release builds only: a sanitizer build's library needs its runtime linked.)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=${AP_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
if [ "${AP_VARIANT:-release}" != release ]; then echo "0 passed, 0 failed"; exit 0; fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$ROOT/tests/cli/lib/harness.sh"

if out=$(make -C "$ROOT" install PREFIX="$T/prefix" 2>&1); then ok "make install"; else bad "make install" "${out: -400}"; fi
for f in include/attnprune.h lib/libattnprune.a lib/libattnprune.so lib/pkgconfig/attnprune.pc bin/attnprune; do
    [ -e "$T/prefix/$f" ] && ok "installed $f" || bad "installed $f"
done

# The header's usage example, between "Usage:" and "Conventions", as a program.
{
    echo '#include <attnprune.h>'
    echo '#include <stdio.h>'
    echo '#include <stdlib.h>'
    echo 'int main(void) {'
    sed -n '/^ \* Usage:/,/^ \* Conventions/p' "$T/prefix/include/attnprune.h" | sed '1d;$d' | sed 's/^ \*//' |
        sed "s|\"models/all-MiniLM-L6-v2\"|\"$MODEL\"|"
    echo '    printf("ok\n");'
    echo '    return 0;'
    echo '}'
} > "$T/example.c"
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
if out=$(cc -std=c11 -Wall -Werror "$T/example.c" $(pkg-config --cflags --libs attnprune) -Wl,-rpath,"$T/prefix/lib" \
        -o "$T/example" 2>&1); then
    ok "the header's usage example compiles against the installed library"
    run=$("$T/example" 2>&1)
    [ "$run" = ok ] && ok "the header's usage example runs" || bad "the header's usage example runs" "$run"
else
    bad "the header's usage example compiles against the installed library" "$out"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
