#!/usr/bin/env bash
# The documentation check (the `docs` leg of scripts/test.sh).
#
#   scripts/docs-check.sh
#
# 1. The API reference: doxygen docs/Doxyfile builds build/reference/ from
#    lib/include/mproc.h; the Doxyfile turns every warning (an undocumented
#    function, parameter, return value, type, macro; a broken reference)
#    into a failure (WARN_AS_ERROR = FAIL_ON_WARNINGS).
# 2. The C examples of docs/migration.md: every ```c block is compiled
#    (gcc -fsyntax-only, C11, -Wall -Wextra -Werror, after
#    #include "mproc.h"), so a renamed function or a wrong argument list
#    fails here.  A block is a whole translation unit fragment: functions
#    (and their static helpers), no main unless it is the only one.
# Prints one line per part; exits non-zero if either fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
out="$repo/build/docs-check"
mkdir -p "$out"

rc=0
if doxygen docs/Doxyfile >"$out/doxygen.log" 2>&1; then
  echo "docs-check: API reference built without warnings: build/reference/index.html"
else
  echo "docs-check: doxygen failed or warned (log: build/docs-check/doxygen.log):"
  grep -E 'warning|error' "$out/doxygen.log" | head -n 40 | sed 's/^/    /'
  rc=1
fi

# Split docs/migration.md's ```c blocks into snippet-N.c files.
rm -f "$out"/snippet-*.c
awk -v dir="$out" '
  /^```c[[:space:]]*$/ { n++; f = sprintf("%s/snippet-%02d.c", dir, n);
                         printf "#include \"mproc.h\"\n#line %d \"docs/migration.md\"\n", NR + 1 > f;
                         inblock = 1; next }
  /^```/ && inblock    { inblock = 0; close(f); next }
  inblock              { print > f }
' docs/migration.md
n=0; bad=0
for f in "$out"/snippet-*.c; do
  [[ -e "$f" ]] || continue
  n=$((n + 1))
  if ! gcc -std=c11 -Wall -Wextra -Werror -Wno-unused-function -fsyntax-only \
       -I lib/include "$f" 2>"$f.log"; then
    bad=$((bad + 1))
    sed 's/^/    /' "$f.log"
  fi
done
if [[ $n == 0 ]]; then
  echo "docs-check: no C examples found in docs/migration.md"; rc=1
elif [[ $bad != 0 ]]; then
  echo "docs-check: $bad of $n C examples in docs/migration.md do not compile"; rc=1
else
  echo "docs-check: $n C examples in docs/migration.md compile"
fi
exit "$rc"
