//! `loom: …` lines on stderr, written with `write(2)`.
//!
//! [`Line`] formats into a fixed buffer with no allocation and no locks, so
//! the fault path can use it inside a SIGSEGV handler. Paths of any length
//! go through [`say`], which the fault path never calls.

use crate::sys;
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
        match (errno_text(errno), sys::UNKNOWN_ERRNO_TEXT) {
            (Some(text), _) | (None, Some(text)) => self.str(text),
            (None, None) => self.str("Unknown error ").int(i64::from(errno)),
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
        match sys::write_stderr(rest) {
            Ok(0) => return,
            Ok(wrote) => rest = &rest[wrote..],
            Err(sys::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// Formats and writes a message outside the fault path. Path bytes that
/// are not UTF-8 reach stderr as they are (see [`escape`]).
pub fn say_args(args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(text) => write_stderr(text.as_bytes()),
        None => write_stderr(&unescape(&args.to_string())),
    }
}

/// Where escaped bytes live: the last 256 code points of plane 16 (private
/// use), one per byte value. No message text of ours uses them.
const ESCAPE_BASE: u32 = 0x10_ff00;

/// `bytes` (a path, as the runtime gave it) as text that formats like any
/// string and turns back into exactly these bytes in [`unescape`]: valid
/// UTF-8 stays as it is, every other byte (and every byte of a character
/// in the escape range itself) becomes one escape character. Messages then
/// print a path byte for byte, as `events.c`'s `%s` does.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let escape_byte = |out: &mut String, byte: u8| {
        out.push(char::from_u32(ESCAPE_BASE + u32::from(byte)).expect("a valid code point"))
    };
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if u32::from(ch) >= ESCAPE_BASE {
                let mut buf = [0u8; 4];
                for &byte in ch.encode_utf8(&mut buf).as_bytes() {
                    escape_byte(&mut out, byte);
                }
            } else {
                out.push(ch);
            }
        }
        for &byte in chunk.invalid() {
            escape_byte(&mut out, byte);
        }
    }
    out
}

/// The bytes `text` stands for: escapes from [`escape`] become their bytes.
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let code = u32::from(ch);
        if code >= ESCAPE_BASE {
            out.push((code - ESCAPE_BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// `escape`d text for a person: escapes become U+FFFD (JSON, terminals).
pub fn lossy(text: &str) -> String {
    String::from_utf8_lossy(&unescape(text)).into_owned()
}

/// `say!("loom: …\r\n", …)`: formats and writes to stderr in one `write`.
macro_rules! say {
    ($($arg:tt)*) => { $crate::msg::say_args(format_args!($($arg)*)) };
}
pub(crate) use say;

/// The calling thread's `errno`.
pub fn last_errno() -> i32 {
    crate::sys::errno()
}

/// `strerror` text for `errno`, as the C library words it (glibc's words
/// here, another library's where `sys` has them); a table so that the fault
/// path needs neither locale nor locks.
pub fn errno_text(errno: i32) -> Option<&'static str> {
    use sys::errnos::*;
    if let Some(text) = sys::libc_errno_text(errno) {
        return Some(text);
    }
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

/// Reasons a pier file is refused that have no errno: it is not a regular
/// file. Carried as negative values where an errno goes (`IoError::errno`).
pub const NOT_REGULAR_FIFO: i32 = -1001;
pub const NOT_REGULAR_SOCKET: i32 = -1002;
pub const NOT_REGULAR_DEVICE: i32 = -1003;
pub const NOT_REGULAR_OTHER: i32 = -1004;

/// The text of a not-regular-file reason.
fn not_regular_text(errno: i32) -> Option<&'static str> {
    Some(match errno {
        NOT_REGULAR_FIFO => "is a FIFO, not a regular file",
        NOT_REGULAR_SOCKET => "is a socket, not a regular file",
        NOT_REGULAR_DEVICE => "is a device, not a regular file",
        NOT_REGULAR_OTHER => "is not a regular file",
        _ => return None,
    })
}

/// The `strerror` text for `errno`, owned, for messages outside the fault
/// path: the C library's own words for every errno (`strerror_r`), as the
/// reference prints them.
pub fn strerror(errno: i32) -> String {
    if let Some(text) = not_regular_text(errno) {
        return text.to_string();
    }
    if let Some(text) = sys::strerror_text(errno) {
        return text;
    }
    match (errno_text(errno), sys::UNKNOWN_ERRNO_TEXT) {
        (Some(text), _) | (None, Some(text)) => text.to_string(),
        (None, None) => format!("Unknown error {errno}"),
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
        sys::learn_errno_texts();
        for errno in [sys::ENOENT, sys::ENOMEM, sys::ENOSPC, sys::EIO, sys::EACCES] {
            let want = sys::strerror_text(errno).unwrap();
            assert_eq!(Some(want.as_str()), errno_text(errno));
        }
        let mut line = Line::new();
        line.errno(100_000);
        let unknown = sys::strerror_text(100_000)
            .or(sys::UNKNOWN_ERRNO_TEXT.map(str::to_string))
            .unwrap();
        assert_eq!(line.as_bytes(), unknown.as_bytes());
    }

    #[test]
    fn strerror_covers_every_errno() {
        sys::learn_errno_texts();
        for errno in 1..134 {
            // The C library's own words, where it has any (the Windows C
            // runtime has none from 100 on).
            let Some(want) = sys::strerror_text(errno) else {
                assert!(errno >= 100, "errno {errno}");
                continue;
            };
            assert_eq!(strerror(errno), want, "errno {errno}");
            if let Some(text) = errno_text(errno) {
                assert_eq!(text, want, "table, errno {errno}");
            }
        }
        assert_eq!(strerror(sys::ENOLCK), "No locks available");
        assert_eq!(strerror(NOT_REGULAR_FIFO), "is a FIFO, not a regular file");
        // The C library's words (glibc: "Unknown error 100000", musl: "No
        // error information").
        let unknown = sys::strerror_text(100_000)
            .or(sys::UNKNOWN_ERRNO_TEXT.map(str::to_string))
            .unwrap();
        assert_eq!(strerror(100_000), unknown);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(strerror(100_000), "Unknown error 100000");
        }
    }

    #[test]
    fn escaped_paths_come_back_byte_for_byte() {
        let cases: [&[u8]; 5] = [
            b"plain/.urb/chk",
            b"caf\xc3\xa9/\xff\xfe/x",
            "\u{10ff41}\u{10fffe}z".as_bytes(),
            b"\xf4\x8f\xbc",
            b"",
        ];
        for bytes in cases {
            let text = escape(bytes);
            assert_eq!(unescape(&text), bytes);
            let line = format!("loom: c3_open {text}: x");
            let mut want = b"loom: c3_open ".to_vec();
            want.extend_from_slice(bytes);
            want.extend_from_slice(b": x");
            assert_eq!(unescape(&line), want);
        }
        assert_eq!(lossy(&escape(b"a\xffb")), "a\u{fffd}b");
        assert_eq!(escape("café".as_bytes()), "café");
    }
}
