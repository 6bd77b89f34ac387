//! `looms recover PIER`: under the pier's lock, exactly what boot does to a
//! snapshot left by a crash: apply a valid patch, discard a corrupt one,
//! remove an orphan `memory.bin`. An image of odd size with no valid patch
//! is reported and left as it is.

use std::path::Path as StdPath;

use looms::abi::u3a_pages;
use looms::image::{self, File, IoError, Size};
use looms::pier::{self, LockError, Pier};
use looms::recovery::{self, Pending, Removal};

use crate::holder;
use crate::progress::{Progress, Unit};
use crate::report::{self, Status};

pub fn run(dir: &StdPath) -> Status {
    let pier = report::pier_at(dir);
    if let Err(why) = report::check_chk(&pier) {
        errln!("looms: {why}");
        return Status::Error;
    }
    if !image::exists(&pier.image()) {
        errln!(
            "looms: {}: missing; there is no snapshot to recover",
            pier.image().show()
        );
        return Status::Error;
    }
    // Held until the end: no runtime boots the pier while it is repaired.
    let lock = match pier::lock(&pier) {
        Ok(lock) => lock,
        Err(LockError::Busy) => {
            errln!("looms: {}: {}", dir.display(), busy_text(&pier));
            return Status::Busy;
        }
        Err(LockError::Open(err) | LockError::Unsupported(err)) => {
            errln!("looms: {err}");
            return Status::Error;
        }
    };
    let _lock = lock;
    let size = match image_len(&pier) {
        Ok(bytes) => image::classify(bytes),
        Err(err) => {
            errln!("looms: {err}");
            return Status::Error;
        }
    };
    if let Size::Overflow(_) = size {
        // Boot stops before it looks at the patch; so does recover.
        report_size(&pier, size);
        return Status::No;
    }
    let pending = {
        let mut bar = Progress::new("checking patch", Unit::Pages);
        recovery::inspect(&pier, &mut |done, total| bar.update(done, total))
    };
    let applied = match pending {
        Pending::Nothing => {
            outln!("{}: no patch pending", pier.chk().show());
            false
        }
        Pending::Valid(valid) => match apply(&pier, valid) {
            Ok(()) => true,
            Err(status) => return status,
        },
        Pending::Corrupt(why) => {
            outln!(
                "{}/{}: {}; discarding the patch",
                pier.chk().show(),
                report::corrupt_file(&why),
                report::corrupt_reason(&why)
            );
            if let Err(status) = removed(&pier, recovery::remove_patch(&pier)) {
                return status;
            }
            false
        }
        Pending::OrphanMemory => {
            if let Err(err) = recovery::remove_orphan(&pier) {
                errln!("looms: {err}");
                return Status::Error;
            }
            outln!("{}: orphan removed", pier.memory().show());
            false
        }
        Pending::Unreadable(err) => {
            errln!("looms: {err}: the patch is kept; nothing was changed");
            return Status::Error;
        }
    };
    if !applied && report::size_problem(size).is_some() {
        report_size(&pier, size);
        return Status::No;
    }
    match image_len(&pier).map(image::classify) {
        Ok(Size::Pages(pages)) => {
            outln!(
                "{}: boots cleanly ({})",
                dir.display(),
                report::pages_text(pages.into())
            );
            Status::Ok
        }
        Ok(size) => {
            report_size(&pier, size);
            Status::No
        }
        Err(err) => {
            errln!("looms: {err}");
            Status::Error
        }
    }
}

/// The length of the pier's image, which must be a regular file.
fn image_len(pier: &Pier) -> Result<u64, looms::image::IoError> {
    File::open_regular(&pier.image(), looms::sys::O_RDONLY, 0)?.len()
}

fn busy_text(pier: &Pier) -> String {
    let pids = holder::holders(report::std_path(&pier.chk()));
    let who = match pids.first() {
        Some(pid) => format!("pid {pid}"),
        None => "another process".to_string(),
    };
    format!("in use by {who}; stop it first (boot recovers a running pier's snapshot itself)")
}

fn report_size(pier: &Pier, size: Size) {
    let why = report::size_problem(size).unwrap_or_default();
    outln!(
        "{}: {why}; not touched: the pier cannot boot from it (restore a backup)",
        pier.image().show()
    );
}

/// Applies a valid patch to the image and removes it, as boot does.
fn apply(pier: &Pier, valid: recovery::ValidPatch) -> Result<(), Status> {
    let total = valid.control.total;
    if total.saturating_add(1) >= u3a_pages {
        outln!(
            "{}: the patch makes an image of {total} pages, too big for any loom; kept",
            pier.control().show()
        );
        return Err(Status::No);
    }
    let pages = valid.control.lines.len() as u64;
    let mut bar = Progress::new("applying patch", Unit::Pages);
    let written = File::open_regular(&pier.image(), looms::sys::O_RDWR, 0)
        .and_then(|image| recovery::apply(&valid, &image, &mut |done, all| bar.update(done, all)));
    drop(bar);
    if let Err(err) = written {
        errln!("looms: {err}: the patch is kept; run `looms recover` again");
        return Err(Status::Error);
    }
    drop(valid);
    outln!(
        "{}: applied the pending patch: {} written, image.bin is now {}",
        pier.control().show(),
        report::pages_text(pages),
        report::pages_text(total.into())
    );
    removed(pier, recovery::remove_patch(pier))
}

/// Reports the removal of the patch files; an error other than a file
/// already gone fails the command.
fn removed(pier: &Pier, removal: Removal) -> Result<(), Status> {
    let errors: Vec<IoError> = [removal.control, removal.memory, removal.directory]
        .into_iter()
        .flatten()
        .filter(|err| err.errno != looms::sys::ENOENT)
        .collect();
    for err in &errors {
        errln!("looms: {err}");
    }
    if errors.is_empty() {
        outln!(
            "{}: patch removed (control.bin, memory.bin)",
            pier.chk().show()
        );
        Ok(())
    } else {
        Err(Status::Error)
    }
}
