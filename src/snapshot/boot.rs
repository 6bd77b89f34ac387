//! Boot (`u3e_live`): the pier's directories and files, recovery from a
//! crash during the last save, the lock, the image mapped or read into the
//! loom, and the dirty bits and protections a boot leaves.

use super::*;

// ---------------------------------------------------------------------------
// Boot

/// Makes `<pier>`, `<pier>/.urb` and `<pier>/.urb/chk`, as swap mode's boot
/// does; each directory made is synced into its parent, so that the image
/// written into it later cannot vanish with it after a power loss.
pub(super) fn make_dirs(pier: &Pier) {
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
///
/// In a child forked without exec (`process::forked`), whatever it did
/// since, the path may name an ancestor's swap file, still in use
/// (`u3C.eph_c` is set once per process, and a child's `u3e_stop` cannot
/// tell): the child gets a file of its own beside it, unlinked at once. It
/// must never store into the parent's loom, whose saves (a background one
/// may still be reading those pages) write it into the parent's pier.
pub(super) fn open_ephemeral(pier: &Pier) -> bool {
    if runtime::ephemeral_path().is_null() {
        let limbo = pier.limbo();
        // A copy in the C library's memory, which the runtime owns from
        // here on, as events.c leaves it.
        runtime::set_ephemeral_path(sys::strdup(limbo.c()));
    }
    // SAFETY: u3C.eph_c is a valid C string (the runtime's or ours).
    let configured = unsafe { Path::from_c(runtime::ephemeral_path()) };
    let (path, flags, mode) = if process::forked() {
        let own = [
            configured.bytes(),
            format!(".{}", process::this_pid()).as_bytes(),
        ]
        .concat();
        let exclusive = sys::O_RDWR | sys::O_CREAT | sys::O_EXCL;
        (Path::from_bytes(own), exclusive, 0o600)
    } else {
        (configured, sys::O_RDWR | sys::O_CREAT, 0o666)
    };
    let file = match File::open_regular(&path, flags, mode) {
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
    if process::forked() {
        // Nobody else can reach it; it goes with the process.
        let _ = image::unlink(&path);
    }
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
pub(super) fn open_image(pier: &Pier) -> Result<Size, ()> {
    let path = pier.image();
    let file = match File::open_regular(&path, sys::O_RDWR | sys::O_CREAT, 0o666) {
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
            runtime::oops("0", file!(), line!());
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

/// Recovers from a crash during the last save: applies a complete patch,
/// discards a torn one, removes an orphan `memory.bin`. Exits where the
/// reference exits; a patch that cannot be read is kept, never discarded.
pub(super) fn recover(pier: &Pier, size: Size) {
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
                runtime::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!());
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
pub(super) fn lock_pier(pier: &Pier) -> Option<IoError> {
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
        Err(LockError::Open(err)) if err.errno == sys::ENOENT || err.errno == sys::ENOTDIR => {}
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
pub(super) fn refuse_unguarded(err: &IoError) -> ! {
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
pub(super) fn choose_granule() -> Result<(), usize> {
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
    // What a forked child lets go of, in this order. Pages mapped shared
    // from the parent's swap file, writable ones among them, would take the
    // child's stores into the parent's loom.
    process::at_fork_in_child(|| {
        fault::detach_swap_file(pool::view().ephemeral_fd);
    });
    process::at_fork_in_child(pier::forget_in_child);
    process::at_fork_in_child(background::orphan_in_child);
    process::booted();
    // The C library's words for errors, where the fault path cannot ask it.
    sys::learn_errno_texts();
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
        pool.pag_w = (runtime::loom_words() >> loom::PAGE_SHIFT) as u32;
    }
    let pier = current_pier();
    if runtime::swap_unavailable() {
        say!("loom: swap mode needs file pages mapped into the loom, which this system cannot do; the loom stays in memory\r\n");
    }
    track::start(
        track::Boot::of(
            runtime::flag(runtime::SWAP),
            runtime::flag(runtime::NO_DEMAND),
        ),
        runtime::flag(runtime::VERBOSE),
    );
    background::start(runtime::flag(runtime::VERBOSE));
    // LOOMS_REFLINK is read here, on the runtime's thread, not first by a
    // background save's worker.
    image::sharing_enabled();
    // Before the loom's mappings multiply: remaps at the limit need them.
    loom::set_aside_spares();
    if runtime::flag(runtime::SWAP) {
        make_dirs(&pier);
    }
    let unguarded = lock_pier(&pier);
    if runtime::flag(runtime::SWAP) && !open_ephemeral(&pier) {
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
    if runtime::flag(runtime::SWAP) {
        if let Err(errno) = loom::remap(0, view.pages, Backing::FileShared(view.ephemeral_fd)) {
            say!(
                "loom: initial ephemeral mmap failed ({} pages): {}\r\n",
                view.pages,
                strerror(errno)
            );
            runtime::oops("0", file!(), line!());
        }
    }
    if runtime::flag(runtime::NO_DEMAND) {
        load_image(&pier, view.image_pages, previous);
    } else {
        map_image(view.image_fd, view.image_pages, previous);
    }
    runtime::log(c"boot: protected loom");

    let mut new_pier = new_pier;
    let words = loom::words_of(view.image_pages);
    if view.image_pages == 0 {
        runtime::log(c"live: logical boot");
        new_pier = c3y;
    } else if runtime::flag(runtime::NO_DEMAND) {
        runtime::print_memory(c"live: loaded", words);
    } else {
        runtime::print_memory(c"live: mapped", words);
    }
    ensure!(fault::place_guard(view.image_pages, view.pages));
    new_pier
}

/// `_ce_loom_blit`: reads the image into the bottom of the loom (no_demand),
/// in parallel and into huge pages where it can (see `load`).
pub(super) fn load_image(pier: &Pier, pages: u32, previous: u32) {
    if pages > 0 {
        let image = image_file(pier);
        // A loom booted before in this process (u3e_stop, then u3e_live)
        // is still protected, and a read into it would fail (EFAULT).
        if let Err(errno) = loom::protect(0, pages, Access::ReadWrite) {
            say!("loom: blit protect: {}\r\n", strerror(errno));
            runtime::oops("0", file!(), line!());
        }
        // Swap mode reads into the ephemeral file's pages: no huge pages.
        if let Err(err) = load::read_image(&image, pages, !runtime::flag(runtime::SWAP)) {
            say!("loom: blit read {}\r\n", strerror(err.errno));
            runtime::oops("0", file!(), line!());
        }
    }
    protect_loom(pages, previous);
}
