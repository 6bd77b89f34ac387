//! macOS (arm64 and x86_64): see `sys` for the table. Built and linked
//! here by cross-compilation; see README "Platforms" for what has run.

/// Where the runtime maps the loom on macOS (`U3_OS_LoomBase`).
#[cfg(not(feature = "asan-base"))]
pub const LOOM_BASE: usize = 0x280_0000_0000;
/// AddressSanitizer builds of the runtime on macOS.
#[cfg(feature = "asan-base")]
pub const LOOM_BASE: usize = 0x7280_0000_0000;

extern "C" {
    #[link_name = "__stderrp"]
    static mut stderrp: *mut libc::c_void;
}

/// The C library's `stderr` stream (`__stderrp` in libSystem).
pub fn c_stderr() -> *mut libc::c_void {
    // SAFETY: libSystem initialises the stream before any code of ours runs.
    unsafe { stderrp }
}

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: libSystem's errno location is always valid for the thread.
    unsafe { *libc::__error() }
}

/// Durable data: `fsync` on macOS leaves the data in the drive's cache,
/// `fcntl(F_FULLFSYNC)` asks the drive to write it through. File systems
/// that cannot (some network and FUSE ones) refuse it; `fsync` is then the
/// most there is.
fn full_sync(fd: libc::c_int) -> libc::c_int {
    // SAFETY: fcntl on a descriptor the caller holds open.
    let rc = unsafe { libc::fcntl(fd, libc::F_FULLFSYNC) };
    if rc == 0 {
        return 0;
    }
    match errno() {
        // SAFETY: as above.
        libc::ENOTSUP | libc::EINVAL | libc::ENOTTY => unsafe { libc::fsync(fd) },
        _ => rc,
    }
}

/// The file's data and length are durable (`F_FULLFSYNC`).
pub fn sync_data(fd: libc::c_int) -> Result<(), i32> {
    super::result(sync_data_rc(fd))
}

fn sync_data_rc(fd: libc::c_int) -> libc::c_int {
    full_sync(fd)
}

/// macOS has no call that starts writing a range without waiting for it:
/// the data waits in the cache for `sync_data`. Always succeeds.
pub fn start_writeback(_fd: libc::c_int, _offset: u64, _len: u64) -> Result<(), i32> {
    Ok(())
}

/// Nothing to wait for or drop (see `start_writeback`). Always succeeds.
pub fn written_and_dropped(_fd: libc::c_int, _offset: u64, _len: u64) -> Result<(), i32> {
    Ok(())
}

/// macOS cannot move a mapping to another address: always `ENOSYS` (the
/// caller replaces the mapping in place instead).
///
/// # Safety
/// Nothing is touched.
pub unsafe fn move_mapping(_from: *mut u8, _len: usize, _to: *mut u8) -> Result<(), i32> {
    Err(libc::ENOSYS)
}

/// The names in a directory are durable (`F_FULLFSYNC` on the directory).
pub fn sync_dir(fd: libc::c_int) -> Result<(), i32> {
    super::result(sync_dir_rc(fd))
}

fn sync_dir_rc(fd: libc::c_int) -> libc::c_int {
    full_sync(fd)
}

/// Reserves blocks so that writes up to `offset + len` cannot fail for
/// want of space, without changing the file's length: `F_PREALLOCATE`
/// from the file's physical end, contiguous where it can be, else not.
pub fn reserve(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(reserve_rc(fd, offset, len))
}

fn reserve_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on an open descriptor with a valid out-parameter.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return -1;
    }
    let allocated = (st.st_blocks as u64).saturating_mul(512);
    let want = offset.saturating_add(len);
    if want <= allocated {
        return 0;
    }
    let mut store = libc::fstore_t {
        fst_flags: libc::F_ALLOCATECONTIG | libc::F_ALLOCATEALL,
        fst_posmode: libc::F_PEOFPOSMODE,
        fst_offset: 0,
        fst_length: (want - allocated) as libc::off_t,
        fst_bytesalloc: 0,
    };
    // SAFETY: F_PREALLOCATE with a valid fstore_t.
    if unsafe { libc::fcntl(fd, libc::F_PREALLOCATE, &mut store) } == 0 {
        return 0;
    }
    store.fst_flags = libc::F_ALLOCATEALL;
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_PREALLOCATE, &mut store) }
}

/// Allocates blocks up to `offset + len` (`F_PREALLOCATE`, as `reserve`),
/// then grows the file to that length if it is shorter.
pub fn allocate(fd: libc::c_int, offset: u64, len: u64) -> Result<(), i32> {
    super::result(allocate_rc(fd, offset, len))
}

fn allocate_rc(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    if reserve_rc(fd, offset, len) != 0 {
        return -1;
    }
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on an open descriptor with a valid out-parameter.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return -1;
    }
    let want = offset.saturating_add(len);
    if (st.st_size as u64) < want {
        // SAFETY: ftruncate on an open descriptor.
        return unsafe { libc::ftruncate(fd, want as libc::off_t) };
    }
    0
}

/// Turns uncached writes (`F_NOCACHE`) on or off; false where refused.
pub fn set_uncached(fd: libc::c_int, on: bool) -> bool {
    // SAFETY: fcntl on a descriptor the caller holds open.
    unsafe { libc::fcntl(fd, libc::F_NOCACHE, libc::c_int::from(on)) == 0 }
}

/// Whether writes on `fd` bypass the cache. macOS has no call that reads
/// `F_NOCACHE` back; it never refuses a write for it either.
pub fn is_uncached(_fd: libc::c_int) -> bool {
    false
}

/// `F_NOCACHE` takes any buffer, offset and length: an `EINVAL` is never
/// its doing.
pub const UNCACHED_REFUSES_MISALIGNED: bool = false;

/// macOS has no transparent huge pages to ask for.
///
/// # Safety
/// None needed; the signature matches the other platforms'.
pub unsafe fn advise_huge_pages(_addr: *mut u8, _len: usize) -> Result<(), i32> {
    Err(libc::ENOTSUP)
}

/// macOS has no userfaultfd: tracking is mprotect only.
pub fn userfaultfd(_flags: libc::c_int) -> Result<libc::c_int, i32> {
    Err(libc::ENOSYS)
}

/// macOS file systems keep no blocks back for privileged processes that a
/// capability would open.
pub fn may_use_reserved_blocks(_dev: u64) -> bool {
    false
}

/// No macOS file system keeps blocks back from privileged writers too.
pub fn kept_back_blocks(_dev: u64) -> u64 {
    0
}

/// An `ioctl` request as libSystem's `ioctl` takes it.
pub type IoctlRequest = libc::c_ulong;

/// The request number `_IOC` of the BSD `sys/ioccom.h` for Linux's `dir`
/// (1 write, 2 read, 3 both): the direction bits are the other way round,
/// and the size has 13 bits.
pub const fn ioctl_request(dir: u32, kind: u8, nr: u8, size: usize) -> IoctlRequest {
    const IOC_OUT: u32 = 0x4000_0000;
    const IOC_IN: u32 = 0x8000_0000;
    let out = if dir & 2 != 0 { IOC_OUT } else { 0 };
    let inn = if dir & 1 != 0 { IOC_IN } else { 0 };
    (out | inn | (((size as u32) & 0x1fff) << 16) | ((kind as u32) << 8) | nr as u32)
        as IoctlRequest
}

/// `ioctl(fd, request, arg)`: returns what the system said.
///
/// # Safety
/// `arg` points to what `request` reads and writes on `fd`.
pub unsafe fn ioctl<T>(fd: libc::c_int, request: IoctlRequest, arg: *mut T) -> libc::c_int {
    // SAFETY: the caller passes the argument the request takes.
    unsafe { libc::ioctl(fd, request, arg) }
}

/// `strerror`'s words where libSystem's differ from glibc's: not kept yet
/// (nothing here runs on macOS; README "Platforms").
pub fn libc_errno_text(_errno: i32) -> Option<&'static str> {
    None
}

/// What `strerror` says of an errno it does not know (`None`: as glibc).
pub const UNKNOWN_ERRNO_TEXT: Option<&str> = None;

/// The device of a `stat` (a signed `dev_t` on macOS).
pub fn dev_of(st: &libc::stat) -> u64 {
    st.st_dev as u32 as u64
}

/// No range clone here (APFS clones whole files only, `clonefile`): the
/// caller writes the bytes.
pub fn clone_range(
    _src: libc::c_int,
    _src_offset: u64,
    _dst: libc::c_int,
    _dst_offset: u64,
    _len: u64,
) -> Result<(), i32> {
    Err(libc::ENOTSUP)
}

/// No in-kernel range copy here: the caller reads and writes.
pub fn copy_range(
    _src: libc::c_int,
    _src_offset: u64,
    _dst: libc::c_int,
    _dst_offset: u64,
    _len: usize,
) -> Result<usize, i32> {
    Err(libc::ENOSYS)
}

/// Nothing to do: macOS has no `MADV_DONTFORK` (a forked child gets a copy).
///
/// # Safety
/// Nothing is touched.
pub unsafe fn keep_from_children(_addr: *mut u8, _len: usize) {}
