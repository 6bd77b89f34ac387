#!/usr/bin/env bash
# Background saves under ThreadSanitizer with the library itself built with
# it (make tsan-lib: nightly Rust, -Zsanitizer=thread, the standard library
# rebuilt alike), through c-tests/host/background.c and the scenario steps:
# TSan sees the library's atomics (the capture's page states, OUTCOME), the
# worker's reads of loom pages and side slots (the checksums, and pwrite and
# pwritev through TSan's interceptors), the fault path's copies in
# u3e_fault, std's threads and joins, and the host's stores to the loom.
# Stores to the pages of a save, saves back to back, a backup and a stop
# right after a save, and store storms over 600 pages on a disk slowed to
# 3 ms a write (the crash interposer), started at several delays so that
# they meet the worker's batches; under both tracking backends (no_demand
# too, and swap mode, where the fault path remaps the page); another thread
# waiting for the save, backing up or opening the image meanwhile; a fork
# right after a save; then the scenarios with background saves. Every run
# must end without a TSan report, and the storm's image must hold every
# page as it was at u3e_save. (Not the step that saves from a signal
# handler: there the host calls u3e_save, which allocates, where only
# async-signal-safe calls belong, and TSan says so.)
#
# What it catches: with the worker's release of a page (capture.rs, `end`)
# made Relaxed, TSan reports the worker's reads against the store that
# follows, in every step that stores during a save (bytes cannot show that
# on x86); with the fault
# path's capture::before_stores skipped, TSan reports the store against the
# worker's read and the storm's image differs; with an allocation in the
# fault path, TSan reports a signal-unsafe call.
#
# TSAN_OPTIONS:
#   exitcode=66             a report fails the run with a status of its own.
#   handle_segv, allow_user_segv_handler, report_signal_unsafe: left as
#                           they are (1). The host's SIGSEGV handler is
#                           installed through TSan's sigaction, which runs
#                           it at once for a synchronous signal (only
#                           asynchronous ones are deferred), so u3e_fault
#                           runs instrumented on the faulting thread as
#                           without TSan; and report_signal_unsafe checks
#                           that the fault path calls no malloc or free.
# No suppressions: the futex waits (atomic-wait) need none, since every
# wait is followed by an acquiring read of the word the waker released.
#
# A store that faults is recorded by TSan before the instruction runs, so
# before the fault handler and what it waits for; the host built with TSan
# takes each page's first fault in a store TSan does not see
# (rt_store_ready in c-tests/common/runtime.c), as the stores then land.
#
# Skipped without x86_64 Linux, the nightly toolchain or its rust-src.
#
# The tiers (scripts/tier.sh): the check tier starts the store storms at
# three moments (the soak tier at five) and runs the closing scenarios
# under mprotect tracking (the soak tier under both backends). A step
# still running after TSAN_STEP_SECONDS (default 300) is killed and fails.
# Piers are on the scratch file system.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh
OUT=$ROOT/target/c-tests
skip() {
    echo "SKIP: tsan-library ($1)"
    exit 0
}
[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || skip "the TSan build of the library is for x86_64 Linux"
command -v rustup >/dev/null 2>&1 || skip "no rustup, so no nightly toolchain"
rustup run nightly rustc --version >/dev/null 2>&1 ||
    skip "no nightly toolchain: rustup toolchain install nightly --component rust-src"
rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src' ||
    skip "the nightly toolchain lacks rust-src: rustup component add rust-src --toolchain nightly"
W=$(mktemp -d "$LOOMS_SCRATCH/looms-tsanlib.XXXXXX")
trap 'rm -rf "$W"' EXIT
build() {
    if ! "$@" >"$W/build" 2>&1; then
        echo "FAIL: tsan-library/build"
        tail -n 25 "$W/build" | sed 's/^/    /'
        exit 1
    fi
}
build make -s tsan-lib
build make -s -C c-tests/host tsan-lib
build make -s -C c-tests/crash OUT="$ROOT/target/crash-tests" "$ROOT/target/crash-tests/libcrashio.so"
BIN=$OUT/background-tsan-lib
LIB=$ROOT/target/tsan-lib/x86_64-unknown-linux-gnu/release/liblooms.so
CIO=$ROOT/target/crash-tests/libcrashio.so
P=$W/p
LOG=$W/log
export LOOMS_SAVE=background TSAN_OPTIONS=exitcode=66
failed=0

step() {
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ ${envs[*]} $*" >>"$LOG"
    timeout -k 5 "${TSAN_STEP_SECONDS:-300}" env "${envs[@]}" "$BIN" "$@" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    [ $rc -eq 0 ] || { echo "exit $rc" >>"$LOG"; return 1; }
    # A report, not the note that TSan re-runs the program without ASLR.
    ! grep -Eq 'WARNING: ThreadSanitizer: .*\(pid=[0-9]+\)' "$W/out"
}
has() { grep -qF -- "$1" "$W/out" || { echo "missing output: $1" >>"$LOG"; return 1; }; }
run() {
    local name=$1; shift
    : >"$LOG"
    rm -rf "$P"
    if "$@"; then
        echo "PASS: tsan-library/$name"
    else
        echo "FAIL: tsan-library/$name"
        # The first report, if any, and the end of the log.
        if grep -q 'WARNING: ThreadSanitizer' "$LOG"; then
            grep -m 1 -A 29 'WARNING: ThreadSanitizer' "$LOG" | sed 's/^/    /'
            echo "    ..."
            tail -n 5 "$LOG" | sed 's/^/    /'
        else
            tail -n 25 "$LOG" | sed 's/^/    /'
        fi
        failed=1
    fi
}

# The library is instrumented: its loads, stores and atomics call TSan.
instrumented() {
    nm -D --undefined-only "$LIB" >"$W/out" 2>&1 &&
        has __tsan_read4 && has __tsan_atomic32_compare_exchange_val && has __tsan_func_entry
}
run library-is-instrumented instrumented
# A race is reported, and fails the run, with this runtime and these
# options: two increments ordered only by relaxed atomics (no
# happens-before), each thread alive at both (with the other thread gone
# first, this runtime can miss a race now and then).
racy() {
    cat >"$W/racy.c" <<'C'
#include <pthread.h>
#include <stdatomic.h>
static int shared;
static atomic_int turn;
static void *bump(void *arg) {
  (void)arg;
  shared++;
  atomic_store_explicit(&turn, 1, memory_order_relaxed);
  while (atomic_load_explicit(&turn, memory_order_relaxed) != 2) {}
  return 0;
}
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, bump, 0);
  while (atomic_load_explicit(&turn, memory_order_relaxed) != 1) {}
  shared++;
  atomic_store_explicit(&turn, 2, memory_order_relaxed);
  pthread_join(t, 0);
  return 0;
}
C
    local rt
    rt=$(rustc +nightly --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib/librustc-nightly_rt.tsan.a
    cc -O1 -g -fsanitize=thread -fPIE -c "$W/racy.c" -o "$W/racy.o" >>"$LOG" 2>&1 &&
        cc -pie "$W/racy.o" -o "$W/racy" -Wl,--whole-archive "$rt" -Wl,--no-whole-archive \
            -lpthread -ldl -lm -lrt >>"$LOG" 2>&1 || return 1
    "$W/racy" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    [ $rc -eq 66 ] || { echo "exit $rc, expected 66" >>"$LOG"; return 1; }
    has "ThreadSanitizer: data race"
}
run sees-a-race racy

for track in mprotect uffd; do
    for s in stores backtoback backup stop_live; do
        run "$s [$track]" step LOOMS_TRACKING=$track -- $s "$P" 128
    done
done
# Store storms (as scripts/suites/24-background.sh runs them), started at
# once, in the patch, between the passes and late; the copied counts go to
# the log.
storm() {
    local track=$1 flags=$2 d copied=""
    for d in $(tier "0 150000 300000" "0 100000 150000 200000 300000"); do
        rm -rf "$P"
        step "LD_PRELOAD=$CIO" CRASHIO_ARM=1 CRASHIO_ROOT="$P" CRASHIO_DELAY_US=3000 \
            LOOMS_TRACKING="$track" SCN_FLAGS="verbose${flags:+,$flags}" -- storm "$P" 600 2 $d 3000 ||
            return 1
        has "every page saved as it was at u3e_save" || return 1
        copied="$copied $(sed -n 's/^loom: save: \([0-9]*\) of 600 pages copied.*/\1/p' "$W/out" | head -n 1)"
    done
    echo "pages copied, by start of the storm:$copied" >>"$LOG"
}
for track in mprotect uffd; do
    run "store-storm [$track]" storm $track ""
    run "store-storm no_demand [$track]" storm $track no_demand
done
# Another thread waits for the save (looms_save_wait: a futex wait on the
# outcome word), backs up or opens the image while the runtime stores to
# the pages just saved.
other_thread() {
    mkdir -p "$W/e" &&
        step LOOMS_TRACKING="$1" -- wait_other_thread "$P" 16 20 "$2" "$W/e" &&
        has "another thread called $2" && has "rounds of stores kept and saved"
}
for track in mprotect uffd; do
    for call in wait backup open_any; do
        run "other-thread-$call [$track]" other_thread $track $call
    done
done
# A fork right after a save, the child calling WHICH (the fork handlers
# let go of the worker; not `live`, whose child starts a thread: TSan does
# not follow threads started after a multithreaded fork).
fork_entry() {
    rm -rf "$W/q" && mkdir -p "$W/q/.urb/chk" && step -- fork_entry "$P" 64 "$1" "$W/q" || return 1
    case $1 in
    save) has "is a fork of process" && has "child: save, then looms_save_wait -1" ;;
    backup) has "child: backup refused" ;;
    *) true ;;
    esac
}
for which in exit _exit save wait stop backup; do
    run "fork-$which" fork_entry $which
done
# Swap mode: the fault path moves the page onto the ephemeral file.
run "stores swap" step LOOMS_TRACKING=mprotect SCN_FLAGS=swap -- stores "$P" 128
run "store-storm swap" storm mprotect swap
# The scenarios with background saves (but the one that races two
# processes against a timeout: TSan is slow to start).
if ! SCENARIO_BIN=$OUT/scenario-tsan-lib SCENARIO_TAG=tsan-lib SCENARIO_SAVE=background \
    SCENARIO_SKIP=boot_busy SCENARIO_TRACKING=$(tier mprotect "mprotect uffd") \
    bash scripts/suites/20-scenarios.sh; then
    failed=1
fi
exit $failed
