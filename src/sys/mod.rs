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
