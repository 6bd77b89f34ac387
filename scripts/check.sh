#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed".
#
# Protocol: each suite prints one line per test, "PASS: name", "FAIL: name"
# or "SKIP: name (why)"; cargo's own "test result:" lines are added in.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

suite() {
    echo "== $1"
    shift
    "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: suite '$*' exited $rc" | tee -a "$log"
    fi
}

suite "rust unit and property tests" cargo test --release --lib
for s in scripts/suites/*.sh; do
    [ -e "$s" ] && suite "$(basename "$s" .sh)" bash "$s"
done

passed=$(grep -c '^PASS: ' "$log")
failed=$(grep -c '^FAIL: ' "$log")
skipped=$(grep -c '^SKIP: ' "$log")
while read -r p f; do
    passed=$((passed + p)); failed=$((failed + f))
done < <(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log")
echo
[ "$skipped" -gt 0 ] && grep '^SKIP: ' "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
