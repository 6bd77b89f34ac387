#!/usr/bin/env bash
# make bench-disk: bytes reaching the device per save and per backup, on a
# loop-mounted ext4, xfs and btrfs (sparse backing files in /dev/shm;
# LOOPFS_BACKING moves them), looms beside the write path in the same run.
#
# The baseline is looms with LOOMS_REFLINK=0: every save writes each page
# twice (memory.bin, then image.bin) and a backup reads and writes every
# byte, as events.c does; the only difference from the row beside it is
# whether the image takes the patch's pages by FICLONERANGE and a backup
# copies by copy_file_range. Bytes are the sectors the loop device counts
# as written (/sys/block/loopN/stat) between two syncs of the file system.
#
# Each save: DISK_PAGES pages (default 640, 10 MiB) in runs of 4 at an even
# stride over an image of DISK_IMAGE pages (default 6400, 100 MiB), synced
# (looms_save_wait), DISK_SAVES saves (default 5) per measurement; the two
# builds take turns going first over DISK_REPS pairs (default 2). The
# backup copies that image (DISK_FS: which file systems). Targets: xfs and btrfs at most 0.6x per save
# and 0.05x per backup; ext4 at most 1.0x. Needs root.
#
# Then, on each file system, what skipping the dirty pages that hold the
# bytes the image already has would gain and cost (`looms_bench
# unchanged`; looms does not skip them): for UNCHANGED per-mille of the
# save's pages (default 0 4 10 50 150) stored to with the bytes they hold,
# the save as it is beside the save of the changed pages only (what a
# skipping save writes), plus the reads that would find them: each dirty
# page's old bytes read from image.bin and compared, with the image out of
# the page cache (cold) and in it (warm). UNCHANGED_SAVES rounds (default
# 20) of one save each way. Ratios: skipping / as it is.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIB=${LOOMS_LIB_DIR:-$ROOT/target/release}
OUT=$ROOT/target/bench
# shellcheck source=scripts/loopfs.sh
. scripts/loopfs.sh
W=$(mktemp -d /tmp/looms-bench-disk.XXXXXX)
trap 'loopfs_cleanup; rm -rf "$W"' EXIT
IMAGE=${DISK_IMAGE:-6400}
PAGES=${DISK_PAGES:-640}
SAVES=${DISK_SAVES:-5}
REPS=${DISK_REPS:-2}
UNCHANGED=${UNCHANGED:-0 4 10 50 150}
UNCHANGED_SAVES=${UNCHANGED_SAVES:-20}
unchanged_rows=""

make -s -C c-tests/bench LIB_DIR="$LIB" OUT="$OUT" >/dev/null || { echo "bench-disk: build failed"; exit 1; }
[ -x "$LIB/looms" ] || { echo "bench-disk: $LIB/looms is missing: make cli"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "bench-disk: needs root (mount, losetup)"
    exit 0
fi

mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "-"}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r != "-" && r <= t) ? "met" : "MISSED"}'; }
# field KEY LINE: the value of KEY=... in a key=value line.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# sectors DIR: sectors written to $DEV once DIR's file system is synced.
sectors() { sync -f "$1" && loopfs_sectors "$DEV"; }

printf '%-6s %-16s %14s %14s %8s %9s %9s %7s %s\n' fs what "reference B" "looms B" ratio \
    "ref ms" "looms ms" target ""
missed=0
row() {
    local fs=$1 what=$2 ref=$3 looms=$4 ref_ms=$5 looms_ms=$6 target=$7 r v
    r=$(ratio "$looms" "$ref")
    v=$(verdict "$r" "$target")
    [ "$v" = met ] || missed=1
    printf '%-6s %-16s %14.0f %14.0f %7sx %9s %9s %6sx %s\n' "$fs" "$what" "$ref" "$looms" "$r" \
        "$ref_ms" "$looms_ms" "$target" "$v"
}

for fs in ${DISK_FS:-ext4 xfs btrfs}; do
    why=$(loopfs_why_not "$fs")
    if [ -n "$why" ]; then
        echo "$fs: skipped ($why)"
        continue
    fi
    M=$W/$fs
    loopfs_mount "$fs" 3072 "$M" || { echo "$fs: could not be mounted"; missed=1; continue; }
    DEV=$LOOPFS_DEV
    target=0.6
    [ "$fs" = ext4 ] && target=1.0
    for mode in sync background; do
        declare -A sum=([ref]=0 [looms]=0 [ref_ms]=0 [looms_ms]=0)
        for rep in $(seq 1 "$REPS"); do
            order="ref looms"
            [ $((rep % 2)) -eq 0 ] && order="looms ref"
            for who in $order; do
                rm -rf "$M/pier"
                envs=(LOOMS_SAVE=$mode)
                [ "$who" = ref ] && envs+=(LOOMS_REFLINK=0)
                line=$(env "${envs[@]}" "$OUT/looms_bench" disk "$M/pier" "/sys/block/$DEV/stat" \
                    "$IMAGE" "$PAGES" "$SAVES")
                if [ "$(field verified "$line")" != 1 ]; then
                    echo "$fs $mode $who: the image does not hold the saved pages: $line"
                    missed=1
                fi
                sum[$who]=$(awk -v a="${sum[$who]}" -v b="$(field value "$line")" 'BEGIN {print a + b}')
                sum[${who}_ms]=$(awk -v a="${sum[${who}_ms]}" -v b="$(field ms "$line")" 'BEGIN {print a + b}')
            done
        done
        avg() { awk -v a="$1" -v n="$REPS" 'BEGIN {printf "%.1f", a / n}'; }
        row "$fs" "save $mode" "$(avg "${sum[ref]}")" "$(avg "${sum[looms]}")" \
            "$(avg "${sum[ref_ms]}")" "$(avg "${sum[looms_ms]}")" "$target"
        unset sum
    done
    # A backup of the image: a plain copy (LOOMS_REFLINK=0), then looms's.
    rm -rf "$M/pier"
    "$OUT/looms_bench" make "$M/pier" "$IMAGE" >/dev/null
    backup_target=0.05
    [ "$fs" = ext4 ] && backup_target=1.0
    declare -A bytes ms
    for who in ref looms; do
        envs=()
        [ "$who" = ref ] && envs=(LOOMS_REFLINK=0)
        rm -rf "$M/bak-$who"
        before=$(sectors "$M")
        t0=$(date +%s%N)
        env ${envs[@]+"${envs[@]}"} "$LIB/looms" backup "$M/pier" "$M/bak-$who" >/dev/null || missed=1
        t1=$(date +%s%N)
        after=$(sectors "$M")
        bytes[$who]=$(((after - before) * 512))
        ms[$who]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
        cmp -s "$M/pier/.urb/chk/image.bin" "$M/bak-$who/image.bin" ||
            { echo "$fs backup $who: the copy differs"; missed=1; }
    done
    row "$fs" "backup $(mib $((IMAGE * 16384)))M" "${bytes[ref]}" "${bytes[looms]}" "${ms[ref]}" \
        "${ms[looms]}" "$backup_target"
    unset bytes ms
    # Unchanged pages: as it is, and what skipping them would take.
    for permille in $UNCHANGED; do
        rm -rf "$M/pier"
        line=$("$OUT/looms_bench" unchanged "$M/pier" "/sys/block/$DEV/stat" "$IMAGE" "$PAGES" \
            "$UNCHANGED_SAVES" "$permille")
        if [ "$(field verified "$line")" != 1 ]; then
            echo "$fs unchanged $permille: a check failed: $line"
            missed=1
        fi
        unchanged_rows+=$(awk -v fs="$fs" -v pm="$permille" -v l="$line" 'BEGIN {
            n = split(l, kv, " ")
            for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
            printf "%-6s %5.1f%% %4d/%-4d %12.0f %12.0f %6.3fx %8.2f %8.2f %8.2f %8.2f %12.0f %6.3fx %6.3fx\n",
                fs, pm / 10, v["unchanged"], v["pages"], v["bytes"], v["skip_bytes"],
                (v["bytes"] > 0 ? v["skip_bytes"] / v["bytes"] : 0), v["ms"], v["skip_ms"],
                v["cold_ms"], v["warm_ms"], v["cold_read"],
                (v["skip_ms"] + v["cold_ms"]) / v["ms"], (v["skip_ms"] + v["warm_ms"]) / v["ms"]
        }')$'\n'
    done
    loopfs_cleanup
done
echo "(bytes: per save, or per backup; ms: per save until durable, or per backup)"
if [ -n "$unchanged_rows" ]; then
    echo
    echo "unchanged pages: a save of $PAGES pages, some stored to with the bytes they hold;"
    echo "as it is, beside skipping them (the save of the changed pages + reading and comparing"
    echo "every dirty page's old bytes from image.bin, cold: out of the page cache; warm: in it)"
    printf '%-6s %6s %9s %12s %12s %7s %8s %8s %8s %8s %12s %7s %7s\n' fs same pages "save B" \
        "skipping B" bytes "save ms" "skip ms" "cmp cold" "cmp warm" "cold read B" cold warm
    printf '%s' "$unchanged_rows"
    echo "(per save; bytes: ratio of bytes reaching the device; cold, warm: time of skipping"
    echo " (skip ms + cmp) / save ms; below 1.000x skipping pays in time)"
fi
exit $missed
