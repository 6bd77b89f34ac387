//! The protocols: boot (`live`), save, toss, backup, stop, and the small
//! entry points around them. The order of durable writes is here, step by
//! step, each with what a crash at that step leaves behind.
//!
//! The save protocol (the reference's order, plus directory syncs):
//!
//! 1. create `control.bin` and `memory.bin` (`O_EXCL`), write the dirty
//!    pages and the control block;            crash: torn patch, discarded at boot
//! 2. `fdatasync` both, `fsync` `.urb/chk`;   crash: complete patch, applied at boot
//! 3. resize `image.bin` to `tot_w` pages, write the pages, `fdatasync`;
//!    crash: half image, patch re-applied at boot
//! 4. unlink `control.bin`, then `memory.bin`, `fsync` `.urb/chk`;
//!    crash: orphan memory.bin, removed at boot
//!
//! The patch is durable (data and names) before the image is touched, and
//! the image is durable before the patch is removed, so a boot after any
//! crash or power loss sees exactly the old snapshot or exactly the new one.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::abi::{c3_c, c3_i, c3_o, c3_z, c3n, c3y, u3_post, u3e_line};
use crate::dirty;
use crate::fault;
use crate::ffi::host::{self, ensure, PageDirectory};
use crate::image::{self, File, IoError, Path, Size};
use crate::load;
use crate::loom::{self, Access, Backing, PAGE_BYTES};
use crate::msg::{say, strerror};
use crate::patch;
use crate::pier::{self, LockError, Pier};
use crate::pool;
use crate::recovery::{self, BackupError, Pending};
use crate::track;

/// The image's name, as `u3P.img_u.nam_c` holds it.
static IMAGE_NAME: &CStr = c"image";

/// The pier `u3e_live` was given.
fn current_pier() -> Pier {
    // SAFETY: u3P.dir_c is the NUL-terminated path the runtime gave `u3e_live`.
    let dir = unsafe { pool::get().dir_c };
    if dir.is_null() {
        Pier::new(b"")
    } else {
        // SAFETY: a valid C string, as above.
        Pier::new(unsafe { CStr::from_ptr(dir) }.to_bytes())
    }
}

fn exit_boot() -> ! {
    // SAFETY: exit runs the runtime's atexit handlers, as the reference does.
    unsafe { libc::exit(1) }
}

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
    if pool::view().guard < old {
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
/// `[pages, old)` that the image no longer holds dirty and writable.
fn protect_loom(pages: u32, old: u32) {
    if pages > 0 {
        if let Err(errno) = loom::protect(0, pages, clean_access()) {
            say!("loom: pure ({pages} pages): {}\r\n", strerror(errno));
            host::oops("0", file!(), line!());
        }
    }
    let mut released = 0;
    if old > pages {
        released = old - pages;
        if let Err(errno) = loom::protect(pages, released, Access::ReadWrite) {
            say!(
                "loom: foul ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
        restore_guard(old, "reprotect");
    }
    track_bits(pages, released);
    track::arm(pages);
}

/// `_ce_loom_mapf`: maps the image's `pages` read-only and private at the
/// bottom of the loom; pages `[pages, old)` get fresh writable memory.
fn map_image(fd: c3_i, pages: u32, old: u32) {
    if pages > 0 {
        let writable = track::clean_pages_writable();
        if let Err(errno) = loom::remap(0, pages, Backing::FilePrivate { fd, writable }) {
            say!(
                "loom: file-backed mmap failed ({pages} pages): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
    }
    let mut released = 0;
    if old > pages {
        released = old - pages;
        let view = pool::view();
        if host::flag(host::SWAP) {
            if let Err(errno) = loom::remap(pages, released, Backing::FileShared(view.ephemeral_fd))
            {
                say!(
                    "loom: ephemeral mmap failed ({pages} pages, {old} old): {}\r\n",
                    strerror(errno)
                );
                host::oops("0", file!(), line!());
            }
        } else if let Err(errno) = loom::remap(pages, released, Backing::Anonymous) {
            say!(
                "loom: anonymous mmap failed ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
        restore_guard(old, "remap");
    }
    track_bits(pages, released);
    track::arm(pages);
}

/// Reinstates protection after a save: the image's pages clean, the rest dirty.
fn settle(old: u32) {
    track::save_boundary();
    let view = pool::view();
    if host::flag(host::NO_DEMAND) {
        protect_loom(view.image_pages, old);
    } else {
        map_image(view.image_fd, view.image_pages, old);
    }
}

// ---------------------------------------------------------------------------
// Boot

/// Makes `<pier>`, `<pier>/.urb` and `<pier>/.urb/chk`, as swap mode's boot
/// does; each directory made is synced into its parent, so that the image
/// written into it later cannot vanish with it after a power loss.
fn make_dirs(pier: &Pier) {
    for tail in ["", "/.urb", "/.urb/chk"] {
        let mut dir = pier.dir.clone();
        dir.extend_from_slice(tail.as_bytes());
        let dir = Path::from_bytes(dir);
        if image::mkdir(&dir, 0o700).is_ok() {
            if let Err(err) = image::sync_dir(&image::parent(&dir)) {
                say!("loom: {err}\r\n");
            }
        }
    }
}

/// `_ce_ephemeral_open`: opens (creating) the swap file, sized to the loom.
fn open_ephemeral(pier: &Pier) -> bool {
    if host::ephemeral_path().is_null() {
        let limbo = pier.limbo();
        // SAFETY: strdup copies a valid C string into malloc'd memory the
        // runtime owns from here on, as events.c leaves it.
        host::set_ephemeral_path(unsafe { libc::strdup(limbo.c().as_ptr()) });
    }
    // SAFETY: u3C.eph_c is a valid C string (the runtime's or ours).
    let path = unsafe { Path::from_c(host::ephemeral_path()) };
    let file = match File::open(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
        Ok(file) => file,
        Err(err) => {
            say!(
                "loom: ephemeral c3_open {}: {}\r\n",
                path.show(),
                strerror(err.errno)
            );
            return false;
        }
    };
    if let Err(err) = file.set_len(loom::bytes_of(pool::view().pages) as u64) {
        say!(
            "loom: ephemeral ftruncate {}: {}\r\n",
            path.show(),
            strerror(err.errno)
        );
        return false;
    }
    // SAFETY: single-threaded pool access.
    unsafe { pool::get().eph_i = file.into_raw() };
    true
}

/// Opens `<chk>/image.bin` into the pool; `Err` after printing why boot fails.
fn open_image(pier: &Pier) -> Result<Size, ()> {
    let path = pier.image();
    let file = match File::open(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
        Ok(file) => file,
        Err(err) => {
            say!("loom: c3_open {}: {}\r\n", path.show(), strerror(err.errno));
            return Err(());
        }
    };
    let len = match file.len() {
        Ok(len) => len,
        Err(err) => {
            say!("loom: image stat: {}\r\n", strerror(err.errno));
            host::oops("0", file!(), line!());
        }
    };
    let size = image::classify(len);
    let image = pool::image();
    image.fid_i = file.into_raw();
    match size {
        Size::Pages(pages) => image.pgs_w = pages,
        Size::Odd(len) => say!("loom: image corrupt size {len}\r\n"),
        Size::Overflow(len) => {
            say!("loom: image overflow {len}\r\n");
            return Err(());
        }
    }
    Ok(size)
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
    if let Some(err) = removal.control {
        say!(
            "loom: failed to delete control.bin: {}\r\n",
            strerror(err.errno)
        );
    }
    if let Some(err) = removal.memory {
        say!(
            "loom: failed to remove memory.bin: {}\r\n",
            strerror(err.errno)
        );
    }
    if let Some(err) = removal.directory {
        say!("loom: {err}\r\n");
    }
}

/// Recovers from a crash during the last save: applies a complete patch,
/// discards a torn one, removes an orphan `memory.bin`. Exits where the
/// reference exits; a patch that cannot be read is kept, never discarded.
fn recover(pier: &Pier, size: Size) {
    let odd = matches!(size, Size::Odd(_));
    match recovery::inspect(pier, &mut |_, _| {}) {
        Pending::Valid(valid) => {
            if valid.control.total.saturating_add(1) >= pool::view().pages {
                // Keep the patch: it belongs to a larger loom.
                say!("boot: snapshot too big for loom\r\n");
                exit_boot();
            }
            pool::image().pgs_w = valid.control.total;
            if let Err(err) = recovery::apply(&valid, &image_file(pier), &mut |_, _| {}) {
                say!("loom: patch apply: {err}\r\n");
                host::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!());
            }
            drop(valid);
            report_removal(recovery::remove_patch(pier));
            return;
        }
        Pending::Nothing => {}
        Pending::OrphanMemory => {
            say!("loom: removing orphan memory.bin\r\n");
            if let Err(err) = recovery::remove_orphan(pier) {
                say!("loom: {err}\r\n");
            }
        }
        Pending::Corrupt(why) => {
            if let Some(why) = why {
                say!("loom: {why}\r\n");
            }
            report_removal(recovery::remove_patch(pier));
        }
        Pending::Unreadable(err) => {
            say!("loom: patch unreadable, kept for the next boot: {err}\r\n");
            say!("boot: image failed\r\n");
            exit_boot();
        }
    }
    if odd {
        say!("boot: image failed (size)\r\n");
        exit_boot();
    }
}

/// Takes the pier's lock, or stops the boot when another process holds it.
fn lock_pier(pier: &Pier) {
    pier::release();
    match pier::lock(pier) {
        Ok(file) => pier::hold(file),
        Err(LockError::Busy) => {
            say!(
                "loom: pier {} is in use by another process\r\n",
                String::from_utf8_lossy(&pier.dir)
            );
            say!("boot: image failed\r\n");
            exit_boot();
        }
        // The image could not be opened: boot fails on it next, as the
        // reference fails.
        Err(LockError::Open(_)) => {}
        // A file system without open-file-description locks (ENOLCK,
        // EINVAL): boot as the reference does, unguarded, and say so.
        Err(LockError::Unsupported(err)) => {
            say!("loom: {err}; the pier is not guarded against a second process\r\n");
        }
    }
}

/// `u3e_live`.
pub fn live(new_pier: c3_o, dir_c: *mut c3_c) -> c3_o {
    LEFT_PATCH.store(false, Ordering::Relaxed);
    let system = loom::system_page_size();
    if PAGE_BYTES % system != 0 {
        say!(
            "loom: incompatible system page size ({}KB)\r\n",
            system >> 10
        );
        exit_boot();
    }
    {
        // SAFETY: single-threaded pool access.
        let pool = unsafe { pool::get() };
        pool.dir_c = dir_c;
        pool.eph_i = 0;
        pool.img_u.nam_c = IMAGE_NAME.as_ptr();
        pool.pag_w = (host::loom_words() >> loom::PAGE_SHIFT) as u32;
    }
    let pier = current_pier();
    track::start(
        track::Boot::of(host::flag(host::SWAP), host::flag(host::NO_DEMAND)),
        host::flag(host::VERBOSE),
    );
    if host::flag(host::SWAP) {
        make_dirs(&pier);
    }
    lock_pier(&pier);
    if host::flag(host::SWAP) && !open_ephemeral(&pier) {
        say!("boot: failed to load ephemeral file\r\n");
        exit_boot();
    }
    let Ok(size) = open_image(&pier) else {
        say!("boot: image failed\r\n");
        exit_boot();
    };
    recover(&pier, size);

    let view = pool::view();
    if view.image_pages.saturating_add(1) >= view.pages {
        say!("boot: snapshot too big for loom\r\n");
        exit_boot();
    }
    dirty::foul(pool::dirty_map());
    if host::flag(host::SWAP) {
        if let Err(errno) = loom::remap(0, view.pages, Backing::FileShared(view.ephemeral_fd)) {
            say!(
                "loom: initial ephemeral mmap failed ({} pages): {}\r\n",
                view.pages,
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
    }
    if host::flag(host::NO_DEMAND) {
        load_image(&pier, view.image_pages);
    } else {
        map_image(view.image_fd, view.image_pages, 0);
    }
    host::log(c"boot: protected loom");

    let mut new_pier = new_pier;
    let words = loom::words_of(view.image_pages);
    if view.image_pages == 0 {
        host::log(c"live: logical boot");
        new_pier = c3y;
    } else if host::flag(host::NO_DEMAND) {
        host::print_memory(c"live: loaded", words);
    } else {
        host::print_memory(c"live: mapped", words);
    }
    ensure!(fault::place_guard(view.image_pages, view.pages));
    new_pier
}

/// `_ce_loom_blit`: reads the image into the bottom of the loom (no_demand),
/// in parallel and into huge pages where it can (see `load`).
fn load_image(pier: &Pier, pages: u32) {
    if pages > 0 {
        let image = image_file(pier);
        // A loom booted before in this process (u3e_stop, then u3e_live)
        // is still protected, and a read into it would fail (EFAULT).
        if let Err(errno) = loom::protect(0, pages, Access::ReadWrite) {
            say!("loom: blit protect: {}\r\n", strerror(errno));
            host::oops("0", file!(), line!());
        }
        // Swap mode reads into the ephemeral file's pages: no huge pages.
        if let Err(err) = load::read_image(&image, pages, !host::flag(host::SWAP)) {
            say!("loom: blit read {}\r\n", strerror(err.errno));
            host::oops("0", file!(), line!());
        }
    }
    protect_loom(pages, 0);
}

// ---------------------------------------------------------------------------
// Save

/// Why a save wrote nothing and left the previous snapshot in place.
#[derive(Debug)]
enum SaveError {
    /// Not enough free space for the patch and the image's growth.
    Space { need: u64, free: u64 },
    /// Creating, writing or syncing the patch failed.
    Patch(IoError),
}

/// The pages a save writes: dirty, below the heap's top, not free.
struct Composed {
    pages: Vec<u32>,
    skipped: u32,
}

/// `_ce_patch_compose`'s selection of pages.
fn compose(below: u32) -> Composed {
    let map = pool::dirty_map();
    let directory = PageDirectory::current();
    let mut pages = Vec::new();
    let mut skipped = 0;
    for page in 0..below {
        if dirty::is_dirty(map, page) {
            if directory.is_free(page) {
                skipped += 1;
            } else {
                pages.push(page);
            }
        }
    }
    Composed { pages, skipped }
}

/// Step 1–2: writes the patch and makes it durable. On error the patch files
/// this call created are removed again; the image is untouched.
fn write_patch(
    pier: &Pier,
    composed: &Composed,
    total: u32,
    verbose: bool,
) -> Result<(), SaveError> {
    let need = patch::control_len(composed.pages.len() as u32)
        + loom::bytes_of(composed.pages.len() as u32) as u64
        + loom::bytes_of(total.saturating_sub(pool::view().image_pages)) as u64;
    let free = image::free_bytes(&pier.chk()).map_err(SaveError::Patch)?;
    if free < need {
        return Err(SaveError::Space { need, free });
    }

    let exclusive = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    let control_file = match File::open(&pier.control(), exclusive, 0o600) {
        Ok(file) => file,
        Err(err) if err.errno == libc::EEXIST => {
            // A patch this process did not write: never overwrite it.
            say!(
                "loom: patch c3_open control.bin: {}\r\n",
                strerror(err.errno)
            );
            host::oops("0", file!(), line!());
        }
        Err(err) => return Err(SaveError::Patch(err)),
    };
    let written = (|| {
        let memory = File::open(&pier.memory(), exclusive, 0o600)?;
        // memory.bin is written once, read back only after a crash and
        // removed at the end of the save: keep it out of the page cache.
        // The pages are 16 KiB-aligned in memory and in the file, as direct
        // I/O wants; where it is refused the write goes through the cache.
        memory.enter_direct();
        // SAFETY: dirty pages below the heap's top are mapped and readable,
        // and the runtime does not write them during a save.
        let slices: Vec<&[u8]> = composed
            .pages
            .iter()
            .map(|&page| unsafe { loom::page_bytes(page) })
            .collect();
        // Hash on a second thread while this one writes: each page is read
        // from memory twice but hashed once, and the disk never waits.
        let (lines, wrote) = std::thread::scope(|scope| {
            let hasher = scope.spawn(|| hash_pages(&composed.pages, &slices));
            let wrote = memory.write_vectored_at(&slices, 0);
            (hasher.join(), wrote)
        });
        wrote?;
        let lines = lines.unwrap_or_else(|_| hash_pages(&composed.pages, &slices));
        control_file.write_all_at(&patch::encode(total, &lines), 0)?;
        Ok::<File, IoError>(memory)
    })();
    let memory = match written {
        Ok(memory) => memory,
        Err(err) => {
            discard_own_patch(pier);
            return Err(SaveError::Patch(err));
        }
    };

    if verbose {
        say!("sync: skipped {} free", composed.skipped);
        host::print_memory(c" pages", loom::words_of(composed.skipped));
    }
    // Attempt to avoid propagating anything insane to disk.
    host::loom_sane();
    if verbose {
        host::print_memory(c"sync: save", loom::words_of(composed.pages.len() as u32));
    }

    let synced = control_file
        .sync_data()
        .and_then(|()| memory.sync_data())
        .and_then(|()| image::sync_dir(&pier.chk()));
    if let Err(err) = synced {
        discard_own_patch(pier);
        return Err(SaveError::Patch(err));
    }
    Ok(())
}

/// The control lines of `pages`, whose bytes are `slices`.
fn hash_pages(pages: &[u32], slices: &[&[u8]]) -> Vec<u3e_line> {
    pages
        .iter()
        .zip(crate::checksum::hash_all(slices))
        .map(|(&page, has_w)| u3e_line { pag_w: page, has_w })
        .collect()
}

/// Removes the patch files a failed save created, before the image was touched.
fn discard_own_patch(pier: &Pier) {
    for path in [pier.control(), pier.memory()] {
        if let Err(err) = image::unlink(&path) {
            if err.errno != libc::ENOENT {
                say!("loom: {err}\r\n");
            }
        }
    }
    let _ = image::sync_dir(&pier.chk());
}

/// Step 3: writes the saved pages into the image straight from the loom.
fn write_image(pier: &Pier, pages: &[u32], total: u32) -> Result<(), IoError> {
    let image = image_file(pier);
    image::resize(&image, total)?;
    pool::image().pgs_w = total;
    image::write_loom_pages(&image, pages)?;
    image.sync_data()
}

/// `u3e_save`.
pub fn save(low: u3_post, high: u3_post) {
    if host::flag(host::DRYRUN) {
        return;
    }
    let old = pool::view().image_pages;
    let heap_top = loom::page_of(low);
    let total = loom::page_above(low);
    let stack_top = loom::page_of(high);
    let guard = pool::view().guard;
    ensure!((guard > heap_top) && (guard < stack_top));

    track::harvest();
    let composed = compose(total);
    if composed.pages.is_empty() {
        return;
    }
    let pier = current_pier();
    let verbose = host::flag(host::VERBOSE);

    // An applied patch whose removal failed must go before a new one is
    // written (its control.bin would refuse the new patch).
    if LEFT_PATCH.load(Ordering::Relaxed) {
        // Part of it may be gone already: only what is left counts.
        let removal = recovery::remove_patch(&pier).gone_is_removed();
        if !removal.complete() {
            report_removal(removal);
            say!(
                "loom: save: the last patch is still in {}; nothing written, will retry\r\n",
                pier.chk().show()
            );
            return;
        }
        LEFT_PATCH.store(false, Ordering::Relaxed);
    }

    // Steps 1-2. Failure here keeps the old snapshot and every dirty page dirty.
    match write_patch(&pier, &composed, total, verbose) {
        Ok(()) => {}
        Err(SaveError::Space { need, free }) => {
            say!(
                "loom: save: need {} MiB in {}, {} MiB free; nothing written, will retry\r\n",
                need.div_ceil(1 << 20),
                pier.chk().show(),
                free >> 20
            );
            return;
        }
        Err(SaveError::Patch(err)) => {
            say!("loom: save: {err}; previous snapshot kept, will retry\r\n");
            return;
        }
    }

    // Step 3. The patch is durable: from here a failure is recovered at boot.
    if let Err(err) = write_image(&pier, &composed.pages, total) {
        say!("loom: save: {err}; the patch is kept and applied at the next boot\r\n");
        host::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!());
    }

    // Step 4.
    report_removal(recovery::remove_patch(&pier));

    settle(old);
    toss_gap(low, high);
}

// ---------------------------------------------------------------------------
// Toss, stop, tracking

/// `_ce_toss_pages`: drops the contents of pages `[first, first + count)`.
fn toss_pages(first: u32, count: u32) {
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

/// `u3e_stop`.
pub fn stop() {
    let view = pool::view();
    if view.ephemeral_fd != 0 {
        // Everything above the image lives in the ephemeral file.
        toss_pages(
            view.image_pages,
            view.pages.saturating_sub(view.image_pages),
        );
        // SAFETY: closing the descriptor the pool owns; unlinking the path
        // the runtime configured.
        unsafe {
            libc::close(view.ephemeral_fd);
            libc::unlink(host::ephemeral_path());
        }
    }
    // SAFETY: closing the image descriptor the pool owns.
    unsafe { libc::close(view.image_fd) };
    pier::release();
    track::stop();
}

/// `u3e_yolo`: stops tracking; the whole loom becomes writable.
pub fn yolo() -> c3_o {
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
    track::harvest();
    dirty::foul(pool::dirty_map());
}

/// `u3e_init`: tracking without persistence.
pub fn init() {
    track::stop();
    {
        // SAFETY: single-threaded pool access.
        let pool = unsafe { pool::get() };
        pool.pag_w = (host::loom_words() >> loom::PAGE_SHIFT) as u32;
        pool.img_u.fid_i = -1;
    }
    foul();
    ensure!(fault::place_guard(0, pool::view().pages));
}

/// `u3e_ward`: moves the guard between the watermarks if it is not there.
pub fn ward(low: u3_post, high: u3_post) {
    let heap_top = loom::page_of(low);
    let stack_top = loom::page_of(high);
    let old = pool::view().guard;
    if !(old > heap_top && old < stack_top) {
        ensure!(fault::place_guard(heap_top, stack_top));
        ensure!(fault::unprotect(old));
        ensure!(dirty::is_dirty(pool::dirty_map(), old));
    }
}

// ---------------------------------------------------------------------------
// Backup and image_open_any

/// `u3e_backup`: copies `<from>/image.bin` to `<to>/image.bin`, durably
/// and never torn (see `recovery::backup`).
pub fn backup(from: Option<Path>, to: Option<Path>, overwrite: c3_o) -> c3_o {
    let (Some(from), Some(to)) = (from, to) else {
        say!("loom: image backup: bad path\r\n");
        return c3n;
    };
    match recovery::backup(&from, &to, overwrite == c3y, &mut |_, _| {}) {
        Ok(_) => {
            say!("loom: image backup complete\r\n");
            c3y
        }
        Err(BackupError::Source { size }) => {
            if let Some(len) = size {
                say!("loom: image corrupt size {len}\r\n");
            }
            say!("loom: couldn't open image at {}\r\n", from.show());
            c3n
        }
        Err(BackupError::Destination { errno }) => {
            if errno != libc::EEXIST {
                say!("loom: image backup: {}\r\n", strerror(errno));
            }
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
    let mut bytes = dir.bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name.bytes());
    bytes.extend_from_slice(b".bin");
    let path = Path::from_bytes(bytes);
    let file = match File::open(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
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
