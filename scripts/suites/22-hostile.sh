#!/usr/bin/env bash
# Hostile conditions: threads refused, the kernel's mapping limit, backups
# onto live snapshots, odd files in place of pier files, a nearly full file
# system, reserved blocks, long paths, a second u3e_stop, a save that wrote
# nothing followed by a backup, paths that are not UTF-8; and a second
# round: another thread, a fork and a signal handler around (background)
# saves, the pier's lock (refused at once, never silently absent, not
# inherited), backups of a pier whose image was half-written, images too
# big for any loom, file systems that cannot reserve or keep no block
# counts, a full disk under swap mode, u3e_stop before u3e_live. Each test runs in
# every mode it applies to: default, no_demand and swap, each tracking
# backend (swap mode always tracks with mprotect): at the check tier in
# three of the five (default under mprotect, no_demand under uffd, swap),
# at the soak tier (make soak) in all. Every test has a row in the bad-input
# table of docs/reliability.md (`hostile/<name>`); this suite checks that.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/tier.sh
OUT=$ROOT/target/c-tests
make -s -C c-tests/host >/dev/null || { echo "FAIL: hostile/build"; exit 1; }
cargo build --quiet --release --features cli --bin looms || { echo "FAIL: hostile/build-cli"; exit 1; }
SCN=$OUT/scenario
HOST=$OUT/hostile
BG=$OUT/background
LOOMS=$ROOT/target/release/looms
W=$(mktemp -d /tmp/looms-hostile.XXXXXX)
# Piers whose disk is not the point, on tmpfs where there is one.
SHM=$(mktemp -d /dev/shm/looms-hostile.XXXXXX 2>/dev/null || mktemp -d "$W/shm.XXXXXX")
MOUNTS=()
cleanup() {
    local m
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    rm -rf "$W" "$SHM"
}
trap cleanup EXIT
failed=0
LOG=$W/log
NAMES=()

STEP_SECONDS=${STEP_SECONDS:-120}
# HOSTILE_ONLY=REGEX runs only the tests whose names match (while working on them).
ONLY=${HOSTILE_ONLY:-}
SAVE=
# The modes: "FLAGS TRACKING" pairs.
MODES=(" mprotect" " uffd" "no_demand mprotect" "no_demand uffd" "swap mprotect")
soak || MODES=(" mprotect" "no_demand uffd" "swap mprotect")

# step PROGRAM [env...] -- ARGS: runs one step with the mode's settings,
# output in $W/out (and appended to $LOG); returns its exit status.
step() {
    local prog=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "+ [$FLAGS $TRACK] ${envs[*]} $(basename "$prog") $*" >>"$LOG"
    # No step takes long; one that hangs (a blocked open, a deadlock) is
    # killed and fails.
    timeout -s KILL "$STEP_SECONDS" env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "${envs[@]}" \
        "$prog" "$@" >"$W/out" 2>&1
    local rc=$?
    [ "$rc" -ne 137 ] || echo "killed after ${STEP_SECONDS}s" >>"$W/out"
    cat "$W/out" >>"$LOG"
    return $rc
}
. scripts/lines.sh
chk() { echo "$P/.urb/chk/$1"; }
# returns SECONDS CMD...: CMD ends (whatever its status) within SECONDS.
returns() {
    local limit=$1; shift
    timeout -s KILL "$limit" "$@" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    [ "$rc" -ne 137 ] || { echo "still running after ${limit}s: $*" >>"$LOG"; return 1; }
}

run() {
    local name=$1; shift
    NAMES+=("$name")
    [ -z "$ONLY" ] || [[ $name =~ $ONLY ]] || return 0
    : >"$LOG"
    rm -rf "$W/p" "$W/e" "$W/e2" "$W/q" "$W/src" "$W/x" "$W/cwd" "$W/d"
    P=$W/p
    local tag="[${FLAGS:-default} $TRACK${SAVE:+ $SAVE}]"
    if "$@"; then
        echo "PASS: hostile/$name $tag"
    else
        echo "FAIL: hostile/$name $tag"
        tail -n 25 "$LOG" | sed 's/^/    /'
        failed=1
    fi
}
skip() { NAMES+=("$1"); echo "SKIP: hostile/$1 ($2)"; }

# ---- threads and mappings -------------------------------------------------------

# No thread can be created: the save hashes on the runtime's thread. With
# RUST_BACKTRACE set too (a panic there used to deadlock).
thread_refused() {
    ok "$SCN" "LD_PRELOAD=$OUT/libnothread.so" RUST_BACKTRACE=1 -- write "$P" 1 64 &&
        has "nothread: pthread_create refused" &&
        ok "$SCN" -- verify "$P" 1 64
}

# At the kernel's mapping limit (vm.max_map_count): first stores widen, the
# save finds no thread and hashes itself. A 4 MiB loom keeps it small.
map_limit_save() {
    ok "$SCN" SCN_WORDS=1048576 -- write "$P" 1 64 &&
        ok "$HOST" SCN_WORDS=1048576 -- maplimit_save "$P" 64 && has "thread refused" &&
        ok "$SCN" SCN_WORDS=1048576 -- verify "$P" 7 64
}

# At the mapping limit the heap runs into the guard: the guard moves.
map_limit_guard() {
    ok "$SCN" SCN_WORDS=1048576 -- write "$P" 1 64 &&
        ok "$HOST" SCN_WORDS=1048576 -- maplimit_guard "$P" 64 &&
        hasnt "failed to protect guard page"
}

# ---- backups onto live snapshots --------------------------------------------------

backup_onto_itself() { ok "$HOST" -- backup_self "$P" && ok "$SCN" -- verify "$P" 2 8; }

# The running process restores an epoch into its own pier: refused.
backup_into_own_pier() {
    ok "$SCN" -- write "$P" 1 8 && mkdir -p "$W/e" && cp "$(chk image.bin)" "$W/e/image.bin" &&
        ok "$HOST" -- backup_into "$P" "$W/e" 1 &&
        has "is the snapshot of a running pier; nothing copied" &&
        ok "$SCN" -- verify "$P" 4 8
}

# Another process restores an epoch into a running pier: refused, and the
# running pier's saves still reach its image.
backup_into_other_pier() {
    ok "$SCN" -- write "$P" 1 8 && mkdir -p "$W/e" && ok "$SCN" -- write "$W/x" 6 8 &&
        cp "$W/x/.urb/chk/image.bin" "$W/e/image.bin" || return 1
    env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$SCN" hold "$P" 2 8 >"$W/hold" 2>&1 &
    local holder=$! i
    for i in $(seq 200); do grep -qs holding "$W/hold" && break; sleep 0.05; done
    code 0 "$HOST" -- backup_into "$P" "$W/e" 0
    local rc=$?
    cp "$W/out" "$W/refused"
    kill -USR1 "$holder"
    wait "$holder"
    local held=$?
    cat "$W/hold" >>"$LOG"
    rm -rf "$W/x"
    [ $rc -eq 0 ] && [ $held -eq 0 ] &&
        grep -aqF "$P/.urb/chk is the snapshot of a running pier; nothing copied" "$W/refused" &&
        ok "$SCN" -- verify "$P" 2 8
}

# ---- files that are not regular files ------------------------------------------------------

# make_odd KIND PATH: a FIFO, a socket or a directory at PATH.
make_odd() {
    rm -rf "$2"
    case $1 in
    fifo) mkfifo "$2" ;;
    socket) python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$2" ;;
    directory) mkdir "$2" ;;
    esac
}
odd_text() {
    case $1 in
    fifo) echo "is a FIFO, not a regular file" ;;
    socket) echo "is a socket, not a regular file" ;;
    directory) echo "Is a directory" ;;
    esac
}

# image.bin: boot stops (exit 1) with the reason; looms info, verify and
# recover answer at once.
odd_image() {
    local kind=$1
    ok "$SCN" -- write "$P" 1 8 && make_odd "$kind" "$(chk image.bin)" &&
        returns 2 env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$SCN" boot "$P" &&
        has "loom: c3_open $(chk image.bin): $(odd_text "$kind")" && has "boot: image failed" &&
        returns 2 "$LOOMS" info "$P" && returns 2 "$LOOMS" verify "$P" &&
        returns 2 "$LOOMS" recover "$P" && [ -e "$(chk image.bin)" ]
}

# control.bin or memory.bin: a patch nothing wrote; boot discards it, the
# old heap boots; looms answers at once.
odd_patch_file() {
    local kind=$1 file=$2
    ok "$SCN" -- write "$P" 1 8 && ok "$SCN" -- patch "$P" valid && make_odd "$kind" "$(chk "$file")" &&
        returns 2 "$LOOMS" info "$P" && returns 2 "$LOOMS" verify "$P" &&
        returns 2 env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$SCN" verify "$P" 1 8 &&
        has "loom: patch $file: $(odd_text "$kind")" &&
        [ ! -e "$(chk control.bin)" ] && [ ! -e "$(chk memory.bin)" ]
}

# limbo.bin in swap mode: boot stops with the reason.
odd_swap_file() {
    local kind=$1
    ok "$SCN" -- write "$P" 1 8 && make_odd "$kind" "$(chk limbo.bin)" &&
        returns 2 env SCN_FLAGS=swap "$SCN" boot "$P" &&
        has "loom: ephemeral c3_open $(chk limbo.bin): $(odd_text "$kind")" &&
        has "boot: failed to load ephemeral file"
}

# A backup's source image, its destination's temporary and final names.
odd_backup_files() {
    local kind=$1
    ok "$SCN" -- write "$P" 1 8 && mkdir -p "$W/e" "$W/src" || return 1
    make_odd "$kind" "$W/src/image.bin"
    returns 2 "$HOST" backup "$P" "$W/src" "$W/e" y n &&
        has "loom: image backup: open $W/src/image.bin: $(odd_text "$kind")" &&
        has "loom: couldn't open image at $W/src" || return 1
    # Whatever is left under the temporary name is replaced.
    make_odd "$kind" "$W/e/image.bin.tmp"
    returns 2 "$HOST" backup "$P" "$(chk '')" "$W/e" y y && cmp -s "$(chk image.bin)" "$W/e/image.bin" &&
        [ ! -e "$W/e/image.bin.tmp" ] || return 1
    # A FIFO or socket as the destination image is replaced by the copy; a
    # directory there refuses it.
    make_odd "$kind" "$W/e/image.bin"
    if [ "$kind" = directory ]; then
        returns 2 "$HOST" backup "$P" "$(chk '')" "$W/e" y n && has "loom: image backup failed" &&
            [ ! -e "$W/e/image.bin.tmp" ]
    else
        returns 2 "$HOST" backup "$P" "$(chk '')" "$W/e" y y && cmp -s "$(chk image.bin)" "$W/e/image.bin"
    fi && returns 2 "$LOOMS" backup "$P" "$W/e2" && cmp -s "$(chk image.bin)" "$W/e2/image.bin"
}

# ---- space ---------------------------------------------------------------------------------

# A small ext4 of its own at $W/fs, on a loop device of SIZE MiB with
# RESERVED percent of its blocks kept back for root.
small_fs() {
    local size=$1 reserved=$2 type=${3:-ext4}
    mkdir -p "$W/fs"
    rm -f "$W/fs.img"
    truncate -s "${size}M" "$W/fs.img" && "mkfs.$type" -q -m "$reserved" "$W/fs.img" 2>/dev/null &&
        mount -o "loop${MOUNT_OPTIONS:+,$MOUNT_OPTIONS}" "$W/fs.img" "$W/fs" 2>/dev/null || return 1
    FS=$type
    MOUNTS+=("$W/fs")
}
drop_fs() { umount "$W/fs" 2>/dev/null; MOUNTS=(); rm -f "$W/fs.img"; }

# A sparse image (free pages skipped leave holes) on a nearly full file
# system: 1.2 MiB free is room for the 768 KiB patch but not for it and the
# 768 KiB of holes the image write then fills. The save reserves the
# image's blocks before its patch exists, so it fails before anything is
# durable (events.c, and looms before, made the patch durable and then
# bailed in the image write at every boot until space was freed); once
# there is room again the same pages are saved.
full_disk_sparse() {
    P=$W/fs/p
    ok "$HOST" -- sparse "$P" 64 8 56 && cp "$(chk image.bin)" "$W/before" || return 1
    local free
    free=$(df -B1 --output=avail "$W/fs" | tail -n 1)
    fallocate -l $((free - 1258291)) "$W/fs/filler" || return 1
    ok "$HOST" -- fill_holes "$P" 64 8 56 2 && has "save returned" &&
        has "No space left on device; previous snapshot kept, will retry" &&
        hasnt "host: bail" && cmp -s "$(chk image.bin)" "$W/before" &&
        [ ! -e "$(chk control.bin)" ] && [ ! -e "$(chk memory.bin)" ] || return 1
    rm -f "$W/fs/filler"
    ok "$HOST" -- fill_holes "$P" 64 8 56 2 && hasnt "loom: save:" &&
        ok "$HOST" -- image_seeds "$P" 64 8 56 2 1
}

# Root may write the blocks ext4 keeps back: a save as root succeeds where
# nothing is free to unprivileged users; as uid 65534 the same save is
# refused. On an ext4 loop mount with reserved blocks where one can be made,
# else by making statvfs report no unprivileged space.
reserved_blocks() {
    local how=$1 envs=()
    if [ "$how" = shim ]; then
        envs=("LD_PRELOAD=$OUT/libspace.so" SPACE_AVAIL=0)
        P=$W/p
    else
        P=$W/fs/p
    fi
    ok "$SCN" "${envs[@]}" -- write "$P" 1 64 && hasnt "loom: save:" || return 1
    chmod -R a+rwX "$P" && chmod a+rx "$W" "$(dirname "$P")"
    timeout -s KILL "$STEP_SECONDS" setpriv --reuid=65534 --regid=65534 --clear-groups env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" \
        "${envs[@]}" "$SCN" resave "$P" 1 64 >"$W/out" 2>&1
    cat "$W/out" >>"$LOG"
    has "save 1 returned" && has "loom: save: need " && has " 0 MiB free; nothing written"
}
reserved_ext4() {
    small_fs 64 50 && [ "$FS" = ext4 ] && fill_users
}
# Takes what unprivileged users may have of $W/fs; the reserved blocks stay free.
fill_users() {
    local avail
    avail=$(df -B1 --output=avail "$W/fs" | tail -n 1)
    fallocate -l "$avail" "$W/fs/filler" 2>/dev/null || dd if=/dev/zero of="$W/fs/filler" bs=1M \
        count=$((avail >> 20)) status=none
    [ "$(df -B1 --output=avail "$W/fs" | tail -n 1)" -lt $((1 << 20)) ]
}

# Who may write ext4's reserved blocks is the file system's rule, not
# whether the process is root: its reserved user (resuid, here 65534, not
# root), its reserved group, or a holder of CAP_SYS_RESOURCE. On such a
# file system with nothing free to users, root without CAP_SYS_RESOURCE is
# refused up front by the save's space check (not later, at the
# reservation) and `looms info` counts only the unreserved blocks; uid
# 65534 saves; root with the capability (where it has it) sees the
# reserved blocks, less those ext4 keeps back from everyone
# (reserved_clusters).
reserved_blocks_owner() {
    P=$W/fs/p
    ok "$SCN" -- write "$P" 1 64 && hasnt "loom: save:" && fill_users || return 1
    chmod -R a+rwX "$P" && chmod a+rx "$W" "$W/fs"
    local nocap=(--inh-caps=-sys_resource --bounding-set=-sys_resource)
    setpriv "${nocap[@]}" true || { echo "setpriv cannot drop CAP_SYS_RESOURCE" >>"$LOG"; return 1; }
    ok setpriv -- "${nocap[@]}" "$SCN" resave "$P" 1 64 && has "save 1 returned" &&
        has "loom: save: need " && has " MiB free; nothing written" &&
        hasnt "No space left on device" && [ ! -e "$(chk control.bin)" ] || return 1
    local avail bfree bsize resv free_nocap free_cap
    read -r avail bfree bsize < <(stat -f -c '%a %f %S' "$W/fs")
    resv=$(cat "/sys/fs/ext4/$(basename "$(readlink -f "$(findmnt -n -o SOURCE "$W/fs")")")/reserved_clusters")
    ok setpriv -- "${nocap[@]}" "$LOOMS" info "$P" --json || return 1
    free_nocap=$(sed -n 's/.*"free_bytes": *\([0-9]*\).*/\1/p' "$W/out")
    echo "avail $avail bfree $bfree bsize $bsize reserved_clusters $resv:" \
        "looms info free_bytes $free_nocap without CAP_SYS_RESOURCE" >>"$LOG"
    [ "$free_nocap" = $((avail * bsize)) ] || return 1
    # Where this root holds the capability (not in every container).
    if [ $(($(sed -n 's/^CapEff:\t//p' /proc/self/status | sed 's/^/0x/') >> 24 & 1)) = 1 ]; then
        ok "$LOOMS" -- info "$P" --json || return 1
        free_cap=$(sed -n 's/.*"free_bytes": *\([0-9]*\).*/\1/p' "$W/out")
        echo "with CAP_SYS_RESOURCE: free_bytes $free_cap" >>"$LOG"
        [ "$free_cap" = $(((bfree - resv) * bsize)) ] &&
            [ "$free_cap" -gt $((free_nocap + (1 << 20))) ] || return 1
    fi
    ok setpriv -- --reuid=65534 --regid=65534 --clear-groups "$SCN" resave "$P" 1 64 &&
        has "save 1 returned" && hasnt "loom: save:" && ok "$SCN" -- verify "$P" 1 64
}

# A soft-failed save, then a backup, as vere rolls an epoch.
soft_save_then_backup() {
    local mode=$1
    mkdir -p "$W/e" && ok "$HOST" "LD_PRELOAD=$OUT/libspace.so" -- soft_backup "$P" "$W/e" "$mode" &&
        has "loom: save: need " || return 1
    if [ "$mode" = transient ]; then
        # A pier booted from the epoch holds the state that was saved.
        mkdir -p "$W/q/.urb/chk" && cp "$W/e/image.bin" "$W/q/.urb/chk/image.bin" &&
            ok "$SCN" -- verify "$W/q" 2 8
    else
        has "loom: image backup: the last save to $P/.urb/chk did not complete; not copying an older snapshot" &&
            [ ! -e "$W/e/image.bin" ] && ok "$SCN" -- verify "$P" 5 8
    fi
}

# ---- paths, stop ---------------------------------------------------------------------------

# DST/image.bin fits in PATH_MAX (4096 with its NUL), DST/image.bin.tmp
# does not.
long_destination() {
    ok "$SCN" -- write "$P" 1 8 || return 1
    local dst=$W/d seg
    seg=$(printf 'd%.0s' $(seq 200))
    while [ $((${#dst} + 201)) -le 4082 ]; do dst=$dst/$seg; done
    dst=$dst/$(printf 'x%.0s' $(seq $((4082 - ${#dst} - 1))))
    [ ${#dst} -eq 4082 ] && mkdir -p "$dst" &&
        ok "$HOST" -- backup "$P" "$(chk '')" "$dst" y y &&
        cmp -s "$(chk image.bin)" "$dst/image.bin"
}

stop_twice() { ok "$HOST" -- stop_twice "$P" && ok "$SCN" -- verify "$P" 1 4; }

# Bytes of a pier path that are not UTF-8 are printed as they are.
non_utf8_path() {
    P=$W/$'pier-\xff\xfe'
    code 1 "$SCN" -- boot "$P" && has "loom: c3_open $P/.urb/chk/image.bin: No such file or directory" &&
        hasnt $'\xef\xbf\xbd'
}
non_utf8_tracking() {
    ok "$SCN" LOOMS_TRACKING=$'mp\xffrotect' -- write "$P" 1 4 &&
        has $'loom: LOOMS_TRACKING=mp\xffrotect is not mprotect, uffd or auto; using auto'
}
# A null pier directory is "(null)", relative, as events.c's "%s" made it.
null_pier_dir() {
    mkdir -p "$W/cwd/(null)/.urb/chk" &&
        (cd "$W/cwd" && ok "$HOST" -- live_null "(null)") && [ -e "$W/cwd/(null)/.urb/chk/image.bin" ]
}


# ---- round 2: threads, forks and signals around saves -------------------------------------

# Another thread calls looms_save_wait (or u3e_backup, or
# u3e_image_open_any) while the runtime stores into the pages just saved:
# no store is lost from memory or from the next save.
wait_other_thread() {
    local call=${1:-wait}
    mkdir -p "$W/e" &&
        ok "$BG" LOOMS_SAVE="$SAVE" -- wait_other_thread "$P" 16 20 "$call" "$W/e" &&
        has "another thread called $call" && has "rounds of stores kept and saved"
}

# fork() right after a (background) save; the child calls WHICH and exits
# normally, writes nothing of the pier; the parent's saves complete.
fork_entry() {
    local which=$1
    mkdir -p "$W/e" "$W/q/.urb/chk" &&
        ok "$BG" LOOMS_SAVE="$SAVE" -- fork_entry "$P" 64 "$which" "$W/q" && hasnt "panicked" &&
        hasnt "threads should not terminate" || return 1
    case $which in
    save) has "is a fork of process" && has "nothing written" && has "child: save, then looms_save_wait -1" ;;
    live) has "child: booted and saved $W/q" ;;
    backup) has "child: backup refused" && has "loom: image backup: " ;;
    *) true ;;
    esac
}

# fork() with the parent's save of N pages still to be written (held in
# background mode) and pages dirty and writable (in swap mode: pages of
# limbo.bin); the child runs each ORDER of steps (see fork_swap in
# hostile.c); the parent's loom, its pier's files and its swap file are as
# they were, and its saves write its own pages.
fork_swap() {
    local order
    for order in "$@"; do
        rm -rf "$SHM/p" "$SHM/q" && mkdir -p "$SHM/q/.urb/chk" &&
            ok "$HOST" LOOMS_SAVE="$SAVE" -- fork_swap "$SHM/p" 8 "$order" "$SHM/q" &&
            has "child: $order done" && has "fork ($order) in" || {
            echo "order: $order" >>"$LOG"
            return 1
        }
    done
}

# As fork_swap, the parent stops before it forks: the child's stores do not
# reach the loom the parent keeps, and the pier boots with its last save.
fork_stopped() {
    rm -rf "$SHM/p" && ok "$HOST" LOOMS_SAVE="$SAVE" -- fork_stopped "$SHM/p" 8 &&
        has "fork after u3e_stop: the parent's loom and pier kept"
}

# A signal handler saves or waits while the runtime's thread is inside
# u3e_save or looms_save_wait: refused with a line, or done; never a hang.
signal_save() {
    ok "$BG" LOOMS_SAVE="$SAVE" -- signal_save "$P" 16 40 && has "the last stores saved" &&
        hasnt "host: bail"
}

# ---- round 2: the pier's lock ----------------------------------------------------------------

# ms CMD...: milliseconds CMD takes (its output in $W/out).
ms() {
    local start end
    start=$(date +%s%N)
    "$@" >"$W/out" 2>&1
    end=$(date +%s%N)
    cat "$W/out" >>"$LOG"
    echo $(((end - start) / 1000000))
}

# A second process is refused at once (the fastest of three tries, boot
# and a backup onto the running pier, under 100 ms), and never goes ahead;
# the running pier has made a backup of its own first (the lock outlives it).
lock_refused_at_once() {
    ok "$SCN" -- write "$P" 1 8 && mkdir -p "$W/e" "$W/e2" && cp "$(chk image.bin)" "$W/e/image.bin" || return 1
    env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$SCN" hold "$P" 2 8 "$W/e2" >"$W/hold" 2>&1 &
    local holder=$! i best_boot=999999 best_backup=999999 t ok=0
    for i in $(seq 200); do grep -qs holding "$W/hold" && break; sleep 0.05; done
    for i in 1 2 3; do
        t=$(ms env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$SCN" boot "$P")
        grep -aqF "is in use by another process" "$W/out" || ok=1
        [ "$t" -lt "$best_boot" ] && best_boot=$t
        t=$(ms env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" "$HOST" backup_into "$P" "$W/e" 0)
        grep -aqF "is the snapshot of a running pier; nothing copied" "$W/out" || ok=1
        [ "$t" -lt "$best_backup" ] && best_backup=$t
    done
    kill -USR1 "$holder"
    wait "$holder"
    local held=$?
    cat "$W/hold" >>"$LOG"
    echo "refusals: boot ${best_boot} ms, backup ${best_backup} ms (fastest of 3)" >>"$LOG"
    [ "$ok" -eq 0 ] && [ "$held" -eq 0 ] && [ "$best_boot" -lt 100 ] && [ "$best_backup" -lt 100 ] &&
        grep -qF "saved and backed up into $W/e2" "$W/hold" && [ -s "$W/e2/image.bin" ] &&
        ok "$SCN" -- verify "$P" 2 8
}

# .urb/chk that cannot be opened for the lock (mode 0300, not root): boot
# stops and says why, rather than run unguarded.
lock_unopenable() {
    ok "$SCN" -- write "$P" 1 8 || return 1
    local as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown -R 65534:65534 "$P" && chmod a+rx "$W" || return 1
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    fi
    chmod 0300 "$(chk '')"
    timeout -s KILL "$STEP_SECONDS" "${as[@]}" env SCN_FLAGS="$FLAGS" LOOMS_TRACKING="$TRACK" \
        "$SCN" boot "$P" >"$W/out" 2>&1
    local rc=$?
    cat "$W/out" >>"$LOG"
    chmod 0700 "$(chk '')"
    [ "$rc" -eq 1 ] && has "loom: lock $P/.urb/chk: Permission denied; the pier cannot be guarded" &&
        has "boot: image failed"
}

# A child forked without exec holds neither the lock nor the pier: once
# the parent is gone, the pier boots while the child lives, and the
# child's save wrote nothing.
lock_after_fork() {
    rm -f "$W/ready" "$W/ready.log" "$W/go"
    ok "$HOST" -- fork_child "$P" 8 "$W/ready" "$W/go" || return 1
    local i
    for i in $(seq 200); do [ -s "$W/ready" ] && break; sleep 0.05; done
    cat "$W/ready" "$W/ready.log" >>"$LOG" 2>/dev/null
    grep -qF "looms_save_wait -1" "$W/ready" && grep -aqF "is a fork of process" "$W/ready.log" &&
        ok "$SCN" -- verify "$P" 1 8
    local rc=$?
    touch "$W/go"
    return $rc
}

# ---- round 2: backups of a half-written image, images too big ------------------------------

# A crash during the image write: a valid patch pending, page 3 of the
# image new, pages 7 and 70 old. `looms backup` and u3e_backup copy the
# generation boot makes (the patch applied to the copy); the source is
# left as it was, for its own boot.
torn_backup() {
    ok "$SCN" -- write "$P" 1 72 && ok "$SCN" -- patch "$P" valid || return 1
    dd if="$(chk memory.bin)" of="$(chk image.bin)" bs=16384 count=1 seek=3 conv=notrunc status=none &&
        cp "$(chk image.bin)" "$W/torn" && cp -a "$P" "$W/x" || return 1
    "$LOOMS" recover "$W/x" >>"$LOG" 2>&1 && ! cmp -s "$W/x/.urb/chk/image.bin" "$W/torn" || return 1
    returns 60 "$LOOMS" backup "$P" "$W/e" && has "with the pending patch" &&
        cmp "$W/e/image.bin" "$W/x/.urb/chk/image.bin" >>"$LOG" 2>&1 || return 1
    mkdir -p "$W/e2" && ok "$HOST" -- backup "$P" "$(chk '')" "$W/e2" y y &&
        has "its patch (3 pages) is applied to the copy" &&
        cmp "$W/e2/image.bin" "$W/x/.urb/chk/image.bin" >>"$LOG" 2>&1 || return 1
    cmp -s "$(chk image.bin)" "$W/torn" && [ -e "$(chk control.bin)" ] && [ -e "$(chk memory.bin)" ]
}

# An 8 TiB sparse image.bin: every looms command answers at once.
huge_image() {
    ok "$SCN" -- write "$P" 1 8 && ok "$SCN" -- write "$W/x" 1 8 &&
        truncate -s 8T "$(chk image.bin)" || return 1
    local cmd
    for cmd in info verify recover "backup-to:$W/e" "diff-with:$W/x" "diff-from:$W/x"; do
        case $cmd in
        backup-to:*) returns 5 "$LOOMS" backup "$P" "${cmd#*:}" ;;
        diff-with:*) returns 5 "$LOOMS" diff "$P" "${cmd#*:}" ;;
        diff-from:*) returns 5 "$LOOMS" diff "${cmd#*:}" "$P" ;;
        *) returns 5 "$LOOMS" "$cmd" "$P" ;;
        esac || return 1
        has "too big for any loom" || return 1
    done
}

# ---- round 2: odd file systems -----------------------------------------------------------------

# No fallocate (as on ext2): the holes a save fills are counted before its
# patch exists. Room for the patch but not for it and the holes: nothing
# written; with room, the save completes.
no_fallocate() {
    local how=$1 envs=()
    if [ "$how" = shim ]; then
        P=$W/p
        envs=("LD_PRELOAD=$OUT/libnofallocate.so")
    else
        P=$W/fs/p
    fi
    ok "$HOST" -- sparse "$P" 64 8 56 && cp "$(chk image.bin)" "$W/before" || return 1
    local free
    if [ "$how" = shim ]; then
        ok "$HOST" "LD_PRELOAD=$OUT/libnofallocate.so:$OUT/libspace.so" SPACE_FREE=1258291 -- \
            fill_holes "$P" 64 8 56 2 || return 1
    else
        free=$(df -B1 --output=avail "$W/fs" | tail -n 1)
        fallocate -l $((free - 1258291)) "$W/fs/filler" 2>/dev/null ||
            head -c $((free - 1258291)) /dev/zero >"$W/fs/filler" || return 1
        ok "$HOST" -- fill_holes "$P" 64 8 56 2 || return 1
    fi
    has "save returned" && has "cannot reserve space" && has "loom: save: need " &&
        hasnt "host: bail" && cmp -s "$(chk image.bin)" "$W/before" &&
        [ ! -e "$(chk control.bin)" ] && [ ! -e "$(chk memory.bin)" ] || return 1
    rm -f "$W/fs/filler"
    ok "$HOST" "${envs[@]}" -- fill_holes "$P" 64 8 56 2 && hasnt "loom: save: need" &&
        ok "$HOST" -- image_seeds "$P" 64 8 56 2 1
}

# No block counts (ramfs; or statvfs reporting zero blocks): free space is
# unknown, not zero; saves complete.
no_block_counts() {
    local how=$1 envs=()
    if [ "$how" = shim ]; then
        P=$W/p
        envs=("LD_PRELOAD=$OUT/libspace.so" SPACE_NOBLOCKS=1)
    else
        P=$W/fs/p
    fi
    ok "$SCN" "${envs[@]}" -- write "$P" 1 16 && hasnt "loom: save: need" && hasnt "nothing written" &&
        ok "$SCN" "${envs[@]}" -- resave "$P" 3 16 && hasnt "loom: save: need" && hasnt "nothing written" &&
        ok "$SCN" -- verify "$P" 3 16
}
ramfs() {
    mkdir -p "$W/fs" && mount -t ramfs ramfs "$W/fs" 2>/dev/null || return 1
    MOUNTS+=("$W/fs")
}

# Swap mode on a disk without room for the swap file: boot stops, saying
# why (events.c booted, and a store whose page found no room failed); with
# room, limbo.bin's blocks are all allocated at boot.
swap_full_disk() {
    local how=$1
    if [ "$how" = shim ]; then
        P=$W/p
        code 1 "$SCN" "LD_PRELOAD=$OUT/libnofallocate.so" NOFALLOCATE_ERRNO=28 -- boot "$P"
    else
        P=$W/fs/p
        code 1 "$SCN" -- boot "$P"
    fi || return 1
    has "loom: ephemeral fallocate $(chk limbo.bin): No space left on device" &&
        has "boot: failed to load ephemeral file" || return 1
    [ "$how" = shim ] || return 0
    env SCN_FLAGS="$FLAGS" "$SCN" hold "$P" 2 8 >"$W/hold" 2>&1 &
    local holder=$! i size blocks
    for i in $(seq 200); do grep -qs holding "$W/hold" && break; sleep 0.05; done
    size=$(stat -c %s "$(chk limbo.bin)" 2>/dev/null || echo 0)
    blocks=$(stat -c %b "$(chk limbo.bin)" 2>/dev/null || echo 0)
    kill -USR1 "$holder"
    wait "$holder" || return 1
    echo "limbo.bin: $size bytes, $blocks blocks of 512" >>"$LOG"
    [ "$size" -gt 0 ] && [ $((blocks * 512)) -ge "$size" ]
}

# u3e_stop before any u3e_live closes none of the runtime's descriptors.
stop_first() { ok "$HOST" -- stop_first "$P" && has "descriptors 0 and"; }

# auto tracking with background saves moves to uffd at the first save, as
# with synchronous ones: once no save is being written, first stores raise
# no signal (while one is, the save's pages are read-only: one fault each).
auto_background() {
    ok "$BG" LOOMS_SAVE=background LOOMS_TRACKING=auto SCN_FLAGS=verbose SCN_FAULTS=64 \
        SCN_LATER_FAULTS=0 -- stores "$P" 64 &&
        has "loom: tracking: uffd from the first save on"
}

for mode in "${MODES[@]}"; do
    FLAGS=${mode% *}
    TRACK=${mode#* }
    run thread-refused thread_refused
    run map-limit-save map_limit_save
    run map-limit-guard map_limit_guard
    run backup-onto-itself backup_onto_itself
    run backup-into-own-pier backup_into_own_pier
    run backup-into-other-pier backup_into_other_pier
    run stop-twice stop_twice
    for kind in fifo socket directory; do
        run "image-$kind" odd_image "$kind"
        run "control-$kind" odd_patch_file "$kind" control.bin
        run "memory-$kind" odd_patch_file "$kind" memory.bin
    done
    run soft-save-then-backup soft_save_then_backup persistent
    run soft-save-then-backup-transient soft_save_then_backup transient
    for SAVE in sync background; do
        run wait-other-thread wait_other_thread wait
        run backup-other-thread wait_other_thread backup
        run open-any-other-thread wait_other_thread open_any
        for which in exit _exit save wait stop live backup; do
            run "fork-$which" fork_entry "$which"
        done
        run fork-stores-private fork_swap store yolo save,store
        run fork-other-pier fork_swap live live,stop stop,live stop,live,stop,live \
            save,stop,live,save live,stop,store
        run fork-after-stop fork_stopped
        run signal-save signal_save
    done
    SAVE=
    run lock-refused-at-once lock_refused_at_once
    run lock-unopenable lock_unopenable
    run lock-after-fork lock_after_fork
    run stop-before-live stop_first
    run no-fallocate no_fallocate shim
    run no-block-counts no_block_counts shim
done
# Swap mode asked for uffd tracking (it keeps mprotect), and swap mode
# with no_demand (the image read into limbo.bin's pages).
for mode in "swap uffd" "swap,no_demand mprotect"; do
    FLAGS=${mode% *}
    TRACK=${mode#* }
    for SAVE in sync background; do
        run fork-stores-private fork_swap store yolo save,store
        run fork-other-pier fork_swap live live,stop stop,live stop,live,stop,live \
            save,stop,live,save live,stop,store
        run fork-after-stop fork_stopped
    done
done
SAVE=
FLAGS= TRACK=auto
run auto-background auto_background
FLAGS=swap TRACK=mprotect
run swap-full-disk swap_full_disk shim
FLAGS= TRACK=mprotect
run torn-backup torn_backup
run huge-image huge_image
for kind in fifo socket directory; do
    run "swap-file-$kind" odd_swap_file "$kind"
    run "backup-files-$kind" odd_backup_files "$kind"
done
run backup-destination-at-path-max long_destination
run non-utf8-pier-path non_utf8_path
run non-utf8-tracking non_utf8_tracking
run null-pier-directory null_pier_dir
if [ "$(id -u)" -ne 0 ]; then
    skip full-disk-sparse-image "mounting a small file system needs root"
    skip reserved-blocks-as-root "needs root"
    skip reserved-blocks-owner "needs root"
else
    # Not in swap mode: its swap file would take the little room there is.
    for mode in "${MODES[@]}"; do
        FLAGS=${mode% *}
        TRACK=${mode#* }
        [ "$FLAGS" = swap ] && continue
        # Not on tmpfs: holes of a file mapped from it take space as soon as
        # they are read, so the patch finds no room either. (Reserving fails
        # soft wherever it fails: the crash suite injects ENOSPC there.)
        if small_fs 16 0 && [ "$FS" = ext4 ]; then
            run full-disk-sparse-image full_disk_sparse
        else
            skip full-disk-sparse-image "no ext4 file system on a loop device can be made here"
        fi
        drop_fs
        if small_fs 16 0 ext2 && [ "$FS" = ext2 ]; then
            run no-fallocate no_fallocate ext2
        else
            skip no-fallocate "no ext2 file system on a loop device can be made here"
        fi
        drop_fs
        if ramfs; then
            run no-block-counts no_block_counts ramfs
        else
            skip no-block-counts "ramfs cannot be mounted here"
        fi
        drop_fs
        if reserved_ext4; then
            run reserved-blocks-as-root reserved_blocks ext4
            drop_fs
        else
            drop_fs
            run reserved-blocks-as-root reserved_blocks shim
        fi
    done
    FLAGS= TRACK=mprotect
    if MOUNT_OPTIONS=resuid=65534 small_fs 64 50 && [ "$FS" = ext4 ]; then
        run reserved-blocks-owner reserved_blocks_owner
    else
        skip reserved-blocks-owner "no ext4 file system on a loop device can be made here"
    fi
    drop_fs
fi

if [ "$(id -u)" -eq 0 ]; then
    FLAGS=swap TRACK=mprotect
    if small_fs 16 0 && [ "$FS" = ext4 ]; then
        run swap-full-disk swap_full_disk ext4
    else
        skip swap-full-disk "no ext4 file system on a loop device can be made here"
    fi
    drop_fs
fi

# Every test has its row in the bad-input table of docs/reliability.md.
missing=()
for name in $(printf '%s\n' "${NAMES[@]}" | sort -u); do
    grep -qF "| \`hostile/$name\` |" docs/reliability.md || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "PASS: hostile/readme-rows"
else
    echo "FAIL: hostile/readme-rows"
    echo "    no row in docs/reliability.md's bad-input table for: ${missing[*]}"
    failed=1
fi
exit $failed
