#!/usr/bin/env bash
# Crash safety of liblooms (c-tests/crash): saves, recovering boots and
# backups killed before every mutating file call, and killed at random
# instants, under both tracking backends; the durable-write order of the
# recorded calls; I/O errors injected at every call; a table of damaged and
# made-up pier files; two processes on one pier.
#
# CRASH_RUNS: random kills per backend (default 200; `make soak`: 10,000;
#   from 1,000 up, no_demand and swap boots get random kills too).
# CRASH_SEED: the random kills' seed (default: time and pid; printed).
# CRASH_BACKENDS: the tracking backends of the full runs (default
#   "mprotect uffd"); CRASH_MODES: the other boot modes (default
#   "no-demand swap").
# CRASH_OUT, CRASH_CC, CRASH_WRAP: another build of the tests, made with
#   CRASH_CC into CRASH_OUT and run through CRASH_WRAP (the aarch64 build
#   under emulation, the interposer preloaded from the start through the
#   variable LOOMS_PRELOAD_VAR names).
# CRASH_STATIC=yes: the tests linked fully static against liblooms.a with
#   CRASH_STATIC_LINK (the static musl hosts), the interposer linked in
#   (c-tests/crash/Makefile); CRASH_WRAP then runs the program as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LOOMS_ROOT=${LOOMS_ROOT:-$ROOT}
LOOMS_LIB_DIR=${LOOMS_LIB_DIR:-$ROOT/target/release}
OUT=${CRASH_OUT:-$LOOMS_ROOT/target/crash-tests}
STATIC=${CRASH_STATIC:-no}
WRAP=()
if [ "$STATIC" = yes ]; then
    [ -n "${CRASH_WRAP:-}" ] && WRAP=("$CRASH_WRAP")
elif [ -n "${CRASH_WRAP:-}" ]; then
    WRAP=(env "${LOOMS_PRELOAD_VAR:-LD_PRELOAD}=$OUT/libcrashio.so" "$CRASH_WRAP")
fi
LIB=liblooms.so
[ "$STATIC" = yes ] && LIB=liblooms.a
RUNS=${CRASH_RUNS:-200}

mkdir -p "$OUT"
if [ ! -e "$LOOMS_LIB_DIR/$LIB" ]; then
    echo "FAIL: crash/build"
    echo "    $LOOMS_LIB_DIR/$LIB is missing: run make lib"
    exit 1
fi
if ! make -s -C c-tests/crash ROOT="$LOOMS_ROOT" LIB_DIR="$LOOMS_LIB_DIR" OUT="$OUT" \
    ${CRASH_CC:+CC="$CRASH_CC"} STATIC="$STATIC" ${CRASH_STATIC_LINK:+STATIC_LINK="$CRASH_STATIC_LINK"} \
    >"$OUT/build.log" 2>&1; then
    echo "FAIL: crash/build"
    sed 's/^/    /' "$OUT/build.log" | head -n 40
    exit 1
fi
echo "PASS: crash/build"

W=$(mktemp -d "${TMPDIR:-/tmp}/looms-crash.XXXXXX")
trap 'rm -rf "$W"' EXIT

failed=0
# run_as LABEL TRACKING FLAGS GROUP...: names get LABEL after "crash/".
run_as() {
    local label=$1 tracking=$2 flags=$3
    shift 3
    if ! LOOMS_TRACKING=$tracking ${WRAP[@]+"${WRAP[@]}"} "$OUT/crashtest" -w "$W" -f "$flags" "$@" \
        | sed -u "s#^\(PASS\|FAIL\|SKIP\): crash/#\1: crash/$label/#"; then
        failed=1
    fi
}
for backend in ${CRASH_BACKENDS:-mprotect uffd}; do
    run_as "$backend" "$backend" 0 backend points writers "random=$RUNS"
done
# The runtime's other boot modes (their tracking is mprotect): no_demand
# reads the image in; swap maps the loom above it from an ephemeral file.
# CRASH_MODES picks them (default both).
for mode in ${CRASH_MODES-no-demand swap}; do
    flags=0x200
    [ "$mode" = swap ] && flags=0x1000
    run_as "$mode" mprotect "$flags" points writers
    if [ "$RUNS" -ge 1000 ]; then
        run_as "$mode" mprotect "$flags" "random=$RUNS"
    fi
done
# Once, with the default backend.
if ! ${WRAP[@]+"${WRAP[@]}"} "$OUT/crashtest" -w "$W" order ioerr "badinput=$W/bad-input.md"; then
    failed=1
fi
# docs/reliability.md holds the table, from its generated first line to the end marker.
sed -n '/^<!-- bad-input table: generated/,/^<!-- bad-input table: end -->$/p' docs/reliability.md |
    sed '$d' >"$W/readme-table.md"
if [ -e "$W/bad-input.md" ] && cmp -s "$W/bad-input.md" "$W/readme-table.md"; then
    echo "PASS: badinput/table-document-current"
else
    echo "FAIL: badinput/table-document-current"
    echo "    the bad-input table in docs/reliability.md differs from the one the tests run:"
    diff -u "$W/readme-table.md" "$W/bad-input.md" 2>&1 | head -n 30 | sed 's/^/    /'
    failed=1
fi
exit $failed
