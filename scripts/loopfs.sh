# Loop-mounted file systems for the tests and the disk benchmark; sourced.
#
#   loopfs_mount TYPE MIB DIR   makes a sparse MIB-MiB file in $LOOPFS_BACKING
#                               (default /dev/shm), makes a TYPE file system on
#                               it (ext4, xfs, btrfs), mounts it on DIR through
#                               a loop device, whose name (loopN) it leaves in
#                               LOOPFS_DEV; call it in this shell, not in $(),
#                               so that loopfs_cleanup knows what it mounted
#   loopfs_cleanup              unmounts and detaches everything mounted here
#   loopfs_why_not TYPE         why TYPE cannot be mounted here ("" if it can)
#
# The caller sets `trap loopfs_cleanup EXIT` before the first mount.

LOOPFS_BACKING=${LOOPFS_BACKING:-/dev/shm}
LOOPFS_MOUNTS=()
LOOPFS_FILES=()
LOOPFS_DEV=

loopfs_why_not() {
    local type=$1
    if [ "$(id -u)" -ne 0 ]; then
        echo "needs root to mount"
    elif ! command -v losetup >/dev/null 2>&1; then
        echo "no losetup"
    elif ! command -v "mkfs.$type" >/dev/null 2>&1; then
        echo "no mkfs.$type"
    elif ! grep -qw "$type" /proc/filesystems 2>/dev/null && ! modprobe "$type" 2>/dev/null; then
        echo "the kernel has no $type"
    fi
}

loopfs_mount() {
    local type=$1 mib=$2 dir=$3 file dev
    file=$(mktemp "$LOOPFS_BACKING/looms-$type.XXXXXX") || return 1
    LOOPFS_FILES+=("$file")
    truncate -s "${mib}M" "$file" || return 1
    case $type in
        ext4) mkfs.ext4 -q -F "$file" >/dev/null 2>&1 ;;
        xfs) mkfs.xfs -q -f -m reflink=1 "$file" >/dev/null 2>&1 ;;
        btrfs) mkfs.btrfs -q -f "$file" >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac || return 1
    dev=$(losetup -f --show "$file") || return 1
    mkdir -p "$dir"
    if ! mount -t "$type" "$dev" "$dir"; then
        losetup -d "$dev"
        return 1
    fi
    LOOPFS_MOUNTS+=("$dir")
    LOOPFS_DEV=$(basename "$dev")
}

loopfs_cleanup() {
    local dir dev
    for dir in ${LOOPFS_MOUNTS[@]+"${LOOPFS_MOUNTS[@]}"}; do
        dev=$(findmnt -n -o SOURCE --target "$dir" 2>/dev/null)
        umount "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null
        case $dev in /dev/loop*) losetup -d "$dev" 2>/dev/null ;; esac
    done
    LOOPFS_MOUNTS=()
    for dir in ${LOOPFS_FILES[@]+"${LOOPFS_FILES[@]}"}; do
        # A loop device still attached to the file (a failed mount).
        losetup -j "$dir" -O NAME -n 2>/dev/null | xargs -r -n1 losetup -d 2>/dev/null
        rm -f "$dir"
    done
    LOOPFS_FILES=()
}

# loopfs_sectors DEV: sectors written to DEV (loopN) so far.
loopfs_sectors() {
    awk '{print $7}' "/sys/block/$1/stat"
}
