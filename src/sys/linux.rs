//! Linux (x86_64 and aarch64): see `sys` for the table.

/// Where the runtime maps the loom (`U3_OS_LoomBase` in its `portable.h`):
/// the same address on every 64-bit Linux, whatever the CPU.
#[cfg(not(feature = "asan-base"))]
pub const LOOM_BASE: usize = 0x2_0000_0000;
/// AddressSanitizer builds of the runtime move the loom out of the shadow.
#[cfg(feature = "asan-base")]
pub const LOOM_BASE: usize = 0x1000_7fff_f000;

extern "C" {
    static mut stderr: *mut libc::c_void;
}

/// The C library's `stderr` stream (for the runtime's printers).
pub fn c_stderr() -> *mut libc::c_void {
    // SAFETY: glibc initialises stderr before any code of ours runs.
    unsafe { stderr }
}

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: glibc's errno location is always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

/// `fdatasync`: the file's data and length are durable. Returns the
/// system's result (`-1` with `errno` on failure).
pub fn sync_data(fd: libc::c_int) -> Result<(), i32> {
    super::result(sync_data_rc(fd))
}

fn sync_data_rc(fd: libc::c_int) -> libc::c_int {
    // SAFETY: a plain system call on a descriptor the caller holds open.
    unsafe { libc::fdatasync(fd) }
}

/// Starts writing `[offset, offset + len)` of the file from the page
/// cache to the disk and returns (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`): nothing is durable until `sync_data`, which
/// then waits only for what is still in flight. Returns the system's
/// result, except that a kernel without the call (`ENOSYS`: a seccomp
/// filter, an emulator) counts as success: nothing was started there, and
/// `sync_data` writes and reports all of it.
pub fn start_writeback(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(start_writeback_rc(fd, offset, len))
}

fn start_writeback_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    // SAFETY: as above.
    let rc = unsafe {
        libc::sync_file_range(
            fd,
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
    without_range_sync(rc)
}

/// Waits until `[offset, offset + len)` of the file has been written
/// from the page cache to the disk (starting what is not started yet), and
/// lets the cache drop it (`sync_file_range`, then `POSIX_FADV_DONTNEED`).
/// Not a durability barrier: `sync_data` still is. But the wait reports a
/// write-back error of the file once, and the kernel then forgets it for
/// this open file (errseq): a later `sync_data` returns 0. So `-1` here
/// means pages of the file may never reach the disk, and the caller must
/// treat it as a failed sync. A kernel without the call counts as success
/// (nothing was waited for, so nothing was reported and forgotten).
pub fn written_and_dropped(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(written_and_dropped_rc(fd, offset, len))
}

fn written_and_dropped_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as above.
    let rc =
        unsafe { libc::sync_file_range(fd, offset as libc::off64_t, len as libc::off64_t, flags) };
    if without_range_sync(rc) != 0 {
        return -1;
    }
    // SAFETY: as above. posix_fadvise reports only bad arguments (it starts
    // write-back without waiting and reports nothing of it): dropping less
    // of the cache loses nothing, so its result is not the caller's concern.
    unsafe {
        libc::posix_fadvise(
            fd,
            offset as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    0
}

/// `rc` of a `sync_file_range`, with `ENOSYS` (no such call here) as success.
fn without_range_sync(rc: libc::c_int) -> libc::c_int {
    if rc != 0 && errno() == libc::ENOSYS {
        0
    } else {
        rc
    }
}

/// Moves the mapping at `[from, from + len)` (which must lie inside one
/// mapping) to `to`, replacing whatever is mapped there (`mremap` with
/// `MREMAP_MAYMOVE | MREMAP_FIXED`): the page tables move, the pages are
/// neither copied nor freed, and `[from, from + len)` is left unmapped.
///
/// # Safety
/// Both ranges belong to the caller, and no reference into them is alive.
pub unsafe fn move_mapping(from: *mut u8, len: usize, to: *mut u8) -> Result<(), i32> {
    // SAFETY: the caller owns both ranges.
    let got = unsafe {
        libc::mremap(
            from.cast(),
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            to.cast::<libc::c_void>(),
        )
    };
    if got == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `fsync` of a directory: the names in it are durable.
pub fn sync_dir(fd: libc::c_int) -> Result<(), i32> {
    super::result(sync_dir_rc(fd))
}

fn sync_dir_rc(fd: libc::c_int) -> libc::c_int {
    // SAFETY: as above.
    unsafe { libc::fsync(fd) }
}

/// Reserves the blocks of `[offset, offset + len)` without changing the
/// file's length (`fallocate` with `FALLOC_FL_KEEP_SIZE`).
pub fn reserve(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(reserve_rc(fd, offset, len))
}

fn reserve_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    // SAFETY: as above.
    unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_KEEP_SIZE,
            offset as libc::off_t,
            len as libc::off_t,
        )
    }
}

/// Allocates the blocks of `[offset, offset + len)`, growing the file if
/// the range passes its end (`fallocate`, mode 0).
pub fn allocate(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(allocate_rc(fd, offset, len))
}

fn allocate_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    // SAFETY: a plain system call on a descriptor the caller holds open.
    unsafe { libc::fallocate(fd, 0, offset as libc::off_t, len as libc::off_t) }
}

/// Turns writes that bypass the page cache (`O_DIRECT`) on or off; false
/// where the system refuses.
pub fn set_uncached(fd: libc::c_int, on: bool) -> bool {
    // SAFETY: fcntl on a descriptor the caller holds open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return false;
    }
    let want = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, want) == 0 }
}

/// Whether writes on `fd` bypass the page cache.
pub fn is_uncached(fd: libc::c_int) -> bool {
    // SAFETY: as above.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_DIRECT != 0
}

/// Whether a write refused with `EINVAL` may go through once uncached
/// writes are off: direct I/O refuses buffers, offsets and lengths off its
/// alignment.
pub const UNCACHED_REFUSES_MISALIGNED: bool = true;

/// `madvise(MADV_HUGEPAGE)`: `Err(errno)` where the kernel refuses it.
///
/// # Safety
/// `[addr, addr + len)` is a mapping the caller owns.
pub unsafe fn advise_huge_pages(addr: *mut u8, len: usize) -> Result<(), i32> {
    // SAFETY: the caller owns the range; advice never changes contents.
    if unsafe { libc::madvise(addr.cast(), len, libc::MADV_HUGEPAGE) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Opens a userfaultfd with `flags`; `Err(errno)` where the kernel has none
/// or refuses it.
pub fn userfaultfd(flags: libc::c_int) -> Result<libc::c_int, i32> {
    // SAFETY: the userfaultfd system call takes one flags argument.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd as libc::c_int)
    }
}

/// An `ioctl` request as the C library's `ioctl` takes it: `unsigned long`
/// in glibc, `int` in musl. The kernel reads 32 bits either way, so a
/// request with the top bit set (every `_IOR` and `_IOWR`) is the same
/// request in both.
pub type IoctlRequest = libc::Ioctl;

/// The request number `_IOC(dir, kind, nr, size)` of the kernel's
/// `asm-generic/ioctl.h` (x86_64 and aarch64 share it): `dir` 1 for `_IOW`,
/// 2 for `_IOR`, 3 for `_IOWR`.
pub const fn ioctl_request(dir: u32, kind: u8, nr: u8, size: usize) -> IoctlRequest {
    let request = (dir << 30) | ((size as u32) << 16) | ((kind as u32) << 8) | nr as u32;
    // Bit for bit: into musl's `int` a request above `i32::MAX` goes negative,
    // and the kernel takes the low 32 bits back.
    request as IoctlRequest
}

/// `ioctl(fd, request, arg)`: returns what the system said (`-1` with
/// `errno` on failure).
///
/// # Safety
/// `arg` points to what `request` reads and writes on `fd`.
pub unsafe fn ioctl<T>(fd: libc::c_int, request: IoctlRequest, arg: *mut T) -> libc::c_int {
    // SAFETY: the caller passes the argument the request takes.
    unsafe { libc::ioctl(fd, request, arg) }
}

/// `strerror`'s words for `errno` where this C library words it otherwise
/// than glibc, whose words `msg::errno_text` holds (a table, for the fault
/// path): musl's, which the runtime prints when linked with it.
#[cfg(target_env = "musl")]
pub fn libc_errno_text(errno: i32) -> Option<&'static str> {
    use libc::*;
    Some(match errno {
        EIO => "I/O error",
        ENOMEM => "Out of memory",
        EBUSY => "Resource busy",
        EXDEV => "Cross-device link",
        EMFILE => "No file descriptors available",
        ESPIPE => "Invalid seek",
        ENAMETOOLONG => "Filename too long",
        ELOOP => "Symbolic link loop",
        EOVERFLOW => "Value too large for data type",
        EOPNOTSUPP => "Not supported",
        EDQUOT => "Quota exceeded",
        _ => return None,
    })
}
/// glibc's words are the table's own.
#[cfg(not(target_env = "musl"))]
pub fn libc_errno_text(_errno: i32) -> Option<&'static str> {
    None
}

/// What `strerror` says of an errno it does not know: musl one sentence for
/// all; glibc `Unknown error N` (`None`).
pub const UNKNOWN_ERRNO_TEXT: Option<&str> = if cfg!(target_env = "musl") {
    Some("No error information")
} else {
    None
};

/// Whether this process may write the blocks the file system on device
/// `dev` keeps back, by the rule ext2, ext4 and f2fs apply: it is the file
/// system's reserved user (`resuid`, root unless set), or `resgid` is not
/// root's group and is one of this process's groups, or it holds
/// `CAP_SYS_RESOURCE` in the initial user namespace. Being root is not
/// enough where `resuid` names someone else, nor is root's group, nor root
/// in a user namespace that maps it to another user.
pub fn may_use_reserved_blocks(dev: u64) -> bool {
    if has_sys_resource() && initial_user_namespace() {
        return true;
    }
    let (resuid, resgid) = reserved_owner(dev);
    // SAFETY: these calls cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if to_initial("uid_map", uid) == Some(resuid) {
        return true;
    }
    resgid != 0
        && std::iter::once(gid)
            .chain(groups())
            .any(|g| to_initial("gid_map", g) == Some(resgid))
}

/// Blocks of the file system on `dev` that only its own allocations may
/// take, beyond those it keeps back for privileged writers (ext4's
/// `reserved_clusters`, which `f_bfree` still counts); 0 where it has none.
pub fn kept_back_blocks(dev: u64) -> u64 {
    let Ok(link) = std::fs::read_link(format!(
        "/sys/dev/block/{}:{}",
        libc::major(dev),
        libc::minor(dev)
    )) else {
        return 0;
    };
    let Some(name) = link.file_name() else {
        return 0;
    };
    let path = std::path::Path::new("/sys/fs/ext4")
        .join(name)
        .join("reserved_clusters");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// The reserved user and group of the file system on `dev`, as the kernel
/// shows them among its options in `/proc/self/mountinfo` (ext4 names them
/// whenever they are not root's, whether set by `tune2fs` or by mount
/// options); root's where it names none.
fn reserved_owner(dev: u64) -> (u32, u32) {
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => owner_in_mountinfo(&text, dev),
        Err(_) => (0, 0),
    }
}

/// `reserved_owner` from the text of a mountinfo file.
fn owner_in_mountinfo(text: &str, dev: u64) -> (u32, u32) {
    let want = format!("{}:{}", libc::major(dev), libc::minor(dev));
    let mut owner = (0, 0);
    // Fields: id parent MAJ:MIN root point options [optional...] - type source super-options.
    let Some(line) = text
        .lines()
        .find(|line| line.split(' ').nth(2) == Some(want.as_str()))
    else {
        return owner;
    };
    let Some((_, tail)) = line.split_once(" - ") else {
        return owner;
    };
    for option in tail.split(' ').nth(2).unwrap_or("").split(',') {
        if let Some(uid) = option.strip_prefix("resuid=").and_then(|v| v.parse().ok()) {
            owner.0 = uid;
        } else if let Some(gid) = option.strip_prefix("resgid=").and_then(|v| v.parse().ok()) {
            owner.1 = gid;
        }
    }
    owner
}

/// This process's supplementary groups.
fn groups() -> Vec<libc::gid_t> {
    // SAFETY: a count of 0 asks for the number of groups only.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut list = vec![0; n.max(0) as usize];
    // SAFETY: the buffer holds `list.len()` groups.
    let got = unsafe { libc::getgroups(list.len() as libc::c_int, list.as_mut_ptr()) };
    list.truncate(got.max(0) as usize);
    list
}

/// `id` (of this process's user namespace) as the initial namespace knows
/// it, through `/proc/self/{uid,gid}_map` (one level of nesting: the map
/// names the parent's ids); itself where there is no map to read, `None`
/// where the map leaves it out.
fn to_initial(map: &str, id: u32) -> Option<u32> {
    match std::fs::read_to_string(format!("/proc/self/{map}")) {
        Ok(text) => id_in_map(&text, id),
        Err(_) => Some(id),
    }
}

/// `id` through the text of a uid or gid map.
fn id_in_map(text: &str, id: u32) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(|v| v.parse::<u64>().ok());
        let (inside, outside, count) = (f.next()??, f.next()??, f.next()??);
        let id = u64::from(id);
        (inside <= id && id < inside + count).then(|| (outside + id - inside) as u32)
    })
}

/// Whether this process runs in the initial user namespace, where a
/// capability counts for every file system (its uid map is the identity
/// over every id).
fn initial_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(text) => {
            let fields: Vec<&str> = text.split_whitespace().collect();
            fields == ["0", "0", "4294967295"]
        }
        Err(_) => true,
    }
}

/// Whether this process holds `CAP_SYS_RESOURCE` in its effective set.
fn has_sys_resource() -> bool {
    const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_RESOURCE: u32 = 24;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a version-3 header and two data words, as the
    // kernel defines it.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    rc == 0 && data[0].effective & (1 << CAP_SYS_RESOURCE) != 0
}

/// Keeps a forked child from inheriting `[addr, addr + len)`
/// (`MADV_DONTFORK`): memory only a thread of this process frees.
///
/// # Safety
/// The range is a mapping the caller owns.
pub unsafe fn keep_from_children(addr: *mut u8, len: usize) {
    // SAFETY: the caller owns the range; the advice changes no contents.
    unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTFORK) };
}

/// A device number's major and minor numbers.
pub fn major_minor(dev: u64) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

/// The device of a `stat`.
pub fn dev_of(st: &libc::stat) -> u64 {
    st.st_dev
}

/// The kernel's `struct file_clone_range` (`linux/fs.h`), which not every
/// C library's headers (nor the `libc` crate for musl) declare.
#[repr(C)]
struct FileCloneRange {
    src_fd: i64,
    src_offset: u64,
    src_length: u64,
    dest_offset: u64,
}

/// `FICLONERANGE`: `_IOW(0x94, 13, struct file_clone_range)`.
const FICLONERANGE: IoctlRequest = ioctl_request(1, 0x94, 13, size_of::<FileCloneRange>());

/// Makes `[dst_offset, dst_offset + len)` of the file `dst` share the
/// blocks of `[src_offset, src_offset + len)` of `src` (`ioctl` with
/// `FICLONERANGE`): the destination reads the source's bytes, and neither
/// file's data is written again. `Err(errno)` where the file system
/// refuses (`EOPNOTSUPP`, `EXDEV` across file systems, `EINVAL` for a
/// range off its block size, `ETXTBSY`, ...).
pub fn clone_range(
    src: libc::c_int,
    src_offset: u64,
    dst: libc::c_int,
    dst_offset: u64,
    len: u64,
) -> Result<(), i32> {
    let mut range = FileCloneRange {
        src_fd: src as i64,
        src_offset,
        src_length: len,
        dest_offset: dst_offset,
    };
    // SAFETY: FICLONERANGE reads one file_clone_range, which lives for the
    // call; both descriptors are the caller's.
    if unsafe { ioctl(dst, FICLONERANGE, &mut range) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Copies up to `len` bytes from `src` at `src_offset` to `dst` at
/// `dst_offset` inside the kernel (`copy_file_range`): a reflink where the
/// file system shares blocks, an in-kernel copy elsewhere. Returns the
/// bytes copied (0 at the source's end); `Err(errno)` where it refuses
/// (`EXDEV` on kernels before 5.19 across file systems, `ENOSYS`, `EINVAL`).
pub fn copy_range(
    src: libc::c_int,
    src_offset: u64,
    dst: libc::c_int,
    dst_offset: u64,
    len: usize,
) -> Result<usize, i32> {
    let mut from = src_offset as libc::loff_t;
    let mut to = dst_offset as libc::loff_t;
    // SAFETY: both offsets are live for the call; the descriptors are the
    // caller's.
    let got = unsafe { libc::copy_file_range(src, &mut from, dst, &mut to, len, 0) };
    if got < 0 {
        Err(errno())
    } else {
        Ok(got as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
97 22 7:3 / /mnt/a\\040b rw,relatime shared:50 master:3 - ext4 /dev/loop3 rw,resuid=65534,resgid=100
98 22 7:4 / /mnt/c rw - ext4 /dev/loop4 rw,resgid=7
";

    #[test]
    fn reserved_owner_read_from_the_super_options() {
        assert_eq!(owner_in_mountinfo(MOUNTINFO, libc::makedev(8, 1)), (0, 0));
        assert_eq!(
            owner_in_mountinfo(MOUNTINFO, libc::makedev(7, 3)),
            (65534, 100)
        );
        assert_eq!(owner_in_mountinfo(MOUNTINFO, libc::makedev(7, 4)), (0, 7));
        assert_eq!(owner_in_mountinfo(MOUNTINFO, libc::makedev(9, 9)), (0, 0));
    }

    #[test]
    fn ids_mapped_to_the_parent_namespace() {
        let identity = "         0          0 4294967295\n";
        assert_eq!(id_in_map(identity, 0), Some(0));
        assert_eq!(id_in_map(identity, 1000), Some(1000));
        let container = "0 100000 65536\n";
        assert_eq!(id_in_map(container, 0), Some(100000));
        assert_eq!(id_in_map(container, 65534), Some(165534));
        assert_eq!(id_in_map(container, 70000), None);
    }

    /// A request with the top bit set (`_IOR`) reaches the kernel whole
    /// through the C library's `ioctl`, whatever type it takes (musl's
    /// `int` holds it negative): `TIOCGPTN` on a new pseudo-terminal gives
    /// the number its name ends with.
    #[test]
    fn ioctl_passes_a_read_request_whole() {
        const TIOCGPTN: IoctlRequest = ioctl_request(2, b'T', 0x30, size_of::<u32>());
        assert_eq!(TIOCGPTN as u32, 0x8004_5430);
        // SAFETY: opens a new pseudo-terminal master; closed below.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        assert!(fd >= 0, "posix_openpt: errno {}", errno());
        let mut number: u32 = u32::MAX;
        // SAFETY: TIOCGPTN writes one unsigned int.
        let rc = unsafe { ioctl(fd, TIOCGPTN, &mut number) };
        let got = errno();
        let mut name = [0u8; 64];
        // SAFETY: the buffer is writable for its length.
        let named = unsafe { libc::ptsname_r(fd, name.as_mut_ptr().cast(), name.len()) };
        // SAFETY: closing the descriptor opened above.
        unsafe { libc::close(fd) };
        assert_eq!(rc, 0, "ioctl(TIOCGPTN): errno {got}");
        assert_eq!(named, 0, "ptsname_r");
        let name = std::ffi::CStr::from_bytes_until_nul(&name).unwrap();
        assert_eq!(name.to_str().unwrap(), format!("/dev/pts/{number}"));
    }

    /// The request number's fields where the kernel reads them.
    #[test]
    fn ioctl_request_encodes_like_the_kernel() {
        assert_eq!(ioctl_request(1, b'f', 2, 8) as u32, 0x4008_6602); // FS_IOC_SETFLAGS
        assert_eq!(ioctl_request(3, 0xaa, 0x3f, 24) as u32, 0xc018_aa3f); // UFFDIO_API
        assert_eq!(FICLONERANGE as u32, 0x4020_940d);
    }
}
