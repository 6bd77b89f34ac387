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
pub fn sync_data(fd: libc::c_int) -> libc::c_int {
    // SAFETY: a plain system call on a descriptor the caller holds open.
    unsafe { libc::fdatasync(fd) }
}

/// Starts writing `[offset, offset + len)` of the file from the page
/// cache to the disk and returns (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`): nothing is durable until `sync_data`, which
/// then waits only for what is still in flight.
pub fn start_writeback(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    // SAFETY: as above.
    unsafe {
        libc::sync_file_range(
            fd,
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    }
}

/// Waits until `[offset, offset + len)` of the file has been written
/// from the page cache to the disk (starting what is not started yet), and
/// lets the cache drop it (`sync_file_range`, then `POSIX_FADV_DONTNEED`).
/// Not a durability barrier: `sync_data` still is.
pub fn written_and_dropped(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as above.
    let rc =
        unsafe { libc::sync_file_range(fd, offset as libc::off64_t, len as libc::off64_t, flags) };
    if rc != 0 {
        return rc;
    }
    // SAFETY: as above. posix_fadvise returns the error instead of setting errno.
    match unsafe {
        libc::posix_fadvise(
            fd,
            offset as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    } {
        0 => 0,
        err => {
            // SAFETY: the calling thread's errno.
            unsafe { *libc::__errno_location() = err };
            -1
        }
    }
}

/// Moves the mapping at `[from, from + len)` (which must lie inside one
/// mapping) to `to`, replacing whatever is mapped there (`mremap` with
/// `MREMAP_MAYMOVE | MREMAP_FIXED`): the page tables move, the pages are
/// neither copied nor freed, and `[from, from + len)` is left unmapped.
///
/// # Safety
/// Both ranges belong to the caller, and no reference into them is alive.
pub unsafe fn move_mapping(
    from: *mut libc::c_void,
    len: usize,
    to: *mut libc::c_void,
) -> Result<(), i32> {
    // SAFETY: the caller owns both ranges.
    let got = unsafe {
        libc::mremap(
            from,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            to,
        )
    };
    if got == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `fsync` of a directory: the names in it are durable.
pub fn sync_dir(fd: libc::c_int) -> libc::c_int {
    // SAFETY: as above.
    unsafe { libc::fsync(fd) }
}

/// Reserves the blocks of `[offset, offset + len)` without changing the
/// file's length (`fallocate` with `FALLOC_FL_KEEP_SIZE`).
pub fn reserve(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
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
pub fn allocate(fd: libc::c_int, offset: u64, len: u64) -> libc::c_int {
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
pub unsafe fn advise_huge_pages(addr: *mut libc::c_void, len: usize) -> Result<(), i32> {
    // SAFETY: the caller owns the range; advice never changes contents.
    if unsafe { libc::madvise(addr, len, libc::MADV_HUGEPAGE) } == 0 {
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

/// Whether this process holds `CAP_SYS_RESOURCE` in its effective set (and
/// so may use the blocks a file system keeps back).
pub fn may_use_reserved_blocks() -> bool {
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

/// The device of a `stat`.
pub fn dev_of(st: &libc::stat) -> u64 {
    st.st_dev
}

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
    let range = libc::file_clone_range {
        src_fd: src as i64,
        src_offset,
        src_length: len,
        dest_offset: dst_offset,
    };
    // SAFETY: FICLONERANGE reads one file_clone_range, which lives for the
    // call; both descriptors are the caller's.
    if unsafe { libc::ioctl(dst, libc::FICLONERANGE, &range) } == 0 {
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
