#!/bin/sh
# check_exports.sh LIB HEADER - the exported symbol list of the shared
# library (ELF: nm -D --defined-only; a .dll: its export table) against the functions HEADER
# declares with MPROC_API: nothing missing, nothing extra.  Also fails when
# a column-0 prototype in HEADER lacks MPROC_API (the annotation rule of
# docs/design.md, "Packaging").  Prints PASS or the differences.
set -eu
lib="$1" header="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

proto='^[A-Za-z_][A-Za-z0-9_ *]*[ *]mproc_[a-z0-9_]+\('
grep -E "$proto" "$header" | grep -v '^MPROC_API ' >"$tmp/bare" || true
if [ -s "$tmp/bare" ]; then
  echo "FAIL: prototypes without MPROC_API in $header:"
  cat "$tmp/bare"
  exit 1
fi
grep -E '^MPROC_API ' "$header" |
  sed -E 's/^([^(]*[ *])(mproc_[a-z0-9_]+)\(.*/\2/' | sort -u >"$tmp/header"
case "$lib" in
  *.dll) # a PE DLL: the names of its export table (mingw-w64 objdump)
    "${OBJDUMP:-x86_64-w64-mingw32-objdump}" -p "$lib" |
      sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' |
      grep -E '^[[:space:]]*\[ *[0-9]+\] ' | awk '{print $NF}' | sort -u >"$tmp/lib" ;;
  *) nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Za-z]$/ {print $3}' |
      sed 's/@.*//' | sort -u >"$tmp/lib" ;;
esac
[ -s "$tmp/header" ] || { echo "FAIL: no MPROC_API declarations in $header"; exit 1; }
missing="$(comm -23 "$tmp/header" "$tmp/lib")"
extra="$(comm -13 "$tmp/header" "$tmp/lib")"
if [ -n "$missing" ] || [ -n "$extra" ]; then
  [ -z "$missing" ] || { echo "FAIL: declared in the header, not exported:"; echo "$missing"; }
  [ -z "$extra" ] || { echo "FAIL: exported, not declared in the header:"; echo "$extra"; }
  exit 1
fi
echo "PASS: $(wc -l <"$tmp/lib") symbols exported, all declared in the header"
