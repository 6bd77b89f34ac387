#!/usr/bin/env bash
# The events.c ABI of liblooms: the committed header against a fresh
# cbindgen run, the header's layout against the Rust types (ctest) and
# against the runtime's numbers (_Static_assert), the exact exported and
# imported symbol sets, the soname, and a pier written and read back by two
# processes linked with -llooms.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

CBINDGEN_VERSION=0.29.2
LIB=$ROOT/target/release/liblooms.so
OUT=$ROOT/target/abi-tests
# The events.c entry points and u3e_Pool; c-tests/abi/extensions.txt adds
# the documented looms_* extensions, one per line.
EXPORTS="u3e_live u3e_save u3e_fault u3e_ward u3e_toss u3e_backup u3e_stop u3e_yolo
u3e_foul u3e_init u3e_image_open_any u3e_Pool"
# What the runtime defines and the library leaves undefined.
IMPORTS="u3o_Config u3a_Road u3a_loom_sane u3a_print_memory u3l_log u3m_bail"
# Weak hooks of the toolchain's startup files; a weak reference never has to
# resolve.
CRT_HOOKS="__gmon_start__ _ITM_deregisterTMCloneTable _ITM_registerTMCloneTable"

W=$(mktemp -d /tmp/looms-abi.XXXXXX)
trap 'rm -rf "$W"' EXIT

failed=0
pass() { echo "PASS: abi/$1"; }
fail() {
    echo "FAIL: abi/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}
# fail_with NAME FILE: fails NAME showing the first lines of FILE.
fail_with() {
    echo "FAIL: abi/$1"
    head -n 40 "$2" | sed 's/^/    /'
    failed=1
}
words() { tr ' \t' '\n\n' | sed '/^$/d' | sort -u; }

major=$(sed -n 's/^version = "\([0-9]*\)\..*/\1/p' Cargo.toml | head -n 1)

# ---------------------------------------------------------------------------
# The header

cbindgen=${CBINDGEN:-$(command -v cbindgen || echo "$HOME/.cargo/bin/cbindgen")}
found=$("$cbindgen" --version 2>/dev/null || true)
if [ "$found" != "cbindgen $CBINDGEN_VERSION" ]; then
    # A fresh machine: build the pinned version into target/tools, once.
    tools=$PWD/target/tools
    if [ "$("$tools/bin/cbindgen" --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
        echo "installing cbindgen $CBINDGEN_VERSION into $tools (once)" >&2
        cargo install --quiet --locked --root "$tools" cbindgen --version "$CBINDGEN_VERSION" >&2 || true
    fi
    cbindgen=$tools/bin/cbindgen
    found=$("$cbindgen" --version 2>/dev/null || true)
fi
if [ "$found" != "cbindgen $CBINDGEN_VERSION" ]; then
    fail header_matches_cbindgen "need cbindgen $CBINDGEN_VERSION to regenerate include/looms.h," \
        "found '${found:-nothing}' at $cbindgen:" \
        "cargo install cbindgen --version $CBINDGEN_VERSION --locked"
elif ! CBINDGEN=$cbindgen scripts/header.sh "$W/looms.h" >"$W/cbindgen.log" 2>&1; then
    fail_with header_matches_cbindgen "$W/cbindgen.log"
elif ! diff -u include/looms.h "$W/looms.h" >"$W/header.diff"; then
    sed -i '1i include/looms.h differs from a fresh generation (make header):' "$W/header.diff"
    fail_with header_matches_cbindgen "$W/header.diff"
else
    pass header_matches_cbindgen
fi

# What a distribution's users compile it with: strict ISO C11, every
# warning an error, and C++ (declarations inside extern "C"), pedantic too:
# the flexible array member, which ISO C++ lacks, is marked __extension__.
printf '#include <looms.h>\nint main(void) { return (int)sizeof(u3e_control); }\n' >"$W/pedantic.c"
if gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c -o "$W/pedantic.o" "$W/pedantic.c" \
    >"$W/pedantic.log" 2>&1; then
    pass "header_is_iso_c11 (gcc -std=c11 -Wall -Wextra -Wpedantic -Werror)"
else
    fail_with header_is_iso_c11 "$W/pedantic.log"
fi
if grep -q '^extern "C" {$' include/looms.h && grep -q '^}  // extern "C"$' include/looms.h &&
    g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only -x c++ "$W/pedantic.c" \
        >"$W/cxx.log" 2>&1; then
    pass "header_is_cxx_ready (extern \"C\" guards, compiles as C++11 with -Wpedantic -Werror)"
else
    grep -n 'extern "C"' include/looms.h >>"$W/cxx.log" || echo "no extern \"C\" in include/looms.h" >>"$W/cxx.log"
    fail_with header_is_cxx_ready "$W/cxx.log"
fi

leaked=$(grep -ow -E "$(echo $IMPORTS | tr ' ' '|')" include/looms.h | sort -u | tr '\n' ' ' || true)
if [ -n "$leaked" ]; then
    fail header_has_no_host_imports "include/looms.h declares: $leaked"
elif ! grep -q '^extern u3e_pool u3e_Pool;$' include/looms.h; then
    fail header_has_no_host_imports "include/looms.h lacks 'extern u3e_pool u3e_Pool;'"
else
    pass header_has_no_host_imports
fi

# The same header with one more word before dit_w: every layout check
# below must reject it.
sed 's/^  c3_i eph_i;$/  c3_i eph_i;\n  c3_w spare_w;/' include/looms.h >"$W/shifted.h"
mkdir -p "$W/shifted"
cp "$W/shifted.h" "$W/shifted/looms.h"
if cmp -s include/looms.h "$W/shifted.h"; then
    fail layout_probe "could not make a shifted header: no 'c3_i eph_i;' line"
fi

# ---------------------------------------------------------------------------
# Layout: the runtime's numbers, compiled against the header

if make --no-print-directory -s -C c-tests/abi OUT="$OUT" "$OUT/static_asserts" \
    >"$W/asserts.log" 2>&1 && "$OUT/static_asserts" >>"$W/asserts.log" 2>&1; then
    pass "static_asserts ($(cat "$W/asserts.log"))"
else
    fail_with static_asserts "$W/asserts.log"
fi
if gcc -std=c11 -fsyntax-only -I"$W/shifted" -Ic-tests/abi c-tests/abi/static_asserts.c \
    >"$W/asserts-shifted.log" 2>&1; then
    fail static_asserts_reject_a_shifted_header "static_asserts.c compiled against it"
else
    pass static_asserts_reject_a_shifted_header
fi

# ---------------------------------------------------------------------------
# Layout: the Rust types against the header (ctest)

export CARGO_TARGET_DIR=$ROOT/target/layout-check
layout() {
    (cd layout-check && cargo run --quiet --release --locked) >"$W/layout.log" 2>&1
}
if layout && grep -q '^PASSED [0-9]* tests' "$W/layout.log"; then
    pass "layout_matches_rust ($(grep '^PASSED' "$W/layout.log" | tr '\n' ';' | sed 's/;$//'))"
else
    fail_with layout_matches_rust "$W/layout.log"
fi
# (In a subshell: the aborting check would have the shell report it.)
if (LOOMS_LAYOUT_INCLUDE="$W/shifted" layout) 2>/dev/null; then
    fail layout_check_rejects_a_shifted_header "$(tail -n 3 "$W/layout.log")"
elif grep -q 'u3e_pool' "$W/layout.log"; then
    pass layout_check_rejects_a_shifted_header
else
    fail_with layout_check_rejects_a_shifted_header "$W/layout.log"
fi
unset CARGO_TARGET_DIR

# ---------------------------------------------------------------------------
# Symbols

if [ ! -f "$LIB" ]; then
    fail shared_library "$LIB is missing (make lib)"
    exit 1
fi

want=$( (echo $EXPORTS; grep -v '^[[:space:]]*\(#\|$\)' c-tests/abi/extensions.txt || true) | words)
nm -D --defined-only "$LIB" | awk '{print $3}' | sort -u >"$W/exported"
if diff <(echo "$want") "$W/exported" >"$W/exported.diff"; then
    pass "exports_exactly_events_c ($(wc -l <"$W/exported") symbols)"
else
    sed -i '1i < expected only, > exported only' "$W/exported.diff"
    fail_with exports_exactly_events_c "$W/exported.diff"
fi

# Every name the system libraries the library needs define, from those
# very libraries as the loader resolves them.
ldd "$LIB" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' >"$W/syslibs"
: >"$W/system"
while read -r so; do
    nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' >>"$W/system"
done <"$W/syslibs"
sort -u -o "$W/system" "$W/system"

# Undefined symbols: "kind name[@version]".
nm -D --undefined-only "$LIB" | awk '{print $1, $2}' >"$W/undefined"
strong=()
stray=()
while read -r kind sym; do
    name=${sym%%@*}
    if [ "$name" != "$sym" ] || grep -qxF "$name" "$W/system"; then
        # Versioned (GLIBC_*, GCC_*) or defined by libc, libgcc_s or ld.so.
        if ! grep -qxF "$name" "$W/system"; then
            stray+=("$sym (versioned but in none of: $(tr '\n' ' ' <"$W/syslibs"))")
        fi
    elif [ "$kind" = w ] && [[ " $CRT_HOOKS " == *" $name "* ]]; then
        :
    else
        strong+=("$kind:$name")
    fi
done <"$W/undefined"
imports=$(printf '%s\n' "${strong[@]}" | sort -u)
want_imports=$(echo $IMPORTS | words | sed 's/^/U:/')
if [ "$imports" = "$want_imports" ] && [ ${#stray[@]} -eq 0 ]; then
    pass "imports_exactly_the_host_symbols (6 host imports, $(wc -l <"$W/undefined") undefined in all)"
else
    echo "< expected only, > found only (U strong, w weak)" >"$W/imports.diff"
    diff <(echo "$want_imports") <(echo "$imports") >>"$W/imports.diff" || true
    printf '%s\n' "${stray[@]}" >>"$W/imports.diff"
    fail_with imports_exactly_the_host_symbols "$W/imports.diff"
fi

needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
extra=$(echo "$needed" | words | grep -v -x -E 'libc\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1' || true)
if [ -z "$extra" ]; then
    pass "needs_only_system_libraries ($needed)"
else
    fail needs_only_system_libraries "NEEDED: $needed"
fi

soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "liblooms.so.$major" ] &&
    [ "$(readlink -f "target/release/$soname")" = "$(readlink -f "$LIB")" ]; then
    pass "soname ($soname, linked in target/release)"
else
    fail soname "SONAME '$soname', want liblooms.so.$major; target/release/liblooms.so.$major:" \
        "$(ls -l "target/release/liblooms.so.$major" 2>&1)"
fi

# ---------------------------------------------------------------------------
# A pier through the shared library, in two processes

if ! make --no-print-directory -s -C c-tests/abi OUT="$OUT" "$OUT/roundtrip" >"$W/build.log" 2>&1; then
    fail_with shared_roundtrip "$W/build.log"
else
    pier=$W/pier
    rc=0
    {
        "$OUT/roundtrip" write "$pier" 11 12 && "$OUT/roundtrip" read "$pier" 11 12
    } >"$W/rt.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^read: 12 pages verified$' "$W/rt.log" &&
        [ "$(stat -c %s "$pier/.urb/chk/image.bin")" -eq $((12 * 16384)) ]; then
        pass shared_roundtrip
    else
        fail_with shared_roundtrip "$W/rt.log"
    fi
    # The reader notices bytes that are not the ones written.
    if "$OUT/roundtrip" read "$pier" 12 12 >"$W/rt-bad.log" 2>&1; then
        fail shared_roundtrip_detects_wrong_bytes "a read with another seed passed"
    else
        pass shared_roundtrip_detects_wrong_bytes
    fi
fi

exit $failed
