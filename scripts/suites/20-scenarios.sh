#!/usr/bin/env bash
# The events.c behaviour, scenario by scenario, through a C host that plays
# the runtime (c-tests/host). Every scenario runs in fresh processes on a
# fresh pier, once per dirty-tracking backend. SCENARIO_BIN runs another
# build of the host (libsigsegv, AddressSanitizer); SCENARIO_WRAP prefixes
# every step (valgrind); SCENARIO_TRACKING picks the backends; SCENARIO_SKIP
# leaves scenarios out; SCENARIO_SAVE=background saves in the background.
# SCENARIO_OUT: where another build of the host and its preloaded libraries
# already are (the aarch64 build, run under emulation by SCENARIO_WRAP).
# LOOMS_PRELOAD_VAR: the variable that preloads a library into the program
# run (default LD_PRELOAD; the emulation wrapper takes EMULATED_PRELOAD).
# SCENARIO_STEP_SECONDS: a step still running then is killed and fails its
# scenario (default 300).
# The piers are on the scratch file system (scripts/tier.sh): what the
# scenarios check is what the library does with its files, not the disk.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh
OUT=${SCENARIO_OUT:-$ROOT/target/c-tests}
PRELOAD=${LOOMS_PRELOAD_VAR:-LD_PRELOAD}
if [ -z "${SCENARIO_OUT:-}" ]; then
    make -s -C c-tests/host >/dev/null || { echo "FAIL: scenarios/build"; exit 1; }
fi
BIN=${SCENARIO_BIN:-$OUT/scenario}
WRAP=${SCENARIO_WRAP:-}
TAG=${SCENARIO_TAG:-scenarios}
[ -n "${LOOMS_TEST_GRANULE:-}" ] && TAG=$TAG-granule-$((LOOMS_TEST_GRANULE >> 10))k
W=$(mktemp -d "$LOOMS_SCRATCH/looms-scn.XXXXXX")
trap 'rm -rf "$W"' EXIT
failed=0
LOG=$W/log

# step [env...] -- ARGS: runs one step, appending its output to $LOG.
step() {
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ ${envs[*]} $*" >>"$LOG"
    timeout -k 5 "${SCENARIO_STEP_SECONDS:-300}" env "${envs[@]}" $WRAP "$BIN" "$@" >>"$LOG" 2>&1
}
# expect CODE [env...] -- ARGS: a step that must exit CODE.
expect() {
    local code=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ ${envs[*]} $* (expect exit $code)" >>"$LOG"
    timeout -k 5 "${SCENARIO_STEP_SECONDS:-300}" env "${envs[@]}" $WRAP "$BIN" "$@" >"$W/out" 2>&1
    local got=$?
    cat "$W/out" >>"$LOG"
    [ "$got" -eq "$code" ] || { echo "exit $got, expected $code" >>"$LOG"; return 1; }
}
has() { grep -qF -- "$1" "$W/out" || { echo "missing output: $1" >>"$LOG"; return 1; }; }
fresh() { rm -rf "$W/p"; P=$W/p; }
chk() { echo "$P/.urb/chk/$1"; }

run() {
    local name=$1; shift
    : >"$LOG"
    fresh
    if "$@"; then
        echo "PASS: $TAG/$name [$TRACK]"
    else
        echo "FAIL: $TAG/$name [$TRACK]"
        tail -n 25 "$LOG" | sed 's/^/    /'
        failed=1
    fi
}

T() { echo "LOOMS_TRACKING=$TRACK"; }
# Loom pages in a granule (LOOMS_TEST_GRANULE, a test setting): a first
# store makes its whole granule dirty and writable.
GRANULE=$((${LOOMS_TEST_GRANULE:-16384} / 16384))
# Store faults expected for N clean pages stored to in order: one per
# granule with mprotect, none with uffd.
F() { [ "$TRACK" = uffd ] && echo 0 || echo $((($1 + GRANULE - 1) / GRANULE)); }

# ---- scenarios ---------------------------------------------------------------
hashes() { step -- hashes "$P"; }
new_pier() { step "$(T)" -- new "$P"; }
roundtrip() {
    step "$(T)" SCN_FAULTS=0 -- write "$P" 1 64 && step "$(T)" -- verify "$P" 1 64
}
fault_per_clean_page() {
    # 64 saved pages are clean after a save and after a boot; 80 written, 64 clean.
    step "$(T)" -- write "$P" 1 64 &&
        step "$(T)" SCN_FAULTS="$(F 64)" -- write "$P" 2 80 &&
        step "$(T)" -- verify "$P" 2 80
}
verbose_save_calls() { step "$(T)" SCN_FLAGS=verbose -- write "$P" 1 16; }
shrink() {
    step "$(T)" -- write "$P" 1 96 &&
        step "$(T)" SCN_FAULTS="$(F 40)" -- write "$P" 3 40 &&
        [ "$(stat -c %s "$(chk image.bin)")" -eq $((40 * 16384)) ] &&
        step "$(T)" -- verify "$P" 3 40
}
free_pages() { step "$(T)" -- free "$P" 4 64 10 20; }
patch_valid() {
    step "$(T)" -- write "$P" 1 64 && step "$(T)" -- patch "$P" valid &&
        step "$(T)" -- recover "$P" valid && step "$(T)" -- verify_patched "$P"
}
# A spoilt patch: discarded and deleted at boot, image.bin byte for byte as before.
patch_spoilt() {
    local kind=$1
    step "$(T)" -- write "$P" 1 64 && cp "$(chk image.bin)" "$W/before" &&
        step "$(T)" -- patch "$P" "$kind" &&
        expect 0 "$(T)" -- recover "$P" spoilt && grep -q '^loom: ' "$W/out" &&
        cmp -s "$(chk image.bin)" "$W/before" && step "$(T)" -- verify "$P" 1 64
}
orphan_memory() {
    step "$(T)" -- write "$P" 1 64 && cp "$(chk image.bin)" "$W/before" &&
        head -c 16384 /dev/urandom >"$(chk memory.bin)" &&
        expect 0 "$(T)" -- verify "$P" 1 64 && has "loom: removing orphan memory.bin" &&
        cmp -s "$(chk image.bin)" "$W/before"
}
# REFERENCE-NOTES rows 4, 5, 7, 10, 12, 13, 14, 16.
free_last_page() { step "$(T)" -- free "$P" 4 64 60 64; }
odd_image_valid_patch() {
    step "$(T)" -- write "$P" 1 64 && printf x >>"$(chk image.bin)" &&
        step "$(T)" -- patch "$P" valid && step "$(T)" -- recover "$P" valid &&
        [ "$(stat -c %s "$(chk image.bin)")" -eq $((72 * 16384)) ] && step "$(T)" -- verify_patched "$P"
}
swap_stop_quiet() {
    expect 0 "$(T)" -- swap "$P" 1 8 && ! grep -q 'madv_dontneed failed' "$W/out"
}
shrink_nothing_dirty() {
    step "$(T)" -- write "$P" 1 64 && step "$(T)" -- shrink_clean "$P" 40 && step "$(T)" -- verify "$P" 1 64
}
toss_image_pages() {
    step "$(T)" -- write "$P" 1 64 && step "$(T)" -- toss_image "$P" 64 &&
        step "$(T)" SCN_FLAGS=no_demand -- toss_image "$P" 64
}
foul_without_yolo() {
    # A store to a clean page after u3e_foul alone is a bogus fault with
    # mprotect tracking (the handler's exit 5); userfaultfd tracking takes no
    # fault there, and the store completes.
    step "$(T)" -- write "$P" 1 16 || return 1
    if [ "$TRACK" = uffd ]; then
        expect 0 "$(T)" -- foul_store "$P"
    else
        expect 5 "$(T)" -- foul_store "$P" && has "loom: strange page (0)"
    fi
}
live_yes_existing() { step "$(T)" -- write "$P" 1 16 && step "$(T)" -- live_yes "$P" 16; }
init_no_pier() { step "$(T)" -- init "$P"; }
guard() { step "$(T)" -- guard "$P"; }
ward() { step "$(T)" -- ward "$P"; }
toss() { step "$(T)" -- toss "$P"; }
yolo_foul() {
    step "$(T)" -- write "$P" 1 48 && step "$(T)" -- yolo "$P" 7 48 && step "$(T)" -- verify "$P" 7 48
}
backup() { step "$(T)" -- write "$P" 1 32 && step "$(T)" -- backup "$P" && step "$(T)" -- verify "$P" 1 32; }
open_any() { mkdir -p "$P/.urb/chk" && step "$(T)" -- open_any "$P"; }
no_demand() {
    step "$(T)" SCN_FLAGS=no_demand -- write "$P" 1 64 &&
        step "$(T)" SCN_FLAGS=no_demand SCN_FAULTS="$(F 64)" -- write "$P" 2 64 &&
        step "$(T)" SCN_FLAGS=no_demand -- verify "$P" 2 64
}
swap() { step "$(T)" -- swap "$P" 1 32 && step "$(T)" SCN_FLAGS=swap -- verify "$P" 1 32; }
dryrun() { step "$(T)" -- dryrun "$P"; }
bail_guard() {
    expect 3 "$(T)" -- bail "$P" && has "host: bail 73706f6f" &&
        [ ! -e "$(chk control.bin)" ] && [ ! -e "$(chk memory.bin)" ]
}
boot_odd_size() {
    step "$(T)" -- write "$P" 1 8 && printf x >>"$(chk image.bin)" &&
        expect 1 "$(T)" -- boot "$P" && has "loom: image corrupt size $((8 * 16384 + 1))" &&
        has "boot: image failed (size)"
}
boot_too_big() {
    # A 64 MiB loom has 4096 pages: an image of 4095 is too big for it.
    mkdir -p "$P/.urb/chk" && truncate -s $((4095 * 16384)) "$(chk image.bin)" &&
        expect 1 "$(T)" -- boot "$P" && has "boot: snapshot too big for loom"
}
boot_no_dir() {
    expect 1 "$(T)" -- boot "$P" && has "loom: c3_open $P/.urb/chk/image.bin: No such file or directory" &&
        has "boot: image failed"
}
# Where the file system has no flock locks, boot goes on
# unguarded, as the reference always does, and says so.
lock_unsupported() {
    expect 0 "$(T)" "$PRELOAD=$OUT/libnolock.so" -- write "$P" 1 8 &&
        has "loom: lock $P/.urb/chk: No locks available; the pier is not guarded" &&
        step "$(T)" -- verify "$P" 1 8
}
# unlink(control.bin) fails at the end of save 1 and again when save 2
# retries it: save 2 writes nothing and says so, save 3 removes the old
# patch and saves. (events.c asserts in save 2: control.bin exists.)
unlink_fails_twice() {
    expect 0 "$(T)" "$PRELOAD=$OUT/libfailunlink.so" "FAIL_UNLINK=control.bin:2:5" -- resave "$P" 3 8 &&
        [ "$(grep -c '^loom: failed to delete control.bin: Input/output error' "$W/out")" -eq 2 ] &&
        has "loom: save: the last patch is still in $(chk '' | sed 's#/$##'); nothing written, will retry" &&
        has "save 3 returned" && step "$(T)" -- verify "$P" 3 8
}
boot_busy() {
    step "$(T)" -- write "$P" 1 8 || return 1
    # The file exists before the holder starts: the wait below reads it at once.
    : >"$W/hold"
    env "$(T)" $WRAP "$BIN" hold "$P" 2 8 >"$W/hold" 2>&1 &
    local holder=$! i
    for i in $(seq 100); do grep -q holding "$W/hold" && break; sleep 0.05; done
    expect 1 "$(T)" -- boot "$P"
    local rc=$?
    kill -USR1 "$holder"
    wait "$holder"
    local held=$?
    cat "$W/hold" >>"$LOG"
    [ $rc -eq 0 ] && has "loom: pier $P is in use by another process" &&
        has "boot: image failed" && [ $held -eq 0 ] && step "$(T)" -- verify "$P" 2 8
}
pool_live() {
    step "$(T)" -- write "$P" 1 24 && step "$(T)" -- pool "$P" 24 &&
        readelf -rW "$BIN" | grep -E 'R_(X86_64|AARCH64)_COPY .* u3e_Pool' >/dev/null
}

SCENARIOS=(hashes new_pier roundtrip fault_per_clean_page verbose_save_calls shrink free_pages
    patch_valid orphan_memory guard ward toss yolo_foul backup open_any no_demand swap
    dryrun bail_guard boot_odd_size boot_too_big boot_no_dir boot_busy pool_live
    free_last_page odd_image_valid_patch swap_stop_quiet shrink_nothing_dirty toss_image_pages
    foul_without_yolo live_yes_existing init_no_pier lock_unsupported unlink_fails_twice)
SPOILT=(control-checksum page-checksum control-short control-long control-empty version
    memory-missing memory-short memory-long beyond-total unsorted duplicate)
[ -n "${SCENARIO_ONLY:-}" ] && read -r -a SCENARIOS <<<"$SCENARIO_ONLY"

# With SCENARIO_SAVE=background every save is a background save followed
# by its barrier (c-tests/host/savewait.c): the same files must result.
if [ "${SCENARIO_SAVE:-sync}" = background ]; then
    export LOOMS_SAVE=background "$PRELOAD=$OUT/libsavewait.so"
    TAG=$TAG-background
fi

for TRACK in ${SCENARIO_TRACKING:-mprotect uffd}; do
    for s in "${SCENARIOS[@]}"; do
        # Other builds of the host (ASan) cannot take a preloaded library;
        # one with its own preloaded libraries (SCENARIO_OUT) can.
        case $s in pool_live | lock_unsupported | unlink_fails_twice)
            if [ -n "${SCENARIO_BIN:-}" ] && [ -z "${SCENARIO_OUT:-}" ]; then
                echo "SKIP: $TAG/$s [$TRACK] (needs the plain host's build and its preloaded libraries; $TAG is another build)"
                continue
            fi
            ;;
        esac
        # SCENARIO_SKIP: scenarios another build cannot run in time.
        case " ${SCENARIO_SKIP:-} " in *" $s "*)
            echo "SKIP: $TAG/$s [$TRACK] (SCENARIO_SKIP: too slow to start in this build)"
            continue
            ;;
        esac
        # These preload their own library (24-background.sh runs the
        # unlink failure in background mode).
        case $s in pool_live | lock_unsupported | unlink_fails_twice)
            if [ -n "${!PRELOAD:-}" ]; then
                echo "SKIP: $TAG/$s [$TRACK] (preloads a library of its own, and ${PRELOAD} carries another here)"
                continue
            fi
            ;;
        esac
        run "$s" "$s"
    done
    if [ -z "${SCENARIO_ONLY:-}" ]; then
        for k in "${SPOILT[@]}"; do run "patch_$k" patch_spoilt "$k"; done
    fi
done
exit $failed
