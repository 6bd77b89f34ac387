#!/usr/bin/env bash
# The core scenarios through a host that installs its fault handler with
# libsigsegv's sigsegv_install_handler, as the runtime does.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s -C c-tests/host >/dev/null || { echo "FAIL: sigsegv/build"; exit 1; }
BIN=$PWD/target/c-tests/scenario-sigsegv
if [ ! -x "$BIN" ]; then
    echo "SKIP: sigsegv/host (libsigsegv-dev not installed; .ci/run installs it)"
    exit 0
fi
SCENARIO_BIN=$BIN SCENARIO_TAG=sigsegv \
    SCENARIO_ONLY="new_pier roundtrip fault_per_clean_page shrink free_pages patch_valid guard ward toss yolo_foul backup no_demand swap bail_guard boot_busy" \
    exec bash scripts/suites/20-scenarios.sh
