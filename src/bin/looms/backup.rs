//! `looms backup PIER DEST`: copies the image into `DEST/image.bin` with the
//! library's backup (the code behind `u3e_backup`): checked source, copy to
//! `image.bin.tmp`, sync, rename, directory sync.

use std::path::Path as StdPath;

use looms::image;
use looms::pier::{self, LockError};
use looms::recovery::{self, BackupError};

use crate::holder;
use crate::progress::{Progress, Unit};
use crate::report::{self, ImageState, Status};

pub fn run(dir: &StdPath, dest: &StdPath, overwrite: bool) -> Status {
    let pier = report::pier_at(dir);
    if let Err(why) = report::check_chk(&pier) {
        eprintln!("looms: {why}");
        return Status::Error;
    }
    // The source is checked before anything is created at DEST.
    match report::image_state(&pier) {
        ImageState::Present { size, .. } => {
            if let Some(why) = report::size_problem(size) {
                eprintln!("looms: {}: {why}; nothing copied", pier.image().show());
                return Status::Error;
            }
        }
        ImageState::Missing => {
            eprintln!("looms: {}: missing", pier.image().show());
            return Status::Error;
        }
        ImageState::Unreadable(err) => {
            eprintln!("looms: {err}");
            return Status::Error;
        }
    }
    // Held during the copy: a runtime booting the pier now could change it.
    let _lock = match pier::lock(&pier) {
        Ok(lock) => lock,
        Err(LockError::Busy) => {
            let who = match holder::holders(report::std_path(&pier.image())).first() {
                Some(pid) => format!("pid {pid}"),
                None => "another process".to_string(),
            };
            eprintln!(
                "looms: {}: in use by {who}; stop it first (a running pier backs itself up)",
                dir.display()
            );
            return Status::Busy;
        }
        Err(LockError::Open(err) | LockError::Unsupported(err)) => {
            eprintln!("looms: {err}");
            return Status::Error;
        }
    };
    if image::exists(&pier.control()) || image::exists(&pier.memory()) {
        eprintln!(
            "looms: note: a patch is pending in {}; the backup is the image without it \
             (run `looms recover` first to include it)",
            pier.chk().show()
        );
    }
    if overwrite {
        if let Err(err) = std::fs::create_dir_all(dest) {
            eprintln!("looms: {}: {err}", dest.display());
            return Status::Error;
        }
    }
    let copied = {
        let mut bar = Progress::new("copying image", Unit::Bytes);
        recovery::backup(
            &pier.chk(),
            &report::lib_path(dest),
            overwrite,
            &mut |done, total| bar.update(done, total),
        )
    };
    let target = dest.join("image.bin");
    match copied {
        Ok(bytes) => {
            println!(
                "{}: {} ({bytes} bytes) copied from {}",
                target.display(),
                report::pages_text(bytes / looms::loom::PAGE_BYTES as u64),
                pier.image().show()
            );
            Status::Ok
        }
        Err(BackupError::Source { size: Some(bytes) }) => {
            let why = report::size_problem(image::classify(bytes)).unwrap_or_default();
            eprintln!("looms: {}: {why}; nothing copied", pier.image().show());
            Status::Error
        }
        Err(BackupError::Source { size: None }) => {
            eprintln!(
                "looms: {}: cannot be read; nothing copied",
                pier.image().show()
            );
            Status::Error
        }
        Err(BackupError::Destination { errno }) => {
            let why = looms::msg::strerror(errno);
            eprintln!("looms: {}: {why}; nothing copied", dest.display());
            Status::Error
        }
        Err(BackupError::Create(err)) | Err(BackupError::Copy(err)) => {
            eprintln!("looms: {err}; {} is unchanged", target.display());
            Status::Error
        }
    }
}
