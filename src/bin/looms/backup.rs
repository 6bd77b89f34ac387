//! `looms backup PIER DEST`: copies the image into `DEST/image.bin` with the
//! library's backup (the code behind `u3e_backup`): checked source, copy to
//! `image.bin.tmp`, sync, rename, directory sync.

use std::path::Path as StdPath;

use looms::image;
use looms::pier::{self, LockError};
use looms::recovery::{self, BackupError, Copied};

use crate::holder;
use crate::progress::{Progress, Unit};
use crate::report::{self, ImageState, Status};

pub fn run(dir: &StdPath, dest: &StdPath, overwrite: bool) -> Status {
    let pier = report::pier_at(dir);
    if let Err(why) = report::check_chk(&pier) {
        errln!("looms: {why}");
        return Status::Error;
    }
    // The source is checked before anything is created at DEST.
    match report::image_state(&pier) {
        ImageState::Present { size, .. } => {
            if let Some(why) = report::size_problem(size) {
                errln!("looms: {}: {why}; nothing copied", pier.image().show());
                return Status::Error;
            }
        }
        ImageState::Missing => {
            errln!("looms: {}: missing", pier.image().show());
            return Status::Error;
        }
        ImageState::Unreadable(err) => {
            errln!("looms: {err}");
            return Status::Error;
        }
    }
    // Held during the copy: a runtime booting the pier now could change it.
    let lock = match pier::lock(&pier) {
        Ok(lock) => lock,
        Err(LockError::Busy) => {
            let who = match holder::holders(report::std_path(&pier.chk())).first() {
                Some(pid) => format!("pid {pid}"),
                None => "another process".to_string(),
            };
            errln!(
                "looms: {}: in use by {who}; stop it first (a running pier backs itself up)",
                dir.display()
            );
            return Status::Busy;
        }
        Err(LockError::Open(err) | LockError::Unsupported(err)) => {
            errln!("looms: {err}");
            return Status::Error;
        }
    };
    if image::exists(&pier.control()) && !image::exists(&pier.memory()) {
        errln!(
            "looms: note: a torn patch is pending in {}; the image is the last whole snapshot \
             (boot discards the patch), and so is the backup",
            pier.chk().show()
        );
    }
    if overwrite {
        if let Err(err) = std::fs::create_dir_all(dest) {
            errln!("looms: {}: {err}", dest.display());
            return Status::Error;
        }
    }
    let copied = {
        let mut bar = Progress::new("copying image", Unit::Bytes);
        recovery::backup(
            &pier.chk(),
            &report::lib_path(dest),
            overwrite,
            lock.identity().ok(),
            &mut |done, total| bar.update(done, total),
        )
    };
    let target = dest.join("image.bin");
    match copied {
        Ok(Copied::Same(_)) => {
            outln!(
                "{}: is the pier's own image {}; nothing to copy",
                target.display(),
                pier.image().show()
            );
            Status::Ok
        }
        Ok(Copied::Patched { len, pages }) => {
            outln!(
                "{}: {} ({len} bytes) copied from {}, with the pending patch ({}) applied: \
                 the save that was interrupted while it wrote the image",
                target.display(),
                report::pages_text(len / looms::loom::PAGE_BYTES as u64),
                pier.image().show(),
                report::pages_text(pages as u64)
            );
            Status::Ok
        }
        Err(BackupError::Patch(err)) => {
            errln!(
                "looms: the patch pending in {} cannot be read ({err}); the image may be \
                 half-written; nothing copied",
                pier.chk().show()
            );
            Status::Error
        }
        Ok(Copied::Bytes(bytes)) => {
            outln!(
                "{}: {} ({bytes} bytes) copied from {}",
                target.display(),
                report::pages_text(bytes / looms::loom::PAGE_BYTES as u64),
                pier.image().show()
            );
            Status::Ok
        }
        Err(BackupError::Source {
            refused: Some(err), ..
        }) => {
            errln!("looms: {err}; nothing copied");
            Status::Error
        }
        Err(BackupError::Source {
            size: Some(bytes), ..
        }) => {
            let why = report::size_problem(image::classify(bytes)).unwrap_or_default();
            errln!("looms: {}: {why}; nothing copied", pier.image().show());
            Status::Error
        }
        Err(BackupError::Source { size: None, .. }) => {
            errln!(
                "looms: {}: cannot be read; nothing copied",
                pier.image().show()
            );
            Status::Error
        }
        Err(BackupError::InUse { dir }) => {
            errln!(
                "looms: {}: the snapshot of a running pier; nothing copied",
                dir.show()
            );
            Status::Busy
        }
        Err(BackupError::Destination { errno }) => {
            let why = looms::msg::strerror(errno);
            errln!("looms: {}: {why}; nothing copied", dest.display());
            Status::Error
        }
        Err(BackupError::Create(err)) | Err(BackupError::Copy(err)) => {
            errln!("looms: {err}; {} is unchanged", target.display());
            Status::Error
        }
    }
}
