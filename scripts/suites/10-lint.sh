#!/usr/bin/env bash
# Formatting and lints: rustfmt over the library, the command and the
# layout check; clippy over every target, with and without the command's
# feature, and over the layout check.
#
# Lints decide only on the pinned toolchain (LINT_RUST): every new Rust
# release adds lints, and a newer compiler must not fail the check with no
# change to the code. There clippy runs with warnings as errors (PASS or
# FAIL); on any other version its findings are shown and the test is a SKIP
# naming both versions. A clippy that cannot build the code is a FAIL
# everywhere; so is a rustfmt difference (rustfmt's output for stable
# code does not change between releases).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The Rust release the code is kept lint-clean on: move it forward together
# with the fixes a newer clippy asks for.
LINT_RUST=1.95.0

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
rust=$(rustc --version 2>/dev/null | awk '{print $2}')

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

# clippy NAME CARGO-ARGS...: clippy with warnings as errors on LINT_RUST;
# elsewhere the warnings are listed and the test skipped.
clippy() {
    local name=$1
    shift
    if [ "$rust" = "$LINT_RUST" ]; then
        check "$name" cargo clippy --quiet --release "$@" -- -D warnings
        return
    fi
    if ! cargo clippy --quiet --release "$@" >"$log" 2>&1; then
        echo "FAIL: lint/$name"
        grep -v '^\s*$' "$log" | head -n 60 | sed 's/^/    /'
        failed=1
        return
    fi
    local found
    found=$(grep -c '^warning: ' "$log" || true)
    if [ "$found" -gt 0 ]; then
        grep -v '^\s*$' "$log" | head -n 40 | sed 's/^/    /'
    fi
    echo "SKIP: lint/$name (rustc ${rust:-unknown}, lints decide on $LINT_RUST only: $found warnings shown, not counted)"
}

check rustfmt cargo fmt --check -- --color never
check rustfmt_layout_check cargo fmt --check --manifest-path layout-check/Cargo.toml -- --color never
clippy clippy --all-targets
clippy clippy_cli --all-targets --features cli
clippy clippy_layout_check --manifest-path layout-check/Cargo.toml --target-dir target/layout-check

exit $failed
