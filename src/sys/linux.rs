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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
