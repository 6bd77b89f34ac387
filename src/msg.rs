//! `loom: …` lines on stderr, written with `write(2)`.
//!
//! [`Line`] formats into a fixed buffer with no allocation and no locks, so
//! the fault path can use it inside a SIGSEGV handler. Paths of any length
//! go through [`say`], which the fault path never calls.

use core::fmt;

/// A message line built in a fixed buffer; text past the end is cut.
pub struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    pub const fn new() -> Line {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }

    pub fn str(&mut self, text: &str) -> &mut Line {
        self.bytes(text.as_bytes())
    }

    pub fn bytes(&mut self, text: &[u8]) -> &mut Line {
        let room = self.buf.len() - self.len;
        let take = text.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&text[..take]);
        self.len += take;
        self
    }

    /// Unsigned decimal, as `%u` / `%zu` print it.
    pub fn dec(&mut self, value: u64) -> &mut Line {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.bytes(&digits[at..])
    }

    /// Signed decimal, as `%d` prints it.
    pub fn int(&mut self, value: i64) -> &mut Line {
        if value < 0 {
            self.str("-");
        }
        self.dec(value.unsigned_abs())
    }

    /// Lower-case hexadecimal without a prefix, as `%x` prints it.
    pub fn hex(&mut self, value: u32) -> &mut Line {
        let mut digits = [0u8; 8];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b"0123456789abcdef"[(rest & 15) as usize];
            rest >>= 4;
            if rest == 0 {
                break;
            }
        }
        self.bytes(&digits[at..])
    }

    /// The text `strerror(errno)` gives for `errno`.
    pub fn errno(&mut self, errno: i32) -> &mut Line {
        match errno_text(errno) {
            Some(text) => self.str(text),
            None => self.str("Unknown error ").int(i64::from(errno)),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the line to stderr.
    pub fn emit(&self) {
        write_stderr(self.as_bytes());
    }
}

impl Default for Line {
    fn default() -> Line {
        Line::new()
    }
}

/// Writes all of `bytes` to file descriptor 2, retrying interrupted and
/// partial writes; errors are dropped, as `fprintf(stderr, …)` drops them.
pub fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: the pointer and length describe a live slice.
        let wrote = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if wrote > 0 {
            rest = &rest[wrote as usize..];
        } else if wrote < 0 && last_errno() == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// Formats and writes a message outside the fault path.
pub fn say_args(args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(text) => write_stderr(text.as_bytes()),
        None => write_stderr(args.to_string().as_bytes()),
    }
}

/// `say!("loom: …\r\n", …)`: formats and writes to stderr in one `write`.
macro_rules! say {
    ($($arg:tt)*) => { $crate::msg::say_args(format_args!($($arg)*)) };
}
pub(crate) use say;

/// The calling thread's `errno`.
pub fn last_errno() -> i32 {
    // SAFETY: glibc's errno location is always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

/// `strerror` text for `errno`, as glibc words it; a table so that the fault
/// path needs neither locale nor locks.
pub fn errno_text(errno: i32) -> Option<&'static str> {
    use libc::*;
    Some(match errno {
        EPERM => "Operation not permitted",
        ENOENT => "No such file or directory",
        EINTR => "Interrupted system call",
        EIO => "Input/output error",
        ENXIO => "No such device or address",
        EBADF => "Bad file descriptor",
        EAGAIN => "Resource temporarily unavailable",
        ENOMEM => "Cannot allocate memory",
        EACCES => "Permission denied",
        EFAULT => "Bad address",
        EBUSY => "Device or resource busy",
        EEXIST => "File exists",
        EXDEV => "Invalid cross-device link",
        ENODEV => "No such device",
        ENOTDIR => "Not a directory",
        EISDIR => "Is a directory",
        EINVAL => "Invalid argument",
        ENFILE => "Too many open files in system",
        EMFILE => "Too many open files",
        ETXTBSY => "Text file busy",
        EFBIG => "File too large",
        ENOSPC => "No space left on device",
        ESPIPE => "Illegal seek",
        EROFS => "Read-only file system",
        EMLINK => "Too many links",
        EPIPE => "Broken pipe",
        ENAMETOOLONG => "File name too long",
        ENOSYS => "Function not implemented",
        ENOTEMPTY => "Directory not empty",
        ELOOP => "Too many levels of symbolic links",
        EOVERFLOW => "Value too large for defined data type",
        EOPNOTSUPP => "Operation not supported",
        EDQUOT => "Disk quota exceeded",
        ESTALE => "Stale file handle",
        _ => return None,
    })
}

/// The `strerror` text for `errno`, owned, for messages outside the fault
/// path: the C library's own words for every errno (`strerror_r`), as the
/// reference prints them.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; the XSI strerror_r
    // writes a NUL-terminated string into it and returns 0.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        if let Ok(text) = std::ffi::CStr::from_bytes_until_nul(&buf) {
            return text.to_string_lossy().into_owned();
        }
    }
    match errno_text(errno) {
        Some(text) => text.to_string(),
        None => format!("Unknown error {errno}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_printf() {
        let mut line = Line::new();
        line.str("loom: strange page (")
            .int(-5)
            .str("): ")
            .hex(0xdead_beef)
            .str(" ")
            .dec(u64::from(u32::MAX))
            .str(" ")
            .hex(0)
            .dec(0);
        assert_eq!(
            line.as_bytes(),
            b"loom: strange page (-5): deadbeef 4294967295 00"
        );
    }

    #[test]
    fn cuts_at_the_buffer_end() {
        let mut line = Line::new();
        for _ in 0..100 {
            line.str("abcdefgh");
        }
        assert_eq!(line.as_bytes().len(), 256);
    }

    #[test]
    fn errno_text_matches_libc() {
        for errno in [
            libc::ENOENT,
            libc::ENOMEM,
            libc::ENOSPC,
            libc::EIO,
            libc::EACCES,
        ] {
            // SAFETY: strerror returns a valid C string for any errno.
            let want = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) };
            assert_eq!(Some(want.to_str().unwrap()), errno_text(errno));
        }
        let mut line = Line::new();
        line.errno(100_000);
        assert_eq!(line.as_bytes(), b"Unknown error 100000");
    }

    #[test]
    fn strerror_covers_every_errno() {
        for errno in 1..134 {
            // SAFETY: strerror returns a valid C string for any errno.
            let want = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) };
            assert_eq!(strerror(errno), want.to_str().unwrap(), "errno {errno}");
            if let Some(text) = errno_text(errno) {
                assert_eq!(text, want.to_str().unwrap(), "table, errno {errno}");
            }
        }
        assert_eq!(strerror(libc::ENOLCK), "No locks available");
        assert_eq!(strerror(100_000), "Unknown error 100000");
    }
}
