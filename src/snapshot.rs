//! The protocols: boot (`live`), save, toss, backup, stop, and the small
//! entry points around them. The order of durable writes is here, step by
//! step, each with what a crash at that step leaves behind.
//!
//! The save protocol's durable steps are in `durable.rs`. Both kinds of
//! save run them: a synchronous save (the default) straight from the loom;
//! a background save (`LOOMS_SAVE=background`, see `background.rs` for its
//! threads and who owns what, `capture.rs` for how its pages are held as
//! they were at `u3e_save`) on a worker thread, finished at a barrier by
//! `after_background`.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::abi::{c3_c, c3_i, c3_o, c3_z, c3n, c3y, u3_post};
use crate::background;
use crate::dirty;
use crate::durable::{self, Lengths, Source, Written};
use crate::fault;
use crate::ffi::host::{self, ensure, PageDirectory};
use crate::image::{self, Dir, File, IoError, Path, Size};
use crate::load;
use crate::loom::{self, Access, Backing, PAGE_BYTES};
use crate::msg::{say, strerror};
use crate::pier::{self, LockError, Pier};
use crate::pool;
use crate::process;
use crate::recovery::{self, BackupError, Pending};
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
    // SAFETY: exit runs the runtime's atexit handlers, as the reference does.
    unsafe { libc::exit(1) }
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
            host::oops("one snapshot call at a time", file!(), line!())
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
        if let Err(errno) = loom::protect(0, clean, clean_access()) {
            say!("loom: pure ({pages} pages): {}\r\n", strerror(errno));
            host::oops("0", file!(), line!());
        }
    }
    let released = protect_above(pages, old);
    if clean < pages {
        if let Err(errno) = loom::protect(clean, pages - clean, Access::ReadWrite) {
            say!(
                "loom: foul ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
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
    if let Err(errno) = loom::protect(pages, released, Access::ReadWrite) {
        say!(
            "loom: foul ({pages} pages, {old} old): {}\r\n",
            strerror(errno)
        );
        host::oops("0", file!(), line!());
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
        if let Err(errno) = loom::remap(0, pages, Backing::FilePrivate { fd, writable }) {
            say!(
                "loom: file-backed mmap failed ({pages} pages): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
    }
    let mut released = map_above(pages, old);
    let clean = loom::granule_floor(pages);
    if clean < pages {
        if !writable {
            if let Err(errno) = loom::protect(clean, pages - clean, Access::ReadWrite) {
                say!(
                    "loom: foul ({pages} pages, {old} old): {}\r\n",
                    strerror(errno)
                );
                host::oops("0", file!(), line!());
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
    if host::flag(host::SWAP) {
        if let Err(errno) = loom::remap(start, old - start, Backing::FileShared(view.ephemeral_fd))
        {
            say!(
                "loom: ephemeral mmap failed ({pages} pages, {old} old): {}\r\n",
                strerror(errno)
            );
            host::oops("0", file!(), line!());
        }
    } else if let Err(errno) = loom::remap(start, old - start, Backing::Anonymous) {
        say!(
            "loom: anonymous mmap failed ({pages} pages, {old} old): {}\r\n",
            strerror(errno)
        );
        host::oops("0", file!(), line!());
    }
    restore_guard(old, "remap");
    released
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
    let file = match File::open_regular(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
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
    // Every page of the loom above the image lives in this file, and a
    // store into one allocates its blocks: on a full disk that store could
    // not be placed (events.c returns base to the fault handler, and the
    // runtime stops). The blocks are taken now, while a boot can still say
    // why it stops; data already there is kept.
    match file.allocate(0, loom::bytes_of(pool::view().pages) as u64) {
        Ok(()) => {}
        Err(err) if err.unsupported() => {
            say!(
                "loom: ephemeral {} cannot reserve space ({}); a store can fail when the disk is full\r\n",
                path.show(),
                strerror(err.errno)
            );
        }
        Err(err) => {
            say!(
                "loom: ephemeral fallocate {}: {}\r\n",
                path.show(),
                strerror(err.errno)
            );
            return false;
        }
    }
    // SAFETY: single-threaded pool access.
    unsafe { pool::get().eph_i = file.into_raw() };
    true
}

/// Opens `<chk>/image.bin` into the pool; `Err` after printing why boot fails.
fn open_image(pier: &Pier) -> Result<Size, ()> {
    let path = pier.image();
    let file = match File::open_regular(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
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
    durable::say_removal(&removal);
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
/// `Some` when `.urb/chk` exists but cannot be opened for the lock: the
/// boot goes on to open the image, so that where the reference fails too it
/// fails in the reference's words, and stops after it otherwise.
fn lock_pier(pier: &Pier) -> Option<IoError> {
    pier::release();
    match pier::lock(pier) {
        Ok(file) => pier::hold(file),
        Err(LockError::Busy) => {
            say!(
                "loom: pier {} is in use by another process\r\n",
                crate::msg::escape(&pier.dir)
            );
            say!("boot: image failed\r\n");
            exit_boot();
        }
        // No .urb/chk (or not a directory): boot fails on the image next,
        // in the reference's words.
        Err(LockError::Open(err)) if err.errno == libc::ENOENT || err.errno == libc::ENOTDIR => {}
        Err(LockError::Open(err)) => return Some(err),
        // A file system without flock locks (ENOLCK, EINVAL): boot as the
        // reference does, unguarded, and say so.
        Err(LockError::Unsupported(err)) => {
            say!("loom: {err}; the pier is not guarded against a second process\r\n");
        }
    }
    None
}

/// `.urb/chk` is there, the image opened, but the directory cannot be
/// opened (no read permission): the pier can be neither guarded nor synced
/// (every save syncs the directory). Stop rather than run unguarded.
fn refuse_unguarded(err: &IoError) -> ! {
    say!(
        "loom: lock {}: {}; the pier cannot be guarded against a second process\r\n",
        err.path,
        strerror(err.errno)
    );
    say!("boot: image failed\r\n");
    exit_boot();
}

/// Sets the granule the loom is protected and mapped in: the larger of the
/// loom page and the kernel's (`LOOMS_TEST_GRANULE`, a setting for tests
/// only, asks for a larger one); `Err` with the kernel's page size where
/// it is larger than any granule looms handles.
fn choose_granule() -> Result<(), usize> {
    let test = std::env::var("LOOMS_TEST_GRANULE").ok();
    let (bytes, honoured) = loom::granule_for(loom::system_page_size(), test.as_deref())?;
    if !honoured {
        say!(
            "loom: LOOMS_TEST_GRANULE={} is not a power of two from the page size to 64 KiB; ignored\r\n",
            test.unwrap_or_default()
        );
    }
    loom::set_granule(bytes);
    Ok(())
}

/// `u3e_live`.
pub fn live(new_pier: c3_o, dir_c: *mut c3_c) -> c3_o {
    let _inside = enter_or_bail("live");
    barrier();
    process::booted();
    // A boot after an earlier one in this process (u3e_stop then u3e_live,
    // or u3e_live in a forked child) finds the earlier image's pages still
    // mapped clean: those the new image does not hold are made fresh and
    // writable below, as a save that shrinks the image does.
    let previous = if BOOTED_BEFORE.swap(true, Ordering::Relaxed) {
        pool::view().image_pages
    } else {
        0
    };
    LEFT_PATCH.store(false, Ordering::Relaxed);
    durable::RESERVE_UNSUPPORTED_SAID.store(false, Ordering::Relaxed);
    set_unsaved(None);
    if let Err(system) = choose_granule() {
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
    background::start(host::flag(host::VERBOSE));
    if host::flag(host::SWAP) {
        make_dirs(&pier);
    }
    let unguarded = lock_pier(&pier);
    if host::flag(host::SWAP) && !open_ephemeral(&pier) {
        say!("boot: failed to load ephemeral file\r\n");
        exit_boot();
    }
    let Ok(size) = open_image(&pier) else {
        say!("boot: image failed\r\n");
        exit_boot();
    };
    LIVE.store(true, Ordering::Relaxed);
    if let Some(err) = unguarded {
        refuse_unguarded(&err);
    }
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
        load_image(&pier, view.image_pages, previous);
    } else {
        map_image(view.image_fd, view.image_pages, previous);
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
fn load_image(pier: &Pier, pages: u32, previous: u32) {
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
    protect_loom(pages, previous);
}

// ---------------------------------------------------------------------------
// Save

/// The pages a save writes: dirty, below the heap's top, not free.
struct Composed {
    pages: Vec<u32>,
    skipped: u32,
}

/// `_ce_patch_compose`'s selection of pages; `Err` with the page count when
/// the list cannot be allocated.
fn compose(below: u32) -> Result<Composed, usize> {
    let map = pool::dirty_map();
    let directory = PageDirectory::current();
    let count = (0..below)
        .filter(|&page| dirty::is_dirty(map, page))
        .count();
    let mut pages = Vec::new();
    pages.try_reserve_exact(count).map_err(|_| count)?;
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
    Ok(Composed { pages, skipped })
}

/// A vector of `len` items made by `item`, or `None` without the memory.
fn try_collect<T>(len: usize, item: impl FnMut(usize) -> T) -> Option<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).ok()?;
    out.extend((0..len).map(item));
    Some(out)
}

/// The watermarks of the last `u3e_save` that wrote nothing and kept the
/// previous snapshot (a soft failure), packed `low << 32 | high`, until a
/// save completes; `NO_UNSAVED` when there is none. A backup of this pier
/// retries that save first (see `backup`). Owned by the runtime's thread.
static UNSAVED: AtomicU64 = AtomicU64::new(NO_UNSAVED);
const NO_UNSAVED: u64 = u64::MAX;

fn set_unsaved(marks: Option<(u3_post, u3_post)>) {
    let packed = marks.map_or(NO_UNSAVED, |(low, high)| {
        u64::from(low) << 32 | u64::from(high)
    });
    UNSAVED.store(packed, Ordering::Relaxed);
}

fn unsaved() -> Option<(u3_post, u3_post)> {
    let packed = UNSAVED.load(Ordering::Relaxed);
    (packed != NO_UNSAVED).then_some(((packed >> 32) as u32, packed as u32))
}

/// `u3e_save`.
pub fn save(low: u3_post, high: u3_post) {
    if host::flag(host::DRYRUN) {
        return;
    }
    let _inside = match process::enter() {
        Ok(inside) => inside,
        Err(busy) => {
            process::say_busy("save", busy, "; nothing written, will retry");
            return;
        }
    };
    process::runtime_call();
    let heap_top = loom::page_of(low);
    let stack_top = loom::page_of(high);
    let guard = pool::view().guard;
    ensure!((guard > heap_top) && (guard < stack_top));
    // The previous save first: its pages, its outcome.
    barrier();
    if refused_in_fork() {
        set_unsaved(Some((low, high)));
        return;
    }
    if background::enabled() {
        if let Some(saved) = try_save_background(low, high) {
            set_unsaved((!saved).then_some((low, high)));
        }
        return;
    }
    let saved = try_save(low, high);
    set_unsaved((!saved).then_some((low, high)));
}

/// `looms_save_wait`: the barrier; 0 when the last save is durable (or
/// there was none), -1 when it wrote nothing and kept the previous snapshot.
///
/// Only the runtime's thread finishes a save (maps the image back under
/// the pages it saved); any other thread, a signal handler, or a call
/// while another is inside the library only waits for the worker.
pub fn save_wait() -> c3_i {
    let last_kept = || if unsaved().is_some() { -1 } else { 0 };
    if process::on_runtime_thread() {
        if let Ok(_inside) = process::enter() {
            barrier();
            return last_kept();
        }
    }
    match background::wait_only() {
        Some(true) => 0,
        Some(false) => -1,
        None => last_kept(),
    }
}

/// In a child forked from the process that booted the pier (without exec),
/// a save writes nothing: the pier is the parent's. Says so; `true` then.
fn refused_in_fork() -> bool {
    let Some(parent) = process::forked_from() else {
        return false;
    };
    let me = process::this_pid();
    say!(
        "loom: save: process {me} is a fork of process {parent}, which runs {}; nothing written\r\n",
        crate::msg::escape(&current_pier().dir)
    );
    true
}

/// The save itself; `false` when it wrote nothing and kept the previous
/// snapshot, with one `loom: save: …` line saying why.
fn try_save(low: u3_post, high: u3_post) -> bool {
    if refused_in_fork() {
        return false;
    }
    let old = pool::view().image_pages;
    let total = loom::page_above(low);

    track::harvest();
    let composed = match compose(total) {
        Ok(composed) => composed,
        Err(pages) => {
            say_no_memory(pages);
            return false;
        }
    };
    if composed.pages.is_empty() {
        return true;
    }
    save_now(&composed, low, high, old, total)
}

/// The runtime's calls of a save (verbose sizes, `u3a_loom_sane`), in
/// the reference's order.
fn call_runtime(composed: &Composed) {
    let verbose = host::flag(host::VERBOSE);
    if verbose {
        say!("sync: skipped {} free", composed.skipped);
        host::print_memory(c" pages", loom::words_of(composed.skipped));
    }
    // Attempt to avoid propagating anything insane to disk.
    host::loom_sane();
    if verbose {
        host::print_memory(c"sync: save", loom::words_of(composed.pages.len() as u32));
    }
}

/// The synchronous save of `composed`, straight from the loom; `false`
/// when it wrote nothing.
fn save_now(composed: &Composed, low: u3_post, high: u3_post, old: u32, total: u32) -> bool {
    let pier = current_pier();
    let count = composed.pages.len();
    // SAFETY: dirty pages below the heap's top are mapped and readable,
    // and the runtime does not write them during a save.
    let Some(slices) = try_collect(count, |at| unsafe { loom::page_bytes(composed.pages[at]) })
    else {
        say_no_memory(count);
        return false;
    };
    let mut left_patch = LEFT_PATCH.load(Ordering::Relaxed);
    let written = durable::write_durably(
        &pier,
        &image_file(&pier),
        &composed.pages,
        Source::Still(&slices),
        Lengths { total, old },
        &mut left_patch,
        &mut || call_runtime(composed),
    );
    LEFT_PATCH.store(left_patch, Ordering::Relaxed);
    match written {
        Written::Kept => false,
        Written::Lost => host::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!()),
        Written::Saved => {
            pool::image().pgs_w = total;
            settle(old);
            toss_gap(low, high);
            true
        }
    }
}

fn say_no_memory(pages: usize) {
    say!("loom: save: no memory to list {pages} pages; nothing written, will retry\r\n");
}

// ---------------------------------------------------------------------------
// Background saves (see background.rs for the threads and who owns what)

/// The barrier: a background save being written is waited for and
/// finished here (see `background::finish`).
fn barrier() {
    background::finish(after_background);
}

/// A background save: composes the pages as `try_save` does, makes every
/// page below the heap's top clean again, with the pages to save held as
/// they are now (`capture.rs`: copied only if stored to before the worker
/// is done with them), and hands them to the worker. `None` once the worker
/// has them; `Some` when the save ran (or found nothing to write) here,
/// synchronously, as `try_save`.
fn try_save_background(low: u3_post, high: u3_post) -> Option<bool> {
    let old = pool::view().image_pages;
    let total = loom::page_above(low);

    track::harvest();
    let composed = match compose(total) {
        Ok(composed) => composed,
        Err(pages) => {
            say_no_memory(pages);
            return Some(false);
        }
    };
    if composed.pages.is_empty() {
        return Some(true);
    }
    let pier = current_pier();
    let left_patch = LEFT_PATCH.load(Ordering::Relaxed);
    let job = match background::prepare(
        &pier,
        pool::view().image_fd,
        &composed.pages,
        Lengths { total, old },
        left_patch,
    ) {
        Ok(job) => job,
        Err(why) => {
            if host::flag(host::VERBOSE) {
                say!("loom: save: {why}; saving synchronously\r\n");
            }
            return Some(save_now(&composed, low, high, old, total));
        }
    };
    call_runtime(&composed);
    // From here every store to a page of the save consults the capture.
    let capture = std::sync::Arc::clone(job.capture());
    capture.publish();
    // Where `auto` waits for the first save to move to userfaultfd, this is
    // the moment, as `settle` is for a synchronous save: every page below
    // the heap's top is writable from here, and `make_clean` arms them all.
    if track::save_boundary() {
        if let Err(errno) = loom::protect(0, total, Access::ReadWrite) {
            say!("loom: foul ({total} pages): {}\r\n", strerror(errno));
            host::oops("0", file!(), line!());
        }
    }
    // The pages the image will no longer hold, and the gap, as a completed
    // save leaves them; then the captured pages clean, so that the next
    // save sees what the runtime stores from now on.
    let released = if host::flag(host::NO_DEMAND) {
        protect_above(total, old)
    } else {
        map_above(total, old)
    };
    dirty::set_range(pool::dirty_map(), total, total + released, true);
    let (cleaned, unheard) = make_clean(total);
    // A page of the save that the runtime can still store to without the
    // fault path hearing of it (the image's last, partial granule, which
    // stays dirty; a run the kernel would not protect) is copied now.
    let map = pool::dirty_map();
    let mut unheard = unheard.iter().peekable();
    for (at, &page) in composed.pages.iter().enumerate() {
        while unheard
            .next_if(|&&(first, count)| first + count <= page)
            .is_some()
        {}
        let inside = unheard.peek().is_some_and(|&&(first, _)| first <= page);
        if inside || dirty::is_dirty(map, page) {
            capture.copy_now(at);
        }
    }
    toss_gap(low, high);
    background::launch(job, cleaned, (total, (low, high)), after_background);
    None
}

/// Marks every dirty page below `total` clean and protects it read-only,
/// keeping its memory, so that the first store to it reaches the fault
/// path (and the capture). Under userfaultfd every page below `total` is
/// armed as usual, and the runs to save are read-only besides until the
/// barrier. Returns the runs it made clean, and the runs the kernel would
/// not protect: under mprotect those stay dirty (the next save writes them
/// again); under userfaultfd they are clean but writable unseen.
fn make_clean(total: u32) -> (background::Cleaned, Vec<(u32, u32)>) {
    // Whole granules only: the image's last, partial one stays dirty.
    let total = loom::granule_floor(total);
    let map = pool::dirty_map();
    let dirty: Vec<u32> = (0..total)
        .filter(|&page| dirty::is_dirty(map, page))
        .collect();
    let runs = image::runs(&dirty);
    let writable = track::clean_pages_writable();
    if writable {
        dirty::set_range(map, 0, total, false);
        track::arm(total);
    }
    let mut clean = Vec::with_capacity(runs.len());
    let mut unheard = Vec::new();
    for &(first, count) in &runs {
        if loom::protect(first, count, Access::Read).is_ok() {
            dirty::set_range(map, first, first + count, false);
            clean.push((first, count));
        } else if writable {
            clean.push((first, count));
            unheard.push((first, count));
        }
    }
    let cleaned = background::Cleaned {
        runs: clean,
        read_only: writable,
    };
    (cleaned, unheard)
}

/// Sub-runs of `runs` whose pages are still clean (not stored to since the
/// copy) and not the guard.
fn still_clean(runs: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let map = pool::dirty_map();
    let guard = pool::view().guard;
    let pages: Vec<u32> = runs
        .iter()
        .flat_map(|&(first, count)| first..first + count)
        .filter(|&page| page != guard && !dirty::is_dirty(map, page))
        .collect();
    image::runs(&pages)
}

/// The end of a background save, on the runtime's thread, at a barrier.
fn after_background(done: background::Finished) {
    if let Some(left_patch) = done.left_patch {
        LEFT_PATCH.store(left_patch, Ordering::Relaxed);
    }
    // What the runtime stored since `u3e_save` (userfaultfd lags).
    track::harvest();
    let clean = still_clean(&done.cleaned.runs);
    if done.cleaned.read_only {
        // Userfaultfd: clean pages are writable again (and still armed).
        for &(first, count) in &clean {
            if loom::protect(first, count, Access::ReadWrite).is_err() {
                // The kernel refused the split: page by page, widening as
                // a store fault would; such pages count as written.
                for page in first..first + count {
                    dirty::mark_dirty(pool::dirty_map(), page);
                    ensure!(fault::unprotect_or_widen(pool::dirty_map(), page));
                }
            }
        }
    }
    match done.written {
        Written::Saved => {
            pool::image().pgs_w = done.total;
            if !host::flag(host::NO_DEMAND) {
                map_back(&clean);
            }
            set_unsaved(None);
        }
        Written::Kept => {
            make_dirty(&clean);
            set_unsaved(Some(done.marks));
        }
        Written::Lost => host::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!()),
    }
}

/// Maps the image back under clean pages, releasing their copies. Where the
/// kernel refuses, a page keeps its copy, which holds the same bytes.
fn map_back(runs: &[(u32, u32)]) {
    let view = pool::view();
    let writable = track::clean_pages_writable();
    let map = pool::dirty_map();
    for &(first, count) in runs {
        let backing = Backing::FilePrivate {
            fd: view.image_fd,
            writable,
        };
        if loom::remap(first, count, backing).is_ok()
            && writable
            && !track::protect_range(first, count)
        {
            // Mapped, but stores to it cannot be seen: dirty, saved again.
            dirty::set_range(map, first, first + count, true);
        }
    }
}

/// A save that wrote nothing: its pages are dirty again (and writable),
/// so the next save writes them.
fn make_dirty(runs: &[(u32, u32)]) {
    let map = pool::dirty_map();
    let writable = track::clean_pages_writable();
    for &(first, count) in runs {
        dirty::set_range(map, first, first + count, true);
        if !writable && loom::protect(first, count, Access::ReadWrite).is_err() {
            // The kernel refused the split: page by page, widening as a
            // store fault would.
            for page in first..first + count {
                ensure!(fault::unprotect_or_widen(map, page));
            }
        }
    }
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
        // SAFETY: closing the descriptor the pool owns.
        unsafe { libc::close(view.ephemeral_fd) };
        // A forked child does not remove the parent's swap file.
        if process::forked_from().is_none() {
            // SAFETY: unlinking the path the runtime configured.
            unsafe { libc::unlink(host::ephemeral_path()) };
        }
    }
    if live && view.image_fd >= 0 {
        // SAFETY: closing the image descriptor the pool owns.
        unsafe { libc::close(view.image_fd) };
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
        pool.pag_w = (host::loom_words() >> loom::PAGE_SHIFT) as u32;
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

// ---------------------------------------------------------------------------
// Backup and image_open_any

/// Whether `dir/image.bin` is the image this process has booted.
fn is_booted_image(dir: &Path) -> bool {
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
            if errno != libc::EEXIST {
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
    let file = match File::open_regular(&path, libc::O_RDWR | libc::O_CREAT, 0o666) {
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
