//! `looms info PIER`: what the snapshot holds and what boot would do with it.

use std::path::Path as StdPath;

use looms::image;
use looms::loom::PAGE_BYTES;
use looms::pier::{self, Pier};
use looms::recovery;
use serde_json::{json, Value};

use crate::holder;
use crate::progress::{Progress, Unit};
use crate::report::{self, ImageState, Status};

pub fn run(dir: &StdPath, as_json: bool) -> Status {
    let pier = report::pier_at(dir);
    if let Err(why) = report::check_chk(&pier) {
        errln!("looms: {why}");
        return Status::Error;
    }
    let (image_json, image_text, image_pages) = image_section(&pier);
    let pending = {
        let mut bar = Progress::new("checking patch", Unit::Pages);
        recovery::inspect(&pier, &mut |done, total| bar.update(done, total))
    };
    let (lock_json, lock_text) = lock_section(&pier);
    let (swap_json, swap_text) = swap_section(&pier);
    let (free_json, free_text) = match image::free_bytes(&pier.chk()) {
        Ok(Some(bytes)) => (
            json!(bytes),
            format!("{} ({bytes} bytes)", report::human_bytes(bytes)),
        ),
        Ok(None) => (
            Value::Null,
            "unknown: the file system keeps no block counts".to_string(),
        ),
        Err(err) => (Value::Null, format!("unknown: {err}")),
    };
    if as_json {
        report::print_json(&json!({
            "pier": dir.to_string_lossy(),
            "image": image_json,
            "patch": report::pending_json(&pending),
            "swap": swap_json,
            "free_bytes": free_json,
            "lock": lock_json,
        }));
    } else {
        outln!("pier:   {}", dir.display());
        outln!("image:  {image_text}");
        outln!(
            "patch:  {}",
            report::pending_text(&pier, &pending, image_pages)
        );
        outln!("swap:   {swap_text}");
        outln!("free:   {free_text}");
        outln!("lock:   {lock_text}");
    }
    Status::Ok
}

/// The image's size: JSON, words, and its whole pages if it has them.
fn image_section(pier: &Pier) -> (Value, String, Option<u32>) {
    let path = pier.image().show();
    match report::image_state(pier) {
        ImageState::Missing => (
            json!({ "path": path, "exists": false }),
            format!("{path}: missing"),
            None,
        ),
        ImageState::Unreadable(err) => (
            json!({ "path": path, "exists": true, "error": err.to_string() }),
            format!("{err}"),
            None,
        ),
        ImageState::Present { bytes, size, .. } => {
            let pages = report::whole_pages(size);
            let problem = report::size_problem(size);
            let text = match (&problem, pages) {
                (None, Some(pages)) => format!(
                    "{path}: {} ({bytes} bytes, {})",
                    report::pages_text(pages.into()),
                    report::human_bytes(bytes)
                ),
                (Some(why), _) => format!("{path}: {why}"),
                (None, None) => unreachable!("a size without pages is a problem"),
            };
            let json = json!({
                "path": path,
                "exists": true,
                "bytes": bytes,
                "pages": pages,
                "page_bytes": PAGE_BYTES,
                "size_valid": problem.is_none(),
                "size_problem": problem,
            });
            (json, text, pages)
        }
    }
}

/// Whether a running process holds the pier's lock, and which.
fn lock_section(pier: &Pier) -> (Value, String) {
    match pier::is_locked(pier) {
        Ok(false) => (
            json!({ "locked": false, "pids": [] }),
            "not locked: no running process has the pier".to_string(),
        ),
        Ok(true) => {
            let pids = holder::holders(report::std_path(&pier.chk()));
            let who = match pids.as_slice() {
                [] => "a process this user cannot see".to_string(),
                [pid] => format!("pid {pid}"),
                many => format!(
                    "pids {}",
                    many.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            (
                json!({ "locked": true, "pids": pids }),
                format!("locked by {who}: the pier is running"),
            )
        }
        // No image: nothing has booted this pier, nothing holds it.
        Err(err) if err.errno == looms::sys::ENOENT => (
            json!({ "locked": false, "pids": [] }),
            "not locked: there is no image.bin".to_string(),
        ),
        Err(err) => (
            json!({ "locked": Value::Null, "error": err.to_string() }),
            format!("unknown: {err}"),
        ),
    }
}

/// The swap file (`limbo.bin`): present or not, and its size.
fn swap_section(pier: &Pier) -> (Value, String) {
    let path = pier.limbo();
    match std::fs::metadata(report::std_path(&path)) {
        Ok(meta) => (
            json!({ "path": path.show(), "present": true, "bytes": meta.len() }),
            format!(
                "{}: {} bytes ({})",
                path.show(),
                meta.len(),
                report::human_bytes(meta.len())
            ),
        ),
        Err(_) => (
            json!({ "path": path.show(), "present": false }),
            "none".to_string(),
        ),
    }
}
