# What a suite prints and how it judges a step, sourced by the suites that
# use them (scripts/check.sh reads the lines).
#
# With SUITE set: pass NAME, fail NAME [DETAIL...] and fail_with NAME FILE
# print `PASS: SUITE/NAME` or `FAIL: SUITE/NAME` (the details, or the first
# 40 non-blank lines of FILE, indented below it); a FAIL sets failed=1.
#
# For a suite whose `step` runs a program with its output in $W/out and
# the suite's log in $LOG: ok STEP... (exits 0), code CODE STEP... (exits
# CODE), has TEXT and hasnt TEXT (in the output or not); each says in $LOG
# why it failed.

pass() { echo "PASS: $SUITE/$1"; }
fail() {
    echo "FAIL: $SUITE/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}
fail_with() {
    echo "FAIL: $SUITE/$1"
    grep -v '^\s*$' "$2" | head -n 40 | sed 's/^/    /'
    failed=1
}

ok() { step "$@" || { echo "exit $?, expected 0" >>"$LOG"; return 1; }; }
code() {
    local want=$1
    shift
    step "$@"
    local rc=$?
    [ "$rc" -eq "$want" ] || { echo "exit $rc, expected $want" >>"$LOG"; return 1; }
}
has() { LC_ALL=C grep -aqF -- "$1" "$W/out" || { echo "missing output: $1" >>"$LOG"; return 1; }; }
hasnt() { ! LC_ALL=C grep -aqF -- "$1" "$W/out" || { echo "unexpected output: $1" >>"$LOG"; return 1; }; }
