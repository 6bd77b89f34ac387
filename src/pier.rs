//! A pier's snapshot files, and the advisory lock that keeps a second
//! process from booting a pier that one is running.
//!
//! The lock is held on the `.urb/chk` directory itself, through a
//! descriptor of its own (`sys::open_locked_dir`: a `flock` on POSIX, an
//! open that shares no deletion on Windows): no new file on disk, invisible
//! to the runtime, and it guards the directory's snapshot, whichever inode
//! `image.bin` names (a backup renamed over `image.bin` cannot slip past
//! it). The lock belongs to an open of the directory, so a second open in
//! the same process is refused too.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::image::{Dir, IoError, Path};
use crate::sys::{self, LockRefused};

/// The snapshot directory of a pier and the names in it.
#[derive(Clone, Debug)]
pub struct Pier {
    pub dir: Vec<u8>,
}

impl Pier {
    pub fn new(dir: &[u8]) -> Pier {
        Pier { dir: dir.to_vec() }
    }

    pub fn path(&self, tail: &str) -> Path {
        Path::join(&self.dir, tail)
    }

    /// `<pier>/.urb/chk`
    pub fn chk(&self) -> Path {
        self.path(".urb/chk")
    }

    pub fn image(&self) -> Path {
        self.path(".urb/chk/image.bin")
    }

    pub fn control(&self) -> Path {
        self.path(".urb/chk/control.bin")
    }

    pub fn memory(&self) -> Path {
        self.path(".urb/chk/memory.bin")
    }

    pub fn limbo(&self) -> Path {
        self.path(".urb/chk/limbo.bin")
    }
}

/// Why a pier could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    Busy,
    /// The directory could not be opened.
    Open(IoError),
    /// The file system refused the lock itself (`ENOLCK`, `EINVAL`, ...).
    Unsupported(IoError),
}

/// Takes an exclusive lock on the directory `dir` through a new descriptor.
pub fn lock_dir(dir: &Path) -> Result<Dir, LockError> {
    let failed = |op, errno| IoError {
        op,
        path: dir.show(),
        errno,
    };
    match Dir::open_locked(dir) {
        Ok(held) => Ok(held),
        Err(LockRefused::Open(errno)) => Err(LockError::Open(failed("open", errno))),
        Err(LockRefused::Lock(sys::EWOULDBLOCK)) => Err(LockError::Busy),
        Err(LockRefused::Lock(errno)) => Err(LockError::Unsupported(failed("lock", errno))),
    }
}

/// Takes the pier's lock (on `<pier>/.urb/chk`).
pub fn lock(pier: &Pier) -> Result<Dir, LockError> {
    lock_dir(&pier.chk())
}

/// Whether some process holds the lock on `dir` (without keeping it).
pub fn is_dir_locked(dir: &Path) -> Result<bool, IoError> {
    match lock_dir(dir) {
        Ok(_) => Ok(false),
        Err(LockError::Busy) => Ok(true),
        Err(LockError::Open(err) | LockError::Unsupported(err)) => Err(err),
    }
}

/// Whether some process holds the pier's lock (without keeping it).
pub fn is_locked(pier: &Pier) -> Result<bool, IoError> {
    is_dir_locked(&pier.chk())
}

/// The lock the running snapshot system holds, as a raw descriptor of the
/// pier's `.urb/chk` (-1: none). Owned by the runtime's thread: set by
/// `u3e_live`, closed by `u3e_stop`.
static HELD: AtomicI32 = AtomicI32::new(-1);

/// Keeps `dir`'s lock for the life of the snapshot system, replacing (and
/// releasing) any lock held before.
pub fn hold(dir: Dir) {
    release();
    HELD.store(dir.into_raw(), Ordering::SeqCst);
}

/// The device and inode of the directory whose lock is held, if any.
pub fn held_identity() -> Option<(u64, u64)> {
    let fd = HELD.load(Ordering::SeqCst);
    if fd < 0 {
        return None;
    }
    // fd is the open directory HELD owns.
    sys::fstat(fd).ok().map(|st| st.identity())
}

/// In a child forked without exec (a `pthread_atfork` handler, so only
/// async-signal-safe calls): the lock is the parent's. The child's copy of
/// the descriptor is closed, so that the lock goes with the parent and a
/// restart is not refused for as long as the child lives.
pub fn forget_in_child() {
    let fd = HELD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // The child's copy of the descriptor HELD owned.
        let _ = sys::close(fd);
    }
}

/// Releases the held lock, if any.
pub fn release() {
    let fd = HELD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // The descriptor HELD owned.
        let _ = sys::close(fd);
    }
}
