#!/usr/bin/env bash
# THE test command: every leg mproc must pass, each in its own build
# directory under build/ (ignored by git), logs in build/logs/.
#
#   scripts/test.sh                          all legs
#   MPROC_LEGS="gcc mingw" scripts/test.sh   a subset (developers)
#   MPROC_FUZZ_SECONDS=10 scripts/test.sh    shorter fuzzing
#
# Legs: gcc   Linux GCC Debug build + ctest
#       shared  the same with -DBUILD_SHARED_LIBS=ON (libmproc.so.0), its
#             exported symbols checked against mproc.h, + the consumer test
#       consumer  mproc installed (static and shared) to a scratch prefix
#             that is then moved, and tests/consumer built against it by
#             CMake find_package, pkg-config, pkg-config --static; the
#             .deb packages (cpack) checked with dpkg -c and lintian and
#             used extracted
#       mpich the Pool's MPI backend built against MPICH (Open MPI is the
#             default MPI of the other legs) and its MPI tests run under
#             MPICH's mpiexec (Hydra)
#       clang Linux Clang, ASan + UBSan + LeakSanitizer, + ctest
#       mingw mingw-w64 cross build, ctest under wine; the consumer by
#             find_package under wine, static and with mproc.dll (its
#             exports checked against mproc.h)
#       dll   (not in the default run) mingw-w64 DLL build, the whole
#             suite under wine against it (~4 min)
#       msvc  MSVC-dialect syntax check (scripts/msvc-check.sh)
#       docs  the API reference (doxygen docs/Doxyfile, any warning fails)
#             and the C examples of docs/migration.md compiled
#             (scripts/docs-check.sh)
#       fuzz  libFuzzer runs of fuzz_decode and fuzz_manager (half each)
#       lint  .github/workflows linted (actionlint, action-validator; both
#             shown to reject deliberately broken copies) + shellcheck of
#             scripts/ and bench/
# Quiet: every build step's output goes to a log in build/logs/ and the
# console gets one line per step; a failed step prints its log's path and
# tail. The clang and fuzz legs give the sanitizers llvm-symbolizer, so a
# report names functions and lines.
# Every selected leg runs even when an earlier one fails; the last line is
# `N passed, N failed` and the exit status is non-zero if any leg failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

all_legs="lint gcc shared consumer mpich clang mingw msvc docs fuzz"
legs="${MPROC_LEGS:-$all_legs}"
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

# ctest -V goes to a log; the console gets one line adding up check's
# summary lines (one per suite), ctest's verdict, and the full output of
# any test that failed.
run_ctest() {
  local dir="$1" log="$logs/$leg.ctest.log" rc=0 sum
  shift
  ctest --test-dir "$dir" -V --output-on-failure -j "$jobs" "$@" >"$log" 2>&1 || rc=$?
  sum="$(awk '/^[0-9]+: [0-9]+%: Checks: [0-9]+/ { n++; c += $4; f += $6; e += $8 }
              END { if (n) printf "%d suites, Checks: %d, Failures: %d, Errors: %d", n, c, f, e }' "$log")"
  if [[ -n "$sum" ]]; then note "check: $sum"; else note "no check summary lines in the log"; fi
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

leg_shared() {
  configure_build "$build/shared" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
    -DBUILD_SHARED_LIBS=ON
  run_ctest "$build/shared"
}

# The MPI backend against MPICH: the same mpi.c (MPICH's handles are
# plain constants where Open MPI's are addresses), loaded from MPICH's
# library, its tests under Hydra (tests/CMakeLists.txt has what each MPI
# says when a rank dies).
leg_mpich() {
  local cc=/usr/bin/mpicc.mpich run=/usr/bin/mpiexec.mpich
  [[ -x $cc && -x $run ]] ||
    { note "no MPICH ($cc, $run: scripts/deps.sh installs mpich libmpich-dev)"; return 1; }
  configure_build "$build/mpich" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
    -DMPI_C_COMPILER="$cc" -DMPIEXEC_EXECUTABLE="$run" -DMPROC_BUILD_BENCH=OFF
  grep -q "MPI backend on, mpiexec $run (mpich)" "$logs/mpich.configure.log" ||
    { note "CMake did not build against MPICH (log: build/logs/mpich.configure.log)"; return 1; }
  run_ctest "$build/mpich" -R '^mpi|^example[.]mproc_s003_pool_mpi$'
}

# Run a built consumer (tests/consumer): it must print its PASS line.
run_consumer() {
  local how="$1"; shift
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  if [[ $rc != 0 || "$out" != *"consumer: PASS sum=14"* ]]; then
    note "consumer ($how) FAILED, exit $rc:"; printf '%s\n' "$out" | sed 's/^/    /'
    return 1
  fi
  note "consumer ($how): ${out##*$'\n'}"
}

# Build only the library, install it to a stage and move the stage to its
# final place: a relocated install must still work (pkg-config's
# ${pcfiledir}, CMake's relative package files).
install_moved() {
  local name="$1" dest="$2"; shift 2
  configure_build "$build/consumer-$name" -DCMAKE_BUILD_TYPE=Release \
    -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF "$@"
  rm -rf "$dest" "$dest.stage"
  logged "$logs/$leg.install-$name.log" cmake --install "$build/consumer-$name" --prefix "$dest.stage"
  mv "$dest.stage" "$dest"
}

leg_consumer() {
  local root="$build/consumer-root" src="$repo/tests/consumer" pc flags
  install_moved static "$root/static" -DCMAKE_C_COMPILER=gcc
  install_moved shared "$root/shared" -DCMAKE_C_COMPILER=gcc -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_INSTALL_PREFIX=/usr
  [[ -f "$root/shared/include/mproc.h" ]] || { note "no include/mproc.h in the install"; return 1; }
  [[ $(grep -c '/include"' "$root/static/"lib*/cmake/mproc/mprocTargets.cmake) == 1 ]] ||
    { note "mprocTargets.cmake does not name the include directory exactly once"; return 1; }

  # CMake find_package, static then shared.
  for kind in static shared; do
    logged "$logs/$leg.cmake-$kind.log" cmake -S "$src" -B "$build/consumer-cmake-$kind" \
      -DCMAKE_PREFIX_PATH="$root/$kind" -DCMAKE_BUILD_TYPE=Release
    logged "$logs/$leg.cmake-$kind.build.log" cmake --build "$build/consumer-cmake-$kind"
    run_consumer "find_package, $kind" "$build/consumer-cmake-$kind/consumer"
  done
  grep -q "$root/shared/.*libmproc.so.0" <<<"$(ldd "$build/consumer-cmake-shared/consumer")" ||
    { note "the find_package shared consumer does not load the installed libmproc.so.0"; return 1; }

  # pkg-config, shared: Libs alone link; Cflags carry no dependency's flags.
  pc="$(dirname "$(find "$root/shared" -name mproc.pc)")"
  flags="$(PKG_CONFIG_PATH="$pc" pkg-config --cflags mproc)"
  if ! [[ "$flags" =~ ^-I([^[:space:]]+)[[:space:]]*$ ]] ||
     [[ "$(realpath "${BASH_REMATCH[1]}")" != "$(realpath "$root/shared/include")" ]]; then
    note "pkg-config --cflags mproc gives '$flags', want only -I<the install's include>"; return 1
  fi
  # shellcheck disable=SC2046
  logged "$logs/$leg.pc-shared.log" gcc -std=c11 -Wall -Wextra -Werror "$src/main.c" \
    -o "$build/consumer-pc-shared" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs mproc) \
    -Wl,-rpath,"$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir mproc)"
  run_consumer "pkg-config, shared" "$build/consumer-pc-shared"
  grep -q libmproc.so.0 <<<"$(ldd "$build/consumer-pc-shared")" ||
    { note "the pkg-config shared consumer does not load libmproc.so.0"; return 1; }

  # pkg-config --static against the static install: Libs.private suffice.
  pc="$(dirname "$(find "$root/static" -name mproc.pc)")"
  # shellcheck disable=SC2046
  logged "$logs/$leg.pc-static.log" gcc -std=c11 -Wall -Wextra -Werror "$src/main.c" \
    -o "$build/consumer-pc-static" $(PKG_CONFIG_PATH="$pc" pkg-config --static --cflags --libs mproc)
  run_consumer "pkg-config --static" "$build/consumer-pc-static"
  if grep -q libmproc <<<"$(ldd "$build/consumer-pc-static")"; then
    note "the --static consumer loads a libmproc shared library"; return 1
  fi

  # The .deb (cmake/package.cmake): libmproc0 and libmproc-dev from the
  # shared build, their contents checked, extracted into a scratch root and
  # used by the consumer (pkg-config and find_package).
  local debs="$build/consumer-debs" droot="$root/deb" run dev list
  rm -rf "$debs" "$droot"
  logged "$logs/$leg.cpack.log" cpack --config "$build/consumer-shared/CPackConfig.cmake" \
    -G DEB -B "$debs"
  run="$(ls "$debs"/libmproc0_*.deb)"
  dev="$(ls "$debs"/libmproc-dev_*.deb)"
  list="$(dpkg -c "$run")"
  for want in '/libmproc\.so\.0 -> libmproc\.so\.0\.' '/libmproc\.so\.0\.[0-9.]*$'; do
    grep -Eq "$want" <<<"$list" || { note "libmproc0 lacks $want"; return 1; }
  done
  if grep -Eq 'mproc\.h|\.pc$|cmake|libmproc\.so -> ' <<<"$list"; then
    note "libmproc0 holds development files"; return 1
  fi
  list="$(dpkg -c "$dev")"
  for want in '/usr/include/mproc\.h$' '/libmproc\.so -> libmproc\.so\.0$' '/pkgconfig/mproc\.pc$' \
              '/cmake/mproc/mprocConfig\.cmake$'; do
    grep -Eq "$want" <<<"$list" || { note "libmproc-dev lacks $want"; return 1; }
  done
  [[ "$(dpkg -f "$dev" Depends)" == "libmproc0 (= "* ]] ||
    { note "libmproc-dev does not depend on its libmproc0"; return 1; }
  note "debs: $(basename "$run") ($(dpkg -f "$run" Depends)), $(basename "$dev")"
  # lintian: no error or warning; the tags accepted on purpose are in
  # cmake/deb/*.lintian-overrides (shipped in the packages), with reasons.
  logged "$logs/$leg.lintian.log" lintian --fail-on error,warning "$run" "$dev"
  note "lintian: no errors or warnings ($(lintian --show-overrides "$run" "$dev" 2>/dev/null |
    grep -c '^O:') overridden tags, see cmake/deb/*.lintian-overrides)"
  dpkg -x "$run" "$droot"
  dpkg -x "$dev" "$droot"
  pc="$(dirname "$(find "$droot" -name mproc.pc)")"
  # shellcheck disable=SC2046
  logged "$logs/$leg.deb-pc.log" gcc -std=c11 -Wall -Wextra -Werror "$src/main.c" \
    -o "$build/consumer-deb-pc" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs mproc) \
    -Wl,-rpath,"$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir mproc)"
  run_consumer "pkg-config, from the .deb" "$build/consumer-deb-pc"
  grep -q "$droot/.*libmproc.so.0" <<<"$(ldd "$build/consumer-deb-pc")" ||
    { note "the .deb consumer does not load the extracted libmproc.so.0"; return 1; }
  logged "$logs/$leg.deb-cmake.log" cmake -S "$src" -B "$build/consumer-deb-cmake" \
    -DCMAKE_PREFIX_PATH="$droot/usr" -DCMAKE_BUILD_TYPE=Release
  logged "$logs/$leg.deb-cmake.build.log" cmake --build "$build/consumer-deb-cmake"
  run_consumer "find_package, from the .deb" "$build/consumer-deb-cmake/consumer"
}

# The sanitizers' reports name functions and lines only with
# llvm-symbolizer: take the one beside clang (same LLVM version; Debian's
# llvm-N, installed by scripts/deps.sh).
use_symbolizer() {
  local s
  for s in "${ASAN_SYMBOLIZER_PATH:-}" \
           "$(dirname "$(realpath "$(command -v clang)")")/llvm-symbolizer" \
           "$(command -v llvm-symbolizer || true)"; do
    if [[ -n "$s" && -x "$s" ]]; then
      export ASAN_SYMBOLIZER_PATH="$s" UBSAN_SYMBOLIZER_PATH="$s"
      note "symbolizer: $s"
      return 0
    fi
  done
  note "no llvm-symbolizer (scripts/deps.sh installs llvm-N): reports would show raw addresses"
  return 1
}

leg_clang() {
  use_symbolizer
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
  # The consumer test's CMake way on Windows: install, move, find_package.
  local root="$build/consumer-root/mingw"
  rm -rf "$root" "$root.stage"
  logged "$logs/$leg.install.log" cmake --install "$build/mingw" --prefix "$root.stage"
  mv "$root.stage" "$root"
  logged "$logs/$leg.consumer.log" cmake -S "$repo/tests/consumer" -B "$build/consumer-mingw" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DMPROC_DEPS_PREFIX="$prefix" -Dmproc_DIR="$root/lib/cmake/mproc"
  logged "$logs/$leg.consumer.build.log" cmake --build "$build/consumer-mingw"
  run_consumer "find_package, mingw under wine" "$MPROC_WINE" "$build/consumer-mingw/consumer.exe"
  # The DLL: mproc.dll exports exactly mproc.h's MPROC_API functions, and
  # the consumer runs with it (copied beside the .exe, as an app ships it).
  local dll="$build/consumer-root/mingw-dll"
  configure_build "$build/mingw-dll" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DMPROC_DEPS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF
  logged "$logs/$leg.dll-exports.log" sh "$repo/tests/check_exports.sh" \
    "$build/mingw-dll/mproc.dll" "$repo/lib/include/mproc.h"
  note "$(cat "$logs/$leg.dll-exports.log")"
  rm -rf "$dll"
  logged "$logs/$leg.dll-install.log" cmake --install "$build/mingw-dll" --prefix "$dll"
  [[ -f "$dll/bin/mproc.dll" && -f "$dll/lib/libmproc.dll.a" ]] ||
    { note "the DLL install lacks bin/mproc.dll or lib/libmproc.dll.a"; return 1; }
  logged "$logs/$leg.dll-consumer.log" cmake -S "$repo/tests/consumer" -B "$build/consumer-mingw-dll" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DMPROC_DEPS_PREFIX="$prefix" -Dmproc_DIR="$dll/lib/cmake/mproc"
  logged "$logs/$leg.dll-consumer.build.log" cmake --build "$build/consumer-mingw-dll"
  cp "$dll/bin/mproc.dll" "$build/consumer-mingw-dll/"
  run_consumer "find_package, mproc.dll under wine" "$MPROC_WINE" "$build/consumer-mingw-dll/consumer.exe"
}

# The suites under wine against a DLL build: mproc_tests links
# mproc_internal.dll (the same sources, everything exported: the suites
# call internal functions too), forgot_init and init_fail link mproc.dll;
# WINEPATH lets wine find both. Not a default leg: it costs ~4 min (build
# ~50 s, suites ~170 s) for what the mingw leg mostly covers already.
leg_dll() {
  [[ -n "$prefix" ]] || { note "no mingw dependency prefix (scripts/deps.sh --win failed)"; return 1; }
  # shellcheck source=wine-env.sh disable=SC1091
  . "$here/wine-env.sh"
  mproc_wine_start
  configure_build "$build/mingw-dll-suite" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DMPROC_DEPS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Debug -DBUILD_SHARED_LIBS=ON \
    -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF
  local d="$build/mingw-dll-suite"
  export WINEPATH="Z:${d//\//\\}"
  run_ctest "$d"
}

leg_msvc() {
  [[ -n "$prefix" ]] || { note "no mingw dependency prefix (scripts/deps.sh --win failed)"; return 1; }
  MPROC_DEPS_PREFIX="$prefix" "$here/msvc-check.sh"
}

leg_docs() {
  "$here/docs-check.sh"
}

leg_fuzz() {
  local dir="$build/fuzz" log rc=0 t target corpus seeds
  configure_build "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMPROC_FUZZ=ON -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF \
    -DMPROC_BUILD_BENCH=OFF -DMPROC_SANITIZE=address,undefined
  use_symbolizer
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
    awk -v t="fuzz_${target%%:*}" '/^#[0-9]+.*DONE/ { for (i = 1; i < NF; i++) if ($i == "cov:" || $i == "corp:") s = s " " $i " " $(i + 1) }
         /^Done [0-9]+ runs/ { runs = $2 " runs in " $5 " s" }
         /^stat::peak_rss_mb:/ { rss = ", peak RSS " $2 " MB" }
         END { if (runs) printf "[fuzz] %s: %s,%s%s\n", t, runs, s, rss }' "$log"
    if [[ $rc != 0 ]]; then
      tail -n 60 "$log" | sed 's/^/    /'
      note "fuzzer failed (log: ${log#"$repo"/}; artifacts in ${dir#"$repo"/}/)"
      return "$rc"
    fi
  done
  return 0
}

# Lint what cannot run here: the GitHub Actions workflows. Two linters
# (actionlint's wasm build: expressions, matrix typing, runner labels,
# action inputs; action-validator: the JSON schema), and each must reject
# a deliberately broken copy, so a linter that checks nothing fails the leg.
lint_actionlint() { node "$here/lint-workflows.cjs" "$nm" "$@"; }
lint_validator() { "$nm/.bin/action-validator" "$@"; }
leg_lint() {
  local nm wf=() f bad="$build/lint" how tool want
  nm="$("$here/deps.sh" --print-lint-dir)"
  [[ -d "$nm/actionlint" && -x "$nm/.bin/action-validator" ]] ||
    { note "no workflow linters in $nm (scripts/deps.sh --lint failed)"; return 1; }
  for f in .github/workflows/*.yml; do wf+=("$f"); done
  [[ -f .github/workflows/ci.yml ]] || { note "no .github/workflows/ci.yml"; return 1; }
  logged "$logs/lint.actionlint.log" lint_actionlint "${wf[@]}"
  logged "$logs/lint.action-validator.log" lint_validator "${wf[@]}"
  note "actionlint, action-validator: ${wf[*]} clean"
  rm -rf "$bad"; mkdir -p "$bad"
  # A misspelled matrix property (only actionlint types expressions) and a
  # misspelled job key (both).
  sed 's/matrix\.leg }}/matrix.legs }}/' .github/workflows/ci.yml >"$bad/matrix-typo.yml"
  sed 's/^    runs-on: ubuntu-latest$/    run-on: ubuntu-latest/' .github/workflows/ci.yml >"$bad/key-typo.yml"
  for f in matrix-typo key-typo; do
    cmp -s .github/workflows/ci.yml "$bad/$f.yml" && { note "the $f edit did not apply to ci.yml"; return 1; }
  done
  for how in "actionlint matrix-typo property \"legs\" is not defined" \
             "actionlint key-typo unexpected key \"run-on\"" \
             "validator key-typo Additional property 'run-on' is not allowed"; do
    read -r tool f want <<<"$how"
    if "lint_$tool" "$bad/$f.yml" >"$logs/lint.broken-$tool-$f.log" 2>&1; then
      note "$tool passed the broken $bad/$f.yml"; return 1
    fi
    grep -qF -- "$want" "$logs/lint.broken-$tool-$f.log" ||
      { note "$tool rejected $f.yml without saying: $want"; tail -n 20 "$logs/lint.broken-$tool-$f.log"; return 1; }
  done
  note "broken copies rejected: matrix typo (actionlint), job key typo (both)"
  logged "$logs/lint.shellcheck.log" shellcheck scripts/*.sh bench/*.sh
  note "shellcheck: scripts/*.sh bench/*.sh clean"
}

# Dependencies first: the Windows legs need the mingw prefix, the lint
# leg its npm packages.
leg=deps
prefix=""
deps_args=()
case " $legs " in *" lint "*) deps_args+=(--lint) ;; esac
case " $legs " in
  *" mingw "*|*" msvc "*|*" dll "*)
    banner "dependencies (scripts/deps.sh --win${deps_args[*]:+ ${deps_args[*]}})"
    prefix="$("$here/deps.sh" --win "${deps_args[@]}")" || prefix=""
    [[ -n "$prefix" ]] && note "mingw prefix: $prefix" ;;
  *)
    banner "dependencies (scripts/deps.sh${deps_args[*]:+ ${deps_args[*]}})"
    "$here/deps.sh" "${deps_args[@]}" || note "deps.sh failed; trying the legs anyway" ;;
esac

# Root can make network namespaces: the two-namespace Manager test
# (manager_netns) must then really run, not skip.
if [[ $(id -u) == 0 ]]; then
  export MPROC_REQUIRE_NETNS="${MPROC_REQUIRE_NETNS:-1}"
fi

declare -A result seconds
order=()
for leg in $legs; do
  if ! declare -F "leg_$leg" >/dev/null; then
    echo "test.sh: unknown leg '$leg' (known: $all_legs dll)"
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
