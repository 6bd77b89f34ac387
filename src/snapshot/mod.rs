//! The protocols the runtime calls, a room each:
//!
//! - `boot.rs`: `u3e_live` (directories, recovery, the lock, the image
//!   mapped or read into the loom);
//! - `save.rs`: `u3e_save` and `looms_save_wait`, from composing the pages
//!   to finishing a background save at its barrier; the durable steps
//!   themselves are in `durable.rs`, the capture of a background save in
//!   `capture.rs`, its worker and barrier in `background.rs`;
//! - `backup.rs`: `u3e_backup` and `u3e_image_open_any`;
//! - here: what they share (the pier, one call at a time, the loom's
//!   mappings and protections after a boot or a save) and the small entry
//!   points (`u3e_toss`, `u3e_stop`, `u3e_yolo`, `u3e_foul`, `u3e_init`,
//!   `u3e_ward`).

mod backup;
mod boot;
mod save;

pub use backup::{backup, image_open_any};
pub use boot::live;
use boot::*;
use save::*;
pub use save::{save, save_wait};

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::abi::{c3_c, c3_i, c3_o, c3_z, c3n, c3y, u3_post};
use crate::background;
use crate::capture;
use crate::dirty;
use crate::durable::{self, Lengths, Source, Written};
use crate::fault;
use crate::image::{self, Dir, File, IoError, Path, Size};
use crate::load;
use crate::loom::{self, Access, Backing, PAGE_BYTES};
use crate::msg::{say, strerror};
use crate::pier::{self, LockError, Pier};
use crate::pool;
use crate::process;
use crate::recovery::{self, BackupError, Pending};
use crate::runtime::{self, ensure};
use crate::sys;
use crate::track;

/// The image's name, as `u3P.img_u.nam_c` holds it.
static IMAGE_NAME: &CStr = c"image";

/// The pier `u3e_live` was given.
fn current_pier() -> Pier {
    // SAFETY: u3P.dir_c is the NUL-terminated path the runtime gave `u3e_live`.
    let dir = unsafe { pool::get().dir_c };
    if dir.is_null() {
        // What events.c's "%s" makes of a null directory: a relative one.
        Pier::new(b"(null)")
    } else {
        // SAFETY: a valid C string, as above.
        Pier::new(unsafe { CStr::from_ptr(dir) }.to_bytes())
    }
}

fn exit_boot() -> ! {
    // The runtime's atexit handlers may call in again: this call is over.
    process::leave();
    // The runtime's atexit handlers run, as the reference's exit runs them.
    sys::exit(1)
}

/// Enters a call that the reference would have asserted on had it been
/// re-entered (`u3e_live`, `u3e_stop`, `u3e_yolo`, `u3e_foul`, `u3e_init`):
/// a second call while one is inside says why and bails, at once.
fn enter_or_bail(what: &str) -> process::Inside {
    match process::enter() {
        Ok(inside) => {
            process::runtime_call();
            inside
        }
        Err(busy) => {
            process::say_busy(what, busy, "");
            runtime::oops("one snapshot call at a time", file!(), line!())
        }
    }
}

/// Whether the pool's descriptors are this boot's: set by `u3e_live` once
/// the image is open, cleared by `u3e_stop`. Owned by the runtime's thread.
static LIVE: AtomicBool = AtomicBool::new(false);
/// Whether this process has booted a pier before (owned by the runtime's thread).
static BOOTED_BEFORE: AtomicBool = AtomicBool::new(false);

/// The image file the pool holds open.
fn image_file(pier: &Pier) -> std::mem::ManuallyDrop<File> {
    File::borrowed(pool::view().image_fd, &pier.image())
}

// ---------------------------------------------------------------------------
// Mapping the loom

/// `_ce_loom_track` on the pool's bitmap.
fn track_bits(clean: u32, dirty: u32) {
    dirty::track(pool::dirty_map(), clean, dirty);
}

/// Re-protects the guard page when a remap or reprotect clobbered it.
fn restore_guard(old: u32, message: &str) {
    if pool::view().guard < loom::granule_ceil(old) {
        say!("loom: guard on {message}\r\n");
        ensure!(fault::protect_guard());
    }
}

/// The protection of a clean page: read-only, unless the uffd backend tracks
/// stores without it.
fn clean_access() -> Access {
    if track::clean_pages_writable() {
        Access::ReadWrite
    } else {
        Access::Read
    }
}

/// `_ce_loom_protect`: image pages `[0, pages)` clean and read-only, pages
/// `[pages, old)` that the image no longer holds dirty and writable. Only
/// whole granules are clean: the image's last, partial one is dirty.
fn protect_loom(pages: u32, old: u32) {
    let clean = loom::granule_floor(pages);
    if clean > 0 {
        if let Err(errno) = loom::protect_at_limit(0, clean, clean_access()) {
            say!("loom: pure ({pages} pages): {}\r\n", strerror(errno));
            runtime::oops("0", file!(), line!());
        }
    }
    let released = protect_above(pages, old);
    if clean < pages {
        if let Err(errno) = loom::protect_at_limit(clean, pages - clean, Access::ReadWrite) {
            say!(
                "loom: foul ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            runtime::oops("0", file!(), line!());
        }
    }
    track_bits(clean, pages - clean + released);
    track::arm(clean);
}

/// Pages `[pages, old)`, which the image no longer holds, writable (no_demand);
/// returns how many.
fn protect_above(pages: u32, old: u32) -> u32 {
    if old <= pages {
        return 0;
    }
    let released = old - pages;
    if let Err(errno) = loom::protect_at_limit(pages, released, Access::ReadWrite) {
        say!(
            "loom: foul ({pages} pages, {old} old): {}\r\n",
            strerror(errno)
        );
        runtime::oops("0", file!(), line!());
    }
    restore_guard(old, "reprotect");
    released
}

/// `_ce_loom_mapf`: maps the image's `pages` read-only and private at the
/// bottom of the loom; pages `[pages, old)` get fresh writable memory. The
/// mapping covers the file exactly (the kernel ends it at the file's last
/// page, never past the file); the image's last, partial granule is dirty
/// and writable.
fn map_image(fd: c3_i, pages: u32, old: u32) {
    let writable = track::clean_pages_writable();
    if pages > 0 {
        if let Err(errno) = loom::remap_at_limit(0, pages, Backing::FilePrivate { fd, writable }) {
            say!(
                "loom: file-backed mmap failed ({pages} pages): {}\r\n",
                strerror(errno)
            );
            runtime::oops("0", file!(), line!());
        }
    }
    let mut released = map_above(pages, old);
    let clean = loom::granule_floor(pages);
    if clean < pages {
        if !writable {
            if let Err(errno) = loom::protect_at_limit(clean, pages - clean, Access::ReadWrite) {
                say!(
                    "loom: foul ({pages} pages, {old} old): {}\r\n",
                    strerror(errno)
                );
                runtime::oops("0", file!(), line!());
            }
        }
        released = released.max(loom::granule_ceil(pages) - pages);
    }
    track_bits(clean, pages - clean + released);
    track::arm(clean);
}

/// Pages `[pages, old)`, which the image no longer holds, get fresh writable
/// memory (the ephemeral file's, in swap mode); returns how many.
fn map_above(pages: u32, old: u32) -> u32 {
    if old <= pages {
        return 0;
    }
    let released = old - pages;
    // A mapping starts on a kernel page: where that is larger than a loom
    // page, the image's own mapping reaches to the next one.
    let kernel = (loom::system_page_size() / loom::PAGE_BYTES).max(1) as u32;
    let start = pages.div_ceil(kernel) * kernel;
    if start >= old {
        return released;
    }
    let view = pool::view();
    if runtime::flag(runtime::SWAP) {
        if let Err(errno) =
            loom::remap_at_limit(start, old - start, Backing::FileShared(view.ephemeral_fd))
        {
            say!(
                "loom: ephemeral mmap failed ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            runtime::oops("0", file!(), line!());
        }
    } else if let Err(errno) = loom::remap_at_limit(start, old - start, Backing::Anonymous) {
        say!(
            "loom: anonymous mmap failed ({pages} pages, {old} old): {}\r\n",
            strerror(errno)
        );
        runtime::oops("0", file!(), line!());
    }
    restore_guard(old, "remap");
    released
}

/// Reinstates protection after a save: the image's pages clean, the rest dirty.
fn settle(old: u32) {
    track::save_boundary();
    let view = pool::view();
    if runtime::flag(runtime::NO_DEMAND) {
        protect_loom(view.image_pages, old);
    } else {
        map_image(view.image_fd, view.image_pages, old);
    }
}

/// Set when removing a patch the image already holds failed: the files are
/// retried before the next save writes its own patch. Re-applying such a
/// patch at a boot in between is harmless, since nothing has written the
/// image since.
static LEFT_PATCH: AtomicBool = AtomicBool::new(false);

/// Prints what removing an applied patch met, in the reference's words,
/// and remembers an incomplete removal for the next save.
fn report_removal(removal: recovery::Removal) {
    LEFT_PATCH.store(!removal.complete(), Ordering::Relaxed);
    durable::say_removal(&removal);
}

// ---------------------------------------------------------------------------
// Toss, stop, tracking

/// `_ce_toss_pages`: drops the contents of pages `[first, first + count)`.
/// A background save still writing any of them from the loom gets them
/// first, as they are (the heap may have shrunk below the pages it saves).
fn toss_pages(first: u32, count: u32) {
    capture::before_stores(first, first.saturating_add(count));
    if let Err(errno) = loom::discard(first, count) {
        say!(
            "loom: madv_dontneed failed ({count} pages at {first}): {}\r\n",
            strerror(errno)
        );
    }
}

/// `u3e_toss`: drops the free pages between the heap and the stack.
pub fn toss(low: u3_post, high: u3_post) {
    // Pages of the image above the heap may have been written since the
    // last harvest; discarding them would lose that.
    track::harvest();
    toss_gap(low, high);
}

/// Drops the pages between the heap and the stack, without harvesting.
/// At the end of a save the image ends at the heap's top and was armed a
/// moment ago, so there is nothing to harvest in the gap.
fn toss_gap(low: u3_post, high: u3_post) {
    let pages = pool::view().pages;
    let heap_end = loom::page_above(low);
    let stack_pages = pages.wrapping_sub(loom::page_of(high));
    toss_pages(
        heap_end,
        pages.wrapping_sub(heap_end.wrapping_add(stack_pages)),
    );
}

/// `u3e_stop`. Idempotent: the descriptors it closes are forgotten (the
/// image's becomes -1, as `u3e_init` leaves it; the ephemeral file's 0, as
/// the reference means "none"), so a second stop closes nothing the
/// runtime opened since.
pub fn stop() {
    let _inside = enter_or_bail("stop");
    barrier();
    let view = pool::view();
    // Before any u3e_live the pool's descriptors are nobody's (events.c
    // closed descriptor 0 here).
    let live = LIVE.swap(false, Ordering::Relaxed);
    if live && view.ephemeral_fd != 0 {
        // Everything above the image lives in the ephemeral file.
        toss_pages(
            view.image_pages,
            view.pages.saturating_sub(view.image_pages),
        );
        // The loom keeps mapping the file once it is closed: a child forked
        // from here on must not be able to store into it.
        fault::detach_swap_file(view.ephemeral_fd);
        // The descriptor the pool owns; nothing to report at shutdown.
        let _ = sys::close(view.ephemeral_fd);
        // A forked child's swap file is its own and unlinked already; the
        // path names its parent's.
        if !process::forked() {
            let configured = runtime::ephemeral_path();
            if !configured.is_null() {
                // SAFETY: the path the runtime configured, a valid C string.
                let path = unsafe { core::ffi::CStr::from_ptr(configured) };
                let _ = sys::unlink(path, false);
            }
        }
    }
    if live && view.image_fd >= 0 {
        // The image descriptor the pool owns; nothing to report at shutdown.
        let _ = sys::close(view.image_fd);
    }
    {
        // SAFETY: single-threaded pool access.
        let pool = unsafe { pool::get() };
        pool.eph_i = 0;
        pool.img_u.fid_i = -1;
    }
    set_unsaved(None);
    pier::release();
    track::stop();
}

/// `u3e_yolo`: stops tracking; the whole loom becomes writable.
pub fn yolo() -> c3_o {
    let _inside = enter_or_bail("yolo");
    barrier();
    track::harvest();
    track::disarm();
    if let Err(errno) = loom::protect(0, pool::view().pages, Access::ReadWrite) {
        say!("loom: yolo: {}\r\n", strerror(errno));
        return c3n;
    }
    ensure!(fault::protect_guard());
    c3y
}

/// `u3e_foul`: marks every page dirty.
pub fn foul() {
    let _inside = enter_or_bail("foul");
    foul_inside();
}

fn foul_inside() {
    barrier();
    track::harvest();
    dirty::foul(pool::dirty_map());
}

/// `u3e_init`: tracking without persistence.
pub fn init() {
    let _inside = enter_or_bail("init");
    barrier();
    track::stop();
    // Where the kernel's page is too large the loom is tracked in 16 KiB
    // pages, as by the reference, and protections fail as they would there.
    if choose_granule().is_err() {
        loom::set_granule(PAGE_BYTES);
    }
    {
        // SAFETY: single-threaded pool access.
        let pool = unsafe { pool::get() };
        pool.pag_w = (runtime::loom_words() >> loom::PAGE_SHIFT) as u32;
        pool.img_u.fid_i = -1;
    }
    foul_inside();
    ensure!(fault::place_guard(0, pool::view().pages));
}

/// `u3e_ward`: moves the guard between the watermarks if it is not there.
pub fn ward(low: u3_post, high: u3_post) {
    let heap_top = loom::page_of(low);
    let stack_top = loom::page_of(high);
    let old = pool::view().guard;
    let granule = loom::granule_of;
    if !(granule(old) > granule(heap_top) && granule(old) < granule(stack_top)) {
        ensure!(fault::place_guard(heap_top, stack_top));
        ensure!(fault::unprotect(old));
        ensure!(dirty::is_dirty(pool::dirty_map(), old));
    }
}
