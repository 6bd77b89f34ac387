//! Windows (x86_64, the GNU ABI the runtime's releases use): the same
//! functions as `unix.rs`, `linux.rs` and `macos.rs`, over Win32.
//!
//! - A file is a kernel handle, kept where the other platforms keep a
//!   descriptor (`Fd`, 32 bits): 64-bit Windows gives handles that fit in
//!   32 bits, sign-extended, so that 32- and 64-bit processes can share
//!   them; -1 (`INVALID_HANDLE_VALUE`) is "none", as -1 is elsewhere.
//!   Files are opened sharing reads, writes and deletion, so that a name
//!   can be renamed over or removed while open, as on POSIX.
//! - Errors are Win32 errors, turned into the C library's `errno` values
//!   (`errno_of`), so the protocols and their messages read the same.
//! - No file can be mapped over part of the runtime's view of the loom
//!   (`MAPS_FILES` is false): the image is read at boot, as with
//!   `u3o_no_demand`, and swap mode is unavailable. Protection changes are
//!   `VirtualProtect` on the runtime's view; stores to protected pages reach
//!   `u3e_fault` from the runtime's vectored exception handler.
//! - Durability: `FlushFileBuffers`. There is no directory sync: a rename
//!   is `MoveFileExW` with `MOVEFILE_WRITE_THROUGH` (it returns once the
//!   rename is on disk), and creating or removing a name is journalled
//!   metadata (NTFS, ReFS) that the next flush of any file on the volume
//!   commits. So `sync_dir` does nothing and reports success.
//! - No fork, no signals, no userfaultfd: background saves run on a thread
//!   of the library's (`spawn`), and the fork and signal hooks do nothing.

use core::ffi::{c_int, c_void, CStr};

use windows_sys::Win32::Foundation::{
    CloseHandle, DuplicateHandle, GetLastError, DUPLICATE_SAME_ACCESS, ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS, ERROR_BAD_NETPATH, ERROR_BAD_PATHNAME, ERROR_BROKEN_PIPE,
    ERROR_CALL_NOT_IMPLEMENTED, ERROR_COMMITMENT_LIMIT, ERROR_CRC, ERROR_DIRECTORY,
    ERROR_DIR_NOT_EMPTY, ERROR_DISK_FULL, ERROR_FILENAME_EXCED_RANGE, ERROR_FILE_EXISTS,
    ERROR_FILE_NOT_FOUND, ERROR_HANDLE_DISK_FULL, ERROR_HANDLE_EOF, ERROR_INVALID_ADDRESS,
    ERROR_INVALID_FUNCTION, ERROR_INVALID_HANDLE, ERROR_INVALID_NAME, ERROR_INVALID_PARAMETER,
    ERROR_LOCK_VIOLATION, ERROR_NOT_ENOUGH_MEMORY, ERROR_NOT_SAME_DEVICE, ERROR_NOT_SUPPORTED,
    ERROR_OUTOFMEMORY, ERROR_PATH_NOT_FOUND, ERROR_SHARING_VIOLATION, ERROR_TOO_MANY_OPEN_FILES,
    ERROR_WRITE_PROTECT, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Globalization::{MultiByteToWideChar, CP_ACP};
use windows_sys::Win32::Storage::FileSystem::{
    CreateDirectoryW, CreateFileW, DeleteFileW, FileAllocationInfo, FileDispositionInfoEx,
    FileEndOfFileInfo, FileStandardInfo, FlushFileBuffers, GetDiskFreeSpaceExW, GetFileAttributesW,
    GetFileInformationByHandle, GetFileInformationByHandleEx, GetFileType, MoveFileExW, ReadFile,
    RemoveDirectoryW, SetFileInformationByHandle, WriteFile, BY_HANDLE_FILE_INFORMATION,
    CREATE_NEW, DELETE, FILE_ALLOCATION_INFO, FILE_ATTRIBUTE_DIRECTORY, FILE_CREATION_DISPOSITION,
    FILE_DISPOSITION_FLAG_DELETE, FILE_DISPOSITION_FLAG_POSIX_SEMANTICS, FILE_DISPOSITION_INFO_EX,
    FILE_END_OF_FILE_INFO, FILE_FLAG_BACKUP_SEMANTICS, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE,
    FILE_SHARE_MODE, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_STANDARD_INFO, FILE_TYPE_CHAR,
    FILE_TYPE_DISK, FILE_TYPE_PIPE, INVALID_FILE_ATTRIBUTES, MOVEFILE_REPLACE_EXISTING,
    MOVEFILE_WRITE_THROUGH, OPEN_ALWAYS, OPEN_EXISTING,
};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Memory::{
    VirtualAlloc, VirtualFree, VirtualProtect, MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_NOACCESS,
    PAGE_PROTECTION_FLAGS, PAGE_READONLY, PAGE_READWRITE,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::{
    CreateThread, GetCurrentProcess, GetCurrentProcessId, GetCurrentThreadId, WaitForSingleObject,
    INFINITE,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

use super::{Access, Backing, Kind, LockRefused, Space, Stat};

/// Where the runtime maps the loom on Windows (`U3_OS_LoomBase`).
pub const LOOM_BASE: usize = 0x280_0000_0000;

/// The C library's `errno` values the library names (the Microsoft C
/// runtime's numbers); the two it lacks get numbers of their own.
pub mod errnos {
    pub use libc::{
        EACCES, EAGAIN, EBADF, EBUSY, EEXIST, EFAULT, EFBIG, EINTR, EINVAL, EIO, EISDIR, ELOOP,
        EMFILE, EMLINK, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOLCK, ENOMEM, ENOSPC, ENOSYS,
        ENOTDIR, ENOTEMPTY, ENOTSUP, ENOTTY, ENXIO, EOPNOTSUPP, EOVERFLOW, EPERM, EPIPE, EROFS,
        ESPIPE, ETXTBSY, EWOULDBLOCK, EXDEV,
    };
    /// Disk quota exceeded (no such value in the C runtime).
    pub const EDQUOT: i32 = 1133;
    /// Stale file handle (no such value in the C runtime).
    pub const ESTALE: i32 = 1116;
}
use errnos::*;

/// Waiting on an atomic word (`WaitOnAddress`, `WakeByAddressAll`). A
/// wait may return spuriously: callers check. Safe in an exception handler:
/// neither call allocates or takes a lock of the library's.
pub mod futex {
    use core::sync::atomic::AtomicU32;
    use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressAll, INFINITE};

    /// Waits while `word` holds `value`.
    pub fn wait(word: &AtomicU32, value: u32) {
        // SAFETY: both addresses are live for the call; four bytes compared.
        unsafe {
            WaitOnAddress(
                word.as_ptr().cast_const().cast(),
                (&raw const value).cast(),
                4,
                INFINITE,
            )
        };
    }

    /// Wakes every thread waiting on `word`.
    pub fn wake_all(word: &AtomicU32) {
        // SAFETY: a live address.
        unsafe { WakeByAddressAll(word.as_ptr().cast_const().cast()) };
    }
}

/// An open file: a kernel handle, in 32 bits (see the top of this file).
pub type Fd = c_int;

/// A vector of a vectored write, shaped as POSIX's `iovec`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoVec {
    pub iov_base: *mut c_void,
    pub iov_len: usize,
}

// Open flags, as the protocols name them; only these are looked at.
pub const O_RDONLY: c_int = 0;
pub const O_RDWR: c_int = 2;
pub const O_CREAT: c_int = 0x100;
pub const O_EXCL: c_int = 0x400;
/// Nothing to do: a handle never blocks on open.
pub const O_NONBLOCK: c_int = 0x1_0000;
/// Nothing to do: handles are not inherited unless asked.
pub const O_CLOEXEC: c_int = 0x2_0000;
pub const O_DIRECTORY: c_int = 0x4_0000;

fn handle(fd: Fd) -> HANDLE {
    fd as isize as HANDLE
}

fn fd_of(handle: HANDLE) -> Fd {
    handle as isize as Fd
}

/// The `errno` value for a Win32 error, as the C runtime maps them, with
/// the file system's full and I/O errors kept apart.
pub fn errno_of(error: u32) -> i32 {
    match error {
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND | ERROR_BAD_NETPATH | ERROR_BAD_PATHNAME
        | ERROR_INVALID_NAME => ENOENT,
        ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION => EACCES,
        ERROR_LOCK_VIOLATION => EWOULDBLOCK,
        ERROR_FILE_EXISTS | ERROR_ALREADY_EXISTS => EEXIST,
        ERROR_DISK_FULL | ERROR_HANDLE_DISK_FULL => ENOSPC,
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT => ENOMEM,
        ERROR_INVALID_HANDLE => EBADF,
        ERROR_INVALID_PARAMETER | ERROR_INVALID_ADDRESS => EINVAL,
        ERROR_INVALID_FUNCTION | ERROR_NOT_SUPPORTED | ERROR_CALL_NOT_IMPLEMENTED => EOPNOTSUPP,
        ERROR_DIR_NOT_EMPTY => ENOTEMPTY,
        ERROR_DIRECTORY => ENOTDIR,
        ERROR_NOT_SAME_DEVICE => EXDEV,
        ERROR_WRITE_PROTECT => EROFS,
        ERROR_TOO_MANY_OPEN_FILES => EMFILE,
        ERROR_FILENAME_EXCED_RANGE => ENAMETOOLONG,
        ERROR_BROKEN_PIPE => EPIPE,
        ERROR_CRC => EIO,
        _ => EIO,
    }
}

/// The calling thread's last error, as an `errno` value.
pub fn errno() -> i32 {
    // SAFETY: GetLastError only reads the thread's error slot.
    errno_of(unsafe { GetLastError() })
}

/// `Ok` for a Win32 call's success, `Err(errno)` for its failure.
fn result(ok: i32) -> Result<(), i32> {
    if ok != 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// A path in the wide characters Win32 takes, converted from the active
/// code page (as the C runtime's `open` converts the runtime's paths).
fn wide(path: &CStr) -> Vec<u16> {
    let bytes = path.to_bytes();
    if bytes.is_empty() {
        return vec![0];
    }
    // SAFETY: a valid input length and a null output asks for the length.
    let len = unsafe {
        MultiByteToWideChar(
            CP_ACP,
            0,
            bytes.as_ptr(),
            bytes.len() as i32,
            core::ptr::null_mut(),
            0,
        )
    };
    let mut out = vec![0u16; len.max(0) as usize + 1];
    // SAFETY: the output holds `len` characters and the terminator.
    unsafe {
        MultiByteToWideChar(
            CP_ACP,
            0,
            bytes.as_ptr(),
            bytes.len() as i32,
            out.as_mut_ptr(),
            len,
        )
    };
    out
}

/// `dir/name`, for the calls Windows has only by path.
fn joined(dir_path: &CStr, name: &CStr) -> Vec<u8> {
    let mut bytes = dir_path.to_bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name.to_bytes());
    bytes.push(0);
    bytes
}

fn with_joined<T>(dir_path: &CStr, name: &CStr, call: impl FnOnce(&CStr) -> T) -> T {
    let bytes = joined(dir_path, name);
    let path = CStr::from_bytes_until_nul(&bytes).unwrap_or(c"");
    call(path)
}

/// Whether `path` names a directory.
fn is_directory(path: &[u16]) -> bool {
    // SAFETY: a NUL-terminated wide path.
    let attributes = unsafe { GetFileAttributesW(path.as_ptr()) };
    attributes != INVALID_FILE_ATTRIBUTES && attributes & FILE_ATTRIBUTE_DIRECTORY != 0
}

/// How the library opens files: sharing reads, writes and deletion with
/// every other open, as POSIX files are shared.
const SHARE_ALL: FILE_SHARE_MODE = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/// `CreateFileW` of the NUL-terminated wide path `name` (a directory opens
/// too: `FILE_FLAG_BACKUP_SEMANTICS`); `INVALID_HANDLE_VALUE` on failure,
/// with the thread's last error set.
fn create_file(
    name: &[u16],
    access: u32,
    share: FILE_SHARE_MODE,
    disposition: FILE_CREATION_DISPOSITION,
) -> HANDLE {
    // SAFETY: a NUL-terminated wide path; no security attributes or template.
    unsafe {
        CreateFileW(
            name.as_ptr(),
            access,
            share,
            core::ptr::null(),
            disposition,
            FILE_FLAG_BACKUP_SEMANTICS,
            core::ptr::null_mut(),
        )
    }
}

/// Opens `path` (`CreateFileW`), sharing reads, writes and deletion; a
/// directory opens too (`FILE_FLAG_BACKUP_SEMANTICS`), for reading.
pub fn open(path: &CStr, flags: c_int, _mode: u32) -> Result<Fd, i32> {
    let name = wide(path);
    let access = if flags & O_RDWR != 0 {
        GENERIC_READ | GENERIC_WRITE
    } else {
        GENERIC_READ
    };
    let disposition = if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
        CREATE_NEW
    } else if flags & O_CREAT != 0 {
        OPEN_ALWAYS
    } else {
        OPEN_EXISTING
    };
    let handle = create_file(&name, access, SHARE_ALL, disposition);
    if handle == INVALID_HANDLE_VALUE {
        let errno = errno();
        return Err(if errno == EACCES && is_directory(&name) {
            EISDIR
        } else {
            errno
        });
    }
    let fd = fd_of(handle);
    if flags & O_DIRECTORY != 0 {
        match fstat(fd) {
            Ok(st) if st.kind == Kind::Directory => {}
            other => {
                let _ = close(fd);
                return Err(other.err().unwrap_or(ENOTDIR));
            }
        }
    }
    Ok(fd)
}

/// `name` in the directory `dir_path` (Windows opens by path).
pub fn open_at(_dir: Fd, dir_path: &CStr, name: &CStr, flags: c_int, mode: u32) -> Result<Fd, i32> {
    with_joined(dir_path, name, |path| open(path, flags, mode))
}

/// Closes the handle; the caller owns it and closes it once.
pub fn close(fd: Fd) -> Result<(), i32> {
    // SAFETY: the caller owns the handle.
    result(unsafe { CloseHandle(handle(fd)) })
}

/// A second handle of the same open file (`DuplicateHandle`).
pub fn duplicate(fd: Fd) -> Result<Fd, i32> {
    let mut copy: HANDLE = core::ptr::null_mut();
    // SAFETY: duplicating a handle the caller holds open, within this process.
    result(unsafe {
        DuplicateHandle(
            GetCurrentProcess(),
            handle(fd),
            GetCurrentProcess(),
            &mut copy,
            0,
            0,
            DUPLICATE_SAME_ACCESS,
        )
    })?;
    Ok(fd_of(copy))
}

/// The metadata of an open file.
pub fn fstat(fd: Fd) -> Result<Stat, i32> {
    let h = handle(fd);
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is a valid out-parameter.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { core::mem::zeroed() };
    // SAFETY: an open handle and a valid out-parameter.
    result(unsafe { GetFileInformationByHandle(h, &mut info) })?;
    let size = (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow);
    let kind = if info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        Kind::Directory
    } else {
        // SAFETY: an open handle.
        match unsafe { GetFileType(h) } {
            FILE_TYPE_DISK => Kind::Regular,
            FILE_TYPE_PIPE => Kind::Fifo,
            FILE_TYPE_CHAR => Kind::Device,
            _ => Kind::Other,
        }
    };
    // SAFETY: an all-zero FILE_STANDARD_INFO is a valid out-parameter.
    let mut standard: FILE_STANDARD_INFO = unsafe { core::mem::zeroed() };
    // SAFETY: an open handle and an out-parameter of the size given.
    let allocated = if unsafe {
        GetFileInformationByHandleEx(
            h,
            FileStandardInfo,
            (&raw mut standard).cast(),
            size_of::<FILE_STANDARD_INFO>() as u32,
        )
    } != 0
    {
        standard.AllocationSize.max(0) as u64
    } else {
        size
    };
    Ok(Stat {
        size,
        allocated,
        kind,
        dev: u64::from(info.dwVolumeSerialNumber),
        ino: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
    })
}

/// The metadata of `path`, following links.
pub fn stat(path: &CStr) -> Result<Stat, i32> {
    let name = wide(path);
    let handle = create_file(&name, FILE_READ_ATTRIBUTES, SHARE_ALL, OPEN_EXISTING);
    if handle == INVALID_HANDLE_VALUE {
        return Err(errno());
    }
    let fd = fd_of(handle);
    let st = fstat(fd);
    let _ = close(fd);
    st
}

/// The metadata of `name` in the directory `dir_path`.
pub fn stat_at(_dir: Fd, dir_path: &CStr, name: &CStr) -> Result<Stat, i32> {
    with_joined(dir_path, name, stat)
}

/// Nothing to do: opening a handle never blocks.
pub fn set_nonblocking(_fd: Fd, _on: bool) -> Result<(), i32> {
    Ok(())
}

/// Never: see `set_nonblocking`.
pub fn is_nonblocking(_fd: Fd) -> bool {
    false
}

fn at(offset: u64) -> OVERLAPPED {
    // SAFETY: an all-zero OVERLAPPED is valid.
    let mut overlapped: OVERLAPPED = unsafe { core::mem::zeroed() };
    overlapped.Anonymous.Anonymous.Offset = offset as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    overlapped
}

/// The most one call moves: what a `u32` counts, rounded to pages.
const MOST: usize = 1 << 30;

/// Bytes read at `offset` (0 at the end of the file): `ReadFile` with the
/// offset in an `OVERLAPPED` on a synchronous handle.
pub fn pread(fd: Fd, buf: &mut [u8], offset: u64) -> Result<usize, i32> {
    let mut overlapped = at(offset);
    let mut got = 0u32;
    let len = buf.len().min(MOST) as u32;
    // SAFETY: buf is live and writable for `len` bytes; the handle is
    // synchronous, so the call completes before it returns.
    let ok = unsafe { ReadFile(handle(fd), buf.as_mut_ptr(), len, &mut got, &mut overlapped) };
    if ok != 0 {
        return Ok(got as usize);
    }
    // SAFETY: reads the thread's error slot.
    match unsafe { GetLastError() } {
        ERROR_HANDLE_EOF => Ok(0),
        error => Err(errno_of(error)),
    }
}

/// Bytes written at `offset` (`WriteFile` with the offset).
pub fn pwrite(fd: Fd, buf: &[u8], offset: u64) -> Result<usize, i32> {
    let mut overlapped = at(offset);
    let mut put = 0u32;
    let len = buf.len().min(MOST) as u32;
    // SAFETY: buf is live for `len` bytes; the call completes before it
    // returns (a synchronous handle).
    result(unsafe { WriteFile(handle(fd), buf.as_ptr(), len, &mut put, &mut overlapped) })?;
    Ok(put as usize)
}

/// Bytes written from `bufs`, back to back from `offset`: a write each
/// (Windows gathers writes only for unbuffered, page-aligned files).
pub fn pwritev(fd: Fd, bufs: &[IoVec], offset: u64) -> Result<usize, i32> {
    let mut done = 0usize;
    for vector in bufs {
        // SAFETY: each vector describes a live slice (the caller's).
        let bytes =
            unsafe { core::slice::from_raw_parts(vector.iov_base.cast::<u8>(), vector.iov_len) };
        let put = match pwrite(fd, bytes, offset + done as u64) {
            Ok(put) => put,
            Err(errno) if done == 0 => return Err(errno),
            Err(_) => return Ok(done),
        };
        done += put;
        if put < bytes.len() {
            break;
        }
    }
    Ok(done)
}

/// Windows has no `SEEK_HOLE`: unknown.
pub fn next_hole(_fd: Fd, _offset: u64) -> Option<u64> {
    None
}

/// Windows has no `SEEK_DATA`: unknown.
pub fn next_data(_fd: Fd, _offset: u64) -> Option<u64> {
    None
}

/// Sets the file's length (`FileEndOfFileInfo`).
pub fn truncate(fd: Fd, len: u64) -> Result<(), i32> {
    let info = FILE_END_OF_FILE_INFO {
        EndOfFile: len as i64,
    };
    // SAFETY: an open handle and an input of the size given.
    result(unsafe {
        SetFileInformationByHandle(
            handle(fd),
            FileEndOfFileInfo,
            (&raw const info).cast(),
            size_of::<FILE_END_OF_FILE_INFO>() as u32,
        )
    })
}

/// `CreateDirectoryW` (Windows has no modes).
pub fn mkdir(path: &CStr, _mode: u32) -> Result<(), i32> {
    let name = wide(path);
    // SAFETY: a NUL-terminated wide path; default security.
    result(unsafe { CreateDirectoryW(name.as_ptr(), core::ptr::null()) })
}

/// Removes a file, or an empty directory when `directory`
/// (`RemoveDirectoryW`); a directory where a file was asked for is `EISDIR`.
/// A file's name goes at once, as on POSIX, even while the file is open
/// elsewhere (`FILE_DISPOSITION_FLAG_POSIX_SEMANTICS`), so a new file of
/// that name can be made at once; where the file system has no such
/// deletion (FAT, Windows before 10), `DeleteFileW`, whose name stays until
/// the last open of the file is closed.
pub fn unlink(path: &CStr, directory: bool) -> Result<(), i32> {
    let name = wide(path);
    if directory {
        // SAFETY: a NUL-terminated wide path.
        return result(unsafe { RemoveDirectoryW(name.as_ptr()) });
    }
    if is_directory(&name) {
        return Err(EISDIR);
    }
    if delete_now(&name) {
        return Ok(());
    }
    // SAFETY: a NUL-terminated wide path.
    result(unsafe { DeleteFileW(name.as_ptr()) })
}

/// Deletes the file `name` with POSIX semantics; false where that cannot
/// be done (the caller falls back to `DeleteFileW`, which says why).
fn delete_now(name: &[u16]) -> bool {
    let handle = create_file(name, DELETE, SHARE_ALL, OPEN_EXISTING);
    if handle == INVALID_HANDLE_VALUE {
        return false;
    }
    let info = FILE_DISPOSITION_INFO_EX {
        Flags: FILE_DISPOSITION_FLAG_DELETE | FILE_DISPOSITION_FLAG_POSIX_SEMANTICS,
    };
    // SAFETY: an open handle with delete access and an input of the size
    // given; then the handle is closed once.
    unsafe {
        let deleted = SetFileInformationByHandle(
            handle,
            FileDispositionInfoEx,
            (&raw const info).cast(),
            size_of::<FILE_DISPOSITION_INFO_EX>() as u32,
        ) != 0;
        CloseHandle(handle);
        deleted
    }
}

/// `unlink` of `name` in the directory `dir_path`.
pub fn unlink_at(_dir: Fd, dir_path: &CStr, name: &CStr, directory: bool) -> Result<(), i32> {
    with_joined(dir_path, name, |path| unlink(path, directory))
}

/// Renames `from` to `to`, replacing it, and returns once the rename is on
/// disk (`MoveFileExW` with `MOVEFILE_REPLACE_EXISTING` and
/// `MOVEFILE_WRITE_THROUGH`).
pub fn rename(from: &CStr, to: &CStr) -> Result<(), i32> {
    let (from, to) = (wide(from), wide(to));
    // SAFETY: NUL-terminated wide paths.
    result(unsafe {
        MoveFileExW(
            from.as_ptr(),
            to.as_ptr(),
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
        )
    })
}

/// `rename` of two names in the directory `dir_path`.
pub fn rename_at(_dir: Fd, dir_path: &CStr, from: &CStr, to: &CStr) -> Result<(), i32> {
    let (from, to) = (joined(dir_path, from), joined(dir_path, to));
    match (
        CStr::from_bytes_until_nul(&from),
        CStr::from_bytes_until_nul(&to),
    ) {
        (Ok(from), Ok(to)) => rename(from, to),
        _ => Err(EINVAL),
    }
}

/// Whether `path` exists.
pub fn exists(path: &CStr) -> bool {
    let name = wide(path);
    // SAFETY: a NUL-terminated wide path.
    unsafe { GetFileAttributesW(name.as_ptr()) != INVALID_FILE_ATTRIBUTES }
}

/// Opens the directory `path` holding an exclusive lock on it: an open
/// with the right to delete the directory that shares that right with no
/// other open. A second such open, in this process or another, fails with
/// a sharing violation (`Lock(EWOULDBLOCK)`); ordinary opens of the
/// directory (listing it, `Dir::open`) and of the files in it share every
/// right and are not affected, and while the lock is held nobody can
/// rename or remove the directory. It lasts while the handle is open.
/// (`LockFileEx` takes byte ranges of files, which a directory has not.)
pub fn open_locked_dir(path: &CStr) -> Result<Fd, LockRefused> {
    let name = wide(path);
    let handle = create_file(
        &name,
        GENERIC_READ | DELETE,
        FILE_SHARE_READ | FILE_SHARE_WRITE,
        OPEN_EXISTING,
    );
    if handle == INVALID_HANDLE_VALUE {
        // SAFETY: reads the thread's error slot.
        return Err(match unsafe { GetLastError() } {
            ERROR_SHARING_VIOLATION => LockRefused::Lock(EWOULDBLOCK),
            error => LockRefused::Open(errno_of(error)),
        });
    }
    let fd = fd_of(handle);
    match fstat(fd) {
        Ok(st) if st.kind == Kind::Directory => Ok(fd),
        other => {
            let _ = close(fd);
            Err(LockRefused::Open(other.err().unwrap_or(ENOTDIR)))
        }
    }
}

/// The space of the volume holding `path` (`GetDiskFreeSpaceExW`), in
/// bytes.
pub fn space(path: &CStr) -> Result<Space, i32> {
    let name = wide(path);
    let (mut available, mut total, mut free) = (0u64, 0u64, 0u64);
    // SAFETY: a NUL-terminated wide path and valid out-parameters.
    result(unsafe { GetDiskFreeSpaceExW(name.as_ptr(), &mut available, &mut total, &mut free) })?;
    Ok(Space {
        blocks: total,
        free,
        available,
        block_bytes: 1,
    })
}

/// Windows keeps no blocks back for a privileged user that the library
/// could count.
pub fn may_use_reserved_blocks(_dev: u64) -> bool {
    false
}

/// See `may_use_reserved_blocks`.
pub fn kept_back_blocks(_dev: u64) -> u64 {
    0
}

/// A temporary directory from `template` (its trailing `XXXXXX` filled
/// in from the process and a counter), for tests.
pub fn make_temp_dir(template: &mut [u8]) -> Result<(), i32> {
    use core::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let end = template
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(template.len());
    if end < 6 {
        return Err(EINVAL);
    }
    loop {
        let tag = format!(
            "{:03x}{:03x}",
            this_pid() & 0xfff,
            NEXT.fetch_add(1, Ordering::Relaxed) & 0xfff
        );
        template[end - 6..end].copy_from_slice(tag.as_bytes());
        let path = CStr::from_bytes_until_nul(template).map_err(|_| EINVAL)?;
        match mkdir(path, 0o700) {
            Err(EEXIST) => continue,
            done => return done,
        }
    }
}

/// Windows has no FIFOs in its file systems.
pub fn make_fifo(_path: &CStr) -> Result<(), i32> {
    Err(ENOSYS)
}

/// Writes `bytes` to the standard error handle; safe in an exception
/// handler (no allocation, no lock of the library's).
pub fn write_stderr(bytes: &[u8]) -> Result<usize, i32> {
    let mut put = 0u32;
    // SAFETY: GetStdHandle only reads the process's parameters; the slice
    // is live for its length.
    result(unsafe {
        WriteFile(
            GetStdHandle(STD_ERROR_HANDLE),
            bytes.as_ptr(),
            bytes.len().min(MOST) as u32,
            &mut put,
            core::ptr::null_mut(),
        )
    })?;
    Ok(put as usize)
}

/// The C runtime's words for `errno` (`strerror`); `None` for the values
/// from 100 on (POSIX's, which it calls "Unknown error"), so that they get
/// words of their own (`msg::errno_text`).
pub fn strerror_text(errno: i32) -> Option<String> {
    if errno >= 100 {
        return None;
    }
    // SAFETY: the C runtime's strerror returns a valid C string.
    let text = unsafe { libc::strerror(errno) };
    if text.is_null() {
        return None;
    }
    // SAFETY: as above.
    Some(
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The `errno` values the C runtime has words for (1 to 99).
const DESCRIBED: usize = 100;
/// The longest words kept (the C runtime's are shorter).
const WORDS_BYTES: usize = 64;

/// The C runtime's words for each described value, copied by
/// `learn_errno_texts` so that the fault path reads them without calling
/// the C runtime (which may take a lock or allocate). Written once, by the
/// caller that moves `LEARNING` from 0 to 1; read only once it is 2.
static WORDS: Learnt = Learnt(core::cell::UnsafeCell::new((
    [[0; WORDS_BYTES]; DESCRIBED],
    [0; DESCRIBED],
)));

/// The words of each value, and their lengths (0: none).
struct Learnt(core::cell::UnsafeCell<([[u8; WORDS_BYTES]; DESCRIBED], [u8; DESCRIBED])>);

// SAFETY: written by one caller while LEARNING is 1, read once it is 2.
unsafe impl Sync for Learnt {}
/// 0: not learnt; 1: being learnt; 2: learnt.
static LEARNING: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Copies the C runtime's words for every described `errno` value, once
/// (at boot, on the runtime's thread; before that the fault path uses
/// glibc's words, `msg::errno_text`).
pub fn learn_errno_texts() {
    use core::sync::atomic::Ordering;
    if LEARNING
        .compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    for errno in 1..DESCRIBED {
        let Some(text) = strerror_text(errno as i32) else {
            continue;
        };
        let bytes = text.as_bytes();
        if bytes.len() <= WORDS_BYTES {
            // SAFETY: only the caller that moved LEARNING to 1 writes, and
            // nobody reads before it is 2.
            let (words, lens) = unsafe { &mut *WORDS.0.get() };
            words[errno][..bytes.len()].copy_from_slice(bytes);
            lens[errno] = bytes.len() as u8;
        }
    }
    LEARNING.store(2, Ordering::Release);
}

/// The C runtime's words for `errno`, as `learn_errno_texts` copied them;
/// `None` before that or where it has none. Safe in an exception handler.
pub fn libc_errno_text(errno: i32) -> Option<&'static str> {
    use core::sync::atomic::Ordering;
    if LEARNING.load(Ordering::Acquire) != 2 || !(1..DESCRIBED as i32).contains(&errno) {
        return None;
    }
    // SAFETY: written once before LEARNING became 2, never again.
    let (words, lens) = unsafe { &*WORDS.0.get() };
    let (words, len) = (&words[errno as usize], lens[errno as usize]);
    if len == 0 {
        return None;
    }
    core::str::from_utf8(&words[..len as usize]).ok()
}

/// The C runtime's words for a value it does not know.
pub const UNKNOWN_ERRNO_TEXT: Option<&str> = Some("Unknown error");

extern "C" {
    fn __acrt_iob_func(index: u32) -> *mut c_void;
}

/// The C runtime's `stderr` stream (for the runtime's printers).
pub fn c_stderr() -> *mut c_void {
    // SAFETY: the C runtime's table of its standard streams.
    unsafe { __acrt_iob_func(2) }
}

/// This thread, as a number.
pub fn this_thread() -> usize {
    // SAFETY: cannot fail.
    unsafe { GetCurrentThreadId() as usize }
}

/// This process.
pub fn this_pid() -> i32 {
    // SAFETY: cannot fail.
    unsafe { GetCurrentProcessId() as i32 }
}

/// Windows has no fork: nothing to run in a child.
pub fn at_fork_in_child(_handler: extern "C" fn()) {}

/// Windows delivers no signals to threads: nothing to block.
pub struct SignalMask;

/// See `SignalMask`.
pub fn block_signals() -> SignalMask {
    SignalMask
}

/// See `SignalMask`.
pub fn restore_signals(_mask: SignalMask) {}

// ---- files: durability and space -------------------------------------------

/// The file's data and metadata are durable (`FlushFileBuffers`).
pub fn sync_data(fd: Fd) -> Result<(), i32> {
    // SAFETY: an open handle.
    result(unsafe { FlushFileBuffers(handle(fd)) })
}

/// Nothing to start: the data waits in the cache for `sync_data`.
pub fn start_writeback(_fd: Fd, _offset: u64, _len: u64) -> Result<(), i32> {
    Ok(())
}

/// Nothing to wait for or drop (see `start_writeback`).
pub fn written_and_dropped(_fd: Fd, _offset: u64, _len: u64) -> Result<(), i32> {
    Ok(())
}

/// Windows has no directory sync (see the top of this file): renames are
/// written through, names created or removed are journalled. Succeeds.
pub fn sync_dir(_fd: Fd) -> Result<(), i32> {
    Ok(())
}

/// Reserves blocks up to `offset + len` without changing the length (the
/// file's allocation size, `FileAllocationInfo`).
pub fn reserve(fd: Fd, offset: u64, len: u64) -> Result<(), i32> {
    let want = offset.saturating_add(len);
    if fstat(fd)?.allocated >= want {
        return Ok(());
    }
    let info = FILE_ALLOCATION_INFO {
        AllocationSize: want as i64,
    };
    // SAFETY: an open handle and an input of the size given.
    result(unsafe {
        SetFileInformationByHandle(
            handle(fd),
            FileAllocationInfo,
            (&raw const info).cast(),
            size_of::<FILE_ALLOCATION_INFO>() as u32,
        )
    })
}

/// Allocates blocks up to `offset + len`, growing the file to that length
/// if it is shorter.
pub fn allocate(fd: Fd, offset: u64, len: u64) -> Result<(), i32> {
    reserve(fd, offset, len)?;
    let want = offset.saturating_add(len);
    if fstat(fd)?.size < want {
        truncate(fd, want)?;
    }
    Ok(())
}

/// Uncached writes are not used on Windows.
pub fn set_uncached(_fd: Fd, _on: bool) -> bool {
    false
}

/// See `set_uncached`.
pub fn is_uncached(_fd: Fd) -> bool {
    false
}

/// See `set_uncached`.
pub const UNCACHED_REFUSES_MISALIGNED: bool = false;

/// Windows cannot share blocks between files here: always `EOPNOTSUPP`.
pub fn clone_range(
    _src: Fd,
    _src_offset: u64,
    _dst: Fd,
    _dst_offset: u64,
    _len: u64,
) -> Result<(), i32> {
    Err(EOPNOTSUPP)
}

/// Windows has no in-kernel copy between files here: always `ENOSYS`.
pub fn copy_range(
    _src: Fd,
    _src_offset: u64,
    _dst: Fd,
    _dst_offset: u64,
    _len: usize,
) -> Result<usize, i32> {
    Err(ENOSYS)
}

/// No userfaultfd on Windows: always `ENOSYS` (tracking uses protection).
pub fn userfaultfd(_flags: c_int) -> Result<Fd, i32> {
    Err(ENOSYS)
}

/// An `ioctl` request (never made on Windows: see `userfaultfd`).
pub type IoctlRequest = u64;

/// An `ioctl` request number, as Linux encodes one.
pub const fn ioctl_request(dir: u32, kind: u8, nr: u8, size: usize) -> IoctlRequest {
    ((dir as u64) << 30) | ((size as u64) << 16) | ((kind as u64) << 8) | nr as u64
}

/// Never made on Windows: always fails.
///
/// # Safety
/// Nothing is touched.
pub unsafe fn ioctl<T>(_fd: Fd, _request: IoctlRequest, _arg: *mut T) -> c_int {
    -1
}

// ---- mappings --------------------------------------------------------------

/// No file can be mapped over part of the runtime's view of the loom.
pub const MAPS_FILES: bool = false;

/// The system's page size (`GetSystemInfo`).
pub fn page_size() -> usize {
    // SAFETY: an all-zero SYSTEM_INFO is a valid out-parameter.
    let mut info: SYSTEM_INFO = unsafe { core::mem::zeroed() };
    // SAFETY: a valid out-parameter.
    unsafe { GetSystemInfo(&mut info) };
    info.dwPageSize as usize
}

fn protection(access: Access) -> PAGE_PROTECTION_FLAGS {
    match access {
        Access::Read => PAGE_READONLY,
        Access::ReadWrite => PAGE_READWRITE,
        Access::Nothing => PAGE_NOACCESS,
    }
}

/// `VirtualProtect`. Safe in an exception handler.
///
/// # Safety
/// `[addr, addr + len)` is mapped and no Rust reference into it is alive
/// that the new protection would break.
pub unsafe fn protect(addr: *mut u8, len: usize, access: Access) -> Result<(), i32> {
    let mut old: PAGE_PROTECTION_FLAGS = 0;
    // SAFETY: the caller's promise.
    result(unsafe { VirtualProtect(addr.cast_const().cast(), len, protection(access), &mut old) })
}

/// Fresh zero pages over `[addr, addr + len)` of the runtime's view: made
/// writable and zeroed (a view cannot be replaced in part). File views
/// cannot be had (`MAPS_FILES`): `ENOSYS`.
///
/// # Safety
/// The range is the caller's to replace, with no Rust reference into it.
pub unsafe fn map_fixed(
    addr: *mut u8,
    len: usize,
    backing: Backing,
    _offset: u64,
) -> Result<(), i32> {
    match backing {
        Backing::Anonymous => {
            // SAFETY: the caller's promise.
            unsafe { protect(addr, len, Access::ReadWrite) }?;
            // SAFETY: the range is now writable, and the caller's.
            unsafe { core::ptr::write_bytes(addr, 0, len) };
            Ok(())
        }
        _ => Err(ENOSYS),
    }
}

/// Address space only, where the system chooses (`MEM_RESERVE`).
pub fn reserve_address_space(len: usize) -> Result<*mut u8, i32> {
    // SAFETY: a new reservation where the system chooses.
    let got = unsafe { VirtualAlloc(core::ptr::null(), len, MEM_RESERVE, PAGE_NOACCESS) };
    if got.is_null() {
        Err(errno())
    } else {
        Ok(got.cast())
    }
}

/// `len` bytes of zero pages, readable and writable (`MEM_COMMIT`: the
/// system backs them only where written).
pub fn map_scratch(len: usize) -> Result<*mut u8, i32> {
    // SAFETY: a new allocation where the system chooses.
    let got = unsafe {
        VirtualAlloc(
            core::ptr::null(),
            len,
            MEM_RESERVE | MEM_COMMIT,
            PAGE_READWRITE,
        )
    };
    if got.is_null() {
        Err(errno())
    } else {
        Ok(got.cast())
    }
}

/// Releases a whole reservation made by `reserve_address_space` or
/// `map_scratch` (`addr` is its start).
///
/// # Safety
/// Nothing refers to the range any more.
pub unsafe fn unmap(addr: *mut u8, _len: usize) -> Result<(), i32> {
    // SAFETY: the caller's promise.
    result(unsafe { VirtualFree(addr.cast(), 0, MEM_RELEASE) })
}

/// Nothing is dropped: the runtime's view of a section cannot give pages
/// back in part (the runtime does nothing here on Windows either); the
/// contents stay as they are, which the caller allows.
///
/// # Safety
/// Nothing is touched.
pub unsafe fn discard(_addr: *mut u8, _len: usize) -> Result<(), i32> {
    Ok(())
}

/// Windows cannot move a mapping: always `ENOSYS`.
///
/// # Safety
/// Nothing is touched.
pub unsafe fn move_mapping(_from: *mut u8, _len: usize, _to: *mut u8) -> Result<(), i32> {
    Err(ENOSYS)
}

/// Nothing to do: no fork.
///
/// # Safety
/// Nothing is touched.
pub unsafe fn keep_from_children(_addr: *mut u8, _len: usize) {}

/// Large pages need a privilege the runtime does not ask for: `ENOTSUP`.
///
/// # Safety
/// Nothing is touched.
pub unsafe fn advise_huge_pages(_addr: *mut u8, _len: usize) -> Result<(), i32> {
    Err(ENOTSUP)
}

// ---- threads ---------------------------------------------------------------

/// A running thread started by `start_thread`: its handle, owned.
pub struct RawThread(HANDLE);

/// What `enter` runs, handed to the new thread.
struct Entry {
    run: fn(*mut c_void),
    arg: *mut c_void,
}

unsafe extern "system" fn enter(entry: *mut c_void) -> u32 {
    // SAFETY: the `Entry` start_thread handed over, now this thread's.
    let entry = unsafe { Box::from_raw(entry.cast::<Entry>()) };
    (entry.run)(entry.arg);
    0
}

/// Starts a thread that runs `run(arg)` (`CreateThread`); `Err(errno)`
/// where none can be had.
pub fn start_thread(run: fn(*mut c_void), arg: *mut c_void) -> Result<RawThread, i32> {
    let entry = Box::into_raw(Box::new(Entry { run, arg }));
    // SAFETY: `enter` takes `entry` as what it is.
    let handle = unsafe {
        CreateThread(
            core::ptr::null(),
            0,
            Some(enter),
            entry.cast_const().cast(),
            0,
            core::ptr::null_mut(),
        )
    };
    if handle.is_null() {
        let errno = errno();
        // SAFETY: no thread has it: taken back and dropped.
        drop(unsafe { Box::from_raw(entry) });
        return Err(errno);
    }
    Ok(RawThread(handle))
}

/// Waits for the thread to end, and closes its handle.
pub fn join_thread(thread: RawThread) -> bool {
    // SAFETY: a handle of start_thread's, waited for and closed once.
    unsafe {
        let ended = WaitForSingleObject(thread.0, INFINITE) == 0;
        CloseHandle(thread.0);
        ended
    }
}

/// Lets the thread end on its own: its handle is closed.
pub fn detach_thread(thread: RawThread) {
    // SAFETY: a handle of start_thread's, closed once.
    unsafe { CloseHandle(thread.0) };
}

/// The runtime's symbols, for the unit tests' executable only: a Windows
/// executable must define every symbol its code names, where Linux's
/// linker drops the references no test reaches. Never in the library.
#[cfg(test)]
#[allow(non_upper_case_globals)]
mod runtime_stand_ins {
    use core::ffi::{c_char, c_void};

    #[no_mangle]
    static mut u3o_Config: [u64; 11] = [0; 11];
    #[no_mangle]
    static mut u3a_Road: *mut u8 = core::ptr::null_mut();

    #[no_mangle]
    extern "C" fn u3a_loom_sane() {}

    #[no_mangle]
    extern "C" fn u3a_print_memory(_fil_u: *mut c_void, _cap_c: *const c_char, _wor_w: u32) {}

    #[no_mangle]
    extern "C" fn u3l_log(_format: *const c_char) {}

    #[no_mangle]
    extern "C" fn u3m_bail(_mote: u32) -> ! {
        std::process::abort()
    }
}
