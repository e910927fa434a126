#!/usr/bin/env bash
# THE test command: every leg mproc must pass, each in its own build
# directory under build/ (ignored by git), logs in build/logs/.
#
#   scripts/test.sh                          all legs
#   MPROC_LEGS="gcc mingw" scripts/test.sh   a subset (developers)
#   MPROC_FUZZ_SECONDS=10 scripts/test.sh    shorter fuzzing
#
# Legs: gcc   Linux GCC Debug build + ctest
#       clang Linux Clang, ASan + UBSan + LeakSanitizer, + ctest
#       mingw mingw-w64 cross build, ctest under wine
#       msvc  MSVC-dialect syntax check (scripts/msvc-check.sh)
#       fuzz  libFuzzer runs of fuzz_decode and fuzz_manager (half each)
# Every selected leg runs even when an earlier one fails; the last line is
# `N passed, N failed` and the exit status is non-zero if any leg failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

legs="${MPROC_LEGS:-gcc clang mingw msvc fuzz}"
fuzz_seconds="${MPROC_FUZZ_SECONDS:-60}"
jobs=2
build="$repo/build"
logs="$build/logs"
mkdir -p "$logs"

banner() { printf '\n======== %s ========\n' "$*"; }
note() { printf '[%s] %s\n' "$leg" "$*"; }

# Run a command with its output in a log; on failure show the log's tail,
# which is where the compiler or CMake explains itself.
logged() {
  local log="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    note "FAILED: $* (log: ${log#"$repo"/})"
    tail -n 60 "$log" | sed 's/^/    /'
    return 1
  fi
}

configure_build() {
  local dir="$1"; shift
  logged "$logs/$leg.configure.log" cmake -S "$repo" -B "$dir" "$@"
  note "configured ${dir#"$repo"/}"
  logged "$logs/$leg.build.log" cmake --build "$dir" -j "$jobs"
  note "built"
}

# ctest -V goes to a log; the console gets check's summary line of every
# suite, ctest's verdict, and the full output of any test that failed.
run_ctest() {
  local dir="$1" log="$logs/$leg.ctest.log" rc=0
  ctest --test-dir "$dir" -V --output-on-failure -j "$jobs" >"$log" 2>&1 || rc=$?
  grep -E '^[0-9]+: .*Checks: [0-9]+' "$log" || note "no check summary lines in the log"
  grep -E 'tests passed|tests failed|Total Test time' "$log" || true
  if [[ $rc != 0 ]]; then
    sed -n '/The following tests FAILED/,$p' "$log"
    sed -n 's/^[[:space:]]*\([0-9][0-9]*\) - .*(.*)$/\1/p' "$log" |
      while read -r n; do
        echo "---- output of test $n ----"
        grep -E "^$n: " "$log" | tail -n 80 || true
      done
    note "ctest failed (full log: ${log#"$repo"/})"
  fi
  return "$rc"
}

leg_gcc() {
  configure_build "$build/gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug
  run_ctest "$build/gcc"
}

leg_clang() {
  # Stop at the first report, with a stack; leaks count as failures.
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:print_summary=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
  export LSAN_OPTIONS="print_suppressions=0"
  configure_build "$build/clang-asan" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Debug -DMPROC_SANITIZE=address,undefined
  run_ctest "$build/clang-asan"
}

leg_mingw() {
  [[ -n "$prefix" ]] || { note "no mingw dependency prefix (scripts/deps.sh --win failed)"; return 1; }
  # shellcheck source=wine-env.sh disable=SC1091
  . "$here/wine-env.sh"
  mproc_wine_start   # stopped by its EXIT trap when this leg's subshell ends
  configure_build "$build/mingw" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DMPROC_DEPS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Debug
  run_ctest "$build/mingw"
}

leg_msvc() {
  [[ -n "$prefix" ]] || { note "no mingw dependency prefix (scripts/deps.sh --win failed)"; return 1; }
  MPROC_DEPS_PREFIX="$prefix" "$here/msvc-check.sh"
}

leg_fuzz() {
  local dir="$build/fuzz" log rc=0 t target corpus seeds
  configure_build "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMPROC_FUZZ=ON -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF \
    -DMPROC_BUILD_BENCH=OFF -DMPROC_SANITIZE=address,undefined
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # Two targets share the leg's time: the codec and the Manager server's
  # message handling.  Working corpora grow across runs under build/; the
  # checked-in seeds are only read. Crash files land in build/fuzz/ too.
  t=$(( fuzz_seconds / 2 > 0 ? fuzz_seconds / 2 : 1 ))
  for target in decode:corpus manager:corpus_manager; do
    corpus="$build/fuzz-corpus${target%%:*}"
    [[ ${target%%:*} == decode ]] && corpus="$build/fuzz-corpus"
    seeds=()
    [[ -d "$repo/fuzz/${target#*:}" ]] && seeds=("$repo/fuzz/${target#*:}")
    log="$logs/fuzz_${target%%:*}.run.log"
    [[ -x "$dir/fuzz/fuzz_${target%%:*}" ]] || { note "no $dir/fuzz/fuzz_${target%%:*} after the build"; return 1; }
    mkdir -p "$corpus"
    note "fuzzing fuzz_${target%%:*} for ${t}s"
    "$dir/fuzz/fuzz_${target%%:*}" -max_total_time="$t" -print_final_stats=1 \
      -artifact_prefix="$dir/" "$corpus" "${seeds[@]}" >"$log" 2>&1 || { rc=$?; }
    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    if [[ $rc != 0 ]]; then
      tail -n 60 "$log" | sed 's/^/    /'
      note "fuzzer failed (log: ${log#"$repo"/}; artifacts in ${dir#"$repo"/}/)"
      return "$rc"
    fi
  done
  return 0
}

# Dependencies first: the Windows legs need the mingw prefix.
leg=deps
prefix=""
case " $legs " in
  *" mingw "*|*" msvc "*)
    banner "dependencies (scripts/deps.sh --win)"
    prefix="$("$here/deps.sh" --win)" || prefix=""
    [[ -n "$prefix" ]] && note "mingw prefix: $prefix" ;;
  *)
    banner "dependencies (scripts/deps.sh)"
    "$here/deps.sh" || note "deps.sh failed; trying the legs anyway" ;;
esac

declare -A result seconds
order=()
for leg in $legs; do
  if ! declare -F "leg_$leg" >/dev/null; then
    echo "test.sh: unknown leg '$leg' (known: gcc clang mingw msvc fuzz)"
    result[$leg]=FAIL; seconds[$leg]=0; order+=("$leg")
    continue
  fi
  banner "leg $leg"
  start=$SECONDS
  # A subshell outside any `if`, so `set -e` stays in force inside the leg
  # and a leg's exports and traps end with it.
  set +e
  ( set -e; "leg_$leg" )
  rc=$?
  set -e
  if [[ $rc == 0 ]]; then result[$leg]=PASS; else result[$leg]=FAIL; fi
  seconds[$leg]=$((SECONDS - start))
  order+=("$leg")
  note "${result[$leg]} in ${seconds[$leg]}s"
done

banner "summary"
passed=0
failed=0
printf '%-8s %-6s %s\n' leg result time
for leg in "${order[@]}"; do
  printf '%-8s %-6s %ss\n' "$leg" "${result[$leg]}" "${seconds[$leg]}"
  if [[ ${result[$leg]} == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
