#!/usr/bin/env bash
# aarch64 Linux: the library cross-built for aarch64-unknown-linux-gnu and
# the C test programs cross-compiled against it, all run here under
# qemu-aarch64 user-mode emulation (scripts/emulate-aarch64):
#   - the ABI: the runtime's layout numbers (static_asserts), the Rust
#     types against the header (ctest), the exported and imported symbols
#     against the x86_64 build's, the soname, a pier through -llooms;
#   - the scenarios (20-scenarios.sh) in sync saves (at the soak tier in
#     background saves too), under mprotect tracking; the copy relocation
#     of u3e_Pool (pool_live);
#   - the writers and random kills (50-crash.sh) under mprotect, the
#     durable-write order and the bad-input table; at the soak tier the
#     crash points and I/O errors at every call too, and the no_demand and
#     swap boot modes;
#   - the tracking suite (55-track.sh);
#   - which aarch64 root the emulator is given (scripts/emulate-aarch64):
#     none where this machine has a multiarch libc6:arm64, whose libc the
#     cross toolchain's loader must not meet.
# Every emulated program is killed after EMULATE_TIMEOUT seconds (default
# 600), failing its test; a first one that starts threads must end within
# 60 s, or the suite fails there (an emulator that cannot start a thread
# would stall every test after it).
# The emulator has no userfaultfd: the uffd runs are skipped, and the
# fall-back to mprotect is what the tracking suite tests; the scattered-store
# and huge-page checks, which test the kernel rather than the architecture,
# are left to the native runs.
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user and the
# Rust target (rustup target add aarch64-unknown-linux-gnu); .ci/run
# installs them. Without them the suite skips, saying what is missing,
# except under CI (CI=true), where it fails.
#   AARCH64_CRASH_RUNS  random kills (default 10, at the soak tier 50)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh
TRIPLE=aarch64-unknown-linux-gnu
T=$ROOT/target/$TRIPLE
LIB_DIR=$T/release
WRAP=$ROOT/scripts/emulate-aarch64
CROSS_CC=aarch64-linux-gnu-gcc
SYSROOT=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
export LOOMS_PRELOAD_VAR=EMULATED_PRELOAD
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$CROSS_CC
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=$WRAP
export CC_aarch64_unknown_linux_gnu=$CROSS_CC

failed=0
SUITE=aarch64
. scripts/lines.sh

# ---------------------------------------------------------------------------
# Tools

missing=()
command -v "$CROSS_CC" >/dev/null 2>&1 || missing+=("$CROSS_CC (gcc-aarch64-linux-gnu)")
[ -e "$SYSROOT/include/stdio.h" ] || missing+=("$SYSROOT/include (libc6-dev-arm64-cross)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (qemu-user)")
command -v aarch64-linux-gnu-nm >/dev/null 2>&1 || missing+=("aarch64-linux-gnu-nm (binutils-aarch64-linux-gnu)")
need_rust_targets "$TRIPLE"
tools_or_skip aarch64

W=$(mktemp -d "$LOOMS_SCRATCH/looms-aarch64.XXXXXX")
trap 'rm -rf "$W"' EXIT
started=$(date +%s)

# ---------------------------------------------------------------------------
# The emulator's aarch64 root, on made-up roots: the cross toolchain's
# libraries (-L) on a machine without aarch64 libraries of its own, none on
# one with Debian's multiarch libc6:arm64, QEMU_LD_PREFIX over both.

mkdir -p "$W/root-cross/usr" "$W/root-multiarch/lib"
: >"$W/root-multiarch/lib/ld-linux-aarch64.so.1"
prefix_for() { env -u QEMU_LD_PREFIX EMULATE_HOST_ROOT="$1" "$WRAP" --prefix 2>&1; }
cross=$(prefix_for "$W/root-cross")
multiarch=$(prefix_for "$W/root-multiarch")
chosen=$(QEMU_LD_PREFIX=/opt/arm64 EMULATE_HOST_ROOT="$W/root-multiarch" "$WRAP" --prefix 2>&1)
if [ "$cross" = /usr/aarch64-linux-gnu ] && [ "$multiarch" = none ] && [ "$chosen" = /opt/arm64 ]; then
    pass "emulator_root (cross only: -L $cross; multiarch libc: no -L; QEMU_LD_PREFIX wins; here: $("$WRAP" --prefix))"
else
    fail emulator_root "cross only: '$cross' (want /usr/aarch64-linux-gnu)" \
        "multiarch libc: '$multiarch' (want none)" "QEMU_LD_PREFIX=/opt/arm64: '$chosen'"
fi

# ---------------------------------------------------------------------------
# Builds

if cargo build --quiet --release --lib --target $TRIPLE >"$W/cargo.log" 2>&1 &&
    [ -e "$LIB_DIR/liblooms.so" ]; then
    pass "build ($(file -b "$LIB_DIR/liblooms.so" 2>/dev/null | cut -d, -f1-2 || echo built))"
else
    fail_with build "$W/cargo.log"
    exit 1
fi
# The host non-PIE: the copy relocation of u3e_Pool appears there (the
# aarch64 compiler reaches extern data through the GOT in a PIE).
if make -s -C c-tests/host CC=$CROSS_CC PIE="-fno-pie -no-pie" OUT="$T/c-tests" LIB_DIR="$LIB_DIR" \
    "$T/c-tests/scenario" "$T/c-tests/libsavewait.so" "$T/c-tests/libnolock.so" \
    "$T/c-tests/libfailunlink.so" >"$W/host.log" 2>&1; then
    pass build_hosts
else
    fail_with build_hosts "$W/host.log"
    exit 1
fi

# ---------------------------------------------------------------------------
# ABI

if make --no-print-directory -s -C c-tests/abi CC=$CROSS_CC OUT="$T/abi-tests" LIB_DIR="$LIB_DIR" \
    "$T/abi-tests/static_asserts" "$T/abi-tests/roundtrip" >"$W/abi.log" 2>&1 &&
    "$WRAP" "$T/abi-tests/static_asserts" >>"$W/abi.log" 2>&1; then
    pass "static_asserts ($(tail -n 1 "$W/abi.log"))"
else
    fail_with static_asserts "$W/abi.log"
fi

if (cd layout-check && CARGO_TARGET_DIR=$ROOT/target/layout-check \
    cargo run --quiet --release --locked --target $TRIPLE) >"$W/layout.log" 2>&1 &&
    grep -q '^PASSED [0-9]* tests' "$W/layout.log"; then
    pass "layout_matches_rust ($(grep '^PASSED' "$W/layout.log" | tr '\n' ';' | sed 's/;$//'))"
else
    fail_with layout_matches_rust "$W/layout.log"
fi

# The same exported names as the x86_64 build, which 30-abi.sh pins.
defined() { "$1" -D --defined-only "$2" | awk '{print $3}' | sort -u; }
host_lib=$ROOT/target/release/liblooms.so
if [ ! -e "$host_lib" ]; then
    fail exports_as_x86_64 "$host_lib is missing (make lib)"
else
    defined nm "$host_lib" >"$W/x86.exports"
    defined aarch64-linux-gnu-nm "$LIB_DIR/liblooms.so" >"$W/arm.exports"
    if [ -s "$W/arm.exports" ] && diff "$W/x86.exports" "$W/arm.exports" >"$W/exports.diff"; then
        pass "exports_as_x86_64 ($(wc -l <"$W/arm.exports") symbols)"
    else
        sed -i '1i < x86_64 only, > aarch64 only' "$W/exports.diff"
        fail_with exports_as_x86_64 "$W/exports.diff"
    fi
    # Imports: undefined names without a version (what the host defines),
    # the same on both.
    hostsyms() { "$1" -D --undefined-only "$2" | awk '$2 !~ /@/ && $1 == "U" {print $2}' | sort -u; }
    hostsyms nm "$host_lib" >"$W/x86.imports"
    hostsyms aarch64-linux-gnu-nm "$LIB_DIR/liblooms.so" >"$W/arm.imports"
    if [ -s "$W/arm.imports" ] && diff "$W/x86.imports" "$W/arm.imports" >"$W/imports.diff"; then
        pass "imports_as_x86_64 ($(tr '\n' ' ' <"$W/arm.imports" | sed 's/ $//'))"
    else
        sed -i '1i < x86_64 only, > aarch64 only' "$W/imports.diff"
        fail_with imports_as_x86_64 "$W/imports.diff"
    fi
fi
major=$(sed -n 's/^version = "\([0-9]*\)\..*/\1/p' Cargo.toml | head -n 1)
soname=$(readelf -d "$LIB_DIR/liblooms.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
machine=$(readelf -h "$LIB_DIR/liblooms.so" | sed -n 's/^ *Machine: *//p')
if [ "$soname" = "liblooms.so.$major" ] && [ "$machine" = AArch64 ]; then
    pass "soname ($soname, $machine)"
else
    fail soname "SONAME '$soname', machine '$machine'"
fi

pier=$W/pier
# The first program that starts threads (the save's): bounded tightly, and
# the suite ends here if the emulator cannot run it.
EMULATE_TIMEOUT=60 "$WRAP" "$T/abi-tests/roundtrip" write "$W/probe" 11 12 >"$W/probe.log" 2>&1
rc=$?
if [ $rc -eq 124 ]; then
    fail_with emulator_runs_threads "$W/probe.log"
    echo "    (the emulator hung in a program that starts threads: the suite stops here)"
    exit 1
elif [ $rc -ne 0 ]; then
    fail_with emulator_runs_threads "$W/probe.log"
else
    pass "emulator_runs_threads (a save's threads, in under 60 s)"
fi
if { "$WRAP" "$T/abi-tests/roundtrip" write "$pier" 11 12 &&
    "$WRAP" "$T/abi-tests/roundtrip" read "$pier" 11 12; } >"$W/rt.log" 2>&1 &&
    grep -q '^read: 12 pages verified$' "$W/rt.log"; then
    pass shared_roundtrip
else
    fail_with shared_roundtrip "$W/rt.log"
fi
if "$WRAP" "$T/abi-tests/roundtrip" read "$pier" 12 12 >/dev/null 2>&1; then
    fail shared_roundtrip_detects_wrong_bytes "a read with another seed passed"
else
    pass shared_roundtrip_detects_wrong_bytes
fi

# ---------------------------------------------------------------------------
# Scenarios, crash points, tracking

emulated() {
    SCENARIO_OUT=$T/c-tests SCENARIO_BIN=$T/c-tests/scenario SCENARIO_WRAP=$WRAP \
        SCENARIO_TAG=aarch64/scenarios SCENARIO_TRACKING=mprotect "$@"
}
echo "SKIP: aarch64/scenarios [uffd] (user-mode emulation has no userfaultfd)"
emulated bash scripts/suites/20-scenarios.sh || failed=1
if soak; then
    emulated env SCENARIO_SAVE=background bash scripts/suites/20-scenarios.sh || failed=1
fi

LOOMS_LIB_DIR=$LIB_DIR CRASH_OUT=$T/crash-tests CRASH_CC=$CROSS_CC CRASH_WRAP=$WRAP \
    CRASH_RUNS=${AARCH64_CRASH_RUNS:-$(tier 10 50)} CRASH_BACKENDS=mprotect \
    CRASH_MODES=${CRASH_MODES-$(tier "" "no-demand swap")} CRASH_POINTS=${CRASH_POINTS:-$(tier no yes)} \
    CRASH_IOERR=${CRASH_IOERR:-$(tier no yes)} \
    bash scripts/suites/50-crash.sh 2>&1 |
    sed -u 's#^\(PASS\|FAIL\|SKIP\): #\1: aarch64/#'
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
echo "SKIP: aarch64/crash/uffd (user-mode emulation has no userfaultfd)"

LOOMS_LIB_DIR=$LIB_DIR TRACK_OUT=$T/track-tests TRACK_CC=$CROSS_CC TRACK_WRAP=$WRAP \
    TRACK_EMULATED=yes bash scripts/suites/55-track.sh 2>&1 |
    sed -u 's#^\(PASS\|FAIL\|SKIP\): #\1: aarch64/#'
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1

echo "aarch64: the emulated suites took $(($(date +%s) - started)) s"
exit $failed
