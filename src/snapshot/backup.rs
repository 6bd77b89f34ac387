//! Backup (`u3e_backup`) and `u3e_image_open_any`: a whole generation of
//! the image, copied or opened, never a torn one.

use super::*;

// ---------------------------------------------------------------------------
// Backup and image_open_any

/// Whether `dir/image.bin` is the image this process has booted.
pub(super) fn is_booted_image(dir: &Path) -> bool {
    let fd = pool::view().image_fd;
    if fd < 0 {
        return false;
    }
    let booted = image_file(&current_pier()).identity().ok();
    let named = Dir::open(dir)
        .ok()
        .and_then(|dir| dir.identity_of("image.bin"));
    booted.is_some() && booted == named
}

/// `u3e_backup`: copies `<from>/image.bin` to `<to>/image.bin`, durably
/// and never torn (see `recovery::backup`). A copy of this pier's image
/// while its last save wrote nothing would hold a snapshot older than the
/// state the runtime asked to save: that save is retried first, and the
/// backup refused if it still cannot complete.
pub fn backup(from: Option<Path>, to: Option<Path>, overwrite: c3_o) -> c3_o {
    let _inside = match process::enter() {
        Ok(inside) => inside,
        Err(busy) => {
            process::say_busy("image backup", busy, "; nothing copied");
            return c3n;
        }
    };
    // Only the runtime's thread finishes a background save (or retries one
    // that wrote nothing); on any other the image is copied once durable.
    let on_runtime_thread = process::on_runtime_thread();
    if on_runtime_thread {
        barrier();
    } else {
        background::wait_only();
    }
    let (Some(from), Some(to)) = (from, to) else {
        say!("loom: image backup: bad path\r\n");
        return c3n;
    };
    if let Some((low, high)) = unsaved() {
        if is_booted_image(&from) {
            if !on_runtime_thread || !try_save(low, high) {
                say!(
                    "loom: image backup: the last save to {} did not complete; not copying an older snapshot\r\n",
                    from.show()
                );
                return c3n;
            }
            set_unsaved(None);
        }
    }
    let held = pier::held_identity();
    match recovery::backup(&from, &to, overwrite == c3y, held, &mut |_, _| {}) {
        Ok(copied) => {
            if let recovery::Copied::Patched { pages, .. } = copied {
                say!(
                    "loom: image backup: {} holds a save interrupted while it wrote the image; its patch ({pages} pages) is applied to the copy\r\n",
                    from.show()
                );
            }
            say!("loom: image backup complete\r\n");
            c3y
        }
        Err(BackupError::Patch(err)) => {
            say!("loom: image backup: the patch pending beside the image cannot be read ({err}); the image may be half-written, nothing copied\r\n");
            c3n
        }
        Err(BackupError::Source { size, refused }) => {
            if let Some(err) = refused {
                say!("loom: image backup: {err}\r\n");
            }
            if let Some(len) = size {
                say!("loom: image corrupt size {len}\r\n");
            }
            say!("loom: couldn't open image at {}\r\n", from.show());
            c3n
        }
        Err(BackupError::Destination { errno }) => {
            if errno != sys::EEXIST {
                say!("loom: image backup: {}\r\n", strerror(errno));
            }
            c3n
        }
        Err(BackupError::InUse { dir }) => {
            say!(
                "loom: image backup: {} is the snapshot of a running pier; nothing copied\r\n",
                dir.show()
            );
            c3n
        }
        Err(BackupError::Create(err)) => {
            say!("loom: c3_open {}: {}\r\n", err.path, strerror(err.errno));
            c3n
        }
        Err(BackupError::Copy(err)) => {
            say!("loom: image backup: {err}\r\n");
            say!("loom: image backup failed\r\n");
            c3n
        }
    }
}

/// `u3e_image_open_any`: opens (creating) `<dir><name>.bin`; its length in
/// bytes goes to `len`, or 0 and -1 when the file is corrupt or unopenable.
pub fn image_open_any(name: &Path, dir: &Path) -> (c3_i, c3_z) {
    // The image must not be opened while a save writes it; only the call
    // inside the library may finish a save, any other waits for it.
    match process::enter() {
        Ok(_inside) if process::on_runtime_thread() => barrier(),
        _ => {
            background::wait_only();
        }
    }
    let mut bytes = dir.bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name.bytes());
    bytes.extend_from_slice(b".bin");
    let path = Path::from_bytes(bytes);
    let file = match File::open_regular(&path, sys::O_RDWR | sys::O_CREAT, 0o666) {
        Ok(file) => file,
        Err(err) => {
            say!("loom: c3_open {}: {}\r\n", path.show(), strerror(err.errno));
            return (-1, 0);
        }
    };
    match file.len().map(image::classify) {
        Ok(Size::Pages(pages)) => (file.into_raw(), loom::bytes_of(pages)),
        Ok(Size::Odd(bytes)) => {
            say!("loom: image corrupt size {bytes}\r\n");
            (-1, 0)
        }
        Ok(Size::Overflow(bytes)) => {
            say!("loom: image overflow {bytes}\r\n");
            (-1, 0)
        }
        Err(err) => {
            say!("loom: image stat: {}\r\n", strerror(err.errno));
            (-1, 0)
        }
    }
}
