#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed".
#
# Protocol: each suite prints one line per test, "PASS: name", "FAIL: name"
# or "SKIP: name (why)"; cargo's own "test result:" lines are added in, and
# its ignored tests are skips too.
#
# Before that line: every SKIP of the run with its reason; a table of each
# suite's time, counts and what it wrote to disk (the kernel's write_bytes
# for this shell and every process it waited for, from /proc/self/io;
# "kept" leaves out what was deleted before it was written back); and the
# budget line, the run's wall-clock time and kept bytes against make
# check's budget (10 minutes, 5 GiB on two cores).
#
# LOOMS_TIER=check (default) or soak: how much each suite runs
# (scripts/tier.sh; `make soak` sets soak).
# CHECK_SUITES="PATTERN..." runs only the suites whose file name matches one
# of the shell globs (e.g. '4*' or '20-* 50-*'), and no cargo tests unless
# one matches "unit".
# CHECK_SUITE_TIMEOUT: seconds a suite may run before it is killed and
# fails (default 1200 at the check tier, none at the soak tier; 0: none).
set -u
cd "$(dirname "$0")/.."
. scripts/tier.sh
log=$(mktemp)
one=$(mktemp)
table=$(mktemp)
trap 'rm -f "$log" "$one" "$table"' EXIT
only=${CHECK_SUITES:-*}
limit=${CHECK_SUITE_TIMEOUT:-$(tier 1200 0)}
# timeout puts a suite in a process group of its own, all of which it
# kills when time runs out; from a terminal the suite stays in the
# terminal's group (--foreground), so that Ctrl-C reaches it, and only its
# shell is killed.
fg=()
[ -t 0 ] && fg=(--foreground)
started=$(date +%s.%N)
# wanted NAME: NAME matches one of CHECK_SUITES's patterns.
wanted() {
    local pattern patterns
    read -r -a patterns <<<"$only"
    for pattern in "${patterns[@]}"; do
        # shellcheck disable=SC2053
        [[ $1 == $pattern ]] && return 0
    done
    return 1
}

# io FIELD: this shell's FIELD from /proc/self/io, children it reaped
# included; 0 where the kernel does not say.
io() { awk -v f="$1:" '$1 == f {print $2; found=1} END {if (!found) print 0}' /proc/$$/io 2>/dev/null || echo 0; }
# cpu: CPU seconds (user and system) of the children this shell reaped,
# from /proc/self/stat: a figure that a busy machine inflates less than
# the wall clock.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($16 + $17) / hz}' /proc/$$/stat 2>/dev/null || echo 0; }
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
    local name=$1 start w0 c0 u0 rc
    shift
    echo "== $name"
    start=$(now)
    w0=$(io write_bytes)
    c0=$(io cancelled_write_bytes)
    u0=$(cpu)
    if [ "$limit" -gt 0 ]; then
        timeout ${fg[@]+"${fg[@]}"} -k 10 "$limit" "$@" </dev/null 2>&1 | tee "$one"
    else
        "$@" </dev/null 2>&1 | tee "$one"
    fi
    rc=${PIPESTATUS[0]}
    if [ "$limit" -gt 0 ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
        echo "FAIL: $name (still running after ${limit}s: killed; CHECK_SUITE_TIMEOUT)" | tee -a "$one"
    elif [ "$rc" -ne 0 ]; then
        echo "FAIL: suite '$*' exited $rc" | tee -a "$one"
    fi
    local secs used written cancelled p f s
    secs=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
    used=$(awk -v a="$u0" -v b="$(cpu)" 'BEGIN {printf "%.0f", b - a}')
    written=$(( $(io write_bytes) - w0 ))
    cancelled=$(( $(io cancelled_write_bytes) - c0 ))
    read -r p f s < <(counts "$one")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$p" "$f" "$s" \
        "$(mib "$written")" "$(mib $((written - cancelled)))" "$used" >>"$table"
    echo "-- $name: ${secs}s, $p passed, $f failed, $s skipped, $(mib "$written") MiB written"
    cat "$one" >>"$log"
}

# The unit tests, an ignored one a SKIP with cargo's reason.
unit_tests() {
    cargo test --release --lib 2>&1 |
        sed -u 's/^test \(.*\) \.\.\. ignored, \(.*\)$/SKIP: unit\/\1 (\2)/
                s/^test \(.*\) \.\.\. ignored$/SKIP: unit\/\1 (ignored)/'
    return "${PIPESTATUS[0]}"
}
export -f unit_tests
echo "tier: $LOOMS_TIER; scratch piers: $LOOMS_SCRATCH"
wanted unit && suite "unit" bash -c unit_tests
for s in scripts/suites/*.sh; do
    base=$(basename "$s" .sh)
    [ -e "$s" ] && wanted "$base" && suite "$base" bash "$s"
done

read -r passed failed skipped < <(counts "$log")
echo
if [ "$skipped" -gt 0 ]; then
    echo "$skipped skipped, each with its reason (docs/TESTING.md lists them all):"
    grep '^SKIP: ' "$log"
    echo
fi
awk -F'\t' '
    BEGIN { printf "%-26s %7s %7s %6s %6s %6s %11s %9s\n", "suite", "time", "cpu", "pass", "fail", "skip", "written", "kept" }
    { printf "%-26s %6ds %6ds %6d %6d %6d %7d MiB %5d MiB\n", $1, $2, $8, $3, $4, $5, $6, $7
      t += $2; u += $8; p += $3; f += $4; s += $5; w += $6; k += $7 }
    END { printf "%-26s %6ds %6ds %6d %6d %6d %7d MiB %5d MiB\n", "total", t, u, p, f, s, w, k }' "$table"
# The budget: wall-clock time from the first suite to the last, and the
# table's kept total.
awk -F'\t' -v a="$started" -v b="$(date +%s.%N)" -v tier="$LOOMS_TIER" -v only="$only" '
    { k += $7 }
    END {
        t = b - a
        what = only == "*" ? "make check" : "CHECK_SUITES=" only
        if (tier == "soak") {
            printf "soak: %dm%02ds, %.1f GiB kept (%s at the soak tier; no budget)\n", t / 60, t % 60, k / 1024, what
        } else {
            verdict = (t <= 600 && k <= 5120) ? "within budget" : "OVER BUDGET"
            if (t > 600) verdict = verdict ": time"
            if (k > 5120) verdict = verdict (t > 600 ? " and" : ":") " bytes"
            if (only != "*") verdict = "a part only; the budget is for the whole run"
            printf "budget: %dm%02ds of 10m, %.1f GiB of 5 GiB kept (%s): %s\n", t / 60, t % 60, k / 1024, what, verdict
        }
    }' "$table"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
