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
