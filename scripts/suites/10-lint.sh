#!/usr/bin/env bash
# Formatting and lints: rustfmt over the library, the command and the
# layout check; clippy with warnings as errors over every target, with and
# without the command's feature, and over the layout check.
set -euo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0

# check NAME COMMAND...: PASS when COMMAND succeeds, else FAIL with its output.
check() {
    local name=$1
    shift
    if "$@" >"$log" 2>&1; then
        echo "PASS: lint/$name"
    else
        echo "FAIL: lint/$name"
        grep -v '^\s*$' "$log" | head -n 60 | sed 's/^/    /'
        failed=1
    fi
}

check rustfmt cargo fmt --check -- --color never
check rustfmt_layout_check cargo fmt --check --manifest-path layout-check/Cargo.toml -- --color never
check clippy cargo clippy --quiet --release --all-targets -- -D warnings
check clippy_cli cargo clippy --quiet --release --all-targets --features cli -- -D warnings
check clippy_layout_check cargo clippy --quiet --release --manifest-path layout-check/Cargo.toml \
    --target-dir target/layout-check -- -D warnings

exit $failed
