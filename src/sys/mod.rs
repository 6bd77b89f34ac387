//! The operating system, in one room.
//!
//! Every call whose form differs between the platforms looms runs on lives
//! here, one file per platform with the same functions: where the loom
//! sits, `errno`, durable sync, uncached writes, space reservation, huge
//! pages, the userfaultfd backend, the capability to use a file system's
//! reserved blocks, and the identity of an open file. The save and boot
//! protocols call these and read the same everywhere.
//!
//! | call | Linux | macOS |
//! |---|---|---|
//! | `sync_data` | `fdatasync` | `fcntl(F_FULLFSYNC)` |
//! | `start_writeback` | `sync_file_range(SYNC_FILE_RANGE_WRITE)` | nothing |
//! | `written_and_dropped` | `sync_file_range` (wait, write, wait), `POSIX_FADV_DONTNEED` | nothing |
//! | `move_mapping` | `mremap(MREMAP_MAYMOVE \| MREMAP_FIXED)` | refused (`ENOSYS`) |
//! | `sync_dir` | `fsync` | `fcntl(F_FULLFSYNC)` |
//! | `set_uncached` | `O_DIRECT` | `F_NOCACHE` |
//! | `reserve` | `fallocate(FALLOC_FL_KEEP_SIZE)` | `F_PREALLOCATE` |
//! | `allocate` | `fallocate` | `F_PREALLOCATE`, then `ftruncate` |
//! | `advise_huge_pages` | `MADV_HUGEPAGE` | refused (`ENOTSUP`) |
//! | `userfaultfd` | the system call | absent (`ENOSYS`): mprotect only |
//! | `clone_range` | `ioctl(FICLONERANGE)` | refused (`ENOTSUP`) |
//! | `copy_range` | `copy_file_range` | refused (`ENOSYS`) |
//! | `ioctl` | request `unsigned long` (glibc), `int` (musl) | request `unsigned long` |
//! | `errno` | `__errno_location` | `__error` |
//! | `libc_errno_text` | musl's `strerror` words (glibc's are `msg`'s table) | none |
//! | `c_stderr` | `stderr` | `__stderrp` |
//!
//! Everything here is a thin wrapper returning what the system said; the
//! fault path may call `errno` (async-signal-safe, no allocation).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("looms runs on Linux and macOS only (src/sys holds one file per platform)");

/// The device and inode of a `stat`, as the protocols compare them.
pub fn identity(st: &libc::stat) -> (u64, u64) {
    (dev_of(st), st.st_ino)
}

/// A thread of the library's, started with `pthread_create` itself rather
/// than `std::thread`: std's threads register thread-local destructors
/// with the C library as they start (and `std::thread::scope` on the
/// caller's thread), and the C library ends the process where it has no
/// memory for one (at the kernel's mapping limit, a new thread gets no
/// memory arena). Code run here uses none of std's thread-locals.
pub struct Thread<T> {
    id: libc::pthread_t,
    start: *mut Start<T>,
}

/// What a thread runs, and where it leaves what that returned.
struct Start<T> {
    work: Option<Box<dyn FnOnce() -> T + Send>>,
    out: Option<T>,
}

extern "C" fn run<T>(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the `Start` handed to `pthread_create`, which the
    // spawning side touches again only after `pthread_join`.
    let start = unsafe { &mut *arg.cast::<Start<T>>() };
    if let Some(work) = start.work.take() {
        start.out = Some(work());
    }
    core::ptr::null_mut()
}

/// Starts a thread that runs `work`, with every asynchronous signal
/// blocked (the caller's mask, as `process::with_signals_blocked` sets
/// it); `Err(errno)` where none can be had (`work` is dropped then).
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
    // SAFETY: an all-zero pthread_t is a valid out-parameter.
    let mut id: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: `run::<T>` takes `start` as its `Start<T>`.
    let rc = unsafe { libc::pthread_create(&mut id, core::ptr::null(), run::<T>, start.cast()) };
    if rc != 0 {
        // SAFETY: no thread has it: taken back and dropped.
        drop(unsafe { Box::from_raw(start) });
        return Err(rc);
    }
    Ok(Thread { id, start })
}

impl<T> Thread<T> {
    /// Waits for the thread to end; what its work returned.
    pub fn join(self) -> Option<T> {
        // SAFETY: joining a thread of ours, once (`self` is consumed).
        if unsafe { libc::pthread_join(self.id, core::ptr::null_mut()) } != 0 {
            return None;
        }
        // SAFETY: the thread has ended: its `Start` is ours again.
        unsafe { Box::from_raw(self.start) }.out
    }
}

// SAFETY: the handle only joins the thread and takes back its `Start`,
// whose result is `Send`; any thread may do that.
unsafe impl<T: Send> Send for Thread<T> {}

extern "C" fn run_detached(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the work `spawn_detached` handed over, now this
    // thread's alone.
    let work = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
    work();
    core::ptr::null_mut()
}

/// `spawn`, for work whose end nobody waits for: the thread owns it.
pub fn spawn_detached(work: Box<dyn FnOnce() + Send + 'static>) -> Result<(), i32> {
    let work = Box::into_raw(Box::new(work));
    // SAFETY: an all-zero pthread_t is a valid out-parameter.
    let mut id: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: `run_detached` takes `work` as what it is.
    let rc = unsafe { libc::pthread_create(&mut id, core::ptr::null(), run_detached, work.cast()) };
    if rc != 0 {
        // SAFETY: no thread has it: taken back and dropped.
        drop(unsafe { Box::from_raw(work) });
        return Err(rc);
    }
    // SAFETY: a thread just made, detached once.
    unsafe { libc::pthread_detach(id) };
    Ok(())
}
