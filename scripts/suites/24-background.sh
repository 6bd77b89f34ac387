#!/usr/bin/env bash
# Background saves (LOOMS_SAVE=background), through c-tests/host/background.c:
# stores to the pages of a save while the worker writes them (every byte
# checked), store storms that meet the worker at every stage (a slow disk
# from the crash interposer; the image compared byte for byte with a copy
# taken at u3e_save) in every boot mode under both tracking backends, saves
# back to back, a backup and a stop right after a save, u3e_live again in
# one process, an image that ends inside a granule, a signal handler that
# stores while the runtime saves or waits, the synchronous fall-backs (no
# threads, an unknown mode), a worker that finds no space; and, with the
# crash interposer (c-tests/crash/crashio.c), an I/O error and a kill before
# every file call of the worker, random kills during and right after
# u3e_save, _exit and exit() right after it. Every boot after a crash must
# find exactly the old or exactly the new snapshot.
#
# CRASH_RUNS: random kills (default 40; at the soak tier 10,000).
# SIGNAL_ROUNDS: saves under the storing signal handler (default 300; at
# the soak tier 5,000).
#
# The tiers (scripts/tier.sh): the check tier starts the store storms at
# three moments of the save (the soak tier at five) and leaves the store
# storm over 1 GiB, a test of direct writes to a disk, to the soak tier.
# Piers are on the scratch file system (memory where it can be): the
# crashes here are processes killed, the slow disk is the interposer's;
# the 1 GiB storm's pier is on target/.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh
OUT=$ROOT/target/c-tests
make -s -C c-tests/host >/dev/null || { echo "FAIL: background/build"; exit 1; }
make -s -C c-tests/crash OUT="$ROOT/target/crash-tests" "$ROOT/target/crash-tests/libcrashio.so" \
    >/dev/null || { echo "FAIL: background/build"; exit 1; }
BIN=$OUT/background
CIO=$ROOT/target/crash-tests/libcrashio.so
RUNS=${CRASH_RUNS:-$(tier 40 10000)}
SIGNAL_ROUNDS=${SIGNAL_ROUNDS:-$(tier 300 5000)}
W=$(mktemp -d "$LOOMS_SCRATCH/looms-bg.XXXXXX")
# Piers of the steps whose saves are many and small: on tmpfs.
M=$(mktemp -d /dev/shm/looms-bg.XXXXXX)
trap 'rm -rf "$W" "$M"' EXIT
P=$W/p
Q=$M/p
LOG=$W/log
export LOOMS_SAVE=background
failed=0

# step [env...] -- ARGS: one step; its output goes to $W/out and $LOG.
step() {
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ ${envs[*]} $*" >>"$LOG"
    # The subshell keeps the shell's word on a killed child off the output.
    (env "${envs[@]}" "$BIN" "$@" >"$W/out" 2>&1; exit $?) 2>/dev/null
    local rc=$?
    cat "$W/out" >>"$LOG"
    return $rc
}
has() { grep -qF -- "$1" "$W/out" || { echo "missing output: $1" >>"$LOG"; return 1; }; }
run() {
    local name=$1; shift
    : >"$LOG"
    rm -rf "$P"
    if "$@"; then
        echo "PASS: background/$name"
    else
        echo "FAIL: background/$name"
        tail -n 25 "$LOG" | sed 's/^/    /'
        failed=1
    fi
}

# ---- in one process ---------------------------------------------------------------
stores() {
    local track=$1 flags=$2 faults=$3
    step LOOMS_TRACKING="$track" SCN_FLAGS="$flags" SCN_FAULTS="$faults" -- stores "$P" 300
}
# A first store to a page of the save faults once under either backend
# (under uffd the save's pages are read-only until the barrier).
for track in mprotect uffd; do
    faults=300
    run "stores-while-writing [$track]" stores $track "" $faults
    run "stores-while-writing no_demand [$track]" stores $track no_demand $faults
    run "back-to-back [$track]" step LOOMS_TRACKING=$track -- backtoback "$P" 200
    run "backup-right-after [$track]" step LOOMS_TRACKING=$track -- backup "$P" 64
    run "stop-then-live-again [$track]" step LOOMS_TRACKING=$track -- stop_live "$P" 64
done
run "stores-while-writing swap" stores mprotect swap 300
# Tracking stays exact across a background save (the disk slowed so that
# the first checks run while the worker writes; "quiet": no harvest until
# it is done): the pages stored to are dirty, no others; under
# userfaultfd later first stores take no fault.
exact() {
    local track=$1 flags=$2 how
    for how in "" quiet; do
        rm -rf "$P"
        step "LD_PRELOAD=$CIO" CRASHIO_ROOT="$P" CRASHIO_DELAY_US=3000 LOOMS_TRACKING="$track" \
            SCN_FLAGS="$flags" -- exact "$P" 1200 $how &&
            has "exact tracking across a background save" || return 1
    done
}
for track in mprotect uffd; do
    run "exact-tracking [$track]" exact $track ""
    run "exact-tracking no_demand [$track]" exact $track no_demand
done
run "exact-tracking swap" exact mprotect swap
# Granules of 16, 32 and 64 KiB (LOOMS_TEST_GRANULE, as on kernels with
# larger pages): a save shrinks the image so that it ends inside a granule
# whose pages were clean; stores to that last granule, during the save and
# after its barrier, are in the next save. Both kinds of save, every boot
# mode, both backends.
granule_tail() {
    local flags=$1 track=$2 granule save
    for granule in 16384 32768 65536; do
        for save in sync background; do
            rm -rf "$Q"
            step LOOMS_TEST_GRANULE=$granule LOOMS_SAVE=$save LOOMS_TRACKING="$track" \
                SCN_FLAGS="$flags" -- granule_tail "$Q" 16 &&
                has "ends inside a granule of $((granule / 16384)) pages keeps every store" ||
                { echo "granule $granule, $save save" >>"$LOG"; return 1; }
        done
    done
}
for track in mprotect uffd; do
    run "stores-to-a-last-partial-granule [$track]" granule_tail "" $track
    run "stores-to-a-last-partial-granule no_demand [$track]" granule_tail no_demand $track
done
run "stores-to-a-last-partial-granule swap" granule_tail swap mprotect
# A signal handler stores to the loom (a 50 us timer) while the runtime's
# thread waits in looms_save_wait, or is inside u3e_save, 300 saves in a
# row (SIGNAL_ROUNDS): the loom and the image hold every store the handler
# made.
signal_store() {
    local flags=$1 track=$2 save where
    for save in background sync; do
        for where in wait save; do
            rm -rf "$Q"
            step LOOMS_SAVE=$save LOOMS_TRACKING="$track" SCN_FLAGS="$flags" -- \
                signal_store "$Q" "$SIGNAL_ROUNDS" $where && has "every one saved" ||
                { echo "$save save, handler in $where" >>"$LOG"; return 1; }
        done
    done
}
for track in mprotect uffd; do
    run "signal-handler-stores [$track]" signal_store "" $track
    run "signal-handler-stores no_demand [$track]" signal_store no_demand $track
done
run "signal-handler-stores swap" signal_store swap mprotect
# A background save ends at the kernel's mapping limit, with 0 to 8
# mappings to spare: its copies are moved out to be freed where the kernel
# lets it (mremap wants four spare), mapped over in place where not, and
# the image, the loom and the next save hold what they must.
maplimit_end() {
    local track=$1 spare
    for spare in 0 2 4 6 8; do
        rm -rf "$P"
        step LOOMS_TRACKING="$track" -- maplimit_end "$P" 256 $spare &&
            has "a background save ended at the mapping limit" || return 1
    done
}
for track in mprotect uffd; do
    run "end-at-the-mapping-limit [$track]" maplimit_end $track
done
# A background save of a fresh process started at the kernel's mapping
# limit, 0 to 6 mappings to spare: its worker's thread is refused, or
# starts and finds no memory arena of its own (the C library can map
# nothing more for it), or gets one; with and without first stores at the
# limit while the save is pending. Nothing aborts, the save holds the
# pages as they were at u3e_save and the next one every store.
maplimit_save() {
    local track=$1 flags=$2 spare how spares
    for how in still stores; do
        spares="0 1 2 3 4 5 6"
        [ $how = stores ] && spares="0 4"
        for spare in $spares; do
            rm -rf "$Q"
            step LOOMS_TRACKING="$track" SCN_FLAGS="$flags" -- maplimit_save "$Q" 64 0 &&
                step LOOMS_TRACKING="$track" SCN_FLAGS="$flags" -- maplimit_save "$Q" 64 $spare $how &&
                has "a background save at the mapping limit" ||
                { echo "$spare spare, $how" >>"$LOG"; return 1; }
        done
    done
}
# One mapping past the limit (the kernel then refuses every mmap, even one
# that replaces others) while a background save is pending: first stores
# to a page of the save and to a clean one widen; in swap mode the run
# around the first is moved onto the ephemeral file without ever leaving
# a hole in the loom (unmapping it first would not lower the count). Both
# kinds of save; the synchronous one's own remaps and threads meet the
# limit too.
maplimit_hole() {
    local track=$1 flags=$2 save
    for save in background sync; do
        rm -rf "$Q"
        step LOOMS_SAVE=$save LOOMS_TRACKING="$track" SCN_FLAGS="$flags" -- maplimit_hole "$Q" 256 &&
            has "no hole" || { echo "$save save" >>"$LOG"; return 1; }
    done
}
for track in mprotect uffd; do
    run "start-at-the-mapping-limit [$track]" maplimit_save $track ""
    run "start-at-the-mapping-limit no_demand [$track]" maplimit_save $track no_demand
    run "past-the-mapping-limit [$track]" maplimit_hole $track ""
    run "past-the-mapping-limit no_demand [$track]" maplimit_hole $track no_demand
done
run "start-at-the-mapping-limit swap" maplimit_save mprotect swap
run "past-the-mapping-limit swap" maplimit_hole mprotect swap
# Store storms: N pages of varied bytes, every one rewritten twice while
# the worker writes them, the storm starting at once, a while after
# u3e_save (the worker in the patch, or between the passes) and late (the
# image written); the disk slowed to 3 ms a write so the storm meets the
# worker's batches. Each run checks every byte of both saves; the copied
# counts (verbose) go to the log.
storm() {
    local track=$1 flags=$2 d copied=""
    for d in $(tier "0 200000 600000" "0 100000 200000 300000 600000"); do
        rm -rf "$P"
        step "LD_PRELOAD=$CIO" CRASHIO_ARM=1 CRASHIO_ROOT="$P" CRASHIO_DELAY_US=3000 \
            LOOMS_TRACKING="$track" SCN_FLAGS="verbose${flags:+,$flags}" -- storm "$P" 1200 2 $d 3000 ||
            return 1
        has "every page saved as it was at u3e_save" || return 1
        copied="$copied $(sed -n 's/^loom: save: \([0-9]*\) of 1200 pages copied.*/\1/p' "$W/out" | head -n 1)"
    done
    echo "pages copied, by start of the storm:$copied" >>"$LOG"
}
for track in mprotect uffd; do
    run "store-storm [$track]" storm $track ""
    run "store-storm no_demand [$track]" storm $track no_demand
done
run "store-storm swap" storm mprotect swap
# The runtime's other calls while the worker writes a save whose pages it
# is storing to (the disk slowed): u3e_toss and u3e_ward (no barrier),
# u3e_yolo then u3e_foul, a second u3e_save, the heap shrinking below the
# pages being written (the guard moved onto them, then u3e_toss drops
# them), u3e_stop (barriers). The
# image holds the pages as they were at u3e_save, byte for byte; the loom,
# and the next save, every store.
during() {
    local track=$1 flags=$2 op
    for op in toss ward yolo_foul save shrink stop; do
        rm -rf "$P" "$P.copy"
        step "LD_PRELOAD=$CIO" CRASHIO_ROOT="$P" CRASHIO_DELAY_US=3000 LOOMS_TRACKING="$track" \
            SCN_FLAGS="$flags" -- during "$P" 600 $op || return 1
        has "during the save: every page saved as it was at u3e_save" || return 1
    done
}
for track in mprotect uffd; do
    run "calls-during-a-save [$track]" during $track ""
    run "calls-during-a-save no_demand [$track]" during $track no_demand
done
run "calls-during-a-save swap" during mprotect swap
# The process ends while the worker writes and the runtime stores: exit()
# (the atexit handler waits: the new snapshot, as at u3e_save), _exit and
# SIGKILL at random moments (the old snapshot or the new one, whole).
ends_during() {
    local track=$1 i how
    for i in $(seq 1 12); do
        case $i in
            1 | 2) how=exit ;;
            3 | 4) how=_exit ;;
            *) how=kill:$((RANDOM % 400000)) ;;
        esac
        rm -rf "$P" "$P.copy"
        step LOOMS_TRACKING="$track" -- during "$P" 600 $how
        case $how in
            exit) step -- same "$P" 600 || return 1 ;;
            *) step -- same "$P" 600 old || { echo "$how" >>"$LOG"; return 1; } ;;
        esac
    done
}
for track in mprotect uffd; do
    run "process-ends-during-a-save [$track]" ends_during $track
done
rm -f "$P.copy"
# A save of every page of a 200 MiB loom is a background one too: no bound.
big_save() {
    step SCN_WORDS=$((1 << 28)) SCN_FLAGS=verbose LOOMS_SAVE_MEMORY=65536 -- storm "$P" 12800 1 &&
        has "loom: LOOMS_SAVE_MEMORY no longer applies" && ! grep -q "saving synchronously" "$W/out" &&
        grep -q "^loom: save: [0-9]* of 12800 pages copied while being written" "$W/out"
}
run "no-size-bound (12800 pages)" big_save
# Over 1 GiB the worker writes memory.bin with direct I/O (below it,
# through the page cache): a storm over such a save, started a second in,
# so that some pages are written from the loom and most from their copies.
big_direct() {
    local disk
    disk=$(mktemp -d "$ROOT/target/looms-bg-direct.XXXXXX") || return 1
    step SCN_WORDS=$((1 << 29)) SCN_FLAGS=verbose -- storm "$disk/p" 66000 1 1000000 &&
        has "every page saved as it was at u3e_save"
    local rc=$?
    rm -rf "$disk"
    return $rc
}
if soak; then
    run "store-storm over 1 GiB (direct writes)" big_direct
fi
verbose_says() { step SCN_FLAGS=verbose -- backtoback "$P" 8 && has "loom: saves: background (copy-on-write)"; }
run verbose-says-the-mode verbose_says
no_thread() { step "LD_PRELOAD=$OUT/libnothread.so" -- sync "$P" 100 && has "nothread: pthread_create refused"; }
run no-thread-saves-synchronously no_thread
unknown_mode() {
    step LOOMS_SAVE=later -- sync "$P" 16 && has "loom: LOOMS_SAVE=later is not sync or background; using sync" &&
        [ "$(grep -c 'LOOMS_SAVE=' "$W/out")" -eq 1 ]
}
run unknown-mode-is-sync unknown_mode
non_utf8_mode() {
    step "LOOMS_SAVE=$(printf 'back\377')" -- sync "$P" 16 &&
        grep -q "$(printf 'loom: LOOMS_SAVE=back\377 is not sync or background; using sync')" "$W/out"
}
run non-utf8-mode-is-sync non_utf8_mode
no_space() {
    step "LD_PRELOAD=$OUT/libspace.so" SPACE_FREE=1000 -- soft "$P" 100 &&
        has "loom: save: need 4 MiB in $P/.urb/chk, 0 MiB free; nothing written, will retry"
}
run worker-without-space-keeps-the-old-snapshot no_space
# An applied patch that cannot be removed (unlink fails twice): the worker
# says so and the next save, on the worker again, retries, as in sync mode.
unlink_fails() {
    echo "+ resave with unlink failing" >>"$LOG"
    env "LD_PRELOAD=$OUT/libfailunlink.so" FAIL_UNLINK=control.bin:2:5 \
        "$OUT/scenario" resave "$P" 3 8 >"$W/out" 2>&1 || return 1
    cat "$W/out" >>"$LOG"
    [ "$(grep -c '^loom: failed to delete control.bin: Input/output error' "$W/out")" -eq 2 ] &&
        has "loom: save: the last patch is still in $P/.urb/chk; nothing written, will retry" &&
        "$OUT/scenario" verify "$P" 3 8 >>"$LOG" 2>&1
}
run unlink-fails-twice unlink_fails

# ---- crashes and I/O errors in the worker ---------------------------------------------
N=48
calls() {
    step "LD_PRELOAD=$CIO" CRASHIO_ROOT="$P" -- end "$P" $N wait || return 1
    C=$(sed -n 's/^worker calls: //p' "$W/out")
    [ "${C:-0}" -ge 10 ]
}
run worker-file-calls calls
C=${C:-14}
# An I/O error at call k: before the patch is durable the old snapshot is
# kept and the next save writes the pages; after, u3m_bail at the barrier
# and the next boot has the new snapshot.
ioerr() {
    local k soft=0 bail=0 rc
    for k in $(seq 1 "$C"); do
        rm -rf "$P"
        step "LD_PRELOAD=$CIO" CRASHIO_ROOT="$P" CRASHIO_FAIL_AT=$k CRASHIO_FAIL=EIO -- end "$P" $N wait
        rc=$?
        if [ $rc -eq 3 ]; then
            has "the patch is kept and applied at the next boot" && has "host: bail 73706f6f" || return 1
            step -- either "$P" $N new || return 1
            bail=$((bail + 1))
        elif [ $rc -eq 0 ]; then
            grep -q "failed save kept the old snapshot" "$W/out" && soft=$((soft + 1))
            step -- either "$P" $N new || return 1
        else
            echo "call $k: exit $rc" >>"$LOG"
            return 1
        fi
    done
    echo "$soft kept, $bail bailed of $C" >>"$LOG"
    [ $soft -ge 5 ] && [ $bail -ge 2 ]
}
run "io-error-at-every-worker-call" ioerr
# A kill before call k: the next boot has the old or the new snapshot, whole.
kills() {
    local k old=0 new=0
    for k in $(seq 1 "$C"); do
        rm -rf "$P"
        step "LD_PRELOAD=$CIO" CRASHIO_ROOT="$P" CRASHIO_KILL_AT=$k -- end "$P" $N wait
        [ $? -eq 137 ] || { echo "call $k: not killed" >>"$LOG"; return 1; }
        step -- either "$P" $N || return 1
        grep -q "booted the old" "$W/out" && old=$((old + 1)) || new=$((new + 1))
    done
    echo "$old old, $new new of $C" >>"$LOG"
    [ $old -ge 1 ] && [ $new -ge 1 ]
}
run "kill-before-every-worker-call" kills
random_kills() {
    local i us old=0 new=0 rc
    for i in $(seq 1 "$RUNS"); do
        rm -rf "$P"
        us=$((RANDOM % 30000))
        step -- end "$P" $N "kill:$us"
        rc=$?
        [ $rc -eq 137 ] || { echo "run $i: exit $rc" >>"$LOG"; return 1; }
        step -- either "$P" $N || { echo "run $i: killed after ${us}us" >>"$LOG"; return 1; }
        grep -q "booted the old" "$W/out" && old=$((old + 1)) || new=$((new + 1))
    done
    echo "random kills: $old old, $new new" >>"$LOG"
    echo "    random kills: $RUNS runs, $old booted the old snapshot, $new the new"
    [ $new -ge 1 ]
}
run "random-kills-during-and-after-save ($RUNS)" random_kills
underscore_exit() {
    local i
    for i in $(seq 1 20); do
        rm -rf "$P"
        step -- end "$P" $N _exit && step -- either "$P" $N || return 1
    done
}
run "_exit-right-after-save-boots-old-or-new" underscore_exit
exit_after() {
    local i
    for i in $(seq 1 10); do
        rm -rf "$P"
        step -- end "$P" $N exit && step -- either "$P" $N new || return 1
    done
}
run "exit-right-after-save-boots-new" exit_after

# ---- ThreadSanitizer ---------------------------------------------------------------
# In scripts/suites/23-tsan-library.sh, with the library instrumented: a
# store and the worker's read of the same page are ordered only by the
# capture's atomics, which TSan sees only there.
exit $failed
