//! Crash recovery and copies, shared by boot (`snapshot`) and the `looms`
//! command: reading a pending patch and checking all of it, applying it,
//! removing it, and copying an image durably. Results are typed; callers
//! decide what to print and whether to stop.

use crate::image::{self, Dir, File, IoError, Path, Size};
use crate::loom::{self, PAGE_BYTES};
use crate::patch::{self, Control, PatchError};
use crate::pier::{self, LockError, Pier};
use crate::sys;

/// A complete patch whose every page matched its checksum.
#[derive(Debug)]
pub struct ValidPatch {
    pub control: Control,
    pub memory: File,
}

/// What `.urb/chk` holds besides the image.
#[derive(Debug)]
pub enum Pending {
    /// No patch files.
    Nothing,
    /// `memory.bin` without `control.bin`: left by a crash between the two
    /// unlinks that end a save; it means nothing and is removed.
    OrphanMemory,
    /// A complete patch: apply it.
    Valid(ValidPatch),
    /// A torn or corrupt patch: discard it, apply nothing. `None`: the
    /// memory file is missing.
    Corrupt(Option<PatchError>),
    /// A patch that could not be read: keep it, stop.
    Unreadable(IoError),
}

/// Reads and checks whatever patch is pending, without changing anything.
/// `progress` is called with (pages checked, pages in all).
pub fn inspect(pier: &Pier, progress: &mut dyn FnMut(u64, u64)) -> Pending {
    inspect_chk(&pier.chk(), progress)
}

/// `inspect` for the snapshot directory `chk` itself (`<pier>/.urb/chk`,
/// or any directory holding an image and its patch, as a backup's source).
pub fn inspect_chk(chk: &Path, progress: &mut dyn FnMut(u64, u64)) -> Pending {
    let control = Path::join(chk.bytes(), "control.bin");
    let memory_path = Path::join(chk.bytes(), "memory.bin");
    let control_file = match File::open_regular(&control, sys::O_RDONLY, 0) {
        Ok(file) => file,
        Err(err) if err.errno == sys::ENOENT => {
            return if image::exists(&memory_path) {
                Pending::OrphanMemory
            } else {
                Pending::Nothing
            };
        }
        Err(err) => return not_regular("control.bin", err),
    };
    let memory = match File::open_regular(&memory_path, sys::O_RDONLY, 0) {
        Ok(file) => file,
        Err(err) if err.errno == sys::ENOENT => return Pending::Corrupt(None),
        Err(err) => return not_regular("memory.bin", err),
    };
    match check(&control_file, memory, progress) {
        Ok(valid) => Pending::Valid(valid),
        Err(Ok(why)) => Pending::Corrupt(Some(why)),
        Err(Err(err)) => Pending::Unreadable(err),
    }
}

/// A patch file that could not be opened: corrupt when it is not a regular
/// file (nothing a save writes), else unreadable.
fn not_regular(file: &'static str, err: IoError) -> Pending {
    if err.errno < 0 || err.errno == sys::EISDIR {
        Pending::Corrupt(Some(PatchError::NotRegular {
            file,
            why: crate::msg::strerror(err.errno),
        }))
    } else {
        Pending::Unreadable(err)
    }
}

/// Every check of a patch: the control block's length (before allocating
/// for it), version, checksum and page order, memory.bin's exact length,
/// and every page's checksum.
fn check(
    control_file: &File,
    memory: File,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ValidPatch, Result<PatchError, IoError>> {
    let len = control_file.len().map_err(Err)?;
    patch::check_control_len(len).map_err(Ok)?;
    let mut bytes = vec![0u8; len as usize];
    control_file.read_exact_at(&mut bytes, 0).map_err(Err)?;
    let control = patch::decode(&bytes).map_err(Ok)?;
    control
        .check_memory_len(memory.len().map_err(Err)?)
        .map_err(Ok)?;
    let total = control.lines.len() as u64;
    const CHUNK: usize = 64;
    let mut buf = vec![0u8; PAGE_BYTES * CHUNK.min(control.lines.len()).max(1)];
    let mut index = 0;
    while index < control.lines.len() {
        let take = CHUNK.min(control.lines.len() - index);
        let chunk = &mut buf[..take * PAGE_BYTES];
        memory
            .read_exact_at(chunk, (index * PAGE_BYTES) as u64)
            .map_err(Err)?;
        for (offset, page) in chunk.chunks_exact(PAGE_BYTES).enumerate() {
            control.verify_page(index + offset, page).map_err(Ok)?;
        }
        index += take;
        progress(index as u64, total);
    }
    Ok(ValidPatch { control, memory })
}

/// Writes a checked patch into `image`: exactly `tot_w` pages long, every
/// patch page in place, then durable (`fdatasync`). `progress` is called
/// with (pages written, pages in all).
pub fn apply(
    valid: &ValidPatch,
    image: &File,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), IoError> {
    image::resize(image, valid.control.total)?;
    const CHUNK: u32 = 256;
    let pages: Vec<u32> = valid.control.lines.iter().map(|line| line.pag_w).collect();
    let mut buf = vec![0u8; loom::bytes_of(CHUNK.min(pages.len() as u32).max(1))];
    let mut index = 0usize;
    for (first, count) in image::runs(&pages) {
        let mut done = 0;
        while done < count {
            let take = CHUNK.min(count - done);
            let bytes = &mut buf[..loom::bytes_of(take)];
            valid
                .memory
                .read_exact_at(bytes, (index * PAGE_BYTES) as u64)?;
            image.write_all_at(bytes, loom::bytes_of(first + done) as u64)?;
            index += take as usize;
            done += take;
            progress(index as u64, pages.len() as u64);
        }
    }
    image.sync_data()
}

/// What removing a patch met: the errors of each step, in order.
#[derive(Debug, Default)]
pub struct Removal {
    pub control: Option<IoError>,
    pub memory: Option<IoError>,
    pub directory: Option<IoError>,
}

/// Removes both patch files, control.bin first (without it memory.bin means
/// nothing), then makes the removal durable with an `fsync` of `.urb/chk`.
/// A missing file is reported (`ENOENT`), as the reference reports it.
pub fn remove_patch(pier: &Pier) -> Removal {
    Removal {
        control: image::unlink(&pier.control()).err(),
        memory: image::unlink(&pier.memory()).err(),
        directory: image::sync_dir(&pier.chk()).err(),
    }
}

impl Removal {
    /// Whether every step succeeded.
    pub fn complete(&self) -> bool {
        self.control.is_none() && self.memory.is_none() && self.directory.is_none()
    }

    /// The same removal with files that were already gone counted as removed.
    pub fn gone_is_removed(self) -> Removal {
        let keep = |err: Option<IoError>| err.filter(|err| err.errno != sys::ENOENT);
        Removal {
            control: keep(self.control),
            memory: keep(self.memory),
            directory: self.directory,
        }
    }
}

/// Removes an orphan memory.bin, durably.
pub fn remove_orphan(pier: &Pier) -> Result<(), IoError> {
    image::unlink(&pier.memory())?;
    image::sync_dir(&pier.chk())
}

/// Why a backup failed.
#[derive(Debug)]
pub enum BackupError {
    /// The source image is missing, unreadable or of a corrupt size;
    /// `refused`: it is not a regular file, and why.
    Source {
        size: Option<u64>,
        refused: Option<IoError>,
    },
    /// Without overwrite: the destination directory exists (`Some(EEXIST)`)
    /// or could not be made.
    Destination { errno: i32 },
    /// The source or the destination is the snapshot directory of a pier
    /// that a process (this one or another) is running: the copy could be
    /// torn, or would be renamed under the running process.
    InUse { dir: Path },
    /// Creating the temporary copy failed.
    Create(IoError),
    /// Copying, syncing or renaming failed; the temporary copy was removed.
    Copy(IoError),
    /// A patch is pending in the source and could not be read: the image
    /// may be half-written, and the copy would be torn. Nothing copied.
    Patch(IoError),
}

/// The outcome of a backup that succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copied {
    /// `len` bytes copied.
    Bytes(u64),
    /// The image copied, then the complete patch pending beside it applied
    /// to the copy (a save was interrupted while it wrote the image: the
    /// source image may be half old, half new); `len` bytes in the end.
    Patched { len: u64, pages: usize },
    /// The source and the destination are the same file: nothing to do.
    Same(u64),
}

/// Locks `dir` for the copy unless `held` (the directory whose lock the
/// caller holds) is this directory: a running pier's own snapshot, which
/// the caller knows is quiescent. `Err(InUse)` when anyone else holds it;
/// a file system without locks goes on unguarded.
fn lock_for_copy(
    dir: &Dir,
    held: Option<(u64, u64)>,
    own_is_busy: bool,
) -> Result<Option<Dir>, BackupError> {
    let in_use = || BackupError::InUse {
        dir: dir.path().clone(),
    };
    if held.is_some() && dir.identity().ok() == held {
        return if own_is_busy { Err(in_use()) } else { Ok(None) };
    }
    match pier::lock_dir(dir.path()) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Busy) => Err(in_use()),
        Err(LockError::Open(_) | LockError::Unsupported(_)) => Ok(None),
    }
}

/// Copies `<from>/image.bin` to `<to>/image.bin`: the source is checked
/// before anything is created; the copy goes to `image.bin.tmp`, is synced,
/// renamed over `image.bin` and the directory synced, so the destination is
/// always the old file or a complete, durable copy. Names in `<to>` are
/// reached through the directory (`openat`, `renameat`), so the longest
/// path ever used is the one the caller gave.
///
/// `held` is the identity of a directory whose lock the caller holds (the
/// pier it is running): it may be the source, and may not be the
/// destination. Any other directory locked by a running pier is refused as
/// either, and both are locked for the copy. When the two are the same
/// file the copy is a no-op that succeeds (the reference rewrote the file
/// onto itself).
pub fn backup(
    from: &Path,
    to: &Path,
    overwrite: bool,
    held: Option<(u64, u64)>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Copied, BackupError> {
    let source = File::open_regular(&Path::join(from.bytes(), "image.bin"), sys::O_RDONLY, 0)
        .map_err(|err| BackupError::Source {
            size: None,
            refused: (err.errno < 0 || err.errno == sys::EISDIR).then_some(err),
        })?;
    let source_size = source.len().map(image::classify);
    let len = match source_size {
        Ok(Size::Pages(pages)) => loom::bytes_of(pages) as u64,
        Ok(Size::Odd(len)) | Ok(Size::Overflow(len)) => {
            return Err(BackupError::Source {
                size: Some(len),
                refused: None,
            })
        }
        Err(_) => {
            return Err(BackupError::Source {
                size: None,
                refused: None,
            })
        }
    };
    if !overwrite {
        image::mkdir(to, 0o700).map_err(|errno| BackupError::Destination { errno })?;
        // The new directory is an entry in its parent: make it durable, or
        // a power loss can take the directory and the copy in it.
        image::sync_dir(&image::parent(to)).map_err(BackupError::Copy)?;
    }
    let target = Dir::open(to).map_err(|err| {
        BackupError::Create(IoError {
            path: Path::join(to.bytes(), "image.bin").show(),
            ..err
        })
    })?;
    if target.identity_of("image.bin").is_some()
        && target.identity_of("image.bin") == source.identity().ok()
    {
        return Ok(Copied::Same(len));
    }
    let source_dir = Dir::open(from).map_err(|_| BackupError::Source {
        size: None,
        refused: None,
    })?;
    let _source_lock = lock_for_copy(&source_dir, held, false)?;
    let _target_lock = lock_for_copy(&target, held, true)?;
    // A backup is one whole generation: with a complete patch pending (a
    // crash during the image write), the image may be half-written, and the
    // copy gets the patch applied, checked as boot checks it. A torn or
    // corrupt patch means the image was not touched yet: it is whole.
    let pending = match inspect_chk(from, &mut |_, _| {}) {
        Pending::Valid(valid) => Some(valid),
        Pending::Unreadable(err) => return Err(BackupError::Patch(err)),
        Pending::Nothing | Pending::OrphanMemory | Pending::Corrupt(_) => None,
    };

    const TEMPORARY: &str = "image.bin.tmp";
    // Whatever a crash or an odd file left under the temporary name goes:
    // the copy is created afresh, so a FIFO there cannot take it.
    match target.unlink(TEMPORARY) {
        Err(err) if err.errno != sys::ENOENT => return Err(BackupError::Create(err)),
        _ => {}
    }
    let copy = target
        .open_regular(TEMPORARY, sys::O_RDWR | sys::O_CREAT | sys::O_EXCL, 0o666)
        .map_err(BackupError::Create)?;
    let written = image::copy_with_progress(&source, &copy, len, progress)
        .and_then(|()| match &pending {
            // Resizes to the patch's length and syncs.
            Some(valid) => apply(valid, &copy, &mut |_, _| {}),
            None => copy.sync_data(),
        })
        // Some file systems report write-back errors only here.
        .and_then(|()| copy.close())
        .and_then(|()| target.rename(TEMPORARY, "image.bin"))
        .and_then(|()| target.sync());
    if let Err(err) = written {
        let _ = target.unlink(TEMPORARY);
        return Err(BackupError::Copy(err));
    }
    Ok(match pending {
        Some(valid) => Copied::Patched {
            len: loom::bytes_of(valid.control.total) as u64,
            pages: valid.control.lines.len(),
        },
        None => Copied::Bytes(len),
    })
}
