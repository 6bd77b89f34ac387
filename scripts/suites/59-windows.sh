#!/usr/bin/env bash
# Windows x86_64 (x86_64-pc-windows-gnu), the runtime's Windows release
# target: liblooms.a cross-built (scripts/windows-lib), and hosts
# cross-built with mingw-w64 that link it statically, as the runtime links
# events.o there (c-tests/windows), run under wine. The hosts map the loom
# as the runtime does on Windows (one view of a pagefile-backed section at
# 0x28000000000) and pass store faults to u3e_fault from a vectored
# exception handler.
#   - the archive: built; the runtime's names it defines are the glibc
#     build's; make install RUST_TARGET=x86_64-pc-windows-gnu puts it, the
#     header and a looms.pc whose static line is -llooms and the system
#     libraries rustc names for it; the hosts link with that line alone
#     (-static) and import no DLL but the system's;
#   - probe.exe: what the port needs of the platform, one line each (the
#     section view at the loom base, store faults through the handler on
#     every thread, FlushFileBuffers, MoveFileExW, LockFileEx, the
#     directory open the pier lock is, WaitOnAddress);
#   - a slice of the scenarios (20-scenarios.sh) through scenario.exe, in
#     sync and background saves: boot, stores, save, restart, shrink,
#     guard, ward, toss, yolo and foul, no_demand, bail, bad images;
#   - spoilt patches left in .urb/chk: each discarded at boot with a
#     `loom:` line, image.bin byte for byte as before;
#   - the pier lock (`.urb/chk` opened with the right to delete it, shared
#     with no other open): a second process is refused while a first
#     holds the pier, and the first saves;
#   - the same deterministic stores through the glibc build and the Windows
#     host, in default and no_demand modes, sync and background saves,
#     leave the same pier files byte for byte: images, a backup, and a
#     patch left in place (a failed delete of control.bin or of memory.bin:
#     FAIL_UNLINK on Linux, FAIL_DELETE on Windows);
#   - the library's unit tests, built for Windows, run under wine;
#   - kills mid-save (kills.exe: TerminateProcess at delays that vary from
#     round to round, in sync, no_demand and background saves): the pier
#     boots at exactly one generation, every page from the same save. The
#     saves store to every other page, so that the image takes each page by
#     a write of its own: under wine a kill lands between two system calls,
#     never inside one. (A library that removed the patch before writing
#     the image failed here, 1 round in about 20.)
# WINDOWS_FULL=1 (`make check-windows`; the default at the soak tier,
# `make soak`): every scenario that does not need Linux, every spoilt
# patch, every mode of the byte comparison, and 200 kill rounds per mode
# (20 at the check tier).
#
# The wine prefix is WINDOWS_WINEPREFIX, default
# target/x86_64-pc-windows-gnu/wineprefix: made at the first run (a few
# seconds, about 700 MiB, as Debian's wine copies its DLLs into it) and kept
# for the next. Unix paths are passed to the Windows programs as they are:
# wine runs them with the current drive Z:, the root of the Unix tree.
#
# Needs mingw-w64, wine (Debian's wine and wine64), pkg-config and the Rust target
# (rustup target add x86_64-pc-windows-gnu); .ci/run installs them. Without
# them the suite skips, saying what is missing, except under CI (CI=true).
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
ROOT=$PWD
TRIPLE=x86_64-pc-windows-gnu
FULL=${WINDOWS_FULL:-$(tier "" 1)}

failed=0
SUITE=windows
. scripts/lines.sh

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=("x86_64-w64-mingw32-gcc (mingw-w64)")
command -v x86_64-w64-mingw32-nm >/dev/null 2>&1 || missing+=("x86_64-w64-mingw32-nm (mingw-w64)")
command -v wine >/dev/null 2>&1 || missing+=("wine (wine and wine64)")
command -v pkg-config >/dev/null 2>&1 || missing+=("pkg-config")
need_rust_targets $TRIPLE
tools_or_skip windows

W=$(mktemp -d "$LOOMS_SCRATCH/looms-windows.XXXXXX")
trap 'rm -rf "$W"' EXIT
started=$(date +%s)
T=$ROOT/target/$TRIPLE
OUT=$T/c-tests
LOG=$W/log
# A crash inside wine ends the program with its status and a line on
# stderr, without starting the debugger.
export WINEPREFIX=${WINDOWS_WINEPREFIX:-$T/wineprefix} WINEDEBUG=-all WINEDLLOVERRIDES=winedbg.exe=d

glibc_lib=$ROOT/target/release/liblooms.so
if [ ! -e "$glibc_lib" ]; then
    fail build "$glibc_lib is missing (make lib): the exports and the pier files are compared with it"
    exit 1
fi

# --- the archive and the hosts -------------------------------------------------
if nice scripts/windows-lib >"$W/lib.log" 2>&1 && [ -e "$T/release/liblooms.a" ]; then
    pass "build (liblooms.a; its system libraries: $(cat "$T/release/native-static-libs"))"
else
    fail_with build "$W/lib.log"
    exit 1
fi
nm -D --defined-only "$glibc_lib" | awk '{print $3}' | sort -u >"$W/glibc.exports"
x86_64-w64-mingw32-nm --defined-only "$T/release/liblooms.a" 2>/dev/null |
    awk '$2 ~ /^[TDBR]$/ && $3 ~ /^(u3|looms_)/ {print $3}' | sort -u >"$W/windows.exports"
if diff "$W/glibc.exports" "$W/windows.exports" >"$W/exports.diff"; then
    pass "exports_as_glibc ($(wc -l <"$W/windows.exports") names)"
else
    sed -i '1i < glibc liblooms.so only, > Windows liblooms.a only' "$W/exports.diff"
    fail_with exports_as_glibc "$W/exports.diff"
fi
# make install RUST_TARGET=...: liblooms.a, looms.h and a looms.pc whose
# static link line the hosts are linked with, alone.
stage=$W/stage
prefix=/opt/looms-windows
if make -s install RUST_TARGET=$TRIPLE DESTDIR="$stage" PREFIX="$prefix" >"$W/install.log" 2>&1 &&
    cmp -s "$T/release/liblooms.a" "$stage$prefix/lib/liblooms.a" && [ -e "$stage$prefix/include/looms.h" ] &&
    [ -z "$(find "$stage" -name '*.dll' -o -name '*.so' -o -name looms -type f)" ]; then
    pass "install (liblooms.a, looms.h, looms.pc; no DLL)"
else
    ls -R "$stage" >>"$W/install.log" 2>&1
    fail_with install "$W/install.log"
fi
link=$(PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$stage$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" \
    pkg-config --static --libs looms 2>&1 | sed 's/ *$//')
want="-L$stage$prefix/lib -llooms $(cat "$T/release/native-static-libs")"
if [ "$link" = "$want" ]; then
    pass "pkg_config_static_line (-L\${libdir} -llooms and the archive's system libraries)"
else
    fail pkg_config_static_line "got '$link'" "want '$want'"
fi
if nice make -s -C c-tests/windows WINDOWS_LINK="$link" >"$W/hosts.log" 2>&1; then
    pass "hosts_link (x86_64-w64-mingw32-gcc -static with \$(pkg-config --static --libs looms) alone)"
else
    fail_with hosts_link "$W/hosts.log"
    exit 1
fi
# What the scenario host imports: system DLLs only (no libgcc, winpthread
# or looms DLL to ship beside it).
x86_64-w64-mingw32-objdump -p "$OUT/scenario.exe" | sed -n 's/^\s*DLL Name: *//p' |
    tr 'A-Z' 'a-z' | sort -u >"$W/dlls"
if [ -s "$W/dlls" ] && ! grep -Eq 'gcc|pthread|stdc|looms' "$W/dlls"; then
    pass "static_link (imports only system DLLs: $(tr '\n' ' ' <"$W/dlls" | sed 's/ $//'))"
else
    fail static_link "imports: $(tr '\n' ' ' <"$W/dlls")"
fi
# The glibc build's scenario host and its interposers (a failing unlink, a
# barrier after every save), for the comparison of pier files.
if ! make -s -C c-tests/host "$ROOT/target/c-tests/scenario" "$ROOT/target/c-tests/libfailunlink.so" \
    "$ROOT/target/c-tests/libsavewait.so" >"$W/glibc-host.log" 2>&1; then
    fail_with glibc_host "$W/glibc-host.log"
    exit 1
fi
glibc_host=$ROOT/target/c-tests/scenario

# --- wine ------------------------------------------------------------------------
if [ ! -e "$WINEPREFIX/system.reg" ]; then
    mkdir -p "$(dirname "$WINEPREFIX")"
    # The registry reaches system.reg when the wine server exits: wait for it.
    if ! timeout 300 wineboot -i >"$W/wineboot.log" 2>&1 ||
        ! timeout 60 wineserver -w >>"$W/wineboot.log" 2>&1 || [ ! -e "$WINEPREFIX/system.reg" ]; then
        fail_with wine_prefix "$W/wineboot.log"
        exit 1
    fi
fi
# One wine server for the whole suite: a server that times out (3 s after
# its last program) just as a program starts loses that program ("wine
# client error: ... Connection reset by peer"). A server an earlier run
# left in this prefix (the suite's own) is ended first; this one is ended
# on exit.
wineserver -k >/dev/null 2>&1
wineserver -w >/dev/null 2>&1
wineserver -p
trap 'wineserver -k >/dev/null 2>&1; rm -rf "$W"' EXIT
timeout 60 wine "$OUT/probe.exe" "$W/probe" >"$W/probe.out" 2>&1
probe_rc=$?
# Its "fact" lines say what the platform does where the port relies on
# neither answer: shown, not counted.
while read -r status name rest; do
    case $status in
    ok) pass "probe/${name%:}" ;;
    FAILED) fail "probe/${name%:}" "$rest" ;;
    fact) echo "windows: ${name%:}: $rest" ;;
    esac
done <"$W/probe.out"
if [ $probe_rc -ne 0 ] && ! grep -q '^FAILED ' "$W/probe.out"; then
    fail_with probe "$W/probe.out"
fi

# step [VAR=VALUE...] ARGS...: one scenario step under wine, its output in
# $W/out and the log; with LOOMS_SAVE=background among the VARs, through
# the host whose every save waits for its barrier (scenario-background.exe).
step() {
    local envs=() exe=$OUT/scenario.exe
    while [[ $1 == *=* ]]; do
        envs+=("$1")
        [ "$1" = LOOMS_SAVE=background ] && exe=$OUT/scenario-background.exe
        shift
    done
    echo "+ ${envs[*]} $*" >>"$LOG"
    timeout -k 5 120 env ${envs[@]+"${envs[@]}"} wine "$exe" "$@" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    return $rc
}
# check NAME FUNCTION ARGS...: PASS or FAIL NAME by FUNCTION's status, the
# log's tail under a FAIL.
check() {
    local name=$1
    shift
    : >"$LOG"
    if "$@"; then
        pass "$name"
    else
        fail "$name"
        tail -n 25 "$LOG" | sed 's/^/    /'
    fi
}
chk() { echo "$1/.urb/chk/$2"; }

# --- scenarios -------------------------------------------------------------------
# Those of 20-scenarios.sh that need nothing of Linux (a preloaded library,
# SIGUSR1, ELF relocations, the swap file's shared mapping).
SLICE="hashes new_pier roundtrip fault_per_clean_page shrink free_pages patch_valid orphan_memory"
SLICE+=" no_demand guard ward toss yolo_foul backup bail_guard boot_odd_size init_no_pier"
ALL="$SLICE verbose_save_calls dryrun boot_too_big boot_no_dir free_last_page odd_image_valid_patch"
ALL+=" shrink_nothing_dirty toss_image_pages foul_without_yolo live_yes_existing open_any"
only=$SLICE
[ -n "$FULL" ] && only=$ALL
tracking=${WINDOWS_TRACKING:-mprotect}
SCENARIO_OUT=$OUT SCENARIO_BIN=$OUT/scenario.exe SCENARIO_WRAP=wine SCENARIO_TRACKING=$tracking \
    SCENARIO_ONLY=$only SCENARIO_STEP_SECONDS=120 SCENARIO_TAG=windows/scenarios \
    bash scripts/suites/20-scenarios.sh || failed=1
# Background saves: the library's worker thread, the fault path's copies.
LOOMS_SAVE=background SCENARIO_OUT=$OUT SCENARIO_BIN=$OUT/scenario-background.exe SCENARIO_WRAP=wine \
    SCENARIO_TRACKING=$tracking SCENARIO_ONLY=$only SCENARIO_STEP_SECONDS=120 \
    SCENARIO_TAG=windows/scenarios-background bash scripts/suites/20-scenarios.sh || failed=1

# --- spoilt patches ----------------------------------------------------------------
# A patch spoilt as KIND is discarded at boot with a `loom:` line, and
# image.bin is byte for byte what it was.
spoilt() {
    local P=$W/spoilt-$1
    ok write "$P" 1 64 && cp "$(chk "$P" image.bin)" "$W/before" &&
        ok patch "$P" "$1" && ok recover "$P" spoilt && has "loom: " &&
        cmp -s "$(chk "$P" image.bin)" "$W/before" && ok verify "$P" 1 64
}
KINDS="control-checksum page-checksum control-short memory-short memory-missing"
[ -n "$FULL" ] && KINDS="control-checksum page-checksum control-short control-long control-empty version
    memory-missing memory-short memory-long beyond-total unsorted duplicate"
for k in $KINDS; do check "spoilt_patch/$k" spoilt "$k"; done

# --- the pier lock ---------------------------------------------------------------------
# While one process holds the pier, a second one's boot fails
# and says why; the first then saves, and its save is what boots next.
lock() {
    local P=$W/lock holder held i
    ok write "$P" 1 8 || return 1
    rm -f "$W/release"
    : >"$W/hold"
    SCN_RELEASE=$W/release timeout -k 5 120 wine "$OUT/scenario.exe" hold "$P" 2 8 >"$W/hold" 2>&1 &
    holder=$!
    for i in $(seq 400); do grep -q holding "$W/hold" && break; sleep 0.05; done
    code 1 boot "$P"
    local rc=$?
    : >"$W/release"
    wait "$holder"
    held=$?
    cat "$W/hold" >>"$LOG"
    [ $rc -eq 0 ] && has "loom: pier $P is in use by another process" && has "boot: image failed" &&
        [ $held -eq 0 ] && ok verify "$P" 2 8
}
check pier_lock lock

# --- the same stores, the same files -----------------------------------------------------
# stores RUN RUN_FAIL PIER: deterministic stores by the host RUN: a first
# save, a grown one over it, a shrink, a backup; freed pages (holes) in
# another pier; and in two more, a save whose delete of control.bin, or of
# memory.bin, fails once after the image is written (RUN_FAIL NAME STEP...),
# leaving that file of the patch in place (the step then says "left
# behind" and exits 4).
stores() {
    local run=$1 run_fail=$2 pier=$3
    mkdir -p "$pier" || return 1
    $run write "$pier/a" 1 64 && $run write "$pier/a" 2 80 && $run write "$pier/a" 3 40 &&
        $run backup "$pier/a" && $run verify "$pier/a" 3 40 && $run free "$pier/b" 4 64 10 20 &&
        $run write "$pier/c" 1 64 && $run write "$pier/d" 1 64 || return 1
    $run_fail control.bin write "$pier/c" 2 80
    [ $? -eq 4 ] || return 1
    $run_fail memory.bin write "$pier/d" 2 80
    [ $? -eq 4 ] || return 1
    [ -e "$pier/c/.urb/chk/control.bin" ] && [ -e "$pier/d/.urb/chk/memory.bin" ]
}
# The hosts, in the mode ($flags) and save ($save) of the comparison; in
# background saves every save waits for its barrier (libsavewait.so on
# Linux, scenario-background.exe on Windows), so that each step sees its
# files.
linux_run() {
    local preload=
    [ "$save" = background ] && preload=$ROOT/target/c-tests/libsavewait.so
    env LOOMS_TRACKING=mprotect LOOMS_SAVE="$save" SCN_FLAGS="$flags" LD_PRELOAD="$preload" \
        "$glibc_host" "$@" >>"$LOG" 2>&1
}
linux_fail() {
    local name=$1 preload=$ROOT/target/c-tests/libfailunlink.so
    shift
    [ "$save" = background ] && preload+=" $ROOT/target/c-tests/libsavewait.so"
    env LOOMS_TRACKING=mprotect LOOMS_SAVE="$save" SCN_FLAGS="$flags" LD_PRELOAD="$preload" \
        FAIL_UNLINK="$name:1:5" "$glibc_host" "$@" >>"$LOG" 2>&1
}
windows_run() { step LOOMS_SAVE="$save" SCN_FLAGS="$flags" "$@"; }
# ERROR_SHARING_VIOLATION (32): what a delete meets when another process
# has the file open. The refusal must have happened (the library deletes
# through DeleteFileW where POSIX deletion is refused, as under wine 8).
windows_fail() {
    local name=$1
    shift
    step LOOMS_SAVE="$save" SCN_FLAGS="$flags" FAIL_DELETE="$name:1:32" "$@"
    local rc=$?
    has "faildelete: DeleteFileW $name refused" || return 99
    return $rc
}
# pier_listing PIER: each file's path and size (Windows has no Unix modes
# to compare).
pier_listing() { (cd "$1" && find . -type f -printf '%p %s\n' | sort); }
# same_files: the glibc host's and the Windows host's piers after the same
# stores hold the same files, byte for byte; $compared says how many.
same_files() {
    local lp=$W/pier-linux wp=$W/pier-windows f differ=()
    rm -rf "$lp" "$wp"
    stores linux_run linux_fail "$lp" || { echo "the glibc host's stores failed" >>"$LOG"; return 1; }
    stores windows_run windows_fail "$wp" || { echo "the Windows host's stores failed" >>"$LOG"; return 1; }
    pier_listing "$lp" >"$W/linux.list"
    pier_listing "$wp" >"$W/windows.list"
    diff "$W/linux.list" "$W/windows.list" >>"$LOG" || { echo "the piers' files differ (above)" >>"$LOG"; return 1; }
    while read -r f _; do
        cmp -s "$lp/$f" "$wp/$f" || differ+=("$f")
    done <"$W/linux.list"
    [ ${#differ[@]} -eq 0 ] || { echo "bytes differ: ${differ[*]}" >>"$LOG"; return 1; }
    compared=$(wc -l <"$W/linux.list")
}
MODES="default/sync no_demand/sync default/background"
[ -n "$FULL" ] && MODES+=" no_demand/background"
for m in $MODES; do
    mode=${m%/*} save=${m#*/}
    flags=
    [ "$mode" = no_demand ] && flags=no_demand
    compared=0
    : >"$LOG"
    if same_files; then
        pass "pier_files_as_glibc/$mode/$save ($compared files byte for byte: image.bin, a backup, holes, control.bin and memory.bin left in place)"
    else
        fail "pier_files_as_glibc/$mode/$save"
        tail -n 25 "$LOG" | sed 's/^/    /'
    fi
done

# --- kills mid-save ------------------------------------------------------------------------
rounds=20
[ -n "$FULL" ] && rounds=200
for m in default/sync no_demand/sync default/background; do
    mode=${m%/*} save=${m#*/}
    flags=
    [ "$mode" = no_demand ] && flags=no_demand
    rm -rf "$W/kills"
    if env SCN_FLAGS="$flags" LOOMS_SAVE="$save" timeout -k 5 $((rounds * 15)) \
        wine "$OUT/kills.exe" "$OUT/scenario.exe" "$W/kills" 256 2 "$rounds" 300 >"$W/kills.out" 2>&1; then
        pass "kills/$mode/$save ($(sed -n 's/^kills: //p' "$W/kills.out"))"
    else
        # The failed round and the summary, not the rounds that passed.
        grep -v 'boots whole' "$W/kills.out" >"$W/kills.failed"
        fail_with "kills/$mode/$save" "$W/kills.failed"
    fi
done
# --- the unit tests -----------------------------------------------------------------------
# The library's own tests built for Windows and run under wine (cargo's
# runner), with the hosts' ProcessPrng DLL on the Windows PATH.
if WINEPATH="Z:$OUT" CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine \
    nice cargo test --release --lib --target $TRIPLE >"$W/unit.log" 2>&1; then
    pass "unit ($(sed -n 's/^test result: ok\. \([0-9]* passed\).*/\1/p' "$W/unit.log" | tail -n 1))"
else
    fail_with unit "$W/unit.log"
fi
echo "windows: the Windows builds and runs took $(($(date +%s) - started)) s"
exit $failed
