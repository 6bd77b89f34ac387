//! `looms verify PIER`: every check boot makes (the image's size, the
//! pending patch and every page checksum in it) and a full read of the
//! image, without changing anything: files are opened read-only, nothing is
//! written, renamed or removed.

use std::path::Path as StdPath;

use looms::abi::u3a_pages;
use looms::image::{File, Size};
use looms::loom::PAGE_BYTES;
use looms::msg::strerror;
use looms::pier::{self, Pier};
use looms::recovery::{self, Pending};
use serde_json::{json, Value};

use crate::holder;
use crate::progress::{Progress, Unit};
use crate::report::{self, ImageState, Status};

/// What the checks found: problems stop a clean boot, notes do not.
#[derive(Default)]
struct Findings {
    problems: Vec<(String, String)>,
    notes: Vec<(String, String)>,
}

impl Findings {
    fn problem(&mut self, path: String, reason: impl Into<String>) {
        self.problems.push((path, reason.into()));
    }

    fn note(&mut self, path: String, text: impl Into<String>) {
        self.notes.push((path, text.into()));
    }
}

pub fn run(dir: &StdPath, as_json: bool) -> Status {
    let pier = report::pier_at(dir);
    let mut found = Findings::default();
    let mut pending = Pending::Nothing;
    let mut image_json = Value::Null;
    match report::check_chk(&pier) {
        Err(why) => {
            let (path, reason) = why.split_once(": ").unwrap_or((&why, ""));
            found.problem(path.to_string(), reason);
        }
        Ok(()) => {
            pending = {
                let mut bar = Progress::new("checking patch", Unit::Pages);
                recovery::inspect(&pier, &mut |done, total| bar.update(done, total))
            };
            check_patch(&pier, &pending, &mut found);
            image_json = check_image(&pier, &pending, &mut found);
            check_lock(&pier, &mut found);
        }
    }
    let clean = found.problems.is_empty();
    let patched = matches!(pending, Pending::Valid(_));
    if as_json {
        report::print_json(&json!({
            "pier": dir.to_string_lossy(),
            "clean": clean,
            "applies_patch": clean && patched,
            "problems": pairs_json(&found.problems, "reason"),
            "notes": pairs_json(&found.notes, "note"),
            "image": image_json,
            "patch": report::pending_json(&pending),
        }));
    } else {
        for (path, text) in &found.notes {
            outln!("note: {path}: {text}");
        }
        for (path, reason) in &found.problems {
            outln!("{path}: {reason}");
        }
        outln!("{}", summary(dir, &found, patched));
    }
    if clean {
        Status::Ok
    } else {
        Status::No
    }
}

fn summary(dir: &StdPath, found: &Findings, patched: bool) -> String {
    match (found.problems.len(), patched) {
        (0, false) => format!("{}: boots cleanly", dir.display()),
        (0, true) => format!(
            "{}: boots cleanly after boot applies the pending patch",
            dir.display()
        ),
        (1, _) => format!("{}: 1 problem; would not boot cleanly", dir.display()),
        (n, _) => format!("{}: {n} problems; would not boot cleanly", dir.display()),
    }
}

fn pairs_json(pairs: &[(String, String)], what: &str) -> Value {
    pairs
        .iter()
        .map(|(path, text)| json!({ "path": path, what: text }))
        .collect()
}

/// The pending patch, checked as boot checks it.
fn check_patch(pier: &Pier, pending: &Pending, found: &mut Findings) {
    let chk = pier.chk().show();
    match pending {
        Pending::Nothing => {}
        Pending::OrphanMemory => found.note(
            pier.memory().show(),
            "orphan (no control.bin): left by a crash at the end of a save; boot removes it",
        ),
        Pending::Valid(valid) => {
            let total = valid.control.total;
            if total.saturating_add(1) >= u3a_pages {
                found.problem(
                    pier.control().show(),
                    format!("the patch makes an image of {total} pages, too big for any loom"),
                );
            } else {
                found.note(
                    pier.control().show(),
                    format!(
                        "valid patch pending ({}, every checksum ok): boot applies it and \
                         the image becomes {}",
                        report::pages_text(valid.control.lines.len() as u64),
                        report::pages_text(total.into())
                    ),
                );
            }
        }
        Pending::Corrupt(why) => found.problem(
            format!("{chk}/{}", report::corrupt_file(why)),
            format!("{}; boot discards the patch", report::corrupt_reason(why)),
        ),
        Pending::Unreadable(err) => found.problem(
            err.path.clone(),
            format!(
                "{} {}: boot keeps the patch and stops",
                err.op,
                strerror(err.errno)
            ),
        ),
    }
}

/// The image: its size as boot judges it (after a valid patch, which
/// rewrites the size), then every byte read once.
fn check_image(pier: &Pier, pending: &Pending, found: &mut Findings) -> Value {
    let path = pier.image().show();
    let (file, bytes, size) = match report::image_state(pier) {
        ImageState::Missing => {
            found.problem(path, "missing: boot would start a new, empty pier");
            return json!({ "exists": false });
        }
        ImageState::Unreadable(err) => {
            found.problem(path, err.to_string());
            return json!({ "exists": true, "error": err.to_string() });
        }
        ImageState::Present { file, bytes, size } => (file, bytes, size),
    };
    let patched = matches!(pending, Pending::Valid(_));
    if let Some(why) = report::size_problem(size) {
        match size {
            Size::Odd(_) if patched => found.note(
                path.clone(),
                format!("{why}; the pending patch rewrites the image to its full size"),
            ),
            Size::Pages(_) if patched => {}
            _ => found.problem(path.clone(), why),
        }
    }
    if report::beyond_any_loom(bytes) {
        // Said above as a size problem, unless the pending patch cuts the
        // image to its own length at boot; either way it is not read.
        if patched {
            found.note(
                path.clone(),
                format!("{bytes} bytes is more than any loom holds; not read (the pending patch sets the image's length)"),
            );
        }
    } else if !matches!(size, Size::Overflow(_)) {
        if let Err(reason) = read_all(&file, bytes) {
            found.problem(path, reason);
        }
    }
    json!({
        "exists": true,
        "bytes": bytes,
        "pages": report::whole_pages(size),
        "size_valid": report::size_problem(size).is_none(),
    })
}

/// Reads all `len` bytes of `file`; the pages that could not be read, in
/// words. A chunk that fails is read again page by page to name them.
fn read_all(file: &File, len: u64) -> Result<(), String> {
    const CHUNK_PAGES: u64 = 64;
    let page_bytes = PAGE_BYTES as u64;
    let chunk = CHUNK_PAGES * page_bytes;
    let mut bar = Progress::new("reading image", Unit::Bytes);
    let mut buf = vec![0u8; chunk.min(len).max(1) as usize];
    let mut bad: Vec<u32> = Vec::new();
    let mut errno = 0;
    let mut at = 0;
    while at < len {
        let end = (at + chunk).min(len);
        if file
            .read_exact_at(&mut buf[..(end - at) as usize], at)
            .is_err()
        {
            let mut page_at = at;
            while page_at < end {
                let page_end = (page_at + page_bytes).min(end);
                let size = (page_end - page_at) as usize;
                if let Err(err) = file.read_exact_at(&mut buf[..size], page_at) {
                    bad.push((page_at / page_bytes) as u32);
                    errno = err.errno;
                }
                page_at = page_end;
            }
        }
        at = end;
        bar.update(at, len);
    }
    match bad.first() {
        None => Ok(()),
        Some(&first) => Err(format!(
            "unreadable: {} ({}), the first at byte {}: {}",
            report::pages_text(bad.len() as u64),
            report::ranges_text(&bad),
            u64::from(first) * page_bytes,
            strerror(errno)
        )),
    }
}

/// A running process may change the files while they are read.
fn check_lock(pier: &Pier, found: &mut Findings) {
    if let Ok(true) = pier::is_locked(pier) {
        let pids = holder::holders(report::std_path(&pier.chk()));
        let who = match pids.first() {
            Some(pid) => format!("pid {pid}"),
            None => "another process".to_string(),
        };
        found.note(
            pier.image().show(),
            format!("in use by {who}: a running pier may change its files while they are checked"),
        );
    }
}
