#!/usr/bin/env bash
# A bounded fuzzing run of the control-block, patch and image-size checks:
# LOOMS_FUZZ_SECONDS of fuzzing (default 30, at the soak tier 600), the
# whole run, its build included, killed (a FAIL) 15 minutes after that.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
seconds=${LOOMS_FUZZ_SECONDS:-$(tier 30 600)}
if ! cargo fuzz --version >/dev/null 2>&1; then
    # A fresh machine: build cargo-fuzz into target/tools, once.
    tools=$PWD/target/tools
    export PATH=$tools/bin:$PATH
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "installing cargo-fuzz into $tools (once)" >&2
        cargo install --quiet --locked --root "$tools" cargo-fuzz >&2 || true
    fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "SKIP: fuzz patch parsing (cargo-fuzz could not be installed: cargo install cargo-fuzz)"
    exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if (cd fuzz && RUSTC_BOOTSTRAP=1 timeout -k 10 $((seconds + 900)) \
    cargo fuzz run patch -- -max_total_time="$seconds") >"$log" 2>&1; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    echo "PASS: fuzz patch parsing (${runs:-?} runs in ${seconds}s, no crash)"
else
    echo "FAIL: fuzz patch parsing"
    grep -E "panicked|ERROR|SUMMARY|Test unit" "$log" | head -20
    exit 1
fi
