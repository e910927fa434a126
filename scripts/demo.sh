#!/usr/bin/env bash
# The README's first command: build mproc with GCC and run the examples, the
# C twins of Python's multiprocessing documentation, with a line of
# explanation before each.
#
# The order and the explanations come from examples/DEMO, one example a
# line: `<exe-name> <one-line explanation>` (blank lines and # comments are
# skipped). Without that file every example executable runs in name order.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

"$here/deps.sh"

dir="$repo/build/demo"
mkdir -p "$repo/build/logs"
log="$repo/build/logs/demo.build.log"
echo "demo: building mproc and its examples (GCC, log: build/logs/demo.build.log)"
if ! { cmake -S "$repo" -B "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
         -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_BENCH=OFF -DMPROC_BUILD_EXAMPLES=ON &&
       cmake --build "$dir" -j 2; } >"$log" 2>&1; then
  tail -n 40 "$log"
  echo "demo: build failed" >&2
  exit 1
fi

list="$repo/examples/DEMO"
names=()
explanations=()
if [[ -f "$list" ]]; then
  while read -r name text; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    names+=("$name")
    explanations+=("$text")
  done <"$list"
else
  echo "demo: examples/DEMO not found; running every example in name order"
  for exe in "$dir"/examples/*; do
    [[ -f "$exe" && -x "$exe" ]] || continue
    names+=("$(basename "$exe")")
    explanations+=("")
  done
fi
[[ ${#names[@]} -gt 0 ]] || { echo "demo: no examples to run" >&2; exit 1; }

failed=0
for i in "${!names[@]}"; do
  exe="$dir/examples/${names[$i]}"
  printf '\n=== %s ===\n' "${names[$i]}"
  [[ -n "${explanations[$i]}" ]] && printf '%s\n\n' "${explanations[$i]}"
  if [[ ! -x "$exe" ]]; then
    echo "demo: ${names[$i]} was not built" >&2
    failed=$((failed + 1))
    continue
  fi
  # Run from the build directory so files an example writes stay there.
  rc=0
  (cd "$dir" && "$exe") || rc=$?
  if [[ $rc != 0 ]]; then
    echo "demo: ${names[$i]} exited with status $rc" >&2
    failed=$((failed + 1))
  fi
done
printf '\ndemo: %d examples, %d failed\n' "${#names[@]}" "$failed"
[[ $failed == 0 ]]
