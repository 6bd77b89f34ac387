//! What Linux and macOS share: the POSIX calls behind `sys`'s files,
//! mappings, threads, signals and process hooks. `linux.rs` and `macos.rs`
//! add what differs between them; `windows.rs` gives the same functions
//! over Win32.

use core::ffi::{c_int, c_void, CStr};

/// The C library's `errno` values the library names.
pub mod errnos {
    pub use libc::{
        EACCES, EAGAIN, EBADF, EBUSY, EDQUOT, EEXIST, EFAULT, EFBIG, EINTR, EINVAL, EIO, EISDIR,
        ELOOP, EMFILE, EMLINK, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOLCK, ENOMEM, ENOSPC,
        ENOSYS, ENOTDIR, ENOTEMPTY, ENOTSUP, ENOTTY, ENXIO, EOPNOTSUPP, EOVERFLOW, EPERM, EPIPE,
        EROFS, ESPIPE, ESTALE, ETXTBSY, EWOULDBLOCK, EXDEV,
    };
}
pub use libc::{O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR};

use super::{errno, Access, Backing, Kind, LockRefused, Space, Stat};

/// Waiting on an atomic word: futex on Linux, ulock on macOS (the
/// `atomic-wait` crate). A wait may return spuriously: callers check.
pub mod futex {
    pub use atomic_wait::{wait, wake_all};
}

/// An open file: the C library's descriptor.
pub type Fd = c_int;

/// A vector of a vectored write: the C library's `iovec`.
pub type IoVec = libc::iovec;

/// `Ok(rc)`, or `Err(errno)` when the call said `-1`.
fn checked<T: Copy + PartialOrd + Default>(rc: T) -> Result<T, i32> {
    if rc >= T::default() {
        Ok(rc)
    } else {
        Err(errno())
    }
}

/// `open(path, flags, mode)`.
pub fn open(path: &CStr, flags: c_int, mode: u32) -> Result<Fd, i32> {
    // SAFETY: a valid C string.
    checked(unsafe { libc::open(path.as_ptr(), flags, mode as libc::c_uint) })
}

/// `openat(dir, name, flags, mode)`: `name` in the open directory `dir`
/// (`dir_path` is its path, which Windows opens by).
pub fn open_at(dir: Fd, _dir_path: &CStr, name: &CStr, flags: c_int, mode: u32) -> Result<Fd, i32> {
    // SAFETY: an open directory and a valid C string.
    checked(unsafe { libc::openat(dir, name.as_ptr(), flags, mode as libc::c_uint) })
}

/// `close(fd)`; the caller owns `fd` and closes it once.
pub fn close(fd: Fd) -> Result<(), i32> {
    // SAFETY: the caller owns the descriptor.
    checked(unsafe { libc::close(fd) }).map(drop)
}

/// A second descriptor of the same open file (`F_DUPFD_CLOEXEC`).
pub fn duplicate(fd: Fd) -> Result<Fd, i32> {
    // SAFETY: fcntl on a descriptor the caller holds open.
    checked(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

fn stat_of(st: &libc::stat) -> Stat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::Regular,
        libc::S_IFDIR => Kind::Directory,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFCHR | libc::S_IFBLK => Kind::Device,
        _ => Kind::Other,
    };
    Stat {
        size: st.st_size as u64,
        allocated: (st.st_blocks as u64).saturating_mul(512),
        kind,
        dev: super::dev_of(st),
        ino: st.st_ino,
    }
}

/// `fstat(fd)`.
pub fn fstat(fd: Fd) -> Result<Stat, i32> {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-parameter.
    checked(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(stat_of(&st))
}

/// `stat(path)`, following links.
pub fn stat(path: &CStr) -> Result<Stat, i32> {
    // SAFETY: as above.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: a valid C string and out-parameter.
    checked(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(stat_of(&st))
}

/// `fstatat(dir, name)`, following links.
pub fn stat_at(dir: Fd, _dir_path: &CStr, name: &CStr) -> Result<Stat, i32> {
    // SAFETY: as above.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: an open directory, a valid C string and out-parameter.
    checked(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, 0) })?;
    Ok(stat_of(&st))
}

/// Sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: Fd, on: bool) -> Result<(), i32> {
    // SAFETY: fcntl on a descriptor the caller holds open.
    let flags = checked(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let want = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    checked(unsafe { libc::fcntl(fd, libc::F_SETFL, want) }).map(drop)
}

/// Whether `O_NONBLOCK` is set.
pub fn is_nonblocking(fd: Fd) -> bool {
    // SAFETY: fcntl on a descriptor the caller holds open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// `pread`: bytes read at `offset` (0 at the end of the file).
pub fn pread(fd: Fd, buf: &mut [u8], offset: u64) -> Result<usize, i32> {
    // SAFETY: buf is a live, writable slice.
    let got = unsafe {
        libc::pread(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    };
    checked(got).map(|n| n as usize)
}

/// `pwrite`: bytes written at `offset`.
pub fn pwrite(fd: Fd, buf: &[u8], offset: u64) -> Result<usize, i32> {
    // SAFETY: buf is a live slice.
    let put = unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), offset as libc::off_t) };
    checked(put).map(|n| n as usize)
}

/// `pwritev`: bytes written from `bufs`, back to back from `offset`.
pub fn pwritev(fd: Fd, bufs: &[IoVec], offset: u64) -> Result<usize, i32> {
    // SAFETY: each vector describes a live slice (the caller's).
    let put = unsafe {
        libc::pwritev(
            fd,
            bufs.as_ptr(),
            bufs.len() as c_int,
            offset as libc::off_t,
        )
    };
    checked(put).map(|n| n as usize)
}

/// The first hole at or after `offset` (`SEEK_HOLE`), or `None`.
pub fn next_hole(fd: Fd, offset: u64) -> Option<u64> {
    // SAFETY: lseek on a descriptor the caller holds open.
    let at = unsafe { libc::lseek(fd, offset as libc::off_t, libc::SEEK_HOLE) };
    (at >= 0).then_some(at as u64)
}

/// The first data at or after `offset` (`SEEK_DATA`), or `None`.
pub fn next_data(fd: Fd, offset: u64) -> Option<u64> {
    // SAFETY: as above.
    let at = unsafe { libc::lseek(fd, offset as libc::off_t, libc::SEEK_DATA) };
    (at >= 0).then_some(at as u64)
}

/// `ftruncate(fd, len)`.
pub fn truncate(fd: Fd, len: u64) -> Result<(), i32> {
    // SAFETY: fd is open.
    checked(unsafe { libc::ftruncate(fd, len as libc::off_t) }).map(drop)
}

/// `mkdir(path, mode)`.
pub fn mkdir(path: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: a valid C string.
    checked(unsafe { libc::mkdir(path.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// `unlink(path)`, or `rmdir(path)` when `directory`.
pub fn unlink(path: &CStr, directory: bool) -> Result<(), i32> {
    // SAFETY: a valid C string.
    let rc = unsafe {
        if directory {
            libc::rmdir(path.as_ptr())
        } else {
            libc::unlink(path.as_ptr())
        }
    };
    checked(rc).map(drop)
}

/// `unlinkat(dir, name)` (`AT_REMOVEDIR` when `directory`).
pub fn unlink_at(dir: Fd, _dir_path: &CStr, name: &CStr, directory: bool) -> Result<(), i32> {
    let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: an open directory and a valid C string.
    checked(unsafe { libc::unlinkat(dir, name.as_ptr(), flags) }).map(drop)
}

/// `rename(from, to)`: atomic, replacing `to`.
pub fn rename(from: &CStr, to: &CStr) -> Result<(), i32> {
    // SAFETY: valid C strings.
    checked(unsafe { libc::rename(from.as_ptr(), to.as_ptr()) }).map(drop)
}

/// `renameat(dir, from, dir, to)`.
pub fn rename_at(dir: Fd, _dir_path: &CStr, from: &CStr, to: &CStr) -> Result<(), i32> {
    // SAFETY: an open directory and valid C strings.
    checked(unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) }).map(drop)
}

/// Whether `path` exists (`access(F_OK)`).
pub fn exists(path: &CStr) -> bool {
    // SAFETY: a valid C string.
    unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
}

/// Opens the directory `path` (close-on-exec: no program the runtime
/// executes inherits it, or its lock) and takes an exclusive `flock` on
/// it without waiting: `Lock(EWOULDBLOCK)` while another open of it holds
/// one. The lock lasts while the descriptor is open.
pub fn open_locked_dir(path: &CStr) -> Result<Fd, LockRefused> {
    let fd = loop {
        match open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
            Err(libc::EINTR) => continue,
            Err(errno) => return Err(LockRefused::Open(errno)),
            Ok(fd) => break fd,
        }
    };
    loop {
        // SAFETY: fd is open.
        match checked(unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) }) {
            Ok(_) => return Ok(fd),
            Err(libc::EINTR) => continue,
            Err(errno) => {
                let _ = close(fd);
                return Err(LockRefused::Lock(errno));
            }
        }
    }
}

/// The space of the file system holding `path` (`statvfs`).
pub fn space(path: &CStr) -> Result<Space, i32> {
    // SAFETY: an all-zero statvfs is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { core::mem::zeroed() };
    // SAFETY: a valid C string and out-parameter.
    checked(unsafe { libc::statvfs(path.as_ptr(), &mut st) })?;
    Ok(Space {
        blocks: st.f_blocks as u64,
        free: st.f_bfree as u64,
        available: st.f_bavail as u64,
        block_bytes: st.f_frsize as u64,
    })
}

/// `mkdtemp(template)`: the template's `XXXXXX` filled in, the directory made.
pub fn make_temp_dir(template: &mut [u8]) -> Result<(), i32> {
    // SAFETY: a NUL-terminated, writable template.
    let got = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
    if got.is_null() {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `mkfifo(path, 0600)` (tests of files that are not regular).
pub fn make_fifo(path: &CStr) -> Result<(), i32> {
    // SAFETY: a valid C string.
    checked(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }).map(drop)
}

/// Writes `bytes` to the standard error descriptor; bytes written, or
/// `Err(errno)`. Async-signal-safe.
pub fn write_stderr(bytes: &[u8]) -> Result<usize, i32> {
    // SAFETY: a live slice.
    let wrote = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    checked(wrote).map(|n| n as usize)
}

/// Nothing to learn: the fault path's words are a table (`msg::errno_text`,
/// `libc_errno_text`) that the unit tests hold against the C library.
pub fn learn_errno_texts() {}

/// The C library's words for `errno` (`strerror_r`), if it has any: for a
/// value it does not know, glibc writes "Unknown error N" and returns
/// `EINVAL`, musl writes its words for none and returns 0; either way the
/// words are what `strerror` says.
pub fn strerror_text(errno: i32) -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; the XSI strerror_r
    // writes a NUL-terminated string into it.
    unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    CStr::from_bytes_until_nul(&buf)
        .ok()
        .filter(|text| !text.is_empty())
        .map(|text| text.to_string_lossy().into_owned())
}

/// This thread, as a number (`pthread_self`).
pub fn this_thread() -> usize {
    // SAFETY: pthread_self cannot fail; only its value is used.
    unsafe { libc::pthread_self() as usize }
}

/// This process (`getpid`).
pub fn this_pid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Runs `handler` in a child forked from this process, before `fork`
/// returns there (`pthread_atfork`).
pub fn at_fork_in_child(handler: extern "C" fn()) {
    // SAFETY: registers a handler that lives as long as the library.
    unsafe { libc::pthread_atfork(None, None, Some(handler)) };
}

/// The calling thread's signal mask as it was before `block_signals`.
pub struct SignalMask(Option<libc::sigset_t>);

/// Blocks every asynchronous signal in the calling thread (the synchronous
/// ones, a fault's, stay deliverable); what was blocked before.
pub fn block_signals() -> SignalMask {
    // SAFETY: sigset_t is plain data, filled by sigfillset before use.
    let mut quiet: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut before: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: valid signal sets; pthread_sigmask changes this thread's mask.
    let blocked = unsafe {
        libc::sigfillset(&mut quiet);
        for signal in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut quiet, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &quiet, &mut before) == 0
    };
    SignalMask(blocked.then_some(before))
}

/// Restores the mask `block_signals` saved.
pub fn restore_signals(mask: SignalMask) {
    if let Some(before) = mask.0 {
        // SAFETY: restores the mask saved by block_signals.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &before, core::ptr::null_mut()) };
    }
}

// ---- mappings --------------------------------------------------------------

/// Whether pages of a file can be mapped over the loom at a fixed
/// address: `Backing`'s file views, demand paging, swap mode.
pub const MAPS_FILES: bool = true;

/// The kernel's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf cannot fail for _SC_PAGESIZE.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn prot(access: Access) -> c_int {
    match access {
        Access::Read => libc::PROT_READ,
        Access::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Access::Nothing => libc::PROT_NONE,
    }
}

/// `mprotect`. Async-signal-safe.
///
/// # Safety
/// `[addr, addr + len)` is mapped and no Rust reference into it is alive
/// that the new protection would break.
pub unsafe fn protect(addr: *mut u8, len: usize, access: Access) -> Result<(), i32> {
    // SAFETY: the caller's promise.
    checked(unsafe { libc::mprotect(addr.cast(), len, prot(access)) }).map(drop)
}

/// Maps `backing` at exactly `[addr, addr + len)` (`MAP_FIXED`), replacing
/// what was there; a file view starts at `offset`. Async-signal-safe.
///
/// # Safety
/// The range is the caller's to replace, with no Rust reference into it.
pub unsafe fn map_fixed(
    addr: *mut u8,
    len: usize,
    backing: Backing,
    offset: u64,
) -> Result<(), i32> {
    let fixed = libc::MAP_FIXED;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let (prot, flags, fd) = match backing {
        Backing::FilePrivate { fd, writable } => (
            if writable { rw } else { libc::PROT_READ },
            fixed | libc::MAP_PRIVATE,
            fd,
        ),
        Backing::FileShared(fd) => (rw, fixed | libc::MAP_SHARED, fd),
        Backing::FileCopy { fd, writable } => (
            if writable { rw } else { libc::PROT_READ },
            fixed | libc::MAP_PRIVATE | libc::MAP_NORESERVE,
            fd,
        ),
        Backing::Anonymous => (rw, fixed | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
    };
    // SAFETY: the caller's promise.
    let got = unsafe { libc::mmap(addr.cast(), len, prot, flags, fd, offset as libc::off_t) };
    if got == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(())
    }
}

fn map_anywhere(len: usize, prot: c_int) -> Result<*mut u8, i32> {
    // SAFETY: a new mapping where the kernel chooses.
    let got = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if got == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(got.cast())
    }
}

/// Address space only: `len` bytes nothing may touch, where the kernel
/// chooses (no memory or swap reserved).
pub fn reserve_address_space(len: usize) -> Result<*mut u8, i32> {
    map_anywhere(len, libc::PROT_NONE)
}

/// `len` bytes of zero pages, readable and writable, backed only where
/// written (no swap reserved).
pub fn map_scratch(len: usize) -> Result<*mut u8, i32> {
    map_anywhere(len, libc::PROT_READ | libc::PROT_WRITE)
}

/// Unmaps `[addr, addr + len)`.
///
/// # Safety
/// Nothing refers to the range any more.
pub unsafe fn unmap(addr: *mut u8, len: usize) -> Result<(), i32> {
    // SAFETY: the caller's promise.
    checked(unsafe { libc::munmap(addr.cast(), len) }).map(drop)
}

/// Drops the pages' memory (`MADV_DONTNEED`): a private file view reads
/// the file again, an anonymous one zeros.
///
/// # Safety
/// The range is mapped; its contents may go.
pub unsafe fn discard(addr: *mut u8, len: usize) -> Result<(), i32> {
    // SAFETY: the caller's promise.
    checked(unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) }).map(drop)
}

// ---- threads ---------------------------------------------------------------

/// A running thread started by `start_thread` (a `pthread_t`: a number
/// in glibc, a pointer in musl).
pub struct RawThread(libc::pthread_t);

/// What `enter` runs, handed to the new thread.
struct Entry {
    run: fn(*mut c_void),
    arg: *mut c_void,
}

extern "C" fn enter(entry: *mut c_void) -> *mut c_void {
    // SAFETY: the `Entry` start_thread handed over, now this thread's.
    let entry = unsafe { Box::from_raw(entry.cast::<Entry>()) };
    (entry.run)(entry.arg);
    core::ptr::null_mut()
}

/// Starts a thread that runs `run(arg)` (`pthread_create` itself rather
/// than `std::thread`: std's threads register thread-local destructors
/// with the C library as they start, and the C library ends the process
/// where it has no memory for one: at the kernel's mapping limit, a new
/// thread gets no memory arena). The thread inherits the caller's signal
/// mask. `Err(errno)` where none can be had.
pub fn start_thread(run: fn(*mut c_void), arg: *mut c_void) -> Result<RawThread, i32> {
    let entry = Box::into_raw(Box::new(Entry { run, arg }));
    // SAFETY: an all-zero pthread_t is a valid out-parameter.
    let mut id: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: `enter` takes `entry` as what it is.
    let rc = unsafe { libc::pthread_create(&mut id, core::ptr::null(), enter, entry.cast()) };
    if rc != 0 {
        // SAFETY: no thread has it: taken back and dropped.
        drop(unsafe { Box::from_raw(entry) });
        return Err(rc);
    }
    Ok(RawThread(id))
}

/// Waits for the thread to end; false where it cannot be waited for.
pub fn join_thread(thread: RawThread) -> bool {
    // SAFETY: a thread of start_thread's, joined once.
    unsafe { libc::pthread_join(thread.0, core::ptr::null_mut()) == 0 }
}

/// Lets the thread end on its own, unwaited for.
pub fn detach_thread(thread: RawThread) {
    // SAFETY: a thread of start_thread's, detached once.
    unsafe { libc::pthread_detach(thread.0) };
}
