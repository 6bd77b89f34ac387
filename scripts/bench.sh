#!/usr/bin/env bash
# The looms benchmark: runs every measurement several times, each in a fresh
# process, next to a raw baseline measured in the same run on the same
# files, and prints one table of medians, spreads, ratios and targets.
#
#   scripts/bench.sh            full run (5 repetitions, up to 50k pages)
#   BENCH_QUICK=1 scripts/bench.sh   one repetition of small sizes (smoke)
#   BENCH_REPS=N                repetitions per row (default 5, quick 1)
#   BENCH_DIR=DIR               where the scratch directory is made (default
#                               target/bench-tmp, on the repository's own
#                               filesystem)
#   BENCH_SESSION_DIR=DIR       where the session model's pier is copied
#                               (default /dev/shm when it has room: the
#                               saves' durable writes are the same under
#                               every backend, and a pier in memory keeps
#                               their noise out of the comparison)
#   BENCH_SESSION_REPS=N        repetitions of the session model (default 3,
#                               quick 1)
#
# Exits non-zero when a run fails or one of the programs' own checks fails
# (the loom held the wrong bytes, a page was not tracked, ...). Targets that
# are missed are reported in the table, never as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${BENCH_REPS:-1}; else REPS=${BENCH_REPS:-5}; fi
SCRATCH=${BENCH_DIR:-$ROOT/target/bench-tmp}
BIN=$ROOT/target/bench
LOOMS=$BIN/looms_bench
RAW=$BIN/raw_bench

make --quiet -C c-tests/bench ROOT="$ROOT" >/dev/null

# A fresh directory of our own inside BENCH_DIR, removed at exit.
mkdir -p "$SCRATCH"
SCRATCH=$(mktemp -d "$SCRATCH/run.XXXXXX")
SAMPLES=$SCRATCH/samples
mkdir -p "$SAMPLES"
SESSION_ROOT=
trap 'rm -rf "$SCRATCH" ${SESSION_ROOT:+"$SESSION_ROOT"}' EXIT

# Sizes. The store rows write every other page, so that no two stored pages
# are neighbours and each first store splits the loom's mapping, as
# scattered stores in a running ship do.
if [ "$QUICK" = 1 ]; then
    STORE_PAGES=2000
    SAVE_SIZES="1000"
    LIVE_SIZES="1000 2000"
    BIG=2000
    HARVEST_LOOM=16384
else
    STORE_PAGES=20000
    SAVE_SIZES="1000 10000 50000"
    LIVE_SIZES="1000 10000 50000"
    BIG=50000
    HARVEST_LOOM=262144
fi
STORE_STRIDE=2
# The first stores after a no_demand boot: one page in BOOT_STRIDE.
BOOT_STRIDE=5
# The session model's profiles: "name READ% INTERVALS STORES".
if [ "$QUICK" = 1 ]; then
    SESSION_REPS=${BENCH_SESSION_REPS:-1}
    PROFILES=("short 100 1 100" "long 25 5 100" "heavy 25 2 500")
else
    SESSION_REPS=${BENCH_SESSION_REPS:-3}
    PROFILES=("short 100 1 1000" "long 25 100 1000" "heavy 25 10 10000")
fi
SAVE_MAX=${SAVE_SIZES##* }
# Background saves: the save sizes, and in a full run a 200k-page save (a
# pack or meld dirties most of a 4 GiB loom), which is background too.
BG_SIZES=$SAVE_SIZES
[ "$QUICK" = 1 ] || BG_SIZES="$SAVE_SIZES 200000"
LOOM_PAGES=65536    # looms_bench's loom for every row but the harvest row
STACK_PAGES=64      # pages above the heap left to the stack (bench.h)
HARVEST_IMAGE=$((HARVEST_LOOM - 256))
HARVEST_STRIDE=10   # one page in ten stored to
TOSS_STRIDE=$((BIG / 1000))

CHECKS=0
check_fail() {
    echo "check failed: $*" >&2
    CHECKS=$((CHECKS + 1))
}

# kv LINE KEY: the value of KEY in a line of key=value pairs.
kv() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

# sample KEY VALUE: records one measurement.
sample() { echo "$2" >>"$SAMPLES/$1"; }

# run NAME CMD...: runs a program; its stdout is left in $OUT.
run() {
    local name=$1
    shift
    if ! OUT=$("$@" 2>"$SCRATCH/err"); then
        echo "bench: $name failed: $*" >&2
        sed 's/^/    /' "$SCRATCH/err" >&2
        exit 1
    fi
}

k() { echo $(($1 / 1000))k; }

# ---------------------------------------------------------------------------
# Measurements. Within each repetition the library and its baseline run
# back to back, so that drift on the machine hits both.

UFFD_ACTIVE=yes
measure_stores() {
    local tracking mode kind
    for kind in word page; do
        run "raw fault" "$RAW" fault "$kind" "$STORE_PAGES" "$STORE_STRIDE"
        sample "raw-fault-$kind" "$(kv "$OUT" value)"
        sync
        run "raw cow" "$RAW" cow "$SCRATCH/cow.bin" "$kind" "$STORE_PAGES" "$STORE_STRIDE"
        sample "raw-cow-$kind" "$(kv "$OUT" value)"
        for tracking in mprotect uffd; do
            for mode in default no_demand; do
                rm -rf "$SCRATCH/store"
                sync
                run "store $tracking $mode $kind" env LOOMS_TRACKING=$tracking \
                    "$LOOMS" store "$SCRATCH/store" "$mode" "$kind" "$STORE_PAGES" "$STORE_STRIDE"
                sample "store-$tracking-$mode-$kind" "$(kv "$OUT" value)"
                local faults dirty
                faults=$(kv "$OUT" faults)
                dirty=$(kv "$OUT" dirty)
                [ "$dirty" = "$STORE_PAGES" ] ||
                    check_fail "store $tracking $mode $kind: $dirty of $STORE_PAGES stored pages dirty"
                if [ "$tracking" = mprotect ] && [ "$faults" != "$STORE_PAGES" ]; then
                    check_fail "store mprotect $mode $kind: $faults faults for $STORE_PAGES pages"
                fi
                if [ "$tracking" = uffd ] && [ "$faults" != 0 ]; then
                    UFFD_ACTIVE=no
                fi
            done
        done
    done
    rm -rf "$SCRATCH/store"
}

measure_saves() {
    local pages
    for pages in $SAVE_SIZES; do
        rm -rf "$SCRATCH/save"
        sync
        run "save $pages" env LOOMS_TRACKING=uffd "$LOOMS" save "$SCRATCH/save" "$pages"
        sample "save-fresh-$pages" "$(kv "$OUT" fresh)"
        sample "save-rewrite-$pages" "$(kv "$OUT" rewrite)"
        [ "$(kv "$OUT" verified)" = 1 ] || check_fail "save $pages: image differs from the loom"
        if [ "$pages" = "$SAVE_MAX" ]; then
            sample rss-after "$(kv "$OUT" rss_after)"
            sample rss-before "$(kv "$OUT" rss_before)"
        fi
        rm -rf "$SCRATCH/save"
        sync
        run "raw write $pages" "$RAW" write "$SCRATCH/raw.bin" "$pages"
        sample "raw-fresh-$pages" "$(kv "$OUT" value)"
        rm -f "$SCRATCH/raw.bin"
        sync
        run "raw rewrite $pages" "$RAW" write "$SCRATCH/raw.bin" "$pages" "$pages"
        sample "raw-rewrite-$pages" "$(kv "$OUT" value)"
        rm -f "$SCRATCH/raw.bin"
    done
    rm -rf "$SCRATCH/save"
    sync
    run "save 1k in $BIG" env LOOMS_TRACKING=uffd "$LOOMS" save "$SCRATCH/save" 1000 "$BIG"
    sample save-sparse "$(kv "$OUT" value)"
    [ "$(kv "$OUT" verified)" = 1 ] || check_fail "save 1000 of $BIG: image differs from the loom"
    rm -rf "$SCRATCH/save"
    sync
    run "raw rewrite 1k in $BIG" "$RAW" write "$SCRATCH/raw.bin" 1000 "$BIG"
    sample raw-sparse "$(kv "$OUT" value)"
    rm -f "$SCRATCH/raw.bin"
}

make_live_piers() {
    local pages
    for pages in $LIVE_SIZES; do
        run "make $pages" env LOOMS_TRACKING=uffd "$LOOMS" make "$SCRATCH/live-$pages" "$pages"
        [ "$(kv "$OUT" verified)" = 1 ] || check_fail "make $pages: image differs from the loom"
    done
}

# warm FILE: reads FILE through the page cache, so that a measurement of a
# warm image does not meet pages something else on the machine dropped.
warm() { cat "$1" >/dev/null; }

measure_live() {
    local pages mode tracking image
    for pages in $LIVE_SIZES; do
        image=$SCRATCH/live-$pages/.urb/chk/image.bin
        for tracking in auto uffd; do
            warm "$image"
            run "live $pages default $tracking" env LOOMS_TRACKING=$tracking \
                "$LOOMS" live "$SCRATCH/live-$pages" default
            sample "live-default-$tracking-$pages" "$(kv "$OUT" value)"
            sample "reads-default-$tracking-$pages" "$(kv "$OUT" reads)"
            sample "rss-default-$tracking-$pages" "$(kv "$OUT" rss)"
            check_live "live $pages default $tracking" "$pages"
        done
        warm "$image"
        run "live $pages no_demand" env LOOMS_TRACKING=auto \
            "$LOOMS" live "$SCRATCH/live-$pages" no_demand
        sample "live-no_demand-$pages" "$(kv "$OUT" value)"
        sample "huge-no_demand-$pages" "$(kv "$OUT" huge)"
        check_live "live $pages no_demand" "$pages"
        warm "$image"
        run "raw read $pages" "$RAW" read "$image"
        sample "raw-read-$pages" "$(kv "$OUT" value)"
        warm "$image"
        run "raw hugeread $pages" "$RAW" hugeread "$image"
        sample "raw-hugeread-$pages" "$(kv "$OUT" value)"
        warm "$image"
        run "raw mapread $pages" "$RAW" mapread "$image"
        sample "raw-map-$pages" "$(kv "$OUT" value)"
        sample "raw-mapreads-$pages" "$(kv "$OUT" reads)"
        sample "raw-rss-$pages" "$(kv "$OUT" rss)"
    done
}

# check_live NAME PAGES: the loom held the image, and reading it dirtied nothing.
check_live() {
    [ "$(kv "$OUT" verified)" = 1 ] && [ "$(kv "$OUT" pages)" = "$2" ] ||
        check_fail "$1: loom differs from the image"
    [ "$(kv "$OUT" faults)" = 0 ] && [ "$(kv "$OUT" dirty)" = 0 ] ||
        check_fail "$1: reads raised $(kv "$OUT" faults) faults, left $(kv "$OUT" dirty) pages dirty"
}

measure_bootstores() {
    local tracking stores
    for tracking in mprotect uffd; do
        warm "$SCRATCH/live-$BIG/.urb/chk/image.bin"
        run "bootstore $tracking" env LOOMS_TRACKING=$tracking \
            "$LOOMS" bootstore "$SCRATCH/live-$BIG" "$BOOT_STRIDE"
        sample "bootstore-$tracking" "$(kv "$OUT" value)"
        sample "bootstore-huge-$tracking" "$(kv "$OUT" huge)"
        stores=$(kv "$OUT" stores)
        [ "$(kv "$OUT" dirty)" = "$stores" ] && [ "$(kv "$OUT" strays)" = 0 ] ||
            check_fail "bootstore $tracking: $(kv "$OUT" dirty) pages dirty for $stores stores, $(kv "$OUT" strays) wrong"
        if [ "$tracking" = mprotect ] && [ "$(kv "$OUT" faults)" != "$stores" ]; then
            check_fail "bootstore mprotect: $(kv "$OUT" faults) faults for $stores stores"
        fi
    done
}

# The session model's pier: a copy of the largest one, in memory when there
# is room for it and its patches.
session_pier() {
    local dir=${BENCH_SESSION_DIR:-}
    local need_kib
    need_kib=$(($(du -sk "$SCRATCH/live-$BIG" | cut -f 1) * 3))
    if [ -z "$dir" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt "$need_kib" ]; then
        dir=/dev/shm
    fi
    [ -n "$dir" ] || dir=$SCRATCH
    SESSION_ROOT=$(mktemp -d "$dir/looms-session.XXXXXX")
    SESSION_FS=$(df -T "$SESSION_ROOT" | awk 'NR == 2 { print $2 " on " $1 }')
    cp -r "$SCRATCH/live-$BIG" "$SESSION_ROOT/pier"
}

measure_sessions() {
    local profile name percent intervals stores mode tracking faults
    for profile in "${PROFILES[@]}"; do
        read -r name percent intervals stores <<<"$profile"
        for mode in default no_demand; do
            for tracking in mprotect uffd auto; do
                sync
                run "session $name $mode $tracking" env LOOMS_TRACKING=$tracking \
                    "$LOOMS" session "$SESSION_ROOT/pier" "$mode" "$percent" "$intervals" "$stores"
                local key=session-$name-$mode-$tracking
                sample "$key" "$(kv "$OUT" value)"
                local phase
                for phase in boot reads stores saves; do
                    sample "$key-$phase" "$(kv "$OUT" "$phase")"
                done
                [ "$(kv "$OUT" verified)" = 1 ] ||
                    check_fail "session $name $mode $tracking: pier or bitmap wrong after the saves"
                faults=$(kv "$OUT" faults)
                if [ "$tracking" = mprotect ] && [ "$faults" != $((intervals * stores)) ]; then
                    check_fail "session $name $mode mprotect: $faults faults for $((intervals * stores)) stores"
                fi
                # What auto used: faults in every interval (mprotect), in
                # the first one only (mprotect until the first save, then
                # uffd), or none (uffd).
                if [ "$tracking" = auto ]; then
                    if [ "$faults" = 0 ]; then
                        echo uffd >"$SAMPLES/auto-$mode"
                    elif [ "$faults" = "$stores" ] && [ "$intervals" -gt 1 ]; then
                        echo "mpr>uffd" >"$SAMPLES/auto-$mode"
                    elif [ "$faults" = $((intervals * stores)) ] && [ "$intervals" -gt 1 ]; then
                        echo mprotect >"$SAMPLES/auto-$mode"
                    elif [ "$intervals" -gt 1 ]; then
                        echo "?" >"$SAMPLES/auto-$mode"
                    fi
                fi
            done
            # The better backend of this repetition, the auto row's baseline.
            paste -d ' ' <(tail -n 1 "$SAMPLES/session-$name-$mode-mprotect") \
                <(tail -n 1 "$SAMPLES/session-$name-$mode-uffd") |
                awk '{ print ($1 < $2) ? $1 : $2 }' >>"$SAMPLES/session-$name-$mode-best"
        done
    done
}

measure_toss() {
    local tracking
    local stores=$(((BIG + TOSS_STRIDE - 1) / TOSS_STRIDE))
    for tracking in uffd mprotect; do
        run "toss $tracking" env LOOMS_TRACKING=$tracking \
            "$LOOMS" toss "$SCRATCH/live-$BIG" "$LOOM_PAGES" "$BIG" "$TOSS_STRIDE" existing
        sample "toss-$tracking" "$(kv "$OUT" value)"
        [ "$(kv "$OUT" dirty)" = "$stores" ] ||
            check_fail "toss $tracking: $(kv "$OUT" dirty) of $stores stored pages dirty"
    done
    run "raw madvise" "$RAW" madvise $((LOOM_PAGES - STACK_PAGES - BIG))
    sample raw-madvise "$(kv "$OUT" value)"
}

measure_harvest() {
    local stores=$(((HARVEST_IMAGE + HARVEST_STRIDE - 1) / HARVEST_STRIDE))
    rm -rf "$SCRATCH/harvest"
    run "harvest" env LOOMS_TRACKING=uffd "$LOOMS" toss "$SCRATCH/harvest" \
        "$HARVEST_LOOM" "$HARVEST_IMAGE" "$HARVEST_STRIDE" sparse
    sample harvest "$(kv "$OUT" value)"
    [ "$(kv "$OUT" dirty)" = "$stores" ] ||
        check_fail "harvest: $(kv "$OUT" dirty) of $stores stored pages dirty"
    rm -rf "$SCRATCH/harvest"
    # The fixed cost of a save, on a small image and on the whole loom.
    sync
    run "save1 small" env LOOMS_TRACKING=uffd "$LOOMS" save1 "$SCRATCH/live-1000" \
        "$LOOM_PAGES" 1000 existing
    sample save1-small "$(kv "$OUT" value)"
    [ "$(kv "$OUT" verified)" = 1 ] || check_fail "save of one page in 1000: image differs"
    sync
    run "save1 big" env LOOMS_TRACKING=uffd "$LOOMS" save1 "$SCRATCH/harvest" \
        "$HARVEST_LOOM" "$HARVEST_IMAGE" sparse
    sample save1-big "$(kv "$OUT" value)"
    [ "$(kv "$OUT" verified)" = 1 ] ||
        check_fail "save of one page in $HARVEST_IMAGE: image differs"
    rm -rf "$SCRATCH/harvest"
    sync
    run "raw write 1 page" "$RAW" write "$SCRATCH/raw.bin" 1 1000
    sample raw-one "$(kv "$OUT" value)"
    rm -f "$SCRATCH/raw.bin"
    run "raw reprotect" "$RAW" reprotect "$HARVEST_IMAGE" "$HARVEST_STRIDE"
    sample raw-reprotect "$(kv "$OUT" value)"
}

# Background saves (LOOMS_SAVE=background) beside synchronous ones of the
# same pages, back to back in fresh processes. Which of the two goes first
# alternates from one repetition to the next: the second of a pair starts
# while the disk may still be busy with what the first one freed (two
# deleted files of the save's size at 200k pages), and that should not
# fall on the same side every time.
measure_background() {
    local pages mode order="sync background"
    [ $(($1 % 2)) = 0 ] && order="background sync"
    for pages in $BG_SIZES; do
        for mode in $order; do
            rm -rf "$SCRATCH/bgsave"
            sync
            run "bgsave $mode $pages" env LOOMS_TRACKING=uffd LOOMS_SAVE=$mode \
                "$LOOMS" bgsave "$SCRATCH/bgsave" "$pages"
            [ "$(kv "$OUT" verified)" = 1 ] || check_fail "bgsave $mode $pages: image differs"
            local key
            for key in pause_fresh durable_fresh pause durable rss_peak rss_after \
                released_ms store_drain store_idle extra_kib_per_store pages_per_ms \
                pause_next; do
                sample "bg-$mode-$key-$pages" "$(kv "$OUT" $key)"
            done
        done
    done
    rm -rf "$SCRATCH/bgsave"
}

started=$(date +%s)
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
make_live_piers
for rep in $(seq "$REPS"); do
    measure_stores
    measure_saves
    measure_live
    measure_bootstores
    measure_toss
    measure_harvest
    measure_background "$rep"
done
session_pier
for rep in $(seq "$SESSION_REPS"); do
    measure_sessions
done
rm -rf "$SESSION_ROOT"
elapsed=$(($(date +%s) - started))
load_end=$(cut -d ' ' -f 1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# The table.

# stats KEY: "median min max" of the samples of KEY.
stats() {
    sort -g "$SAMPLES/$1" | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%s %s %s\n", m, v[1], v[NR] }'
}

# fmt VALUE: about three significant figures.
fmt() {
    awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v;
        else if (v >= 1) printf "%.2f", v; else printf "%.3f", v }'
}

ROW_FMT='%-3s %-44s %-13s %9s %17s %9s %-2s %7s %9s %-14s %s\n'
MET=0
MISSED=0
N=0
# row LABEL TRACKING UNIT KEY BASEKEY BASENOTE REF TARGET
#   TARGET: "" (none), "base:X" (ratio <= X), "ref:X" (median <= X * REF)
row() {
    local label=$1 tracking=$2 unit=$3 key=$4 base=$5 note=$6 ref=$7 target=$8
    local med lo hi bmed ratio met="" tcol="-"
    read -r med lo hi < <(stats "$key")
    read -r bmed _ _ < <(stats "$base")
    # The ratio of each repetition (the two ran back to back), then their median.
    paste -d ' ' "$SAMPLES/$key" "$SAMPLES/$base" |
        awk '{ print ($2 > 0) ? $1 / $2 : 0 }' >"$SAMPLES/ratio-$key"
    local r
    read -r r _ _ < <(stats "ratio-$key")
    ratio=$(awk -v r="$r" 'BEGIN { if (r > 0) printf "%.2fx", r; else print "-" }')
    case $target in
        base:*)
            tcol="<=${target#base:}x"
            met=$(awk -v r="$r" -v t="${target#base:}" \
                'BEGIN { print (r > 0 && r <= t) ? "met" : "MISSED" }')
            ;;
        ref:*)
            local limit
            limit=$(awk -v r="$ref" -v t="${target#ref:}" 'BEGIN { print r * t }')
            tcol="<=$(fmt "$limit") (${target#ref:}xref)"
            met=$(awk -v a="$med" -v l="$limit" 'BEGIN { print (a <= l) ? "met" : "MISSED" }')
            ;;
    esac
    case $met in met) MET=$((MET + 1)) ;; MISSED) MISSED=$((MISSED + 1)) ;; esac
    N=$((N + 1))
    local refcol="-"
    [ -n "$ref" ] && refcol=$(fmt "$ref")
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$N" "$label" "$tracking" "$(fmt "$med") $unit" \
        "$(fmt "$lo")-$(fmt "$hi")" "$(fmt "$bmed")" "$note" "$ratio" "$refcol" "$tcol" "$met"
}

section() { echo "-- $*"; }

fs=$(df -T "$SCRATCH" | awk 'NR == 2 { print $2 " on " $1 }')
echo "looms benchmark: $REPS run(s) per row, each in a fresh process; median, min-max"
echo "scratch: $SCRATCH ($fs); liblooms: $ROOT/target/release/liblooms.so"
echo "ratio = median over the runs of (library / raw baseline of the same run, back to back);"
echo "        baselines (column 'base', notes below) use the same files and sizes"
echo "ref = the reference events.c on a 2-vCPU VM (fixed numbers, not measured here)"
[ "$UFFD_ACTIVE" = yes ] || echo "NOTE: userfaultfd tracking unavailable; rows marked uffd ran with mprotect"
echo
# shellcheck disable=SC2059
printf "$ROW_FMT" "#" "what (unit)" "tracking" "median" "min-max" "base" "" "ratio" "ref" "target" ""

SP=$STORE_PAGES
section "first store to a clean page after a save, per page (us), $(k "$SP") pages, every other page"
for tracking in mprotect uffd; do
    for kind in word page; do
        what="one word"; ref=8.7
        [ $kind = page ] && what="whole page" && ref=16.7
        base=a; [ $kind = page ] && base=b
        target=""; [ $tracking = uffd ] && target="ref:0.4"
        row "$what, default (demand-paged)" "$tracking" us "store-$tracking-default-$kind" \
            "raw-fault-$kind" "$base" "$ref" "$target"
        row "$what, no_demand" "$tracking" us "store-$tracking-no_demand-$kind" \
            "raw-fault-$kind" "$base" "" "base:1.1"
    done
done
row "one word, bare MAP_PRIVATE mapping (floor)" none us raw-cow-word raw-fault-word a "" ""
row "whole page, bare MAP_PRIVATE mapping (floor)" none us raw-cow-page raw-fault-page b "" ""

section "u3e_save (ms): fresh = first save on a new pier, rewrite = the same pages saved again"
declare -A SAVE_REF=([1000]=50 [10000]=416 [50000]=1688)
for pages in $SAVE_SIZES; do
    target=""; [ "$pages" -ge 10000 ] && target="base:2.5"
    row "$(k "$pages") dirty pages, fresh" uffd ms "save-fresh-$pages" "raw-fresh-$pages" c \
        "${SAVE_REF[$pages]:-}" "$target"
    row "$(k "$pages") dirty pages, rewrite" uffd ms "save-rewrite-$pages" "raw-rewrite-$pages" d \
        "${SAVE_REF[$pages]:-}" "$target"
done
row "1k dirty pages in a $(k "$BIG")-page image" uffd ms save-sparse raw-sparse d "" ""
row "peak RSS (ru_maxrss, MiB), save of $(k "$SAVE_MAX") pages" uffd MiB rss-after rss-before e "" ""

section "u3e_live (ms), existing pier, image warm in the page cache; then the first reads"
for pages in $LIVE_SIZES; do
    ref=""; target=""
    if [ "$pages" = 50000 ]; then ref=0.27; target="ref:2"; fi
    row "$(k "$pages")-page image, default (mapped)" "auto=mprotect" ms \
        "live-default-auto-$pages" "raw-map-$pages" j "$ref" "$target"
    row "$(k "$pages")-page image, default (mapped)" uffd ms \
        "live-default-uffd-$pages" "raw-map-$pages" j "$ref" ""
    ref=""; target=""
    if [ "$pages" = 50000 ]; then ref=575; target="base:0.4"; fi
    row "$(k "$pages")-page image, no_demand (parallel load)" "$(cat "$SAMPLES/auto-no_demand" 2>/dev/null || echo auto)" ms \
        "live-no_demand-$pages" "raw-read-$pages" f "$ref" "$target"
done
row "bare parallel read into huge pages, $(k "$BIG") pages" none ms \
    "raw-hugeread-$BIG" "raw-read-$BIG" f "" ""
row "first reads of every 4 KiB page after it" "auto=mprotect" ms \
    "reads-default-auto-$BIG" "raw-mapreads-$BIG" k "" "base:1.2"
row "first reads of every 4 KiB page after it" uffd ms \
    "reads-default-uffd-$BIG" "raw-mapreads-$BIG" k "" ""
row "RSS (VmRSS) after a default boot, MiB" "auto=mprotect" MiB \
    "rss-default-auto-$BIG" "raw-rss-$BIG" l "" ""
section "first store after a no_demand boot of $(k "$BIG") pages (huge pages), one page in $BOOT_STRIDE, per page (us)"
row "one word, into the image read at boot" mprotect us bootstore-mprotect raw-fault-word a "" "base:1.0"
row "one word, into the image read at boot" uffd us bootstore-uffd raw-fault-word a "" "base:1.0"

section "u3e_toss (ms): $(k "$BIG")-page image in a 1 GiB loom, 1 page in $TOSS_STRIDE stored to since boot"
row "u3e_toss (harvest + madvise of the gap)" uffd ms toss-uffd raw-madvise g "" ""
row "u3e_toss (madvise of the gap)" mprotect ms toss-mprotect raw-madvise g "" ""
section "harvest and reset at save (ms): $((HARVEST_LOOM * 16 / 1024)) MiB loom, sparse image up to its stack, 1 page in $HARVEST_STRIDE stored to"
row "u3e_toss = harvest + re-protect; gap ~0" uffd ms harvest raw-reprotect h "" ""
row "u3e_save, 1 page, 1k-page image (fixed cost)" uffd ms save1-small raw-one i "" ""
row "u3e_save, 1 page, the sparse image above" uffd ms save1-big raw-one i "" ""

section "background saves (ms, MiB): LOOMS_SAVE=background beside the synchronous save of the same pages"
for pages in $BG_SIZES; do
    target=""; [ "$pages" -ge 10000 ] && target="base:0.01"
    row "$(k "$pages") pages, pause in u3e_save, fresh" uffd ms "bg-background-pause_fresh-$pages" \
        "bg-sync-pause_fresh-$pages" n "" "$target"
    row "$(k "$pages") pages, pause in u3e_save, rewrite" uffd ms "bg-background-pause-$pages" \
        "bg-sync-pause-$pages" n "" "$target"
    target=""; [ "$pages" -ge 10000 ] && target="base:1.0"
    row "$(k "$pages") pages, until durable (+ wait), fresh" uffd ms \
        "bg-background-durable_fresh-$pages" "bg-sync-durable_fresh-$pages" n "" "$target"
    row "$(k "$pages") pages, until durable (+ wait), rewrite" uffd ms \
        "bg-background-durable-$pages" "bg-sync-durable-$pages" n "" "$target"
    target=""; [ "$pages" -ge 50000 ] && target="base:1.1"
    row "$(k "$pages") pages, peak RSS (ru_maxrss)" uffd MiB \
        "bg-background-rss_peak-$pages" "bg-sync-rss_peak-$pages" o "" "$target"
    row "$(k "$pages") pages, the next save (a tenth stored to)" uffd ms \
        "bg-background-pause_next-$pages" "bg-sync-pause_next-$pages" n "" ""
    row "$(k "$pages") pages, first store during the save (us)" uffd us \
        "bg-background-store_drain-$pages" "bg-background-store_idle-$pages" d "" ""
done
row "RSS once mapped back, background" uffd MiB \
    "bg-background-rss_after-$SAVE_MAX" "bg-sync-rss_after-$SAVE_MAX" o "" ""
row "copies freed, ms after the wait (background: a thread)" uffd ms \
    "bg-background-released_ms-$SAVE_MAX" "bg-sync-released_ms-$SAVE_MAX" o "" ""
for pages in $BG_SIZES; do
    read -r ppm _ _ < <(stats "bg-background-pages_per_ms-$pages")
    read -r extra _ _ < <(stats "bg-background-extra_kib_per_store-$pages")
    echo "   $(k "$pages") pages: u3e_save takes $(fmt "$ppm") pages/ms (rewrite);" \
        "a first store during the save adds $(fmt "$extra") KiB"
done

section "session model (ms): $(k "$BIG")-page pier in memory ($SESSION_FS): boot, first reads of READ% of the image, K x (D first stores, u3e_save)"
for profile in "${PROFILES[@]}"; do
    read -r name percent intervals stores <<<"$profile"
    for mode in default no_demand; do
        for tracking in mprotect uffd auto; do
            target=""; [ "$tracking" = auto ] && target="base:1.1"
            label="$name: read $percent%, $intervals x $stores stores, $mode"
            shown=$tracking
            [ "$tracking" = auto ] && shown="auto=$(cat "$SAMPLES/auto-$mode")"
            row "$label" "$shown" ms "session-$name-$mode-$tracking" "session-$name-$mode-best" m "" "$target"
        done
    done
done

echo
echo "session phases (medians, ms):          boot     reads    stores     saves"
for profile in "${PROFILES[@]}"; do
    read -r name percent intervals stores <<<"$profile"
    for mode in default no_demand; do
        for tracking in mprotect uffd; do
            printf '  %-7s %-10s %-9s' "$name" "$mode" "$tracking"
            for phase in boot reads stores saves; do
                read -r med _ _ < <(stats "session-$name-$mode-$tracking-$phase")
                printf ' %9s' "$(fmt "$med")"
            done
            echo
        done
    done
done
read -r huge _ _ < <(stats "huge-no_demand-$BIG")
echo "transparent huge pages after a no_demand boot of $(k "$BIG") pages: $(fmt "$huge") MiB (AnonHugePages)"

echo
echo "base: a = bare SIGSEGV handler that only mprotects the 16 KiB page read-write, populated"
echo "          anonymous PROT_READ pages, same store loop (one word)"
echo "      b = the same, storing the whole page"
echo "      rows 'floor': no tracking, no signal: a store to a fresh MAP_PRIVATE mapping of a"
echo "          just-written file, as default mode maps the image; the kernel's copy-on-write"
echo "          of each 4 KiB page is all that is left"
echo "      c = open a new file, the same bytes in 16 KiB pwrites, one fdatasync"
echo "      d = the same bytes in 16 KiB pwrites into an existing synced file of the image's"
echo "          size, at the same pages, one fdatasync"
echo "      e = ru_maxrss of the same process just before the save (the loom already written)"
echo "      f = one single-threaded sequential read of the same image.bin into fresh anonymous"
echo "          4 KiB-page memory (warm)"
echo "          (row 'bare parallel read': the same file read as no_demand boot reads it, without"
echo "          the library: MADV_HUGEPAGE, one thread per CPU claiming 4 MiB chunks)"
echo "      g = bare madvise(MADV_DONTNEED) of the same gap between heap and stack"
echo "      h = bare mprotect(PROT_READ) of the same range with the same pages written,"
echo "          what mprotect tracking pays to re-arm them"
echo "      i = one 16 KiB pwrite into an existing synced 1k-page file, one fdatasync; the"
echo "          difference between the two u3e_save rows is what harvest, remap and re-arm"
echo "          of the whole image cost at that size"
echo "      j = bare open + mmap(PROT_READ, MAP_PRIVATE) of the same image.bin at the loom's address,"
echo "          as the reference's boot maps it"
echo "      k = one word read from every 4 KiB page of that bare mapping, right after it"
echo "      l = VmRSS of that bare process after mapping (a smaller program)"
echo "      m = the faster of mprotect and uffd in the same repetition (the auto row's target)"
echo "      n = the synchronous save (LOOMS_SAVE=sync) of the same pages in the same run"
echo "      o = the same process with synchronous saves (the background save copies only the"
echo "          pages stored to while it is written: none in these two saves)"
echo "      d = a first store to as many other pages of the same loom once the save is durable"
echo "each disk measurement starts after a sync, so that earlier writeback does not land in it."
echo "u3e_save under DRYRUN returns before harvesting, so it cannot time harvest; u3e_toss does."
echo "targets: $MET met, $MISSED missed; checks: $([ $CHECKS = 0 ] && echo "all passed" || echo "$CHECKS FAILED")"
echo "load average: $load_start at start, $load_end at end (above ~0.5, other work shared the CPUs)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, $(uname -sr); took ${elapsed}s"
[ "$CHECKS" = 0 ]
