//! A pier's snapshot files, and the advisory lock that keeps a second
//! process from booting a pier that one is running.
//!
//! The lock is an open-file-description lock (`F_OFD_SETLK`) on `image.bin`
//! through a descriptor of its own: no new file on disk, invisible to the
//! runtime, and not dropped when some other descriptor of the image is
//! closed (as a POSIX record lock would be).

use std::sync::atomic::{AtomicI32, Ordering};

use crate::image::{File, IoError, Path};

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
    /// The image could not be opened.
    Open(IoError),
    /// The file system refused the lock itself (no open-file-description
    /// locks: `ENOLCK`, `EINVAL`, ...).
    Unsupported(IoError),
}

fn whole_file(kind: libc::c_short) -> libc::flock {
    // SAFETY: an all-zero flock is valid; the fields that matter are set below.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    lock
}

/// Takes the pier's lock through a new descriptor of `image.bin` (created
/// if missing, as boot creates it). The descriptor is close-on-exec: a
/// program the runtime executes never inherits the pier.
pub fn lock(pier: &Pier) -> Result<File, LockError> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC;
    let file = File::open(&pier.image(), flags, 0o666).map_err(LockError::Open)?;
    let mut lock = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: fd is open; lock is a valid flock.
    if unsafe { libc::fcntl(file.fd(), libc::F_OFD_SETLK, &mut lock) } == 0 {
        return Ok(file);
    }
    let errno = crate::msg::last_errno();
    if errno == libc::EAGAIN || errno == libc::EACCES {
        Err(LockError::Busy)
    } else {
        Err(LockError::Unsupported(IoError {
            op: "lock",
            path: pier.image().show(),
            errno,
        }))
    }
}

/// Whether some process holds the pier's lock (without taking it).
pub fn is_locked(pier: &Pier) -> Result<bool, IoError> {
    let file = File::open(&pier.image(), libc::O_RDONLY, 0)?;
    let mut lock = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: fd is open; lock is a valid flock.
    if unsafe { libc::fcntl(file.fd(), libc::F_OFD_GETLK, &mut lock) } != 0 {
        let errno = crate::msg::last_errno();
        return Err(IoError {
            op: "lock query",
            path: pier.image().show(),
            errno,
        });
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}

/// The lock the running snapshot system holds, as a raw descriptor (-1: none).
static HELD: AtomicI32 = AtomicI32::new(-1);

/// Keeps `file`'s lock for the life of the snapshot system, replacing (and
/// releasing) any lock held before.
pub fn hold(file: File) {
    release();
    HELD.store(file.into_raw(), Ordering::SeqCst);
}

/// Releases the held lock, if any.
pub fn release() {
    let fd = HELD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the descriptor was owned by HELD.
        unsafe { libc::close(fd) };
    }
}
