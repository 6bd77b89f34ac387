#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed".
#
# Protocol: each suite prints one line per test, "PASS: name", "FAIL: name"
# or "SKIP: name (why)"; cargo's own "test result:" lines are added in.
#
# Before that line, a table: each suite's time, counts and what it wrote to
# disk (the kernel's write_bytes for this shell and every process it waited
# for, from /proc/self/io; "kept" leaves out what was deleted before it was
# written back). CHECK_SUITES=PATTERN runs only the suites whose file name
# matches (a shell glob, e.g. '4*'), and no cargo tests unless it matches
# "unit".
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
one=$(mktemp)
table=$(mktemp)
trap 'rm -f "$log" "$one" "$table"' EXIT
only=${CHECK_SUITES:-*}

# io FIELD: this shell's FIELD from /proc/self/io, children it reaped
# included; 0 where the kernel does not say.
io() { awk -v f="$1:" '$1 == f {print $2; found=1} END {if (!found) print 0}' /proc/$$/io 2>/dev/null || echo 0; }
mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }
now() { date +%s.%N; }
# counts FILE: "PASSED FAILED SKIPPED" of the lines in FILE, cargo's own
# "test result:" lines added in.
counts() {
    local p f s tp tf
    p=$(grep -c '^PASS: ' "$1")
    f=$(grep -c '^FAIL: ' "$1")
    s=$(grep -c '^SKIP: ' "$1")
    while read -r tp tf; do
        p=$((p + tp)); f=$((f + tf))
    done < <(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$1")
    echo "$p $f $s"
}

suite() {
    local name=$1 start w0 c0 rc
    shift
    echo "== $name"
    start=$(now)
    w0=$(io write_bytes)
    c0=$(io cancelled_write_bytes)
    "$@" 2>&1 | tee "$one"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: suite '$*' exited $rc" | tee -a "$one"
    fi
    local secs written cancelled p f s
    secs=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
    written=$(( $(io write_bytes) - w0 ))
    cancelled=$(( $(io cancelled_write_bytes) - c0 ))
    read -r p f s < <(counts "$one")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$p" "$f" "$s" \
        "$(mib "$written")" "$(mib $((written - cancelled)))" >>"$table"
    echo "-- $name: ${secs}s, $p passed, $f failed, $s skipped, $(mib "$written") MiB written"
    cat "$one" >>"$log"
}

# shellcheck disable=SC2053
[[ unit == $only ]] && suite "unit" cargo test --release --lib
for s in scripts/suites/*.sh; do
    base=$(basename "$s" .sh)
    [[ -e "$s" && $base == $only ]] && suite "$base" bash "$s"
done

read -r passed failed skipped < <(counts "$log")
echo
[ "$skipped" -gt 0 ] && grep '^SKIP: ' "$log"
echo
awk -F'\t' '
    BEGIN { printf "%-26s %7s %6s %6s %6s %11s %9s\n", "suite", "time", "pass", "fail", "skip", "written", "kept" }
    { printf "%-26s %6ds %6d %6d %6d %7d MiB %5d MiB\n", $1, $2, $3, $4, $5, $6, $7
      t += $2; p += $3; f += $4; s += $5; w += $6; k += $7 }
    END { printf "%-26s %6ds %6d %6d %6d %7d MiB %5d MiB\n", "total", t, p, f, s, w, k }' "$table"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
