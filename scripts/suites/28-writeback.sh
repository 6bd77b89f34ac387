#!/usr/bin/env bash
# Write-back errors: a save whose pages are accepted into the page cache and
# then fail on their way to the disk. Every call that can report such an
# error is checked: an error before the patch is durable keeps the previous
# snapshot (the torn patch removed, every page still dirty, one `loom: save:`
# line naming the file and the errno); an error while the image is written
# keeps the patch and ends in u3m_bail, and the next boot re-applies it.
#
# Two ways to fail, through c-tests/host/writeback.c:
#   - the wbhook interposer (c-tests/host/wbhook.c) fails one
#     sync_file_range with EIO as the kernel reports an error once per
#     open file (a later fdatasync then returns 0), on memory.bin and on
#     image.bin, with a /dev/shm pier;
#   - a real device (root only): a loop device over a file on a small tmpfs,
#     ext4 on it. Once the tmpfs is full, every block the file system has
#     not written before (fstrim made the free ones holes) fails its
#     write-back, while its metadata (written by mkfs) does not. The
#     interposer only chooses the moment: it frees the tmpfs right after the
#     background save's first wait on memory.bin (so that the rest of the
#     patch reaches the disk and its fdatasync succeeds), or fills it at the
#     image's first write. The file system is mounted again before every
#     boot, so that boot reads what reached the disk, not the page cache.
#
# A patch of 4800 pages (75 MiB): a background save waits for memory.bin's
# write-back 64 MiB behind its newest write.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/c-tests
make -s -C c-tests/host >/dev/null || { echo "FAIL: writeback/build"; exit 1; }
cargo build --quiet --release --features cli --bin looms || { echo "FAIL: writeback/build-cli"; exit 1; }
BIN=$OUT/writeback
HOOK=$OUT/libwbhook.so
LOOMS=$ROOT/target/release/looms
export SCN_WORDS=$((1 << 25))
# A pier of N pages, K of them stored to before the failing save (past the
# 64 MiB behind which a background save waits for memory.bin), and a
# smaller one where the first start of write-back (8 MiB) is enough; M
# pages more when the image grows.
N=4900
K=4800
SMALL_N=1000
SMALL_K=900
M=100
W=$(mktemp -d /dev/shm/looms-writeback.XXXXXX 2>/dev/null || mktemp -d /tmp/looms-writeback.XXXXXX)
LOG=$W/log
MNT=$W/mnt
STORE=$W/store
FILL=$STORE/fill
LOOP=
cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    [ -n "$LOOP" ] && losetup -d "$LOOP"
    mountpoint -q "$STORE" 2>/dev/null && umount "$STORE"
    rm -rf "$W"
}
trap cleanup EXIT
failed=0

# step [env...] -- ARGS: one step of the writeback program; output in
# $W/out and $LOG; returns its exit status.
step() {
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ ${envs[*]} writeback $*" >>"$LOG"
    # The subshell keeps the shell's word on a killed child off the output.
    (timeout -s KILL 120 env "${envs[@]}" "$BIN" "$@" >"$W/out" 2>&1; exit $?) 2>/dev/null
    local rc=$?
    cat "$W/out" >>"$LOG"
    return $rc
}
. scripts/lines.sh
exists() { [ -e "$1" ] || { echo "missing: $1" >>"$LOG"; return 1; }; }
absent() { [ ! -e "$1" ] || { echo "unexpected: $1" >>"$LOG"; return 1; }; }
run() {
    local name=$1; shift
    : >"$LOG"
    if "$@"; then
        echo "PASS: writeback/$name"
    else
        echo "FAIL: writeback/$name"
        tail -n 25 "$LOG" | sed 's/^/    /'
        failed=1
    fi
}
kept() { echo "loom: save: $1 $2: $3; previous snapshot kept, will retry"; }
lost() { echo "loom: save: $1 $2: $3; the patch is kept and applied at the next boot"; }
EIO_TEXT="Input/output error"
ENOSPC_TEXT="No space left on device"

# ---- interposed: one sync_file_range fails with EIO -----------------------------------

# hook_patch SAVE VAR PAGES KEEP: a save of PAGES pages (KEEP of them stored
# to) whose sync_file_range on memory.bin (VAR: WBHOOK_FAIL_WAIT or
# WBHOOK_FAIL_START) fails keeps the previous snapshot; the next save
# writes every page, and a boot finds it.
hook_patch() {
    local save=$1 var=$2 pages=$3 keep=$4
    local P=$W/hook/p
    rm -rf "$W/hook" && mkdir "$W/hook"
    ok LOOMS_SAVE="$save" -- save "$P" "$pages" 1 &&
        ok LOOMS_SAVE="$save" LD_PRELOAD="$HOOK" "$var=memory.bin" -- \
            fail "$P" "$pages" "$keep" 1 2 "$W/none" resave &&
        has "$(kept "write back" "$P/.urb/chk/memory.bin" "$EIO_TEXT")" &&
        has "the next save wrote every page" &&
        ok LOOMS_SAVE="$save" -- check "$P" "$pages" "$keep" 1 2
}
# The wait 64 MiB behind the newest write, a start of write-back, and the
# wait that drops the synced patch from the cache.
run hook-wait-background hook_patch background WBHOOK_FAIL_WAIT "$N" "$K"
run hook-start-background hook_patch background WBHOOK_FAIL_START "$SMALL_N" "$SMALL_K"
run hook-drop-background hook_patch background WBHOOK_FAIL_WAIT 16 8

# hook_image SAVE: a save whose start of the image's write-back fails ends in
# u3m_bail with its patch in place; the next boot applies it.
hook_image() {
    local save=$1
    local P=$W/hook/p
    rm -rf "$W/hook" && mkdir "$W/hook"
    local n=$SMALL_N
    ok LOOMS_SAVE="$save" -- save "$P" "$n" 1 &&
        code 3 LOOMS_SAVE="$save" LD_PRELOAD="$HOOK" WBHOOK_FAIL_START=image.bin -- \
            grow "$P" "$n" "$M" 0 1 2 &&
        has "$(lost "write back" "$P/.urb/chk/image.bin" "$EIO_TEXT")" &&
        exists "$P/.urb/chk/control.bin" && exists "$P/.urb/chk/memory.bin" &&
        ok LOOMS_SAVE="$save" -- check "$P" $((n + M)) $((n + M)) 1 2
}
run hook-image-sync hook_image sync
run hook-image-background hook_image background

# ---- a device that fails writes after accepting them -----------------------------------

skip_device() {
    local why=$1 name
    for name in kept-sync kept-background resave-sync resave-background image-sync \
        image-background backup cli-backup; do
        echo "SKIP: writeback/device-$name ($why)"
    done
}

device() {
    [ "$(id -u)" -eq 0 ] || { skip_device "needs root: mount, losetup"; return; }
    local tool
    for tool in losetup mkfs.ext4 fstrim mountpoint; do
        command -v "$tool" >/dev/null || { skip_device "no $tool"; return; }
    done
    mkdir -p "$STORE" "$MNT"
    if ! mount -t tmpfs -o size=400m tmpfs "$STORE" 2>>"$LOG"; then
        skip_device "cannot mount a tmpfs"
        return
    fi
    truncate -s 768M "$STORE/disk"
    if ! LOOP=$(losetup -f --show "$STORE/disk" 2>>"$LOG") || [ -z "$LOOP" ]; then
        LOOP=
        skip_device "no loop device"
        return
    fi
    # Every block mkfs writes (the journal, the inode tables) is in the
    # tmpfs before it fills; nothing is discarded.
    if ! mkfs.ext4 -q -F -b 4096 -N 256 -J size=4 \
        -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$LOOP" >>"$LOG" 2>&1 ||
        ! mount -o errors=continue "$LOOP" "$MNT" 2>>"$LOG"; then
        skip_device "cannot make an ext4 file system on $LOOP"
        return
    fi

    local save
    for save in sync background; do
        run "device-kept-$save" device_kept "$save"
        run "device-resave-$save" device_resave "$save"
        run "device-image-$save" device_image "$save"
    done
    run device-backup device_backup
    run device-cli-backup device_cli_backup
}

# Everything written so far reaches the disk (metadata included, so that
# none of it is in flight when the device fails), every free block of the
# file system becomes a hole in its backing file, and the tmpfs is filled:
# writes to those blocks fail from here.
fill_device() {
    rm -f "$FILL"
    settle && fstrim "$MNT" >>"$LOG" 2>&1 || return 1
    dd if=/dev/zero of="$FILL" bs=1M status=none 2>/dev/null
    [ "$(df --output=avail "$STORE" | tail -n 1)" -eq 0 ] ||
        { echo "the tmpfs is not full" >>"$LOG"; return 1; }
}
free_device() { rm -f "$FILL"; }
# Everything written reaches the disk; a write-back error a failed test left
# behind is reported by the first syncfs and not by the second.
settle() { sync -f "$MNT" 2>>"$LOG" || sync -f "$MNT"; }
# Mounted again: the page cache of the file system is gone, and a boot
# reads what reached the disk.
remount() { umount "$MNT" && mount -o errors=continue "$LOOP" "$MNT"; }

# The pier of a kind of save: a synchronous save fails at its first write,
# whatever its size; a background one needs the size that makes it wait.
pages() { if [ "$1" = sync ]; then echo "$SMALL_N $SMALL_K"; else echo "$N $K"; fi; }

# The word for how memory.bin's write fails: a synchronous save writes it
# with direct I/O (the error comes back from the write); a background save
# writes it through the page cache (from the wait on its write-back).
patch_op() { if [ "$1" = sync ]; then echo write; else echo "write back"; fi; }

# device_kept SAVE: the device fails memory.bin's write-back; the save says
# so and keeps the previous snapshot, which boots whole. A background save
# finds the device working again right after its first wait (the rest of
# the patch reaches the disk): before the fix it went on, wrote the image
# (killed here after its first write) and the boot discarded the torn
# patch, leaving a half-new image.
device_kept() {
    local save=$1 n k
    local P=$MNT/p-$save
    read -r n k < <(pages "$save")
    ok LOOMS_SAVE="$save" -- save "$P" "$n" 1 &&
        fill_device &&
        ok LOOMS_SAVE="$save" LD_PRELOAD="$HOOK" WBHOOK_FREE="$FILL" WBHOOK_KILL=1 -- \
            fail "$P" "$n" "$k" 1 2 "$FILL" stop &&
        has "$(kept "$(patch_op "$save")" "$P/.urb/chk/memory.bin" "$ENOSPC_TEXT")" &&
        { [ "$save" = sync ] || has "wbhook: write-back of memory.bin failed: $ENOSPC_TEXT"; } &&
        free_device && remount &&
        ok LOOMS_SAVE="$save" -- check "$P" "$n" 0 1 1
}

# device_resave SAVE: the same failure, then space is freed in the same
# process; the next save writes every page the failed one did not.
device_resave() {
    local save=$1 n k
    local P=$MNT/p-$save
    read -r n k < <(pages "$save")
    fill_device &&
        ok LOOMS_SAVE="$save" LD_PRELOAD="$HOOK" WBHOOK_FREE="$FILL" -- \
            fail "$P" "$n" "$k" 1 2 "$FILL" resave &&
        has "$(kept "$(patch_op "$save")" "$P/.urb/chk/memory.bin" "$ENOSPC_TEXT")" &&
        has "the next save wrote every page" &&
        free_device && remount &&
        ok LOOMS_SAVE="$save" -- check "$P" "$n" "$k" 1 2
}

# device_image SAVE: the device fills once the patch is durable, at the
# image's first write; the image's new blocks fail their write-back. The
# save ends in u3m_bail with the patch in place, and the next boot (the
# device working again) applies it.
device_image() {
    local save=$1 n k
    local P=$MNT/p-$save
    read -r n k < <(pages "$save")
    free_device
    settle && fstrim "$MNT" >>"$LOG" 2>&1 &&
        code 3 LOOMS_SAVE="$save" LD_PRELOAD="$HOOK" WBHOOK_FILL="$FILL" -- \
            grow "$P" "$n" "$M" "$k" 1 2 &&
        has "wbhook: filled the device's store" &&
        has "$(lost sync "$P/.urb/chk/image.bin" "$ENOSPC_TEXT")" &&
        exists "$P/.urb/chk/control.bin" && exists "$P/.urb/chk/memory.bin" &&
        free_device && remount &&
        ok LOOMS_SAVE="$save" -- check "$P" $((n + M)) $((n + M)) 1 2
}

# device_backup: u3e_backup onto the failing device answers no, leaves no
# copy, and succeeds once there is room.
device_backup() {
    local P=$MNT/p-sync DEST=$MNT/bak
    rm -rf "$DEST" "$MNT/p-background"
    mkdir "$DEST" && fill_device &&
        ok -- backup "$P" "$DEST" 0 &&
        has "loom: image backup: sync $DEST/image.bin.tmp: $ENOSPC_TEXT" &&
        has "loom: image backup failed" &&
        absent "$DEST/image.bin" && absent "$DEST/image.bin.tmp" &&
        free_device && remount &&
        ok -- backup "$P" "$DEST" 1 &&
        remount && cmp -s "$P/.urb/chk/image.bin" "$DEST/image.bin" &&
        rm -rf "$DEST"
}

# device_cli_backup: `looms backup` likewise.
device_cli_backup() {
    local P=$MNT/p-sync DEST=$MNT/cli-bak
    rm -rf "$DEST"
    mkdir "$DEST" && fill_device || return 1
    "$LOOMS" backup "$P" "$DEST" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    [ "$rc" -ne 0 ] &&
        has "looms: sync $DEST/image.bin.tmp: $ENOSPC_TEXT; $DEST/image.bin is unchanged" &&
        absent "$DEST/image.bin" && absent "$DEST/image.bin.tmp" &&
        free_device && remount &&
        "$LOOMS" backup "$P" "$DEST" >>"$LOG" 2>&1 &&
        remount && cmp -s "$P/.urb/chk/image.bin" "$DEST/image.bin"
}

device
exit $failed
