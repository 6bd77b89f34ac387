#!/usr/bin/env bash
# Writes the C header of liblooms to OUT (default include/looms.h): cbindgen
# over include/looms.rs with cbindgen.toml, then one rewrite cbindgen cannot
# make itself: the zero-length array that ends a struct (`T name[0];`, a GNU
# extension ISO C rejects) becomes a C99 flexible array member
# (`T name[];`), marked LOOMS_FLEXIBLE_ARRAY (cbindgen.toml: `__extension__`
# in C++, which has no flexible array member, nothing in C). Both have the
# struct's size and the member's offset, so the layout is the same; the ABI
# suite checks both with ctest and _Static_assert, and compiles the header
# with -std=c11 -Wpedantic -Werror; the package suite builds a C++ host
# with -Wpedantic -Werror.
#
# `make header` runs it; scripts/suites/30-abi.sh runs it into a scratch file
# and fails when the committed header differs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/include/looms.h}
cbindgen=${CBINDGEN:-cbindgen}
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$cbindgen" --quiet --config "$root/cbindgen.toml" --output "$tmp" "$root/include/looms.rs"
sed -i 's/^  \([A-Za-z_][A-Za-z0-9_]* [A-Za-z_][A-Za-z0-9_]*\)\[0\];$/  LOOMS_FLEXIBLE_ARRAY \1[];/' "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
