//! The `u3e_*` entry points, with events.c's exact C signatures. Each is a
//! thin skin over `snapshot` or `fault`: argument conversion only.
//!
//! Panics cannot unwind out of these functions: the crate is built with
//! `panic = "abort"` in every profile, and `lib.rs` refuses any other
//! strategy at compile time.

use crate::abi::{c3_c, c3_i, c3_o, c3_z, u3_post, u3e_flaw};
use crate::image::Path;
use crate::{fault, snapshot};

/// Copies the snapshot in `pux_c` to `pax_c`; see `snapshot::backup`.
///
/// # Safety
/// Each path is null or a valid C string.
#[no_mangle]
pub unsafe extern "C" fn u3e_backup(pux_c: *mut c3_c, pax_c: *mut c3_c, ovw_o: c3_o) -> c3_o {
    // SAFETY: the caller passes null or valid C strings.
    let (from, to) = unsafe { (c_path(pux_c), c_path(pax_c)) };
    snapshot::backup(from, to, ovw_o)
}

/// Handles a store fault at loom word `off_p`; async-signal-safe.
#[no_mangle]
pub extern "C" fn u3e_fault(low_p: u3_post, hig_p: u3_post, off_p: u3_post) -> u3e_flaw {
    fault::fault(low_p, hig_p, off_p)
}

/// Saves the dirty heap pages below `low_p`.
#[no_mangle]
pub extern "C" fn u3e_save(low_p: u3_post, hig_p: u3_post) {
    snapshot::save(low_p, hig_p)
}

/// Drops the contents of the free pages between the watermarks.
#[no_mangle]
pub extern "C" fn u3e_toss(low_p: u3_post, hig_p: u3_post) {
    snapshot::toss(low_p, hig_p)
}

/// Boots the snapshot system on the pier `dir_c`; `c3y` when the pier is new.
#[no_mangle]
pub extern "C" fn u3e_live(nuu_o: c3_o, dir_c: *mut c3_c) -> c3_o {
    snapshot::live(nuu_o, dir_c)
}

/// Stops the snapshot system.
#[no_mangle]
pub extern "C" fn u3e_stop() {
    snapshot::stop()
}

/// Stops tracking stores: the whole loom becomes writable.
#[no_mangle]
pub extern "C" fn u3e_yolo() -> c3_o {
    snapshot::yolo()
}

/// Marks every page dirty.
#[no_mangle]
pub extern "C" fn u3e_foul() {
    snapshot::foul()
}

/// Starts tracking without persistence.
#[no_mangle]
pub extern "C" fn u3e_init() {
    snapshot::init()
}

/// Moves the guard page between the watermarks if needed.
#[no_mangle]
pub extern "C" fn u3e_ward(low_p: u3_post, hig_p: u3_post) {
    snapshot::ward(low_p, hig_p)
}

/// Opens (creating) the image `<dir_c><nam_c>.bin`.
///
/// # Safety
/// `nam_c` and `dir_c` are valid C strings; `len_z` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn u3e_image_open_any(
    nam_c: *mut c3_c,
    dir_c: *mut c3_c,
    len_z: *mut c3_z,
) -> c3_i {
    // SAFETY: the caller passes valid C strings (null is refused as events.c
    // would crash on it).
    let (name, dir) = unsafe { (c_path(nam_c), c_path(dir_c)) };
    let (fd, len) = match (name, dir) {
        (Some(name), Some(dir)) => snapshot::image_open_any(&name, &dir),
        _ => (-1, 0),
    };
    if !len_z.is_null() {
        // SAFETY: the caller passes a writable out-parameter.
        unsafe { *len_z = len };
    }
    fd
}

/// Waits until the last `u3e_save` is on disk (`LOOMS_SAVE=background`) and
/// finishes it. Returns 0 when the last save is durable or none is pending,
/// -1 when it wrote nothing and the previous snapshot was kept (the next
/// save writes its pages). A save that failed after its patch was durable
/// ends in the runtime's bail, as a synchronous one does. With synchronous saves it
/// returns at once: 0, or -1 when the last save wrote nothing.
///
/// Threads: any thread may call it, and so may a signal handler. On the
/// runtime's thread (the one that called `u3e_live`) it also finishes the
/// save: the saved pages are mapped back onto the image, which must not
/// race with the runtime's stores. Anywhere else (another thread, a signal
/// handler, while another `u3e_*` call is running) it only waits and
/// returns the same answer; the runtime's next `u3e_*` call finishes the
/// save. In a child forked without exec it returns at once: -1 when a
/// background save was pending at the fork (the parent's worker writes it).
/// Every `u3e_*` function is the runtime's, one call at a time, on its
/// thread, as with events.c; `u3e_fault` may run in a signal handler.
#[no_mangle]
pub extern "C" fn looms_save_wait() -> c3_i {
    snapshot::save_wait()
}

/// A path from a C string; `None` for null.
///
/// # Safety
/// `ptr` is null or a valid C string.
unsafe fn c_path(ptr: *const c3_c) -> Option<Path> {
    // SAFETY: non-null pointers are valid C strings (the caller's contract).
    (!ptr.is_null()).then(|| unsafe { Path::from_c(ptr) })
}
