//! What the subcommands share: exit statuses, the pier from a command-line
//! path, and the words and JSON for an image's size and a pending patch.

use std::os::unix::ffi::OsStrExt;
use std::path::Path as StdPath;

use looms::abi::{u3a_pages, U3P_VERLAT};
use looms::image::{self, File, IoError, Path, Size};
use looms::loom::PAGE_BYTES;
use looms::patch::PatchError;
use looms::pier::Pier;
use looms::recovery::Pending;
use serde_json::{json, Value};

/// Exit statuses (see `EXIT_CODES` in main).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    /// verify found a problem, diff a difference, recover could not repair.
    No = 1,
    Error = 2,
    Busy = 3,
}

/// The pier at a command-line path.
pub fn pier_at(dir: &StdPath) -> Pier {
    Pier::new(dir.as_os_str().as_bytes())
}

/// A library path from a command-line path.
pub fn lib_path(path: &StdPath) -> Path {
    Path::from_bytes(path.as_os_str().as_bytes().to_vec())
}

/// The standard-library form of a library path.
pub fn std_path(path: &Path) -> &StdPath {
    StdPath::new(std::ffi::OsStr::from_bytes(path.bytes()))
}

/// Checks that `PIER/.urb/chk` is a directory; the reason when it is not.
pub fn check_chk(pier: &Pier) -> Result<(), String> {
    let chk = pier.chk();
    match std::fs::metadata(std_path(&chk)) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!("{}: not a directory", chk.show())),
        Err(err) => Err(format!("{}: {err}", chk.show())),
    }
}

/// `1-3, 7, 9-10`: pages as inclusive ranges.
pub fn ranges_text(pages: &[u32]) -> String {
    image::runs(pages)
        .iter()
        .map(|&(first, count)| match count {
            1 => first.to_string(),
            _ => format!("{first}-{}", first + count - 1),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[[1,3],[7,7],[9,10]]`: pages as inclusive ranges.
pub fn ranges_json(pages: &[u32]) -> Value {
    image::runs(pages)
        .iter()
        .map(|&(first, count)| json!([first, first + count - 1]))
        .collect()
}

/// `n page` or `n pages`.
pub fn pages_text(pages: u64) -> String {
    if pages == 1 {
        "1 page".to_string()
    } else {
        format!("{pages} pages")
    }
}

/// Bytes in a unit a reader takes in at a glance.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What is known about `image.bin` without reading its pages.
pub enum ImageState {
    Missing,
    Unreadable(IoError),
    Present { file: File, bytes: u64, size: Size },
}

/// Opens `image.bin` read-only and classifies its length as boot does.
pub fn image_state(pier: &Pier) -> ImageState {
    let file = match File::open_regular(&pier.image(), looms::sys::O_RDONLY, 0) {
        Ok(file) => file,
        Err(err) if err.errno == looms::sys::ENOENT => return ImageState::Missing,
        Err(err) => return ImageState::Unreadable(err),
    };
    match file.len() {
        Ok(bytes) => ImageState::Present {
            file,
            bytes,
            size: image::classify(bytes),
        },
        Err(err) => ImageState::Unreadable(err),
    }
}

/// Why an image of this size cannot be booted, if it cannot.
pub fn size_problem(size: Size) -> Option<String> {
    match size {
        Size::Pages(pages) if pages.saturating_add(1) >= u3a_pages => Some(format!(
            "{} is too big for any loom (at most {} pages)",
            pages_text(pages.into()),
            u3a_pages - 2
        )),
        Size::Pages(_) => None,
        Size::Odd(bytes) => Some(format!(
            "odd size: {bytes} bytes is not a whole number of {PAGE_BYTES}-byte pages"
        )),
        Size::Overflow(bytes) => Some(format!("overflow: {bytes} bytes is too many pages")),
    }
}

/// Whether an image of `bytes` is larger than any loom could hold: no
/// command reads such a file (a sparse one of terabytes would take hours).
pub fn beyond_any_loom(bytes: u64) -> bool {
    bytes > u64::from(u3a_pages) * PAGE_BYTES as u64
}

/// The pages in an image of `size`, when it has a whole number.
pub fn whole_pages(size: Size) -> Option<u32> {
    match size {
        Size::Pages(pages) => Some(pages),
        _ => None,
    }
}

/// Which patch file a decoding error is about.
pub fn corrupt_file(why: &Option<PatchError>) -> &'static str {
    match why {
        None | Some(PatchError::MemoryLength { .. }) | Some(PatchError::PageChecksum { .. }) => {
            "memory.bin"
        }
        Some(PatchError::NotRegular { file, .. }) => file,
        Some(_) => "control.bin",
    }
}

/// Why a patch is corrupt, in words.
pub fn corrupt_reason(why: &Option<PatchError>) -> String {
    match why {
        None => "missing: control.bin has no memory.bin (a torn patch)".to_string(),
        Some(err) => err.to_string(),
    }
}

/// A pending patch, in words: what it is and what boot does with it.
pub fn pending_text(pier: &Pier, pending: &Pending, image_pages: Option<u32>) -> String {
    let chk = pier.chk().show();
    match pending {
        Pending::Nothing => "none".to_string(),
        Pending::OrphanMemory => format!(
            "{chk}/memory.bin without control.bin (left by a crash at the end of a save); \
             boot removes it"
        ),
        Pending::Valid(valid) => {
            let pages: Vec<u32> = valid.control.lines.iter().map(|l| l.pag_w).collect();
            let now = match image_pages {
                Some(now) => format!(" (now {now})"),
                None => String::new(),
            };
            format!(
                "valid, version {U3P_VERLAT}, every checksum ok: {} ({}); boot applies it \
                 and the image becomes {}{now}",
                pages_text(pages.len() as u64),
                ranges_text(&pages),
                pages_text(valid.control.total.into()),
            )
        }
        Pending::Corrupt(why) => format!(
            "corrupt: {chk}/{}: {}; boot discards it and applies nothing",
            corrupt_file(why),
            corrupt_reason(why)
        ),
        Pending::Unreadable(err) => {
            format!("unreadable: {err}; boot keeps it and stops")
        }
    }
}

/// A pending patch as JSON (the `patch` object of `info` and `verify`).
pub fn pending_json(pending: &Pending) -> Value {
    match pending {
        Pending::Nothing => json!({ "state": "none" }),
        Pending::OrphanMemory => json!({ "state": "orphan_memory", "boot": "remove memory.bin" }),
        Pending::Valid(valid) => {
            let pages: Vec<u32> = valid.control.lines.iter().map(|l| l.pag_w).collect();
            json!({
                "state": "valid",
                "version": U3P_VERLAT,
                "pages": pages.len(),
                "page_ranges": ranges_json(&pages),
                "total_pages": valid.control.total,
                "checksums_valid": true,
                "boot": "apply",
            })
        }
        Pending::Corrupt(why) => {
            let mut out = json!({
                "state": "corrupt",
                "file": corrupt_file(why),
                "reason": corrupt_reason(why),
                "boot": "discard",
            });
            match why {
                Some(PatchError::Version { have }) => out["version"] = json!(have),
                Some(PatchError::MetaChecksum { .. }) | Some(PatchError::PageChecksum { .. }) => {
                    out["checksums_valid"] = json!(false)
                }
                _ => {}
            }
            out
        }
        Pending::Unreadable(err) => json!({
            "state": "unreadable",
            "reason": err.to_string(),
            "boot": "keep it and stop",
        }),
    }
}

/// Prints `value` as one line of JSON on stdout; path bytes that are not
/// UTF-8 become U+FFFD, as JSON strings need.
pub fn print_json(value: &Value) {
    outln!("{}", looms::msg::lossy(&value.to_string()));
}
