//! Save (`u3e_save`, `looms_save_wait`): compose the pages, then either
//! write them durably here (a synchronous save) or capture them and hand
//! them to the worker (a background save, finished at a barrier by
//! `after_background`).

use super::*;

// ---------------------------------------------------------------------------
// Save

/// The pages a save writes: dirty, below the heap's top, not free.
pub(super) struct Composed {
    pages: Vec<u32>,
    skipped: u32,
}

/// The road's page directory: which heap pages are free.
#[derive(Clone, Copy, Debug)]
struct PageDirectory {
    /// The loom page of entry 0 (`rut_p >> u3a_page`).
    first: u32,
    /// Entries (`hep.len_w`).
    len: u32,
    /// Word offset of the entries in the loom (`hep.pag_p`).
    at: u32,
}

impl PageDirectory {
    /// The current road's directory.
    fn current() -> PageDirectory {
        let road = runtime::road_directory();
        PageDirectory {
            first: loom::page_of(road.heap_word),
            len: road.len,
            at: road.at,
        }
    }

    /// Whether the directory marks loom page `page` free (so a save skips it).
    fn is_free(&self, page: u32) -> bool {
        if page < self.first || page - self.first >= self.len {
            return false;
        }
        let word = self.at as usize + (page - self.first) as usize;
        // SAFETY: the runtime keeps its page directory inside the loom, which
        // is mapped readable.
        let entry = unsafe { core::ptr::read((loom::BASE as *const u32).add(word)) };
        entry == runtime::FREE_PAGE
    }
}

/// `_ce_patch_compose`'s selection of pages; `Err` with the page count when
/// the list cannot be allocated.
pub(super) fn compose(below: u32) -> Result<Composed, usize> {
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
pub(super) fn try_collect<T>(len: usize, item: impl FnMut(usize) -> T) -> Option<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).ok()?;
    out.extend((0..len).map(item));
    Some(out)
}

/// The watermarks of the last `u3e_save` that wrote nothing and kept the
/// previous snapshot (a soft failure), packed `low << 32 | high`, until a
/// save completes; `NO_UNSAVED` when there is none. A backup of this pier
/// retries that save first (see `backup`). Owned by the runtime's thread.
pub(super) static UNSAVED: AtomicU64 = AtomicU64::new(NO_UNSAVED);
pub(super) const NO_UNSAVED: u64 = u64::MAX;

pub(super) fn set_unsaved(marks: Option<(u3_post, u3_post)>) {
    let packed = marks.map_or(NO_UNSAVED, |(low, high)| {
        u64::from(low) << 32 | u64::from(high)
    });
    UNSAVED.store(packed, Ordering::Relaxed);
}

pub(super) fn unsaved() -> Option<(u3_post, u3_post)> {
    let packed = UNSAVED.load(Ordering::Relaxed);
    (packed != NO_UNSAVED).then_some(((packed >> 32) as u32, packed as u32))
}

/// `u3e_save`.
pub fn save(low: u3_post, high: u3_post) {
    if runtime::flag(runtime::DRYRUN) {
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
    // From the harvest to the last protection the save changes, the
    // tracking of clean pages is in flux: a signal handler's store in
    // between could be taken for clean, or fault on a page half-changed.
    // Handlers run once it is whole again (they wait, as for a fault).
    process::with_signals_blocked(|| {
        if background::enabled() {
            if let Some(saved) = try_save_background(low, high) {
                set_unsaved((!saved).then_some((low, high)));
            }
            return;
        }
        let saved = try_save(low, high);
        set_unsaved((!saved).then_some((low, high)));
    });
    // The spare mappings stores spent at the limit are set aside again.
    loom::set_aside_spares();
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
pub(super) fn refused_in_fork() -> bool {
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
pub(super) fn try_save(low: u3_post, high: u3_post) -> bool {
    if refused_in_fork() {
        return false;
    }
    let (old, total) = (pool::view().image_pages, loom::page_above(low));
    match harvest_and_compose(total, track::harvest) {
        None => false,
        Some(composed) if composed.pages.is_empty() => true,
        Some(composed) => save_now(&composed, low, high, old, total),
    }
}

/// The first steps of both kinds of save: the bitmap brought up to date,
/// then the pages below `total` composed; `None`, said, without the memory
/// for the list.
fn harvest_and_compose(total: u32, harvest: fn()) -> Option<Composed> {
    harvest();
    compose(total).map_err(say_no_memory).ok()
}

/// The runtime's calls of a save (verbose sizes, `u3a_loom_sane`), in
/// the reference's order.
pub(super) fn call_runtime(composed: &Composed) {
    let verbose = runtime::flag(runtime::VERBOSE);
    if verbose {
        say!("sync: skipped {} free", composed.skipped);
        runtime::print_memory(c" pages", loom::words_of(composed.skipped));
    }
    // Attempt to avoid propagating anything insane to disk.
    runtime::loom_sane();
    if verbose {
        runtime::print_memory(c"sync: save", loom::words_of(composed.pages.len() as u32));
    }
}

/// The synchronous save of `composed`, straight from the loom; `false`
/// when it wrote nothing.
pub(super) fn save_now(
    composed: &Composed,
    low: u3_post,
    high: u3_post,
    old: u32,
    total: u32,
) -> bool {
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
    let (written, cost) = durable::write_durably(
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
        Written::Lost => runtime::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!()),
        Written::Saved => {
            if runtime::flag(runtime::VERBOSE) {
                cost.say();
            }
            pool::image().pgs_w = total;
            settle(old);
            toss_gap(low, high);
            true
        }
    }
}

pub(super) fn say_no_memory(pages: usize) {
    say!("loom: save: no memory to list {pages} pages; nothing written, will retry\r\n");
}

// ---------------------------------------------------------------------------
// Background saves (see background.rs for the threads and who owns what)

/// The barrier: a background save being written is waited for and
/// finished here (see `background::finish`).
pub(super) fn barrier() {
    background::finish(after_background);
}

/// A background save: composes the pages as `try_save` does, makes every
/// page below the heap's top clean again, with the pages to save held as
/// they are now (`capture.rs`: copied only if stored to before the worker
/// is done with them), and hands them to the worker. `None` once the worker
/// has them; `Some` when the save ran (or found nothing to write) here,
/// synchronously, as `try_save`.
pub(super) fn try_save_background(low: u3_post, high: u3_post) -> Option<bool> {
    let (old, total) = (pool::view().image_pages, loom::page_above(low));
    // The pages found written stay unprotected: `make_clean` protects
    // them once, read-only, for the time the worker reads them.
    let Some(composed) = harvest_and_compose(total, track::harvest_leaving_written) else {
        return Some(false);
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
            if runtime::flag(runtime::VERBOSE) {
                say!("loom: save: {why}; saving synchronously\r\n");
            }
            // The pages left written are re-armed where it maps the image
            // again; until then they are dirty, and found written again.
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
            runtime::oops("0", file!(), line!());
        }
    }
    // The pages the image will no longer hold, and the gap, as a completed
    // save leaves them; then the captured pages clean, so that the next
    // save sees what the runtime stores from now on.
    let released = if runtime::flag(runtime::NO_DEMAND) {
        protect_above(total, old)
    } else {
        map_above(total, old)
    };
    dirty::set_range(pool::dirty_map(), total, total + released, true);
    dirty_last_granule(total);
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

/// The image's last, partial granule `[granule_floor(total), total)` dirty
/// and writable, as a synchronous save leaves it (`protect_loom`,
/// `map_image`): no clean page of it may stay, for a granule is tracked
/// whole and this one is not armed (`make_clean` stops below it), and the
/// shrinking of the image may have made it writable already
/// (`protect_above`). The guard is never in it: it lies granule-aligned
/// above the heap's top.
fn dirty_last_granule(total: u32) {
    let clean = loom::granule_floor(total);
    if clean == total {
        return;
    }
    if !track::clean_pages_writable() {
        if let Err(errno) = loom::protect_at_limit(clean, total - clean, Access::ReadWrite) {
            say!("loom: foul ({total} pages): {}\r\n", strerror(errno));
            runtime::oops("0", file!(), line!());
        }
    }
    dirty::set_range(pool::dirty_map(), clean, total, true);
}

/// Marks every dirty page below `total` clean and protects it read-only,
/// keeping its memory, so that the first store to it reaches the fault
/// path (and the capture). Under userfaultfd the runs to save are only
/// read-only until the barrier, which write-protects them for userfaultfd
/// (`reopen`, `map_back`); every other page below `total` is armed as
/// usual (`track::arm_for_background`). Returns the runs it made clean,
/// and the runs the kernel would not protect: under mprotect those stay
/// dirty (the next save writes them again); under userfaultfd they are
/// clean, write-protected for userfaultfd, but writable unseen by the
/// fault path (the caller copies them now).
pub(super) fn make_clean(total: u32) -> (background::Cleaned, Vec<(u32, u32)>) {
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
    }
    let mut clean = Vec::with_capacity(runs.len());
    let mut read_only = Vec::with_capacity(runs.len());
    let mut unheard = Vec::new();
    for &(first, count) in &runs {
        if loom::protect(first, count, Access::Read).is_ok() {
            dirty::set_range(map, first, first + count, false);
            clean.push((first, count));
            read_only.push((first, count));
        } else if writable {
            clean.push((first, count));
            unheard.push((first, count));
        }
    }
    if writable {
        track::arm_for_background(total, &read_only, &unheard);
    }
    let cleaned = background::Cleaned {
        runs: clean,
        // Userfaultfd may have failed over to mprotect just now: the
        // clean pages then stay read-only.
        read_only: writable && track::clean_pages_writable(),
    };
    (cleaned, unheard)
}

/// Sub-runs of `runs` whose pages are still clean (not stored to since the
/// copy) and not in the guard's granule (the guard covers a whole one).
pub(super) fn still_clean(runs: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let map = pool::dirty_map();
    let guard = pool::view().guard;
    let guarded = |page: u32| {
        page == guard || (guard != 0 && loom::granule_of(page) == loom::granule_of(guard))
    };
    let pages: Vec<u32> = runs
        .iter()
        .flat_map(|&(first, count)| first..first + count)
        .filter(|&page| !guarded(page) && !dirty::is_dirty(map, page))
        .collect();
    image::runs(&pages)
}

/// The end of a background save, on the runtime's thread, at a barrier.
pub(super) fn after_background(done: background::Finished) {
    if let Some(left_patch) = done.left_patch {
        LEFT_PATCH.store(left_patch, Ordering::Relaxed);
    }
    // What the runtime stored since `u3e_save` (userfaultfd lags).
    track::harvest();
    let clean = still_clean(&done.cleaned.runs);
    let read_only = done.cleaned.read_only && track::clean_pages_writable();
    match done.written {
        Written::Saved => {
            pool::image().pgs_w = done.total;
            if !runtime::flag(runtime::NO_DEMAND) {
                map_back(&clean, read_only);
            } else if read_only {
                reopen(&clean);
            }
            set_unsaved(None);
        }
        Written::Kept => {
            if read_only {
                reopen(&clean);
            }
            make_dirty(&clean);
            set_unsaved(Some(done.marks));
        }
        Written::Lost => runtime::oops("c3y == _ce_image_sync(&u3P.img_u)", file!(), line!()),
    }
    // The save's clean pages are tracked again, or dirty.
    track::rearmed();
    loom::set_aside_spares();
}

/// Clean pages of a background save under userfaultfd, read-only since
/// `u3e_save` and not yet write-protected for userfaultfd
/// (`track::arm_for_background`): write-protected, then writable again.
fn reopen(runs: &[(u32, u32)]) {
    let map = pool::dirty_map();
    for &(first, count) in runs {
        if !track::protect_range(first, count) {
            // Stores to them cannot be seen: dirty, saved again.
            track::forget_armed();
            dirty::set_range(map, first, first + count, true);
        }
        if loom::protect(first, count, Access::ReadWrite).is_err() {
            // The kernel refused the split: page by page, widening as a
            // store fault would; such pages count as written.
            for page in first..first + count {
                dirty::mark_dirty(map, page);
                ensure!(fault::unprotect_or_widen(map, page));
            }
        }
    }
}

/// Maps the image back under clean pages, releasing their copies (freed by
/// a thread of the library: `loom::remap_releasing`). Where the kernel
/// refuses, a page keeps its copy, which holds the same bytes.
/// `read_only`: pages a background save left read-only under userfaultfd;
/// one that keeps its copy is reopened (`reopen`).
pub(super) fn map_back(runs: &[(u32, u32)], read_only: bool) {
    let view = pool::view();
    let writable = track::clean_pages_writable();
    let map = pool::dirty_map();
    let mut released = loom::Released::default();
    for &(first, count) in runs {
        let backing = Backing::FilePrivate {
            fd: view.image_fd,
            writable,
        };
        if loom::remap_releasing(first, count, backing, &mut released).is_err() {
            if read_only {
                reopen(&[(first, count)]);
            }
        } else if writable && !track::protect_range(first, count) {
            // Registered no more: the next save arms the whole range.
            track::forget_armed();
            // Mapped, but stores to it cannot be seen: dirty, saved again.
            dirty::set_range(map, first, first + count, true);
        }
    }
    // Their copies are freed off this thread.
    released.free();
}

/// A save that wrote nothing: its pages are dirty again (and writable),
/// so the next save writes them.
pub(super) fn make_dirty(runs: &[(u32, u32)]) {
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
