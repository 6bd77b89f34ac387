#!/usr/bin/env bash
# Crash safety of liblooms: saves, recovering boots and backups killed
# before every mutating file call, each under both tracking backends.
# CRASH_RUNS sets the number of random kills per backend (default 200).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LOOMS_ROOT=${LOOMS_ROOT:-$ROOT}
LOOMS_LIB_DIR=${LOOMS_LIB_DIR:-$ROOT/target/release}
OUT=$ROOT/target/crash-tests

if [ ! -e "$LOOMS_LIB_DIR/liblooms.so" ]; then
    echo "FAIL: crash/build"
    echo "    $LOOMS_LIB_DIR/liblooms.so is missing: run make lib"
    exit 1
fi
if ! make -s -C c-tests/crash ROOT="$LOOMS_ROOT" LIB_DIR="$LOOMS_LIB_DIR" OUT="$OUT" \
    >"$OUT.build.log" 2>&1; then
    echo "FAIL: crash/build"
    sed 's/^/    /' "$OUT.build.log" | head -n 40
    exit 1
fi
rm -f "$OUT.build.log"

W=$(mktemp -d "${TMPDIR:-/tmp}/looms-crash.XXXXXX")
trap 'rm -rf "$W"' EXIT

failed=0
for backend in mprotect uffd; do
    echo "# tracking: $backend"
    if ! LOOMS_TRACKING=$backend "$OUT/crashtest" -w "$W" points \
        | sed "s/^\(PASS\|FAIL\|SKIP\): crash\//\1: crash\/$backend\//"; then
        failed=1
    fi
done
exit $failed
