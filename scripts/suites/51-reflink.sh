#!/usr/bin/env bash
# Saves and backups on file systems that share blocks between files (xfs,
# btrfs, loop-mounted from a sparse file in /dev/shm): the image takes the
# patch's pages by FICLONERANGE and a backup copies by copy_file_range.
#   - the shared path is taken: a save's verbose line says the image took
#     its pages from the patch and wrote none (synchronous and background
#     saves), and a backup's extents are shared with the image (filefrag);
#   - the files are byte for byte those of the write path (LOOMS_REFLINK=0);
#   - crash safety: a kill before every file call of a save and of a
#     backup (c-tests/crash points), random kills, and a kill before every
#     call of a background save's worker; every boot finds one whole
#     snapshot.
# Needs root (mount, losetup) and mkfs.xfs / mkfs.btrfs; says SKIP without.
#
# REFLINK_SOAK=1 (the default at the soak tier, `make soak`): the whole crash suite (50-crash.sh, with
# CRASH_RUNS random kills, default 1000) on each file system instead of
# the slice.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
REFLINK_SOAK=${REFLINK_SOAK:-$(tier 0 1)}
ROOT=$PWD
LIB=${LOOMS_LIB_DIR:-$ROOT/target/release}
CT=$ROOT/target/c-tests
CR=$ROOT/target/crash-tests
# shellcheck source=scripts/loopfs.sh
. scripts/loopfs.sh
W=$(mktemp -d /tmp/looms-reflink.XXXXXX)
trap 'loopfs_cleanup; rm -rf "$W"' EXIT
failed=0

if ! make -s -C c-tests/host OUT="$CT" >"$W/build.log" 2>&1 ||
    ! make -s -C c-tests/crash ROOT="$ROOT" LIB_DIR="$LIB" OUT="$CR" >>"$W/build.log" 2>&1; then
    echo "FAIL: reflink/build"
    sed 's/^/    /' "$W/build.log" | head -n 30
    exit 1
fi

LOG=$W/log
check() {
    local name=$1
    shift
    : >"$LOG"
    if "$@" >>"$LOG" 2>&1; then
        echo "PASS: reflink/$name"
    else
        echo "FAIL: reflink/$name"
        tail -n 25 "$LOG" | sed 's/^/    /'
        failed=1
    fi
}

# The MiB a verbose save line says the image took from the patch, and wrote.
shared_mib() { sed -n 's/.* \([0-9.]*\) MiB of the image shared with the patch.*/\1/p' "$1"; }
image_mib() { sed -n 's/^loom: save: .*MiB patch, \([0-9.]*\) MiB image).*/\1/p' "$1"; }

# demo -v on the file system: every save shares all its pages and writes
# none to the image; then the same with LOOMS_REFLINK=0 beside it, and the
# two images are the same bytes.
shares_and_matches() {
    local fs=$1 mode=$2 d=$3/demo-$2
    rm -rf "$d" "$d-written"
    LOOMS_SAVE=$mode "$CT/demo" -v "$d" >"$W/shared.out" 2>&1 || { cat "$W/shared.out"; return 1; }
    LOOMS_SAVE=$mode LOOMS_REFLINK=0 "$CT/demo" -v "$d-written" >"$W/written.out" 2>&1 ||
        { cat "$W/written.out"; return 1; }
    grep '^loom: save: ' "$W/shared.out" "$W/written.out"
    local shared image written
    shared=$(shared_mib "$W/shared.out")
    image=$(image_mib "$W/shared.out")
    written=$(shared_mib "$W/written.out")
    [ -n "$shared" ] || { echo "no verbose save line"; return 1; }
    # The first process's saves all print a line; each shares, none writes.
    for s in $shared; do awk -v s="$s" 'BEGIN {exit !(s > 0)}' || { echo "a save shared nothing"; return 1; }; done
    for s in $image $written; do
        [ "$s" = 0.0 ] || { echo "the image was written ($s MiB) where it should not be"; return 1; }
    done
    [ -n "$(image_mib "$W/written.out")" ] || return 1
    awk -v s="$(image_mib "$W/written.out" | head -n 1)" 'BEGIN {exit !(s > 0)}' ||
        { echo "LOOMS_REFLINK=0 did not write the image"; return 1; }
    cmp "$d/.urb/chk/image.bin" "$d-written/.urb/chk/image.bin"
}

# A background save whose pages are stored to while the worker shares
# them: the image holds them as they were at u3e_save (checked by the
# program), and the verbose line says the image took them from the patch.
storm_shares() {
    local d=$1/storm
    rm -rf "$d"
    LOOMS_SAVE=background SCN_FLAGS=verbose "$CT/background" storm "$d" 600 2 0 1000 >"$W/out" 2>&1 ||
        { cat "$W/out"; return 1; }
    cat "$W/out"
    grep -q "every page saved as it was at u3e_save" "$W/out" || return 1
    local shared
    shared=$(shared_mib "$W/out" | head -n 1)
    [ -n "$shared" ] && awk -v s="$shared" 'BEGIN {exit !(s > 0)}'
}

# looms backup on the file system: the copy's extents are the image's
# (filefrag marks them shared), its bytes the same; LOOMS_REFLINK=0 copies
# with no shared extent (the check can fail).
backup_shares() {
    local d=$1/demo-sync
    rm -rf "$1/bak" "$1/bak-written"
    "$LIB/looms" backup "$d" "$1/bak" || return 1
    LOOMS_REFLINK=0 "$LIB/looms" backup "$d" "$1/bak-written" || return 1
    cmp "$d/.urb/chk/image.bin" "$1/bak/image.bin" || return 1
    cmp "$d/.urb/chk/image.bin" "$1/bak-written/image.bin" || return 1
    filefrag -v "$1/bak/image.bin" | tee "$W/frag"
    grep -q shared "$W/frag" || { echo "no shared extent in the backup"; return 1; }
    ! filefrag -v "$1/bak-written/image.bin" | grep -q shared
}

# A kill before every file call of a background save's worker (the clone
# calls among them): the next boot finds the old or the new snapshot.
worker_kills() {
    local d=$1/worker k calls old=0 new=0
    rm -rf "$d"
    LD_PRELOAD=$CR/libcrashio.so CRASHIO_ROOT=$d LOOMS_SAVE=background "$CT/background" end "$d" 48 wait \
        >"$W/out" 2>&1 || { cat "$W/out"; return 1; }
    calls=$(sed -n 's/^worker calls: //p' "$W/out")
    [ "${calls:-0}" -ge 10 ] || { cat "$W/out"; return 1; }
    for k in $(seq 1 "$calls"); do
        rm -rf "$d"
        (LD_PRELOAD=$CR/libcrashio.so CRASHIO_ROOT=$d CRASHIO_KILL_AT=$k LOOMS_SAVE=background \
            "$CT/background" end "$d" 48 wait >"$W/out" 2>&1; exit $?) 2>/dev/null
        [ $? -eq 137 ] || { echo "call $k: not killed"; cat "$W/out"; return 1; }
        "$CT/background" either "$d" 48 >"$W/out" 2>&1 || { echo "call $k:"; cat "$W/out"; return 1; }
        if grep -q "booted the old" "$W/out"; then old=$((old + 1)); else new=$((new + 1)); fi
    done
    echo "$old old, $new new of $calls"
    [ $old -ge 1 ] && [ $new -ge 1 ]
}

# crashtest on the file system, its lines labelled with it.
crash() {
    local fs=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    if ! "$CR/crashtest" -w "$dir" "$@" | sed -u "s#^\(PASS\|FAIL\|SKIP\): crash/#\1: reflink/$fs/crash/#"; then
        failed=1
    fi
}

for fs in xfs btrfs; do
    why=$(loopfs_why_not "$fs")
    if [ -n "$why" ]; then
        echo "SKIP: reflink/$fs ($why)"
        continue
    fi
    M=$W/$fs
    if ! loopfs_mount "$fs" 1024 "$M"; then
        echo "FAIL: reflink/$fs/mount (a loop-mounted $fs could not be made)"
        failed=1
        continue
    fi
    # The crash suite hands some piers to uid 65534: it must reach them.
    chmod 711 "$W" "$M"
    if [ "${REFLINK_SOAK:-0}" = 1 ]; then
        # The whole crash suite, with the pier on this file system.
        if ! TMPDIR=$M LOOMS_SCRATCH=$M CRASH_RUNS=${CRASH_RUNS:-1000} LOOMS_LIB_DIR=$LIB bash scripts/suites/50-crash.sh |
            sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: reflink/$fs/#"; then
            failed=1
        fi
        check "$fs/kill-before-every-worker-call" worker_kills "$M"
    else
        check "$fs/sync-save-shares-and-matches" shares_and_matches "$fs" sync "$M"
        check "$fs/background-save-shares-and-matches" shares_and_matches "$fs" background "$M"
        check "$fs/store-storm-over-a-shared-save" storm_shares "$M"
        check "$fs/backup-shares-and-matches" backup_shares "$M"
        check "$fs/kill-before-every-worker-call" worker_kills "$M"
        crash "$fs" "$M/crash" points=growing-save,backup-new "random=${REFLINK_RUNS:-20}"
    fi
    echo "    $fs on $LOOPFS_DEV"
done
exit $failed
