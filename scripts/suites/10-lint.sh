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

# The operating system is met in src/sys only (README "Platforms"): no
# `libc::` anywhere else, and no platform `cfg` outside a test module (a
# file's `#[cfg(test)]` section at its end). The command (src/bin) is
# POSIX-only and may name std's Unix extensions, not libc.
sys_seam() {
    local found
    found=$(grep -rn 'libc::' src --include='*.rs' | grep -v '^src/sys/' || true)
    found+=$'\n'$(find src -name '*.rs' -not -path 'src/sys/*' -print0 |
        xargs -0 awk '/^#\[cfg\(test\)\]/ { nextfile }
            /cfg!?\((all\(|any\(|not\()*(target_os|target_env|target_family|windows|unix)/ {
                print FILENAME ":" FNR ": " $0 }')
    found=$(printf '%s\n' "$found" | sed '/^$/d')
    if [ -n "$found" ]; then
        echo "system calls or platform cfg outside src/sys:"
        echo "$found"
        return 1
    fi
}

check sys_seam sys_seam
check rustfmt cargo fmt --check -- --color never
check rustfmt_layout_check cargo fmt --check --manifest-path layout-check/Cargo.toml -- --color never
clippy clippy --all-targets
clippy clippy_cli --all-targets --features cli
# The Windows port (src/sys/windows.rs) is linted where its target is
# installed (make check's Windows suite needs it; .ci/run adds it).
if rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
    clippy clippy_windows --all-targets --target x86_64-pc-windows-gnu
else
    echo "SKIP: lint/clippy_windows (rustup target add x86_64-pc-windows-gnu)"
fi
clippy clippy_layout_check --manifest-path layout-check/Cargo.toml --target-dir target/layout-check

exit $failed
