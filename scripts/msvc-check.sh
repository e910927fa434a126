#!/usr/bin/env bash
# MSVC-dialect syntax check without MSVC.
#
#   scripts/msvc-check.sh [file.c ...]     (default: lib/**/*.c platform/win32/**/*.c)
#
# Parses each file as cl.exe's C would see it: clang targeting
# x86_64-pc-windows-msvc with Microsoft extensions and compatibility, C11,
# over the mingw-w64 headers (there is no Windows SDK here) plus APR,
# libcbor and libsodium from the scripts/deps.sh --win prefix.
# cmake/msvc-shim.h, forced in first, makes those headers parse in this
# mode (see its comment).
# -pedantic -Wvla -Werror turn what MSVC rejects into errors: VLAs,
# statement expressions, case ranges, zero-length arrays, void* arithmetic,
# `?:` without a middle operand, range designators, __auto_type; a grep
# rejects __attribute__ written in a checked .c file (wrap it in a macro in
# a header, guarded by __GNUC__). It is not the real SDK: __typeof__ passes.
#
# Prints one line per failing file with clang's messages, then
# `msvc-check: N files, M failed`; exits 1 if any failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

prefix="${MPROC_DEPS_PREFIX:-$("$here/deps.sh" --print-prefix)}"
[[ -f "$prefix/include/apr.h" ]] ||
  { echo "msvc-check: no APR headers in $prefix (run scripts/deps.sh --win)" >&2; exit 2; }

mingw_inc=""
for d in /usr/x86_64-w64-mingw32/include /usr/share/mingw-w64/include; do
  if [[ -f "$d/windows.h" ]]; then mingw_inc="$d"; break; fi
done
[[ -n "$mingw_inc" ]] || { echo "msvc-check: mingw-w64 headers not found" >&2; exit 2; }
clang_inc="$(clang -print-resource-dir)/include"

if [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(find lib platform/win32 -name '*.c' 2>/dev/null | sort)
fi

# -nostdinc: only clang's own headers and mingw's, in that order, as
# system headers (their own warnings are not ours). APR, libcbor and
# libsodium are system headers too, so -pedantic judges only mproc's code.
# The definitions are those the CMake targets carry for static
# APR/libcbor/libsodium.
# MPROC_API: the sources as the DLL build sees them (dllexport marks).
flags=(--target=x86_64-pc-windows-msvc -fsyntax-only
       -fms-extensions -fms-compatibility -std=c11
       -pedantic -Wall -Wvla -Werror -ferror-limit=8
       -nostdinc -isystem "$clang_inc" -isystem "$mingw_inc"
       -isystem "$prefix/include"
       -include "$repo/cmake/msvc-shim.h"
       -D_WIN32_WINNT=0x0A00 "-DMPROC_API=__declspec(dllexport)" -DAPR_DECLARE_STATIC -DCBOR_STATIC_DEFINE
       -DSODIUM_STATIC
       -I lib/include -I lib -I platform)

# lib/pool/mpi.c needs an mpi.h: on Windows it is built only with MS-MPI
# (docs/mpi.md), which is not here, so it is checked against Open MPI's
# header when there is one, else left out (nompi.c stands in).
mpi_inc="$(mpicc --showme:incdirs 2>/dev/null | awk '{print $1}')" || mpi_inc=""
if [[ -n "$mpi_inc" && -f "$mpi_inc/mpi.h" ]]; then
  flags+=(-isystem "$mpi_inc")
else
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v 'lib/pool/mpi\.c$')
fi

failed=0
for f in "${files[@]}"; do
  rc=0
  out="$(clang "${flags[@]}" "$f" 2>&1)" || rc=$?
  [[ $rc != 0 ]] || out=""
  if attr="$(grep -n '__attribute__' "$f")"; then
    out+="${out:+$'\n'}$f: __attribute__ is GNU-only:"$'\n'"$attr"
  fi
  if [[ -n "$out" ]]; then
    failed=$((failed + 1))
    echo "msvc-check: FAIL $f"
    printf '%s\n' "$out" | sed 's/^/    /'
  fi
done
echo "msvc-check: ${#files[@]} files, $failed failed"
[[ $failed == 0 ]]
