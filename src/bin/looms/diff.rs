//! `looms diff A B`: which pages of two images differ.

use std::path::Path as StdPath;

use looms::image::{self, File, Path};
use looms::loom::PAGE_BYTES;
use serde_json::{json, Value};

use crate::progress::{Progress, Unit};
use crate::report::{self, Status};

/// One of the two images.
struct Side {
    name: &'static str,
    file: File,
    bytes: u64,
    /// A pier with a patch pending (not part of the comparison).
    patch_pending: bool,
}

impl Side {
    fn pages(&self) -> u64 {
        self.bytes.div_ceil(PAGE_BYTES as u64)
    }

    fn json(&self) -> Value {
        json!({
            "path": self.file.path().show(),
            "bytes": self.bytes,
            "pages": self.pages(),
            "size_valid": self.bytes % PAGE_BYTES as u64 == 0,
            "patch_pending": self.patch_pending,
        })
    }

    fn text(&self) -> String {
        let odd = match self.bytes % PAGE_BYTES as u64 {
            0 => "",
            _ => ", the last one partial",
        };
        format!(
            "{}: {}: {} ({} bytes{odd})",
            self.name,
            self.file.path().show(),
            report::pages_text(self.pages()),
            self.bytes
        )
    }
}

/// Where the pages differ.
struct Comparison {
    common: u64,
    differ: Vec<u32>,
}

pub fn run(a: &StdPath, b: &StdPath, as_json: bool) -> Status {
    let sides = open_side("A", a).and_then(|a| Ok((a, open_side("B", b)?)));
    let (a, b) = match sides {
        Ok(sides) => sides,
        Err(why) => {
            errln!("looms: {why}");
            return Status::Error;
        }
    };
    let comparison = match compare(&a, &b) {
        Ok(comparison) => comparison,
        Err(err) => {
            errln!("looms: {err}");
            return Status::Error;
        }
    };
    let only_a: Vec<u32> = (comparison.common..a.pages()).map(|p| p as u32).collect();
    let only_b: Vec<u32> = (comparison.common..b.pages()).map(|p| p as u32).collect();
    let identical = comparison.differ.is_empty() && a.bytes == b.bytes;
    if as_json {
        report::print_json(&json!({
            "a": a.json(),
            "b": b.json(),
            "identical": identical,
            "common_pages": comparison.common,
            "differing_pages": comparison.differ.len(),
            "differ": report::ranges_json(&comparison.differ),
            "only_in_a": report::ranges_json(&only_a),
            "only_in_b": report::ranges_json(&only_b),
        }));
    } else {
        print_text(&a, &b, &comparison, &only_a, &only_b, identical);
    }
    if identical {
        Status::Ok
    } else {
        Status::No
    }
}

fn print_text(
    a: &Side,
    b: &Side,
    comparison: &Comparison,
    only_a: &[u32],
    only_b: &[u32],
    identical: bool,
) {
    outln!("{}", a.text());
    outln!("{}", b.text());
    for side in [a, b] {
        if side.patch_pending {
            outln!(
                "note: {} has a patch pending, not part of this comparison \
                 (`looms recover` applies it)",
                side.name
            );
        }
    }
    if !comparison.differ.is_empty() {
        outln!("differ: {}", report::ranges_text(&comparison.differ));
    }
    if !only_a.is_empty() {
        outln!("only in A: {}", report::ranges_text(only_a));
    }
    if !only_b.is_empty() {
        outln!("only in B: {}", report::ranges_text(only_b));
    }
    if identical {
        outln!("identical: {}", report::pages_text(a.pages()));
        return;
    }
    let mut summary = format!(
        "different: {} of {} in common differ",
        comparison.differ.len(),
        report::pages_text(comparison.common)
    );
    if a.pages() != b.pages() {
        let (longer, more) = if a.pages() > b.pages() {
            ("A", a.pages() - b.pages())
        } else {
            ("B", b.pages() - a.pages())
        };
        summary += &format!("; {longer} has {} more", report::pages_text(more));
    }
    outln!("{summary}");
}

/// Opens an image given as a file, a pier or a directory holding image.bin.
fn open_side(name: &'static str, arg: &StdPath) -> Result<Side, String> {
    let meta = std::fs::metadata(arg).map_err(|err| format!("{}: {err}", arg.display()))?;
    let (path, patch_pending) = if meta.is_dir() {
        let pier = report::pier_at(arg);
        let plain = Path::join(report::lib_path(arg).bytes(), "image.bin");
        if image::exists(&pier.image()) {
            (pier.image(), image::exists(&pier.control()))
        } else if image::exists(&plain) {
            (plain, false)
        } else {
            return Err(format!(
                "{}: holds neither .urb/chk/image.bin nor image.bin",
                arg.display()
            ));
        }
    } else {
        (report::lib_path(arg), false)
    };
    let file = File::open_regular(&path, looms::sys::O_RDONLY, 0).map_err(|err| err.to_string())?;
    let bytes = file.len().map_err(|err| err.to_string())?;
    if report::beyond_any_loom(bytes) {
        return Err(format!(
            "{}: {bytes} bytes is too big for any loom; not compared",
            path.show()
        ));
    }
    Ok(Side {
        name,
        file,
        bytes,
        patch_pending,
    })
}

/// Compares the pages both images have, a chunk at a time.
fn compare(a: &Side, b: &Side) -> Result<Comparison, image::IoError> {
    const CHUNK_PAGES: u64 = 64;
    let common = a.pages().min(b.pages());
    let mut differ = Vec::new();
    let mut buf_a = vec![0u8; PAGE_BYTES * CHUNK_PAGES as usize];
    let mut buf_b = buf_a.clone();
    let mut bar = Progress::new("comparing", Unit::Pages);
    let mut first = 0;
    while first < common {
        let count = CHUNK_PAGES.min(common - first);
        let start = first * PAGE_BYTES as u64;
        let end = (first + count) * PAGE_BYTES as u64;
        let got_a = read_range(a, &mut buf_a, start, end)?;
        let got_b = read_range(b, &mut buf_b, start, end)?;
        for (index, (page_a, page_b)) in got_a
            .chunks(PAGE_BYTES)
            .zip(got_b.chunks(PAGE_BYTES))
            .enumerate()
        {
            // A partial last page never equals a whole one: lengths differ.
            if page_a != page_b {
                differ.push((first + index as u64) as u32);
            }
        }
        first += count;
        bar.update(first, common);
    }
    Ok(Comparison { common, differ })
}

/// The bytes of `side` in `[start, end)`, cut at its end.
fn read_range<'a>(
    side: &Side,
    buf: &'a mut [u8],
    start: u64,
    end: u64,
) -> Result<&'a [u8], image::IoError> {
    let len = (end.min(side.bytes) - start) as usize;
    side.file.read_exact_at(&mut buf[..len], start)?;
    Ok(&buf[..len])
}
