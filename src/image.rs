//! Files: `image.bin`, the patch files, backups. Every write, sync, truncate
//! and unlink the library makes goes through this module, through the
//! ordinary libc calls (so a test can interpose them), and each one retries
//! what is transient: `EINTR`, `EAGAIN` and short transfers.

use std::ffi::{CStr, CString};
use std::fmt;

use crate::loom::{self, PAGE_BYTES};
use crate::msg::{self, strerror};
use crate::sys;

/// A failed file operation: what, on which file, and the errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoError {
    pub op: &'static str,
    pub path: String,
    pub errno: i32,
}

impl IoError {
    /// Whether the file system cannot do what was asked at all
    /// (`EOPNOTSUPP`, `ENOSYS`), as opposed to failing it this time.
    pub fn unsupported(&self) -> bool {
        self.errno == sys::EOPNOTSUPP || self.errno == sys::ENOSYS
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path, strerror(self.errno))
    }
}

pub type IoResult<T> = Result<T, IoError>;

/// A path as the C side gives and wants it: bytes, no interior NUL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(CString);

impl Path {
    /// `dir/tail`, with no length limit (the reference cut at 8192 bytes).
    pub fn join(dir: &[u8], tail: &str) -> Path {
        let mut bytes = Vec::with_capacity(dir.len() + 1 + tail.len());
        bytes.extend_from_slice(dir);
        bytes.push(b'/');
        bytes.extend_from_slice(tail.as_bytes());
        Path::from_bytes(bytes)
    }

    pub fn from_bytes(mut bytes: Vec<u8>) -> Path {
        bytes.retain(|&b| b != 0);
        Path(CString::new(bytes).expect("NUL bytes were removed"))
    }

    /// A path from a C string the runtime passed in.
    ///
    /// # Safety
    /// `ptr` must be a valid NUL-terminated string.
    pub unsafe fn from_c(ptr: *const core::ffi::c_char) -> Path {
        // SAFETY: the caller guarantees a valid C string.
        Path(unsafe { CStr::from_ptr(ptr) }.to_owned())
    }

    pub fn c(&self) -> &CStr {
        &self.0
    }

    pub fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The path for a message: `say!` prints it byte for byte, as the
    /// runtime gave it (see `msg::escape`).
    pub fn show(&self) -> String {
        msg::escape(self.bytes())
    }

    /// The path for a person or a JSON string: bytes that are not UTF-8
    /// become U+FFFD.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    fn err(&self, op: &'static str, errno: i32) -> IoError {
        IoError {
            op,
            path: self.show(),
            errno,
        }
    }
}

/// How often `EAGAIN` is retried (a millisecond apart) before it counts as hard.
const EAGAIN_TRIES: u32 = 1000;

/// Runs `call` until it does not fail with `EINTR` or `EAGAIN`.
fn retry<T>(mut call: impl FnMut() -> Result<T, i32>) -> Result<T, i32> {
    let mut tries = 0;
    loop {
        let errno = match call() {
            Ok(done) => return Ok(done),
            Err(errno) => errno,
        };
        match errno {
            sys::EINTR => continue,
            sys::EAGAIN if tries < EAGAIN_TRIES => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            _ => return Err(errno),
        }
    }
}

/// An open file descriptor with the path it was opened from; closed on drop.
#[derive(Debug)]
pub struct File {
    fd: sys::Fd,
    path: Path,
}

impl File {
    /// `open(path, flags, mode)`.
    pub fn open(path: &Path, flags: i32, mode: u32) -> IoResult<File> {
        let fd =
            retry(|| sys::open(path.c(), flags, mode)).map_err(|errno| path.err("open", errno))?;
        Ok(File {
            fd,
            path: path.clone(),
        })
    }

    /// `open(path, flags, mode)` of a file that must be a regular file: the
    /// open never blocks (a FIFO in place of a pier file would otherwise
    /// hang it), and anything but a regular file is refused with a reason
    /// that says what it is (`msg::NOT_REGULAR_*`, `EISDIR`).
    pub fn open_regular(path: &Path, flags: i32, mode: u32) -> IoResult<File> {
        let file = File::open(path, flags | sys::O_NONBLOCK, mode)
            .map_err(|err| explain_open(err, || kind_of(path)))?;
        file.check_regular()?;
        file.set_blocking()?;
        Ok(file)
    }

    /// `Err` naming the kind of file unless this is a regular file.
    fn check_regular(&self) -> IoResult<()> {
        match not_regular(self.stat()?.kind) {
            None => Ok(()),
            Some(errno) => Err(self.path.err("open", errno)),
        }
    }

    /// Clears `O_NONBLOCK` again, so that nothing later sees it.
    fn set_blocking(&self) -> IoResult<()> {
        sys::set_nonblocking(self.fd, false).map_err(|errno| self.path.err("fcntl", errno))
    }

    /// `fstat`.
    fn stat(&self) -> IoResult<sys::Stat> {
        retry(|| sys::fstat(self.fd)).map_err(|errno| self.path.err("stat", errno))
    }

    /// Reserves the blocks of `[offset, offset + len)` without changing
    /// the file's length or contents (`sys::reserve`): writes there cannot
    /// then fail for want of space. `Err` with `EOPNOTSUPP` where the file
    /// system cannot reserve.
    pub fn reserve(&self, offset: u64, len: u64) -> IoResult<()> {
        retry(|| sys::reserve(self.fd, offset, len))
            .map(drop)
            .map_err(|errno| self.path.err("reserve space in", errno))
    }

    /// Starts writing `[offset, offset + len)` from the page cache to the
    /// disk without waiting (`sys::start_writeback`). An error here is a
    /// write-back the kernel already failed: the caller treats it as a
    /// failed sync.
    pub fn start_writeback(&self, offset: u64, len: u64) -> IoResult<()> {
        retry(|| sys::start_writeback(self.fd, offset, len))
            .map(drop)
            .map_err(|errno| self.path.err("write back", errno))
    }

    /// Waits until `[offset, offset + len)` is written from the page cache
    /// to the disk, then lets the cache drop it (`sys::written_and_dropped`).
    /// Not a durability barrier, but an error here must be treated as a
    /// failed sync: the kernel reports a write-back error once per open
    /// file, and `sync_data` on this descriptor would then return success.
    pub fn written_and_dropped(&self, offset: u64, len: u64) -> IoResult<()> {
        retry(|| sys::written_and_dropped(self.fd, offset, len))
            .map(drop)
            .map_err(|errno| self.path.err("write back", errno))
    }

    /// Allocates blocks for `[offset, offset + len)` (`sys::allocate`:
    /// the file grows if the range passes its end); holes are filled, data
    /// is kept. `Err` with `EOPNOTSUPP` where the file system cannot.
    pub fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        retry(|| sys::allocate(self.fd, offset, len))
            .map(drop)
            .map_err(|errno| self.path.err("fallocate", errno))
    }

    /// Bytes of the file's length that hold no blocks, as `fstat` counts
    /// them (`st_blocks`): what writing the whole file could still need,
    /// for file systems that cannot say where their holes are.
    pub fn unallocated(&self) -> IoResult<u64> {
        let st = self.stat()?;
        Ok(st.size.saturating_sub(st.allocated))
    }

    /// The first hole at or after `offset` (`SEEK_HOLE`; the file's end
    /// counts as one), or `None` where the file system cannot tell.
    pub fn next_hole(&self, offset: u64) -> Option<u64> {
        sys::next_hole(self.fd, offset)
    }

    /// The first data at or after `offset` (`SEEK_DATA`); `None` when there
    /// is none before the end, or where the file system cannot tell.
    pub fn next_data(&self, offset: u64) -> Option<u64> {
        sys::next_data(self.fd, offset)
    }

    /// The device and inode of the open file.
    pub fn identity(&self) -> IoResult<(u64, u64)> {
        Ok(self.stat()?.identity())
    }

    /// A failure of `op` on this file.
    pub fn fail(&self, op: &'static str, errno: i32) -> IoError {
        self.path.err(op, errno)
    }

    /// Adopts a descriptor the pool already holds, without owning its closing.
    pub fn borrowed(fd: sys::Fd, path: &Path) -> std::mem::ManuallyDrop<File> {
        std::mem::ManuallyDrop::new(File {
            fd,
            path: path.clone(),
        })
    }

    /// Switches the descriptor to uncached writes (`sys::set_uncached`:
    /// direct I/O on Linux): writes go from the caller's memory to the
    /// device without filling the page cache. `false` (and nothing changed)
    /// where the file system has none.
    pub fn enter_direct(&self) -> bool {
        sys::set_uncached(self.fd, true)
    }

    /// Turns uncached writes off again after a write they refused for its
    /// alignment; `true` if that can have been the reason.
    fn leave_direct(&self) -> bool {
        sys::UNCACHED_REFUSES_MISALIGNED
            && sys::is_uncached(self.fd)
            && sys::set_uncached(self.fd, false)
    }

    /// Makes `[offset, offset + len)` of this file share the blocks of
    /// `[from_offset, from_offset + len)` of `from` (`sys::clone_range`):
    /// the bytes are `from`'s, and nothing is written a second time.
    /// `Err(errno)` where the file system refuses (see `never_shares`).
    pub fn share_from(
        &self,
        from: &File,
        from_offset: u64,
        offset: u64,
        len: u64,
    ) -> Result<(), i32> {
        loop {
            match sys::clone_range(from.fd, from_offset, self.fd, offset, len) {
                Err(sys::EINTR | sys::EAGAIN) => continue,
                done => return done,
            }
        }
    }

    /// Gives up ownership of the descriptor.
    pub fn into_raw(self) -> sys::Fd {
        let fd = self.fd;
        std::mem::forget(self);
        fd
    }

    pub fn fd(&self) -> sys::Fd {
        self.fd
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> IoResult<u64> {
        Ok(self.stat()?.size)
    }

    /// Reads exactly `buf.len()` bytes at `offset`; a short file is `EIO`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> IoResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            let got = retry(|| sys::pread(self.fd, rest, offset + done as u64))
                .map_err(|errno| self.path.err("read", errno))?;
            if got == 0 {
                return Err(self.path.err("read (file ends early)", sys::EIO));
            }
            done += got;
        }
        Ok(())
    }

    /// Writes all of `buf` at `offset`, finishing short writes.
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> IoResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            let put = retry(|| sys::pwrite(self.fd, rest, offset + done as u64))
                .map_err(|errno| self.path.err("write", errno))?;
            if put == 0 {
                return Err(self.path.err("write", sys::ENOSPC));
            }
            done += put;
        }
        Ok(())
    }

    /// Writes `bufs` back to back from `offset` with vectored writes,
    /// finishing short writes.
    pub fn write_vectored_at(&self, bufs: &[&[u8]], mut offset: u64) -> IoResult<()> {
        const BATCH: usize = 512;
        // On the stack: a save's worker must not need memory it may not get.
        let empty = sys::IoVec {
            iov_base: core::ptr::null_mut(),
            iov_len: 0,
        };
        let mut vectors = [empty; BATCH];
        for chunk in bufs.chunks(BATCH) {
            let iov = &mut vectors[..chunk.len()];
            for (vector, b) in iov.iter_mut().zip(chunk) {
                *vector = sys::IoVec {
                    iov_base: b.as_ptr() as *mut _,
                    iov_len: b.len(),
                };
            }
            let mut first = 0;
            while first < iov.len() {
                let pending = &iov[first..];
                // Each vector describes a live slice from `bufs`.
                let put = match retry(|| sys::pwritev(self.fd, pending, offset)) {
                    Ok(put) => put,
                    // Direct I/O refused this write (alignment after a short
                    // write, or a file system that takes it only partly):
                    // go on through the page cache.
                    Err(sys::EINVAL) if self.leave_direct() => continue,
                    Err(errno) => return Err(self.path.err("write", errno)),
                };
                if put == 0 {
                    return Err(self.path.err("write", sys::ENOSPC));
                }
                offset += put as u64;
                let mut left = put;
                while left > 0 {
                    let head = &mut iov[first];
                    if left >= head.iov_len {
                        left -= head.iov_len;
                        first += 1;
                    } else {
                        // SAFETY: advancing within the same slice.
                        head.iov_base = unsafe { head.iov_base.cast::<u8>().add(left) }.cast();
                        head.iov_len -= left;
                        left = 0;
                    }
                }
                while first < iov.len() && iov[first].iov_len == 0 {
                    first += 1;
                }
            }
        }
        Ok(())
    }

    /// `ftruncate` to `len` bytes.
    pub fn set_len(&self, len: u64) -> IoResult<()> {
        retry(|| sys::truncate(self.fd, len)).map_err(|errno| self.path.err("truncate", errno))
    }

    /// The data and the length are durable (`sys::sync_data`: `fdatasync`
    /// on Linux, `F_FULLFSYNC` on macOS).
    pub fn sync_data(&self) -> IoResult<()> {
        retry(|| sys::sync_data(self.fd))
            .map(drop)
            .map_err(|errno| self.path.err("sync", errno))
    }

    /// Closes the descriptor and says what `close` reported: some file
    /// systems (NFS, FUSE) report write-back errors there. `EINTR` is not an
    /// error: Linux has released the descriptor by then, and the data was
    /// synced before (a file whose close is checked is synced first).
    pub fn close(self) -> IoResult<()> {
        let path = self.path.clone();
        closed(self.into_raw()).map_err(|errno| path.err("close", errno))
    }

    /// Says what closing the file would report, and keeps it open: Linux
    /// runs a file system's flush (where NFS and FUSE report write-back
    /// errors) at every close of a descriptor, so a duplicate is closed.
    pub fn flush(&self) -> IoResult<()> {
        // The duplicate is closed below.
        let copy =
            retry(|| sys::duplicate(self.fd)).map_err(|errno| self.path.err("close", errno))?;
        closed(copy).map_err(|errno| self.path.err("close", errno))
    }
}

/// Closes `fd`, owned by the caller, and says what `close` reported.
/// `EINTR` is not an error: Linux has released the descriptor by then.
fn closed(fd: sys::Fd) -> Result<(), i32> {
    match sys::close(fd) {
        Err(sys::EINTR) => Ok(()),
        other => other,
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // The descriptor is owned and closed once; nothing to report here.
        let _ = sys::close(self.fd);
    }
}

/// `mkdir(path, mode)`; `Err(errno)` on failure, `EEXIST` included.
pub fn mkdir(path: &Path, mode: u32) -> Result<(), i32> {
    sys::mkdir(path.c(), mode)
}

/// `unlink(path)`; an empty directory in a file's place is removed too
/// (`rmdir`), a directory with anything in it is not.
pub fn unlink(path: &Path) -> IoResult<()> {
    match retry(|| sys::unlink(path.c(), false)) {
        Ok(_) => Ok(()),
        Err(sys::EISDIR) => {
            retry(|| sys::unlink(path.c(), true)).map_err(|errno| path.err("unlink", errno))
        }
        Err(errno) => Err(path.err("unlink", errno)),
    }
}

/// `rename(from, to)`.
pub fn rename(from: &Path, to: &Path) -> IoResult<()> {
    retry(|| sys::rename(from.c(), to.c())).map_err(|errno| from.err("rename", errno))
}

/// An open that failed because the name is not a regular file (a socket
/// cannot be opened at all: `ENXIO`; a directory not for writing: `EISDIR`)
/// says what it is instead.
fn explain_open(err: IoError, kind: impl FnOnce() -> Option<sys::Kind>) -> IoError {
    if err.errno != sys::ENXIO && err.errno != sys::EISDIR {
        return err;
    }
    match kind().and_then(not_regular) {
        Some(errno) => IoError { errno, ..err },
        None => err,
    }
}

/// What kind of file `path` is, following links.
fn kind_of(path: &Path) -> Option<sys::Kind> {
    sys::stat(path.c()).ok().map(|st| st.kind)
}

/// Why a file of kind `kind` is not a regular file, as a reason carried
/// where an errno goes; `None` for a regular file.
pub fn not_regular(kind: sys::Kind) -> Option<i32> {
    match kind {
        sys::Kind::Regular => None,
        sys::Kind::Directory => Some(sys::EISDIR),
        sys::Kind::Fifo => Some(msg::NOT_REGULAR_FIFO),
        sys::Kind::Socket => Some(msg::NOT_REGULAR_SOCKET),
        sys::Kind::Device => Some(msg::NOT_REGULAR_DEVICE),
        sys::Kind::Other => Some(msg::NOT_REGULAR_OTHER),
    }
}

/// An open directory: names in it are opened, renamed and removed relative
/// to it (`openat`, `renameat`, `unlinkat`), so no path grows past what the
/// caller gave, and it is the object the pier's lock is taken on.
#[derive(Debug)]
pub struct Dir {
    file: File,
}

impl Dir {
    /// Opens the directory `path` (close-on-exec: no program the runtime
    /// executes inherits it, or the lock on it).
    pub fn open(path: &Path) -> IoResult<Dir> {
        let flags = sys::O_RDONLY | sys::O_DIRECTORY | sys::O_CLOEXEC;
        Ok(Dir {
            file: File::open(path, flags, 0)?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    pub fn fd(&self) -> sys::Fd {
        self.file.fd
    }

    /// The device and inode of the directory.
    pub fn identity(&self) -> IoResult<(u64, u64)> {
        self.file.identity()
    }

    /// `dir/name`, for messages.
    pub fn join(&self, name: &str) -> Path {
        Path::join(self.path().bytes(), name)
    }

    /// Opens the regular file `name` in this directory; see `File::open_regular`.
    pub fn open_regular(&self, name: &str, flags: i32, mode: u32) -> IoResult<File> {
        let path = self.join(name);
        let c_name = Path::from_bytes(name.as_bytes().to_vec());
        let dir = self.path().c();
        let fd = retry(|| sys::open_at(self.fd(), dir, c_name.c(), flags | sys::O_NONBLOCK, mode))
            .map_err(|errno| path.err("open", errno))
            .map_err(|err| {
                explain_open(err, || {
                    sys::stat_at(self.fd(), dir, c_name.c())
                        .ok()
                        .map(|st| st.kind)
                })
            })?;
        let file = File { fd, path };
        file.check_regular()?;
        file.set_blocking()?;
        Ok(file)
    }

    /// The device and inode of `name` in this directory (`fstatat`,
    /// following links), `None` if it cannot be seen.
    pub fn identity_of(&self, name: &str) -> Option<(u64, u64)> {
        let c_name = Path::from_bytes(name.as_bytes().to_vec());
        sys::stat_at(self.fd(), self.path().c(), c_name.c())
            .ok()
            .map(|st| st.identity())
    }

    /// Removes `name` from this directory; an empty directory there goes
    /// too, as in `unlink`.
    pub fn unlink(&self, name: &str) -> IoResult<()> {
        let c_name = Path::from_bytes(name.as_bytes().to_vec());
        let remove =
            |directory| retry(|| sys::unlink_at(self.fd(), self.path().c(), c_name.c(), directory));
        match remove(false) {
            Err(sys::EISDIR) => remove(true),
            other => other,
        }
        .map_err(|errno| self.join(name).err("unlink", errno))
    }

    /// Renames `from` to `to`, both in this directory.
    pub fn rename(&self, from: &str, to: &str) -> IoResult<()> {
        let (c_from, c_to) = (
            Path::from_bytes(from.as_bytes().to_vec()),
            Path::from_bytes(to.as_bytes().to_vec()),
        );
        retry(|| sys::rename_at(self.fd(), self.path().c(), c_from.c(), c_to.c()))
            .map_err(|errno| self.join(from).err("rename", errno))
    }

    /// Makes the directory's entries durable (`sys::sync_dir`).
    pub fn sync(&self) -> IoResult<()> {
        retry(|| sys::sync_dir(self.fd()))
            .map(drop)
            .map_err(|errno| self.path().err("sync directory", errno))
    }

    /// Opens the directory `path` holding an exclusive lock on it, without
    /// waiting (`sys::open_locked_dir`): `Lock(EWOULDBLOCK)` when another
    /// open of it holds one, in this process or any other, answered at
    /// once, never retried: a second process is refused without waiting,
    /// and never goes ahead because the holder happened to exit meanwhile.
    /// The lock lasts while this `Dir` is open.
    pub fn open_locked(path: &Path) -> Result<Dir, sys::LockRefused> {
        let fd = sys::open_locked_dir(path.c())?;
        Ok(Dir {
            file: File {
                fd,
                path: path.clone(),
            },
        })
    }

    /// Gives up ownership of the descriptor.
    pub fn into_raw(self) -> sys::Fd {
        self.file.into_raw()
    }
}

/// Whether `path` exists (`access(F_OK)`).
pub fn exists(path: &Path) -> bool {
    sys::exists(path.c())
}

/// The directory holding `path`: `.` for a bare name, `/` for a name in
/// the root. Trailing slashes do not count as a component.
pub fn parent(path: &Path) -> Path {
    let mut bytes = path.bytes();
    while bytes.len() > 1 && bytes.ends_with(b"/") {
        bytes = &bytes[..bytes.len() - 1];
    }
    match bytes.iter().rposition(|&b| b == b'/') {
        None => Path::from_bytes(b".".to_vec()),
        Some(at) => {
            let mut end = at;
            while end > 0 && bytes[end - 1] == b'/' {
                end -= 1;
            }
            Path::from_bytes(if end == 0 {
                b"/".to_vec()
            } else {
                bytes[..end].to_vec()
            })
        }
    }
}

/// Makes the directory entries of `dir` durable: names created, renamed or
/// removed in it survive a power loss once this returns.
pub fn sync_dir(dir: &Path) -> IoResult<()> {
    let file = File::open(dir, sys::O_RDONLY | sys::O_DIRECTORY, 0)?;
    retry(|| sys::sync_dir(file.fd)).map_err(|errno| dir.err("sync directory", errno))
}

/// Bytes this process can write in the file system holding `dir`: those
/// free to unprivileged users, and the blocks the file system keeps back
/// (ext4's reserved blocks) only when it may use them: as the reserved user
/// or group, or with `CAP_SYS_RESOURCE` (being root is not enough; see
/// `sys::may_use_reserved_blocks`). `None` where the file system keeps no
/// block counts at all (ramfs, some FUSE file systems report zero blocks in
/// all): unknown, not full.
pub fn free_bytes(dir: &Path) -> IoResult<Option<u64>> {
    let st = retry(|| sys::space(dir.c())).map_err(|errno| dir.err("statvfs", errno))?;
    if st.blocks == 0 {
        return Ok(None);
    }
    let mut blocks = st.available;
    if st.free > st.available {
        let dev = retry(|| sys::stat(dir.c()))
            .map_err(|errno| dir.err("stat", errno))?
            .dev;
        if sys::may_use_reserved_blocks(dev) {
            blocks = st
                .free
                .saturating_sub(sys::kept_back_blocks(dev))
                .max(blocks);
        }
    }
    Ok(Some(blocks.saturating_mul(st.block_bytes)))
}

/// What the length of an image file says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A whole number of pages.
    Pages(u32),
    /// Not a multiple of the page size: corrupt.
    Odd(u64),
    /// More pages than a `u32` counts.
    Overflow(u64),
}

/// Classifies an image length (`_ce_image_stat`).
pub fn classify(len: u64) -> Size {
    let page = PAGE_BYTES as u64;
    if len % page != 0 {
        Size::Odd(len)
    } else if len / page > u64::from(u32::MAX) {
        Size::Overflow(len)
    } else {
        Size::Pages((len / page) as u32)
    }
}

/// Makes `file` exactly `pages` pages long, whatever its length was. The
/// bytes of a partial last page (an odd-sized image) are dropped, never kept
/// inside a page the image now holds.
pub fn resize(file: &File, pages: u32) -> IoResult<()> {
    let want = loom::bytes_of(pages) as u64;
    let len = file.len()?;
    if len != want {
        let whole = len - len % PAGE_BYTES as u64;
        if whole != len && whole < want {
            file.set_len(whole)?;
        }
        file.set_len(want)?;
    }
    Ok(())
}

/// The holes of a file (byte ranges that hold no blocks) below its length
/// `end`, asked for in ascending order, with as few `lseek` calls as that
/// allows. Where the file system cannot tell, the whole file counts as
/// holes, so that a caller reserving holes reserves everything.
pub struct Holes<'a> {
    file: &'a File,
    end: u64,
    known: bool,
    /// The last answer: the first hole at or after `asked` is `[start, stop)`.
    asked: u64,
    hole: (u64, u64),
}

impl<'a> Holes<'a> {
    pub fn new(file: &'a File, end: u64) -> Holes<'a> {
        let known = end == 0 || file.next_hole(0).is_some();
        Holes {
            file,
            end,
            known,
            asked: u64::MAX,
            hole: (0, 0),
        }
    }

    /// Every byte of the file counts as a hole: for a file system whose
    /// `SEEK_HOLE` cannot be believed.
    pub fn everywhere(file: &'a File, end: u64) -> Holes<'a> {
        Holes {
            known: false,
            ..Holes::new(file, end)
        }
    }

    /// The first hole at or after `at` (`at < end`); its start is `end`
    /// when there is none.
    fn hole_from(&mut self, at: u64) -> (u64, u64) {
        if self.asked != u64::MAX && at >= self.asked && at < self.hole.1.max(self.hole.0 + 1) {
            return self.hole;
        }
        let start = self.file.next_hole(at).unwrap_or(self.end).min(self.end);
        let stop = if start >= self.end {
            self.end
        } else {
            self.file.next_data(start).unwrap_or(self.end).min(self.end)
        };
        self.asked = at;
        self.hole = (start, stop);
        self.hole
    }

    /// The parts of the byte range `[from, to)` that lie in a hole or past
    /// the end; calls must come with ascending ranges.
    pub fn within(&mut self, (from, to): (u64, u64)) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let inside = to.min(self.end);
        if from < inside {
            if !self.known {
                out.push((from, inside));
            } else {
                let mut at = from;
                while at < inside {
                    let (start, stop) = self.hole_from(at);
                    if start >= inside {
                        break;
                    }
                    let (a, b) = (start.max(at), stop.min(inside));
                    if a < b {
                        out.push((a, b));
                    }
                    at = b.max(at + 1);
                }
            }
        }
        if to > self.end {
            out.push((from.max(self.end), to));
        }
        out
    }
}

/// Page runs `[first, first + count)` covering `pages` (ascending), so that
/// adjacent pages are written with one call.
pub fn runs(pages: &[u32]) -> Vec<(u32, u32)> {
    each_run(pages).collect()
}

/// The runs of `runs`, one at a time: nothing allocated, for the save's
/// worker, which must not need memory it may not get.
pub fn each_run(pages: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    let mut rest = pages;
    core::iter::from_fn(move || {
        let (&first, _) = rest.split_first()?;
        let count = rest
            .iter()
            .zip(first..)
            .take_while(|&(&page, want)| page == want)
            .count();
        rest = &rest[count..];
        Some((first, count as u32))
    })
}

/// Writes pages `pages` (ascending), whose bytes are `slices`, into
/// `image` at their own offsets: one `pwrite` per run of adjacent pages (up
/// to 1024 pages) whose bytes are adjacent in memory too, as they are in
/// the loom and in a save's copy of it, so a save from the loom and
/// one from the copy make the same calls; other runs go out as vectored
/// writes.
pub fn write_pages(image: &File, pages: &[u32], slices: &[&[u8]]) -> IoResult<()> {
    const MAX_RUN: usize = 1024;
    let mut index = 0;
    for (first, count) in each_run(pages) {
        let run = &slices[index..index + count as usize];
        index += count as usize;
        for (chunk_at, chunk) in run.chunks(MAX_RUN).enumerate() {
            let offset = loom::bytes_of(first + (chunk_at * MAX_RUN) as u32) as u64;
            let adjacent = chunk
                .windows(2)
                .all(|pair| pair[0].as_ptr_range().end == pair[1].as_ptr());
            if adjacent {
                let len = chunk.iter().map(|slice| slice.len()).sum();
                // SAFETY: the slices are live for this call and lie end to
                // end in one mapping (checked above), so together they are
                // one readable range of `len` bytes.
                let bytes = unsafe { core::slice::from_raw_parts(chunk[0].as_ptr(), len) };
                image.write_all_at(bytes, offset)?;
            } else {
                image.write_vectored_at(chunk, offset)?;
            }
        }
    }
    Ok(())
}

/// Whether saves and backups may let files share blocks (reflinks) and
/// copy inside the kernel: yes unless the environment variable
/// `LOOMS_REFLINK` is `0`, which makes every save and backup write its
/// bytes as `events.c` does (the baseline the disk benchmark compares
/// against). Read once per process.
pub fn sharing_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("LOOMS_REFLINK").map_or(true, |value| value != "0"))
}

/// Whether a refused `File::share_from` means these two files cannot share
/// blocks at all (no reflinks on the file system, two file systems, a
/// block size the range is not aligned to), rather than this range only.
pub fn never_shares(errno: i32) -> bool {
    matches!(
        errno,
        sys::EOPNOTSUPP | sys::ENOTTY | sys::ENOSYS | sys::EXDEV | sys::EINVAL | sys::EBADF
    )
}

/// How much one `copy_file_range` call of a backup copies: the progress
/// callback is called this often.
const COPY_CHUNK: u64 = 16 << 20;

/// Copies all of `from` (`len` bytes) into `to`, from offset 0, calling
/// `progress` with (bytes copied, bytes in all). Inside the kernel
/// (`sys::copy_range`: where the file system shares blocks the copy shares
/// them and writes no data) while it is allowed (`sharing_enabled`) and
/// works; from wherever it is refused on, by reads and writes.
pub fn copy_with_progress(
    from: &File,
    to: &File,
    len: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> IoResult<()> {
    let mut at = 0u64;
    if sharing_enabled() {
        while at < len {
            let take = (len - at).min(COPY_CHUNK) as usize;
            match sys::copy_range(from.fd, at, to.fd, at, take) {
                Ok(0) => return Err(from.path.err("read (file ends early)", sys::EIO)),
                Ok(got) => {
                    at += got as u64;
                    progress(at, len);
                }
                Err(sys::EINTR) => {}
                // Refused (EXDEV across file systems before Linux 5.19,
                // ENOSYS, EINVAL, ...): reads and writes say what is wrong,
                // if anything is.
                Err(_) => break,
            }
        }
    }
    const CHUNK: usize = 64 * PAGE_BYTES;
    let mut buf = vec![0u8; CHUNK.min((len - at) as usize).max(1)];
    while at < len {
        let take = (len - at).min(buf.len() as u64) as usize;
        from.read_exact_at(&mut buf[..take], at)?;
        to.write_all_at(&buf[..take], at)?;
        at += take as u64;
        progress(at, len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_sizes() {
        assert_eq!(classify(0), Size::Pages(0));
        assert_eq!(classify(16384 * 3), Size::Pages(3));
        assert_eq!(classify(16385), Size::Odd(16385));
        assert_eq!(
            classify(16384 * (1u64 << 32)),
            Size::Overflow(16384 * (1u64 << 32))
        );
    }

    #[test]
    fn runs_coalesce_adjacent_pages() {
        assert_eq!(runs(&[]), vec![]);
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 1), (9, 2)]);
        assert_eq!(runs(&[5]), vec![(5, 1)]);
        assert_eq!(runs(&[0, 1, 2]), vec![(0, 3)]);
    }

    #[test]
    fn paths_have_no_length_limit() {
        let dir = vec![b'a'; 10_000];
        let path = Path::join(&dir, ".urb/chk/image.bin");
        assert_eq!(path.bytes().len(), 10_000 + 1 + 18);
        assert!(path.bytes().ends_with(b"/.urb/chk/image.bin"));
    }

    fn temp_dir() -> Path {
        let mut template = std::env::temp_dir()
            .join("looms-unit-XXXXXX")
            .into_os_string()
            .into_encoded_bytes();
        template.push(0);
        sys::make_temp_dir(&mut template).unwrap();
        template.pop();
        Path::from_bytes(template)
    }

    #[test]
    fn parent_directories() {
        let parent_of = |path: &str| parent(&Path::from_bytes(path.as_bytes().to_vec())).show();
        assert_eq!(parent_of("bak"), ".");
        assert_eq!(parent_of("bak/"), ".");
        assert_eq!(parent_of("/bak"), "/");
        assert_eq!(parent_of("/"), "/");
        assert_eq!(parent_of("a/b/c"), "a/b");
        assert_eq!(parent_of("a//b//"), "a");
        assert_eq!(parent_of("/x/y"), "/x");
    }

    /// A 16 KiB-aligned buffer of 16 KiB pages, as the loom holds them.
    fn aligned_pages(pages: usize, fill: u8) -> (*mut u8, usize) {
        let len = pages * 16384;
        let layout = std::alloc::Layout::from_size_align(len, 16384).unwrap();
        // SAFETY: non-zero size; freed by the caller with the same layout.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        // SAFETY: `len` bytes were just allocated.
        unsafe { std::ptr::write_bytes(ptr, fill, len) };
        (ptr, len)
    }

    fn is_direct(file: &File) -> bool {
        crate::sys::is_uncached(file.fd())
    }

    #[test]
    fn direct_writes_and_their_fall_back() {
        let dir = temp_dir();
        let path = Path::join(dir.bytes(), "m.bin");
        let file = File::open(&path, sys::O_RDWR | sys::O_CREAT | sys::O_EXCL, 0o600).unwrap();
        let direct = file.enter_direct();
        assert_eq!(direct, is_direct(&file));
        let (ptr, len) = aligned_pages(3, 7);
        // SAFETY: the allocation is live until the end of the test.
        let pages = unsafe { std::slice::from_raw_parts(ptr, len) };
        file.write_vectored_at(&[&pages[..16384], &pages[32768..]], 0)
            .unwrap();
        // Aligned page writes stay direct where direct I/O was granted.
        assert_eq!(is_direct(&file), direct);
        // A buffer off the alignment is refused by direct I/O (EINVAL); the
        // write goes on through the page cache.
        file.write_vectored_at(&[&pages[1..16385]], 32768).unwrap();
        assert!(!is_direct(&file));
        assert_eq!(file.len().unwrap(), 3 * 16384);
        let mut back = vec![0u8; 3 * 16384];
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(back.iter().all(|&x| x == 7));
        // SAFETY: allocated above with this layout.
        unsafe {
            std::alloc::dealloc(
                ptr,
                std::alloc::Layout::from_size_align(len, 16384).unwrap(),
            )
        };
        drop(file);
        unlink(&path).unwrap();
        let _ = sys::unlink(dir.c(), true);
    }

    #[test]
    fn vectored_write_and_resize() {
        let dir = temp_dir();
        let path = Path::join(dir.bytes(), "f.bin");
        let file = File::open(&path, sys::O_RDWR | sys::O_CREAT, 0o600).unwrap();
        let a = vec![1u8; 5000];
        let b = vec![2u8; 3];
        let c = vec![3u8; 70000];
        file.write_vectored_at(&[&a, &b, &c], 10).unwrap();
        assert_eq!(file.len().unwrap(), 10 + 5000 + 3 + 70000);
        let mut back = vec![0u8; 5003];
        file.read_exact_at(&mut back, 10).unwrap();
        assert!(back[..5000].iter().all(|&x| x == 1) && back[5000..].iter().all(|&x| x == 2));
        resize(&file, 2).unwrap();
        assert_eq!(file.len().unwrap(), 32768);
        let mut past = vec![0u8; 10];
        let err = file.read_exact_at(&mut past, 32768).unwrap_err();
        assert_eq!(err.errno, sys::EIO);
        drop(file);
        unlink(&path).unwrap();
        assert!(!exists(&path));
        assert_eq!(unlink(&path).unwrap_err().errno, sys::ENOENT);
        sync_dir(&dir).unwrap();
        assert!(free_bytes(&dir).unwrap().unwrap() > 0);
        let _ = sys::unlink(dir.c(), true);
    }

    #[test]
    fn holes_of_a_sparse_file() {
        let dir = temp_dir();
        let path = Path::join(dir.bytes(), "sparse.bin");
        let file = File::open(&path, sys::O_RDWR | sys::O_CREAT, 0o600).unwrap();
        let page = PAGE_BYTES as u64;
        // Pages 0, 1 and 5 hold data; 2-4 and 6-7 are holes; the file is 8 pages.
        let data = vec![9u8; PAGE_BYTES * 2];
        file.write_all_at(&data, 0).unwrap();
        file.write_all_at(&data[..PAGE_BYTES], 5 * page).unwrap();
        file.set_len(8 * page).unwrap();
        let end = file.len().unwrap();
        let mut holes = Holes::new(&file, end);
        if !holes.known {
            // A file system without SEEK_HOLE: everything counts as a hole.
            assert_eq!(holes.within((0, 3 * page)), vec![(0, 3 * page)]);
        } else {
            assert_eq!(holes.within((0, 2 * page)), vec![]);
            assert_eq!(holes.within((page, 4 * page)), vec![(2 * page, 4 * page)]);
            assert_eq!(
                holes.within((4 * page, 6 * page)),
                vec![(4 * page, 5 * page)]
            );
            assert_eq!(
                holes.within((6 * page, 10 * page)),
                vec![(6 * page, 8 * page), (8 * page, 10 * page)]
            );
        }
        // Reserving keeps the length and the contents (where the file
        // system can reserve at all).
        for (from, len) in [(2 * page, 4 * page), (8 * page, 2 * page)] {
            match file.reserve(from, len) {
                Err(err) if err.unsupported() => {}
                other => other.unwrap(),
            }
        }
        assert_eq!(file.len().unwrap(), 8 * page);
        let mut back = vec![1u8; PAGE_BYTES];
        file.read_exact_at(&mut back, 3 * page).unwrap();
        assert!(back.iter().all(|&x| x == 0));
        drop(file);
        unlink(&path).unwrap();
        let _ = sys::unlink(dir.c(), true);
    }

    #[test]
    fn pier_files_must_be_regular() {
        let dir = temp_dir();
        let fifo = Path::join(dir.bytes(), "fifo");
        // Systems without FIFOs (Windows) check the rest.
        let fifos = match sys::make_fifo(fifo.c()) {
            Err(sys::ENOSYS) => false,
            other => other.map(|()| true).unwrap(),
        };
        let kinds: &[i32] = if fifos {
            &[sys::O_RDONLY, sys::O_RDWR, sys::O_RDWR | sys::O_CREAT]
        } else {
            &[]
        };
        for &flags in kinds {
            let err = File::open_regular(&fifo, flags, 0o600).unwrap_err();
            assert_eq!(err.errno, msg::NOT_REGULAR_FIFO);
            assert!(err
                .to_string()
                .ends_with("fifo: is a FIFO, not a regular file"));
        }
        let err = File::open_regular(&dir, sys::O_RDONLY, 0).unwrap_err();
        assert_eq!(err.errno, sys::EISDIR);
        let opened = Dir::open(&dir).unwrap();
        if fifos {
            let err = opened.open_regular("fifo", sys::O_RDONLY, 0).unwrap_err();
            assert_eq!(err.errno, msg::NOT_REGULAR_FIFO);
        }
        let plain = opened
            .open_regular("plain", sys::O_RDWR | sys::O_CREAT | sys::O_EXCL, 0o600)
            .unwrap();
        assert!(!sys::is_nonblocking(plain.fd()), "O_NONBLOCK left on");
        drop(plain);
        opened.rename("plain", "renamed").unwrap();
        assert!(exists(&Path::join(dir.bytes(), "renamed")));
        opened.unlink("renamed").unwrap();
        if fifos {
            opened.unlink("fifo").unwrap();
        }
        opened.sync().unwrap();
        // An empty directory in a file's place goes; a full one stays.
        let empty = Path::join(dir.bytes(), "empty");
        mkdir(&empty, 0o700).unwrap();
        unlink(&empty).unwrap();
        assert!(!exists(&empty));
        drop(opened);
        let _ = sys::unlink(dir.c(), true);
    }

    #[test]
    fn sharing_a_range_or_saying_why_not() {
        let dir = temp_dir();
        let from = File::open(
            &Path::join(dir.bytes(), "from.bin"),
            sys::O_RDWR | sys::O_CREAT,
            0o600,
        )
        .unwrap();
        let to = File::open(
            &Path::join(dir.bytes(), "to.bin"),
            sys::O_RDWR | sys::O_CREAT,
            0o600,
        )
        .unwrap();
        let pages: Vec<u8> = (0..3 * PAGE_BYTES)
            .map(|at| (at / PAGE_BYTES + 1) as u8)
            .collect();
        from.write_all_at(&pages, 0).unwrap();
        from.sync_data().unwrap();
        to.set_len(4 * PAGE_BYTES as u64).unwrap();
        let page = PAGE_BYTES as u64;
        match to.share_from(&from, page, 2 * page, 2 * page) {
            Ok(()) => {
                // Pages 1 and 2 of `from` are pages 2 and 3 of `to`.
                let mut back = vec![0u8; 2 * PAGE_BYTES];
                to.read_exact_at(&mut back, 2 * page).unwrap();
                assert_eq!(back, pages[PAGE_BYTES..]);
                let mut first = vec![1u8; PAGE_BYTES];
                to.read_exact_at(&mut first, 0).unwrap();
                assert!(first.iter().all(|&x| x == 0));
            }
            // A file system without shared blocks says so as one of the
            // refusals the save falls back from for the rest of its runs.
            Err(errno) => assert!(never_shares(errno), "errno {errno}"),
        }
        // A copy of the whole file, however the kernel makes it, holds the
        // same bytes and reports its progress to the end.
        let copy = File::open(
            &Path::join(dir.bytes(), "copy.bin"),
            sys::O_RDWR | sys::O_CREAT,
            0o600,
        )
        .unwrap();
        let mut seen = Vec::new();
        copy_with_progress(&from, &copy, 3 * page, &mut |done, all| {
            seen.push((done, all))
        })
        .unwrap();
        let mut back = vec![0u8; 3 * PAGE_BYTES];
        copy.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(back, pages);
        assert_eq!(seen.last(), Some(&(3 * page, 3 * page)));
        // A source shorter than asked for is an error, not a short copy.
        let err = copy_with_progress(&from, &copy, 4 * page, &mut |_, _| {}).unwrap_err();
        assert_eq!(err.errno, sys::EIO);
        drop((from, to, copy));
        for name in ["from.bin", "to.bin", "copy.bin"] {
            unlink(&Path::join(dir.bytes(), name)).unwrap();
        }
        let _ = sys::unlink(dir.c(), true);
    }

    #[test]
    fn growing_an_odd_image_drops_its_partial_page() {
        let dir = temp_dir();
        let path = Path::join(dir.bytes(), "odd.bin");
        let file = File::open(&path, sys::O_RDWR | sys::O_CREAT, 0o600).unwrap();
        let junk = vec![0xffu8; PAGE_BYTES * 3 + 5];
        file.write_all_at(&junk, 0).unwrap();
        resize(&file, 5).unwrap();
        assert_eq!(file.len().unwrap(), 5 * PAGE_BYTES as u64);
        let mut page = vec![1u8; PAGE_BYTES * 2];
        file.read_exact_at(&mut page, 3 * PAGE_BYTES as u64)
            .unwrap();
        assert!(page.iter().all(|&x| x == 0), "the partial page survived");
        let mut kept = vec![0u8; PAGE_BYTES];
        file.read_exact_at(&mut kept, 2 * PAGE_BYTES as u64)
            .unwrap();
        assert!(kept.iter().all(|&x| x == 0xff));
        drop(file);
        unlink(&path).unwrap();
        let _ = sys::unlink(dir.c(), true);
    }
}
