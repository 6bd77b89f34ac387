# The test tiers, sourced by scripts/check.sh and by the suites.
#
#   LOOMS_TIER=check  (default; `make check`) every suite's representative
#                     slice: each class of test once, in a few minutes and a
#                     few GiB (docs/TESTING.md has the figures).
#   LOOMS_TIER=soak   (`make soak`) the sweeps as well: every size, granule,
#                     boot mode and tracking backend, the emulated targets in
#                     full, and thousands of random kills.
#
# A suite reads the tier through `tier CHECK SOAK` (the value for this
# tier) or `soak` (true at the soak tier) and leaves the rest as it was.
#
# LOOMS_SCRATCH: where tests put piers whose disk is not what they test
# (kills of a process, interposed crash points, scenarios): default
# /dev/shm when it is a writable memory file system with 2 GiB free, else
# ${TMPDIR:-/tmp}. Tests of durability, free space and direct I/O keep
# their piers on a disk of their own choosing.
LOOMS_TIER=${LOOMS_TIER:-check}
case $LOOMS_TIER in
check | soak) ;;
*)
    echo "LOOMS_TIER=$LOOMS_TIER is not check or soak" >&2
    exit 2
    ;;
esac
export LOOMS_TIER

# tier CHECK SOAK: CHECK at the check tier, SOAK at the soak tier.
tier() { if [ "$LOOMS_TIER" = soak ]; then echo "$2"; else echo "$1"; fi; }
soak() { [ "$LOOMS_TIER" = soak ]; }

if [ -z "${LOOMS_SCRATCH:-}" ]; then
    LOOMS_SCRATCH=${TMPDIR:-/tmp}
    if [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
        [ "$(df -P -k /dev/shm 2>/dev/null | awk 'NR == 2 {print int($4 / 1048576)}')" -ge 2 ]; then
        LOOMS_SCRATCH=/dev/shm
    fi
fi
export LOOMS_SCRATCH

# need_rust_targets TARGET...: adds to the suite's `missing` list each Rust
# target that rustup has not installed (nothing where there is no rustup).
need_rust_targets() {
    command -v rustup >/dev/null 2>&1 || return 0
    local installed t
    installed=$(rustup target list --installed 2>/dev/null)
    for t in "$@"; do
        grep -qx "$t" <<<"$installed" || missing+=("the Rust target $t (rustup target add $t)")
    done
}

# tools_or_skip NAME: where the suite's `missing` list names anything, the
# suite ends: a FAIL under CI (CI=true: .ci/run installs them), else one
# SKIP saying what is missing.
tools_or_skip() {
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $1/tools"
        echo "    missing: ${missing[*]}"
        exit 1
    fi
    echo "SKIP: $1/all (missing: ${missing[*]})"
    exit 0
}
