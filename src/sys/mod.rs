//! The operating system, in one room: the only code that names `libc` or
//! `windows-sys` (`scripts/suites/10-lint.sh` checks it).
//!
//! One file per platform with the same functions: `unix.rs` (the POSIX
//! calls Linux and macOS share: files by descriptor, `mmap` and
//! `mprotect`, threads, signal masks, fork hooks), `linux.rs` and
//! `macos.rs` (what differs between them), `windows.rs` (all of it, over
//! Win32). The rooms above ask for files, mappings and threads in the
//! loom's terms and read the same everywhere; where a platform cannot do a
//! thing it says so by value (`MAPS_FILES`, `ENOSYS`), never by `cfg` in a
//! room above.
//!
//! | call | Linux | macOS | Windows |
//! |---|---|---|---|
//! | `Fd` | descriptor | descriptor | kernel handle, in 32 bits |
//! | `open`, `open_at` | `open`, `openat` | `open`, `openat` | `CreateFileW` (sharing read, write, delete), by path |
//! | `pread`, `pwrite`, `pwritev` | the calls | the calls | `ReadFile`, `WriteFile` at an offset; a write per vector |
//! | `rename`, `rename_at` | `rename`, `renameat` | `rename`, `renameat` | `MoveFileExW(REPLACE_EXISTING \| WRITE_THROUGH)` |
//! | `open_locked_dir` | `flock(LOCK_EX \| LOCK_NB)` | `flock` | an open with delete access that shares none |
//! | `sync_data` | `fdatasync` | `fcntl(F_FULLFSYNC)` | `FlushFileBuffers` |
//! | `start_writeback` | `sync_file_range(SYNC_FILE_RANGE_WRITE)` | nothing | nothing |
//! | `written_and_dropped` | `sync_file_range` (wait, write, wait), `POSIX_FADV_DONTNEED` | nothing | nothing |
//! | `sync_dir` | `fsync` | `fcntl(F_FULLFSYNC)` | nothing (renames write through; names are journalled) |
//! | `set_uncached` | `O_DIRECT` | `F_NOCACHE` | refused |
//! | `reserve` | `fallocate(FALLOC_FL_KEEP_SIZE)` | `F_PREALLOCATE` | `FileAllocationInfo` |
//! | `allocate` | `fallocate` | `F_PREALLOCATE`, then `ftruncate` | `FileAllocationInfo`, then `FileEndOfFileInfo` |
//! | `next_hole`, `next_data` | `SEEK_HOLE`, `SEEK_DATA` | the same | unknown |
//! | `protect` | `mprotect` | `mprotect` | `VirtualProtect` |
//! | `map_fixed` | `mmap(MAP_FIXED)` | `mmap(MAP_FIXED)` | zero pages only (`MAPS_FILES` is false) |
//! | `discard` | `MADV_DONTNEED` | `MADV_DONTNEED` | nothing (the runtime's view stays) |
//! | `move_mapping` | `mremap(MREMAP_MAYMOVE \| MREMAP_FIXED)` | refused (`ENOSYS`) | refused |
//! | `advise_huge_pages` | `MADV_HUGEPAGE` | refused (`ENOTSUP`) | refused |
//! | `userfaultfd` | the system call | absent (`ENOSYS`): mprotect only | absent |
//! | `clone_range` | `ioctl(FICLONERANGE)` | refused (`ENOTSUP`) | refused |
//! | `copy_range` | `copy_file_range` | refused (`ENOSYS`) | refused |
//! | `futex` | futex (`atomic-wait`) | ulock (`atomic-wait`) | `WaitOnAddress` |
//! | `spawn` | `pthread_create` | `pthread_create` | `CreateThread` |
//! | `at_fork_in_child`, `block_signals` | `pthread_atfork`, `pthread_sigmask` | the same | nothing (no fork, no signals) |
//! | `ioctl` | request `unsigned long` (glibc), `int` (musl) | request `unsigned long` | never made |
//! | `errno` | `__errno_location` | `__error` | `GetLastError`, as an `errno` value |
//! | `libc_errno_text` | musl's `strerror` words (glibc's are `msg`'s table) | none | the C runtime's, learnt at boot |
//! | `c_stderr` | `stderr` | `__stderrp` | `__acrt_iob_func(2)` |
//!
//! Everything here is a thin wrapper returning what the system said, as
//! `Result<_, errno>`; what the fault path calls (`protect`, `map_fixed`,
//! `pwrite`, `futex`, `errno`) allocates nothing and takes no lock.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!("looms runs on Linux, macOS and Windows only (src/sys holds one file per platform)");

pub use errnos::*;

/// `Ok` for a system call's success, `Err(errno)` for its `-1`.
#[cfg(unix)]
fn result(rc: core::ffi::c_int) -> Result<(), i32> {
    if rc >= 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// A copy of `text` in the C library's memory (`strdup`), for a pointer the
/// runtime keeps and frees.
pub fn strdup(text: &core::ffi::CStr) -> *mut core::ffi::c_char {
    // SAFETY: a valid C string.
    unsafe { libc::strdup(text.as_ptr()) }
}

/// Ends the process as the C library's `exit` does (its exit handlers run).
pub fn exit(code: core::ffi::c_int) -> ! {
    // SAFETY: exit runs the C library's handlers and does not return.
    unsafe { libc::exit(code) }
}

/// Runs `handler` at the process's exit (the C library's `atexit`).
pub fn at_exit(handler: extern "C" fn()) {
    // SAFETY: registers a handler that lives as long as the library.
    unsafe { libc::atexit(handler) };
}

/// What an open file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Fifo,
    Socket,
    /// A character or block device.
    Device,
    Other,
}

/// What the library asks of a file's metadata.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// Length in bytes.
    pub size: u64,
    /// Bytes of blocks the file holds (less than `size` where it has holes).
    pub allocated: u64,
    pub kind: Kind,
    /// The file system and the file in it: two names for one file share both.
    pub dev: u64,
    pub ino: u64,
}

impl Stat {
    /// The device and inode, as the protocols compare them.
    pub fn identity(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }
}

/// A file system's blocks.
#[derive(Clone, Copy, Debug)]
pub struct Space {
    pub blocks: u64,
    /// Free, the blocks kept back for privileged users included.
    pub free: u64,
    /// Free to an unprivileged user.
    pub available: u64,
    pub block_bytes: u64,
}

/// Why `open_locked_dir` gave no locked directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRefused {
    /// The directory could not be opened: the errno.
    Open(i32),
    /// It was opened but not locked: `EWOULDBLOCK` while another open of it
    /// holds the lock, another errno where the file system refuses locks.
    Lock(i32),
}

/// Memory protection of a range of loom pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Clean pages: a store faults.
    Read,
    /// Dirty pages.
    ReadWrite,
    /// The guard page.
    Nothing,
}

/// What backs a range of loom pages mapped by `map_fixed`.
#[derive(Clone, Copy, Debug)]
pub enum Backing {
    /// A private view of a file from offset `first * PAGE_BYTES` (the image,
    /// demand-paged): read-only, or writable when clean pages are tracked
    /// without protection.
    FilePrivate { fd: Fd, writable: bool },
    /// A shared, writable view of a file at the pages' own offset (swap mode's
    /// ephemeral file).
    FileShared(Fd),
    /// A private, copy-on-write view of a file at the pages' own offset,
    /// reserving no swap space (a view of most of the loom may be larger
    /// than memory and swap together): pages mapped shared from swap mode's
    /// ephemeral file, made private with the same bytes. Read-only, or
    /// writable (dirty pages).
    FileCopy { fd: Fd, writable: bool },
    /// Fresh zero pages.
    Anonymous,
}

/// A thread of the library's (`start_thread`: `pthread_create`,
/// `CreateThread`), whose work returns a `T`. Code run there uses none of
/// std's thread-locals.
pub struct Thread<T> {
    id: RawThread,
    start: *mut Start<T>,
}

/// What a thread runs, and where it leaves what that returned.
struct Start<T> {
    work: Option<Box<dyn FnOnce() -> T + Send>>,
    out: Option<T>,
}

fn run<T>(arg: *mut core::ffi::c_void) {
    // SAFETY: `arg` is the `Start` handed to `start_thread`, which the
    // spawning side touches again only after the thread has ended.
    let start = unsafe { &mut *arg.cast::<Start<T>>() };
    if let Some(work) = start.work.take() {
        start.out = Some(work());
    }
}

/// Starts a thread that runs `work` (with every asynchronous signal
/// blocked where the caller blocked them: `process::with_signals_blocked`);
/// `Err(errno)` where none can be had (`work` is dropped then).
pub fn spawn<T: Send + 'static>(
    work: Box<dyn FnOnce() -> T + Send + 'static>,
) -> Result<Thread<T>, i32> {
    // SAFETY: `work` borrows nothing.
    unsafe { spawn_borrowing(work) }
}

/// `spawn`, for work that borrows from the caller.
///
/// # Safety
/// The caller must `join` the thread before anything `work` borrows is
/// dropped or changed (a thread that cannot be started drops `work` here).
pub unsafe fn spawn_borrowing<'a, T: Send + 'a>(
    work: Box<dyn FnOnce() -> T + Send + 'a>,
) -> Result<Thread<T>, i32> {
    // SAFETY: the caller joins before what `work` borrows goes.
    let work: Box<dyn FnOnce() -> T + Send + 'static> = unsafe { core::mem::transmute(work) };
    let start = Box::into_raw(Box::new(Start {
        work: Some(work),
        out: None,
    }));
    match start_thread(run::<T>, start.cast()) {
        Ok(id) => Ok(Thread { id, start }),
        Err(errno) => {
            // SAFETY: no thread has it: taken back and dropped.
            drop(unsafe { Box::from_raw(start) });
            Err(errno)
        }
    }
}

impl<T> Thread<T> {
    /// Waits for the thread to end; what its work returned.
    pub fn join(self) -> Option<T> {
        if !join_thread(self.id) {
            return None;
        }
        // SAFETY: the thread has ended: its `Start` is ours again.
        unsafe { Box::from_raw(self.start) }.out
    }
}

// SAFETY: the handle only waits for the thread and takes back its `Start`,
// whose result is `Send`; any thread may do that.
unsafe impl<T: Send> Send for Thread<T> {}

fn run_detached(arg: *mut core::ffi::c_void) {
    // SAFETY: `arg` is the work `spawn_detached` handed over, now this
    // thread's alone.
    let work = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
    work();
}

/// `spawn`, for work whose end nobody waits for: the thread owns it.
pub fn spawn_detached(work: Box<dyn FnOnce() + Send + 'static>) -> Result<(), i32> {
    let work = Box::into_raw(Box::new(work));
    match start_thread(run_detached, work.cast()) {
        Ok(id) => {
            detach_thread(id);
            Ok(())
        }
        Err(errno) => {
            // SAFETY: no thread has it: taken back and dropped.
            drop(unsafe { Box::from_raw(work) });
            Err(errno)
        }
    }
}
