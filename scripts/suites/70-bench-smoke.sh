#!/usr/bin/env bash
# The benchmark runs end to end at small sizes (BENCH_QUICK=1) and prints a
# well-formed table. Timings are printed, never asserted: what is checked is
# that every row ran, has numbers and a ratio, and that the programs' own
# checks held (stored pages tracked, images equal to the loom). Its
# scratch files are on the scratch file system (scripts/tier.sh): the
# figures are not what is checked here.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh

W=$(mktemp -d "$LOOMS_SCRATCH/looms-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

failed=0
pass() { echo "PASS: bench/$1"; }
fail() {
    echo "FAIL: bench/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}

rc=0
BENCH_QUICK=1 BENCH_DIR="$W/scratch" bash scripts/bench.sh \
    >"$W/out" 2>"$W/err" || rc=$?
if [ "$rc" = 0 ]; then
    pass runs
else
    fail runs "scripts/bench.sh exited $rc:" "$(tail -n 20 "$W/err" "$W/out")"
fi

if grep -q '^targets: [0-9]* met, [0-9]* missed; checks: all passed$' "$W/out"; then
    pass checks_hold
else
    fail checks_hold "$(grep -e '^targets:' "$W/out" || echo 'no summary line')" \
        "$(head -n 20 "$W/err")"
fi

# Rows: "N  label ... median unit  min-max  base letter  ratio  ref  target [met|MISSED]"
rows=$(grep -cE '^[0-9]+ ' "$W/out" || true)
bad=$(grep -E '^[0-9]+ ' "$W/out" |
    grep -vE ' [0-9.]+ (us|ms|MiB) +[0-9.]+-[0-9.]+ +[0-9.]+ [a-o] +[0-9.]+x +([0-9.]+|-) ' || true)
if [ "$rows" -ge 45 ] && [ -z "$bad" ]; then
    pass table_rows_well_formed
else
    fail table_rows_well_formed "$rows rows (want at least 45); malformed:" "$bad"
fi

# Every row with a target says whether it was met.
undecided=$(grep -E '^[0-9]+ .*<=' "$W/out" | grep -vE ' (met|MISSED)$' || true)
with_target=$(grep -cE '^[0-9]+ .*<=' "$W/out" || true)
if [ "$with_target" -ge 6 ] && [ -z "$undecided" ]; then
    pass targets_decided
else
    fail targets_decided "$with_target rows with a target; undecided:" "$undecided"
fi

# make bench-disk's unchanged-pages mode (run there as root on loop-mounted
# file systems) runs here on the scratch file system, no device counted:
# it finds exactly the pages stored to with the bytes they held, and the
# image holds every page after both kinds of save.
line=$("$ROOT/target/bench/looms_bench" unchanged "$W/unchanged" - 512 64 2 150 2>&1 || true)
if grep -q 'pages=64 unchanged=9 .*verified=1$' <<<"$line"; then
    pass unchanged_mode
else
    fail unchanged_mode "looms_bench unchanged: $line"
fi

# Each section the benchmark promises is there, and the scratch filesystem is named.
missing=""
for section in "first store to a clean page" "u3e_save (ms)" "u3e_live (ms)" "u3e_toss (ms)" \
    "harvest and reset at save (ms)" "background saves" "first store after a no_demand boot" \
    "session model (ms)" "session phases" "transparent huge pages after a no_demand boot" \
    "scratch: "; do
    grep -qF -- "$section" "$W/out" || missing="$missing '$section'"
done
if [ -z "$missing" ]; then
    pass sections_present
else
    fail sections_present "missing:$missing"
fi

exit "$failed"
