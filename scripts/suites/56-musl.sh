#!/usr/bin/env bash
# Static musl Linux, the runtime's Linux release targets: liblooms.a built
# for x86_64-unknown-linux-musl and aarch64-unknown-linux-musl
# (scripts/musl-lib: cargo's static library with the target's LLVM libunwind
# put in it), and fully static hosts (-static, no loader) compiled with
# `zig cc -target ARCH-linux-musl` (the compiler of the runtime's own
# release build) and linked with the line the installed looms.pc gives,
# run here: x86_64 natively, aarch64 under qemu-aarch64 (a static program
# needs no loader prefix). For each target:
#   - the archive: the unwinder it needs is in it (and without it the link
#     fails), the runtime's names it defines are the glibc build's;
#   - make install RUST_TARGET=...: liblooms.a, looms.h and a looms.pc with
#     which `cc -static $(pkg-config --static --libs looms)` links a host
#     that is static (no PT_INTERP, no dynamic section); on x86_64 musl-gcc
#     links one too, with the archive's unwinder rather than libgcc_eh;
#   - the same deterministic stores through the glibc build and the static
#     host, in sync and background saves, leave byte-identical pier files
#     with the same modes;
#   - a slice of the scenarios (20-scenarios.sh), in sync and background
#     saves (savewait.c linked in by --wrap), and of the crash tests
#     (c-tests/crash, the interposer linked in by --wrap), under mprotect
#     and (natively) userfaultfd tracking.
# MUSL_FULL=1 (`make check-musl`; the default at the soak tier, `make soak`): every scenario and
# spoilt patch, the whole crash suite (50-crash.sh: crash points, writers,
# random kills, order, I/O errors, bad input) on both targets, and the unit
# tests built for musl (aarch64's linked by aarch64-linux-gnu-gcc, run under
# qemu-aarch64).
#
# Needs the Rust targets (rustup target add), the ziglang package (pip),
# qemu-user, pkg-config and readelf; .ci/run installs them. Without them the
# suite skips, saying what is missing, except under CI (CI=true).
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
ROOT=$PWD
TARGETS=${MUSL_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}
FULL=${MUSL_FULL:-$(tier "" 1)}
PYTHON=${PYTHON:-python3}
export ZIG="$PYTHON -m ziglang"

failed=0
SUITE=musl
. scripts/lines.sh
# tagged PREFIX CMD...: CMD's PASS/FAIL/SKIP lines named under musl/PREFIX.
tagged() {
    local prefix=$1
    shift
    "$@" 2>&1 | sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: musl/$prefix/#"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
}

missing=()
"$PYTHON" -c 'import ziglang' 2>/dev/null || missing+=("ziglang (pip install ziglang)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (qemu-user)")
command -v pkg-config >/dev/null 2>&1 || missing+=("pkg-config")
command -v readelf >/dev/null 2>&1 || missing+=("readelf (binutils)")
if [ -n "$FULL" ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 ||
        missing+=("aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu), to link the aarch64 unit tests")
fi
need_rust_targets $TARGETS
tools_or_skip musl

W=$(mktemp -d /dev/shm/looms-musl.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/looms-musl.XXXXXX")
trap 'rm -rf "$W"' EXIT
# The crash suite's permission rows boot as uid 65534 in a directory below
# this one (as root): it must be able to pass through.
chmod 711 "$W"
started=$(date +%s)

glibc_lib=$ROOT/target/release/liblooms.so
if [ ! -e "$glibc_lib" ]; then
    fail build "$glibc_lib is missing (make lib): the exports and the pier files are compared with it"
    exit 1
fi
# The glibc build's scenario host, for the pier comparison.
if ! make -s -C c-tests/host "$ROOT/target/c-tests/scenario" >"$W/glibc-host.log" 2>&1; then
    fail_with glibc_host "$W/glibc-host.log"
    exit 1
fi
nm -D --defined-only "$glibc_lib" | awk '{print $3}' | sort -u >"$W/glibc.exports"

# defined_runtime_names ARCHIVE: the runtime's names (u3*, looms_*) defined
# in the archive. readelf, not nm: binutils' nm finds no symbols in the
# standard library's object of this toolchain.
defined_runtime_names() {
    readelf -sW "$1" 2>/dev/null |
        awk '$5 == "GLOBAL" && $7 != "UND" && $8 ~ /^(u3|looms_)/ {print $8}' | sort -u
}
# unwind_names ARCHIVE: "undefined" and "defined" _Unwind_* names.
unwind_names() {
    readelf -sW "$1" 2>/dev/null | awk -v want="$2" '$8 ~ /^_Unwind_/ {
        if (want == "undefined" && $7 == "UND") print $8
        if (want == "defined" && $7 != "UND" && $5 == "GLOBAL") print $8 }' | sort -u
}

# The deterministic stores whose pier files are compared: a first save, a
# grown one over it, a shrink, a backup; and freed pages (holes) in another.
stores() {
    local run=$1 pier=$2
    mkdir -p "$pier" || return 1
    $run write "$pier/a" 1 64 && $run write "$pier/a" 2 80 && $run write "$pier/a" 3 40 &&
        $run backup "$pier/a" && $run verify "$pier/a" 3 40 && $run free "$pier/b" 4 64 10 20
}
# pier_listing PIER: each file's path, mode and size.
pier_listing() { (cd "$1" && find . -type f -printf '%p %m %s\n' | sort); }
# same_as_glibc NAME PIER: PASS NAME when PIER's files are the glibc pier's,
# byte for byte, with the same modes.
same_as_glibc() {
    local name=$1 pier=$2 f differ=()
    pier_listing "$W/glibc-pier" >"$W/glibc.list"
    pier_listing "$pier" >"$W/other.list"
    while read -r f _; do
        cmp -s "$W/glibc-pier/$f" "$pier/$f" || differ+=("$f")
    done <"$W/glibc.list"
    if [ -s "$W/glibc.list" ] && diff "$W/glibc.list" "$W/other.list" >"$W/list.diff" &&
        [ ${#differ[@]} -eq 0 ]; then
        pass "$name ($(wc -l <"$W/glibc.list") files byte for byte, modes alike)"
    else
        fail "$name" "listing: $(tr '\n' ' ' <"$W/list.diff")" "bytes differ: ${differ[*]}"
    fi
}

# Scenario and crash slices (all of them with MUSL_FULL).
SCENARIO_SLICE="roundtrip fault_per_clean_page shrink free_pages patch_valid orphan_memory no_demand"
SCENARIO_SLICE+=" swap backup yolo_foul guard toss bail_guard boot_odd_size boot_busy"
glibc_host=$ROOT/target/c-tests/scenario
rm -rf "$W/glibc-pier"
if ! (LOOMS_TRACKING=mprotect stores "$glibc_host" "$W/glibc-pier") >"$W/glibc-stores.log" 2>&1; then
    fail_with glibc_stores "$W/glibc-stores.log"
fi

for t in $TARGETS; do
    arch=${t%%-*}
    T=$ROOT/target/$t
    lib=$T/release/liblooms.a
    run=()
    tracking="mprotect uffd"
    if [ "$arch" = aarch64 ]; then
        run=(qemu-aarch64)
        tracking=mprotect
    fi
    cc="$PYTHON -m ziglang cc -target $arch-linux-musl"

    # --- the archive ---------------------------------------------------------
    if nice scripts/musl-lib "$t" >"$W/$t.build" 2>&1 && [ -e "$lib" ]; then
        pass "$arch/build (liblooms.a, $(readelf -h "$lib" 2>/dev/null | sed -n 's/^ *Machine: *//p' | head -n 1))"
    else
        fail_with "$arch/build" "$W/$t.build"
        continue
    fi
    unwind_names "$lib" undefined >"$W/$t.unw.ref"
    unwind_names "$lib" defined >"$W/$t.unw.def"
    unresolved=$(comm -23 "$W/$t.unw.ref" "$W/$t.unw.def" | tr '\n' ' ')
    if [ -s "$W/$t.unw.ref" ] && [ -z "$unresolved" ]; then
        pass "$arch/unwinder_inside ($(wc -l <"$W/$t.unw.ref") _Unwind_* names used, all defined in the archive: LLVM libunwind)"
    else
        fail "$arch/unwinder_inside" "used: $(tr '\n' ' ' <"$W/$t.unw.ref")" "not defined: $unresolved"
    fi
    defined_runtime_names "$lib" >"$W/$t.exports"
    if diff "$W/glibc.exports" "$W/$t.exports" >"$W/$t.exports.diff"; then
        pass "$arch/exports_as_glibc ($(wc -l <"$W/$t.exports") names)"
    else
        sed -i '1i < glibc liblooms.so only, > musl liblooms.a only' "$W/$t.exports.diff"
        fail_with "$arch/exports_as_glibc" "$W/$t.exports.diff"
    fi
    # Without the unwinder's members the archive does not link: what the
    # merge is for (a toolchain that stops needing it fails here, to say so).
    cp "$lib" "$W/bare.a"
    $ZIG ar t "$W/bare.a" | grep -E -- '-(Unwind|libunwind)' | while read -r m; do
        $ZIG ar d "$W/bare.a" "$m"
    done
    if $cc -std=c11 -Iinclude -static -o "$W/bare" c-tests/abi/roundtrip.c c-tests/abi/minihost.c \
        "$W/bare.a" >"$W/$t.bare.log" 2>&1; then
        fail "$arch/unwinder_needed" "the archive without LLVM libunwind linked: scripts/musl-lib need not add it"
    elif grep -q 'undefined symbol: _Unwind_' "$W/$t.bare.log"; then
        pass "$arch/unwinder_needed (without it: $(grep -o 'undefined symbol: _Unwind_[A-Za-z_]*' "$W/$t.bare.log" | head -n 1))"
    else
        fail_with "$arch/unwinder_needed" "$W/$t.bare.log"
    fi

    # --- install, pkg-config, the static host --------------------------------
    stage=$W/stage-$arch
    prefix=/opt/looms-$arch
    if make -s install RUST_TARGET="$t" DESTDIR="$stage" PREFIX="$prefix" >"$W/$t.install" 2>&1 &&
        [ -e "$stage$prefix/lib/liblooms.a" ] && [ ! -e "$stage$prefix/lib/liblooms.so" ] &&
        [ ! -e "$stage$prefix/bin/looms" ] && cmp -s "$lib" "$stage$prefix/lib/liblooms.a"; then
        pass "$arch/install (liblooms.a, looms.h, looms.pc; no shared library)"
    else
        ls -R "$stage" >>"$W/$t.install" 2>&1
        fail_with "$arch/install" "$W/$t.install"
    fi
    pc() {
        PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$stage$prefix/lib/pkgconfig" \
            PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config "$@" looms
    }
    link=$(pc --static --libs 2>&1 | sed 's/ *$//')
    if [ "$link" = "-L$stage$prefix/lib -llooms" ]; then
        pass "$arch/pkg_config_static_line (pkg-config --static --libs looms: -L\${libdir} -llooms)"
    else
        fail "$arch/pkg_config_static_line" "got '$link', want '-L$stage$prefix/lib -llooms'"
    fi
    host=$T/c-tests/scenario-static
    host_bg=$T/c-tests/scenario-static-background
    rm -f "$host" "$host_bg"
    if make -s -C c-tests/host "$host" "$host_bg" CC="$cc" OUT="$T/c-tests" LIB_DIR="$T/release" \
        STATIC_LINK="$link" >"$W/$t.host" 2>&1; then
        pass "$arch/static_host_links (-static with \$(pkg-config --static --libs looms) alone)"
    else
        fail_with "$arch/static_host_links" "$W/$t.host"
        continue
    fi
    if ! readelf -lW "$host" | grep -q 'INTERP' && ! readelf -dW "$host" | grep -q 'NEEDED' &&
        file -b "$host" | grep -q 'statically linked'; then
        pass "$arch/host_is_static ($(file -b "$host" | cut -d, -f1-2,4))"
    else
        fail "$arch/host_is_static" "$(file -b "$host")" "$(readelf -lW "$host" | grep -A1 INTERP)"
    fi

    # --- the same stores, the same files ----------------------------------------
    for save in sync background; do
        pier=$W/pier-$arch-$save
        rm -rf "$pier"
        bin=$host
        [ $save = background ] && bin=$host_bg
        if (LOOMS_TRACKING=mprotect LOOMS_SAVE=$save stores "${run[*]} $bin" "$pier") >"$W/$t.stores" 2>&1; then
            same_as_glibc "$arch/pier_files_as_glibc/$save" "$pier"
        else
            fail_with "$arch/pier_files_as_glibc/$save" "$W/$t.stores"
        fi
    done

    # musl-gcc (x86_64; Debian's musl-tools) links the same line: gcc's own
    # libgcc_eh stays out, the archive's unwinder is the one linked.
    if [ "$arch" = x86_64 ]; then
        if command -v musl-gcc >/dev/null 2>&1; then
            gcc_host=$T/c-tests-gcc/scenario-static
            rm -f "$gcc_host"
            if make -s -C c-tests/host "$gcc_host" CC=musl-gcc OUT="$T/c-tests-gcc" LIB_DIR="$T/release" \
                STATIC_LINK="$link -Wl,--trace-symbol=_Unwind_Resume" >"$W/gcc.log" 2>&1 &&
                ! readelf -lW "$gcc_host" | grep -q INTERP &&
                grep 'definition of _Unwind_Resume' "$W/gcc.log" | grep -q 'liblooms.a(.*UnwindLevel1' &&
                (LOOMS_TRACKING=mprotect stores "$gcc_host" "$W/pier-gcc") >>"$W/gcc.log" 2>&1; then
                same_as_glibc "$arch/musl_gcc_host_pier_files_as_glibc" "$W/pier-gcc"
            else
                fail_with "$arch/musl_gcc_host" "$W/gcc.log"
            fi
        elif [ "${CI:-}" = true ]; then
            fail "$arch/musl_gcc_host" "musl-gcc is missing (musl-tools)"
        else
            echo "SKIP: musl/$arch/musl_gcc_host (musl-gcc is missing: musl-tools)"
        fi
    fi

    # --- scenarios -----------------------------------------------------------------
    only=$SCENARIO_SLICE
    [ -n "$FULL" ] && only=
    SCENARIO_BIN=$host SCENARIO_WRAP="${run[*]}" SCENARIO_TRACKING=$tracking SCENARIO_ONLY=$only \
        SCENARIO_TAG=musl/$arch/scenarios bash scripts/suites/20-scenarios.sh || failed=1
    # Background saves: a worker thread, the release thread, sync_file_range,
    # posix_fadvise and mremap under musl.
    LOOMS_SAVE=background SCENARIO_BIN=$host_bg SCENARIO_WRAP="${run[*]}" SCENARIO_TRACKING=$tracking \
        SCENARIO_ONLY=$only SCENARIO_TAG=musl/$arch/scenarios-background \
        bash scripts/suites/20-scenarios.sh || failed=1

    # --- crash tests -------------------------------------------------------------------
    link_crash=(LOOMS_LIB_DIR="$T/release" CRASH_OUT="$T/crash-tests" CRASH_CC="$cc"
        CRASH_STATIC=yes CRASH_STATIC_LINK="$link")
    if [ -n "$FULL" ]; then
        env "${link_crash[@]}" CRASH_WRAP="${run[*]}" CRASH_BACKENDS="$tracking" \
            CRASH_RUNS="${MUSL_CRASH_RUNS:-200}" TMPDIR="$W" \
            bash scripts/suites/50-crash.sh 2>&1 |
            sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: musl/$arch/#"
        [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
    elif make -s -C c-tests/crash ROOT="$ROOT" LIB_DIR="$T/release" OUT="$T/crash-tests" CC="$cc" \
        STATIC=yes STATIC_LINK="$link" >"$W/$t.crash" 2>&1; then
        if readelf -lW "$T/crash-tests/crashtest" | grep -q INTERP; then
            fail "$arch/crash/build" "crashtest has a program interpreter: not static"
        else
            pass "$arch/crash/build (static, the interposer linked in by --wrap)"
        fi
        for backend in $tracking; do
            mkdir -p "$W/crash-$backend"
            tagged "$arch/$backend" env LOOMS_TRACKING="$backend" ${run[@]+"${run[@]}"} \
                "$T/crash-tests/crashtest" -w "$W/crash-$backend" backend writers random=10
        done
        tagged "$arch" ${run[@]+"${run[@]}"} "$T/crash-tests/crashtest" -w "$W" order \
            "badinput=$W/bad-$arch.md"
    else
        fail_with "$arch/crash/build" "$W/$t.crash"
    fi
done

# The unit tests built for musl: natively, and under qemu-aarch64 (linked by
# the aarch64 cross gcc with the Rust target's own musl objects).
for t in $TARGETS; do
    arch=${t%%-*}
    if [ -z "$FULL" ]; then
        echo "SKIP: musl/$arch/unit (the unit tests built for musl run in make check-musl)"
        continue
    fi
    if [ "$arch" = aarch64 ]; then
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64
    fi
    if nice cargo test --quiet --release --lib --target "$t" >"$W/unit-$arch.log" 2>&1; then
        pass "$arch/unit ($(grep -o '[0-9]* passed' "$W/unit-$arch.log" | tail -n 1))"
    else
        fail_with "$arch/unit" "$W/unit-$arch.log"
    fi
done
echo "musl: the static builds and runs took $(($(date +%s) - started)) s"
exit $failed
