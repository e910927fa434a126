#!/usr/bin/env bash
# The Manager's benchmark: mproc beside Python's Manager and a raw
# local-socket request/response, and the soak (default 10000 cycles).
#   bench/manager_run.sh [--secs S] [--soak N]   (Linux; Release build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="$repo/build/bench"
secs=2
soak=10000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --secs) secs="$2"; shift 2 ;;
    --soak) soak="$2"; shift 2 ;;
    *) echo "manager_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j 2 --target manager_bench >/dev/null
"$build/bench/manager_bench" --secs "$secs" --soak "$soak"
python3 "$here/py_manager_bench.py" --secs "$secs"
