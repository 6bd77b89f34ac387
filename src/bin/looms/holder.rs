//! Which processes hold a pier's lock. The lock is a `flock` on the pier's
//! `.urb/chk` directory; Linux lists such a lock in the `fdinfo` of the
//! descriptor that owns it, as a line like
//! `lock: 1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`
//! (device major:minor in hex, then the inode), so scanning
//! `/proc/*/fdinfo/*` finds the holders.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The device and inode a lock line names.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileId {
    major: u32,
    minor: u32,
    inode: u64,
}

/// The ids of the processes holding a `flock` lock on `file`, ascending.
/// Processes this user cannot inspect are not seen.
pub fn holders(file: &Path) -> Vec<u32> {
    let Ok(meta) = fs::metadata(file) else {
        return Vec::new();
    };
    let (major, minor) = looms::sys::major_minor(meta.dev());
    let want = FileId {
        major,
        minor,
        inode: meta.ino(),
    };
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = procs
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id() && holds(pid, want))
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether any descriptor of `pid` owns a `flock` lock on `want`.
fn holds(pid: u32, want: FileId) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_to_string(fd.path())
            .map(|text| text.lines().any(|line| lock_line_names(line, want)))
            .unwrap_or(false)
    })
}

/// Whether `line` is a `flock` lock line on `want`.
fn lock_line_names(line: &str, want: FileId) -> bool {
    if !line.starts_with("lock:") || !line.contains("FLOCK") {
        return false;
    }
    line.split_whitespace()
        .filter_map(parse_file_id)
        .any(|id| id == want)
}

/// `08:01:1234` (hex major, hex minor, decimal inode).
fn parse_file_id(field: &str) -> Option<FileId> {
    let mut parts = field.split(':');
    let major = u32::from_str_radix(parts.next()?, 16).ok()?;
    let minor = u32::from_str_radix(parts.next()?, 16).ok()?;
    let inode = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(FileId {
        major,
        minor,
        inode,
    })
}
