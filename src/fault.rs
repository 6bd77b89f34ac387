//! The store-fault path and the guard page.
//!
//! `u3e_fault` runs inside the runtime's SIGSEGV handler: everything reached
//! from here is async-signal-safe. No allocation, no lock, no panic, no
//! formatting beyond `msg::Line`'s fixed buffer.
//!
//! A first store to a clean page faults once: the page is marked dirty and
//! made writable (or, in swap mode, remapped onto the ephemeral file). The
//! guard page sits between the heap and the stack, `PROT_NONE` and dirty; a
//! store into it means the two are close, so the guard moves to the middle
//! of the gap, or the loom is exhausted (`meme`) when the gap is one page.
//!
//! While a background save is written, a first store to one of its pages
//! has the page copied first (`capture::before_stores`), so the save
//! writes it as it was at `u3e_save`: still one fault per first store.
//!
//! In swap mode the pages stored to live in the ephemeral file, mapped
//! shared: a child forked without exec, whose stores to pages writable at
//! the fork would take no fault, has them made private first
//! (`detach_swap_file`, from the fork handler).
//!
//! All of it in granules (`loom`): a first store dirties its whole granule,
//! the guard covers one, and the guard's decisions count granules (a
//! granule is a page wherever the kernel's page is at most 16 KiB).

use crate::abi::u3e_flaw;
use crate::capture;
use crate::dirty;
use crate::loom::{self, Access, MAX_GRANULE_BYTES};
use crate::msg::Line;
use crate::pool;
use crate::runtime::ensure;
use crate::sys;

/// The guard's place in a gap between heap page `low` and stack page `high`.
pub const fn guard_between(low: u32, high: u32) -> u32 {
    low + (high - low) / 2
}

/// What a hit on the guard page means, given the watermark pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clip {
    /// No guard, or the guard is strictly between the watermarks: a bogus
    /// fault.
    Bogus,
    /// The heap meets the stack: the loom is exhausted.
    Exhausted,
    /// Move the guard to this page.
    Move(u32),
}

/// `_ce_ward_clip`'s decision, pure.
pub const fn clip(guard: u32, low: u32, high: u32) -> Clip {
    if guard == 0 || (low < guard && high > guard) {
        Clip::Bogus
    } else if high <= low + 1 {
        Clip::Exhausted
    } else {
        Clip::Move(guard_between(low, high))
    }
}

/// Protects the guard page (`_ce_ward_protect`); false on failure, reported.
pub fn protect_guard() -> bool {
    let guard = pool::view().guard;
    protect_guard_at(guard, guard)
}

/// The guard's first page for heap page `low` and stack page `high`: the
/// middle granule between theirs.
pub fn guard_place(low: u32, high: u32) -> u32 {
    guard_between(loom::granule_of(low), loom::granule_of(high)) * loom::granule_pages()
}

/// The pages `[first, end)` of the granule holding `page`.
fn granule_span(page: u32) -> (u32, u32) {
    let first = loom::granule_floor(page);
    (first, first + loom::granule_pages())
}

/// Places the guard between `low` and `high` and protects it (`_ce_ward_post`).
pub fn place_guard(low: u32, high: u32) -> bool {
    let old = pool::view().guard;
    let new = guard_place(low, high);
    // SAFETY: single-threaded pool access (see pool::get).
    unsafe { pool::get().gar_w = new };
    protect_guard_at(old, new)
}

/// Protects the guard at `new` (`old`: where it was, about to be released).
/// Protecting one page splits the loom's mapping; when the kernel refuses
/// the split (`ENOMEM` near `vm.max_map_count`), room is made first, as
/// for an ordinary store (README difference 17): the old guard, dirty and
/// released right after anyway, becomes writable so that it merges back
/// into its neighbours; failing that, an aligned run of pages around the
/// new place is made dirty and writable (or moved onto the ephemeral file
/// in swap mode) in one call, merging its mappings.
fn protect_guard_at(old: u32, new: u32) -> bool {
    // The guard may land on a page a background save still reads (the
    // heap shrank since the save): the save gets it first.
    let (first, end) = granule_span(new);
    capture::before_stores(first, end);
    match loom::protect(new, 1, Access::Nothing) {
        Ok(()) => return true,
        Err(sys::ENOMEM) => {}
        Err(errno) => return report_guard(new, errno),
    }
    let view = pool::view();
    let map = pool::dirty_map();
    if old != new
        && old < view.pages
        && dirty::is_dirty(map, old)
        && loom::protect(old, 1, Access::ReadWrite).is_ok()
    {
        match loom::protect(new, 1, Access::Nothing) {
            Ok(()) => return true,
            Err(sys::ENOMEM) => {}
            Err(errno) => return report_guard(new, errno),
        }
    }
    for width in WIDENINGS {
        let (first, end) = widened(new, width, view.pages);
        let merged = if view.ephemeral_fd != 0 {
            move_run(map, new, first, end, new, view.ephemeral_fd)
        } else {
            unprotect_run(map, first, end, new)
        };
        match merged.and_then(|()| loom::protect(new, 1, Access::Nothing)) {
            Ok(()) => return true,
            Err(sys::ENOMEM) => continue,
            Err(errno) => return report_guard(new, errno),
        }
    }
    report_guard(new, sys::ENOMEM)
}

fn report_guard(guard: u32, errno: i32) -> bool {
    Line::new()
        .str("loom: failed to protect guard page (")
        .dec(u64::from(guard))
        .str("): ")
        .errno(errno)
        .str("\r\n")
        .emit();
    false
}

/// Makes a just-dirtied page writable; false on failure, reported.
pub fn unprotect(page: u32) -> bool {
    match loom::protect(page, 1, Access::ReadWrite) {
        Ok(()) => true,
        Err(errno) => report_mprotect(page, errno),
    }
}

/// The widths, in pages, tried in turn when the kernel runs out of mappings.
const WIDENINGS: [u32; 4] = [64, 1024, 16384, 1 << 20];

/// Makes a just-dirtied page writable. Every first store splits the loom's
/// mapping; when the kernel refuses another split (`ENOMEM`, near
/// `vm.max_map_count`), the whole aligned run around the page is marked
/// dirty and made writable instead, so that neighbouring mappings merge.
/// Marking extra pages dirty only makes the next save write them.
pub(crate) fn unprotect_or_widen(map: &mut [u32], page: u32) -> bool {
    match loom::protect(page, 1, Access::ReadWrite) {
        Ok(()) => return true,
        Err(sys::ENOMEM) => {}
        Err(errno) => return report_mprotect(page, errno),
    }
    let view = pool::view();
    for width in WIDENINGS {
        let (first, end) = widened(page, width, view.pages);
        match unprotect_run(map, first, end, view.guard) {
            Ok(()) => return true,
            Err(sys::ENOMEM) => continue,
            Err(errno) => return report_mprotect(page, errno),
        }
    }
    report_mprotect(page, sys::ENOMEM)
}

/// The run of `width` pages (a power of two), aligned, that holds `page`,
/// clipped to the loom's `pages`.
pub const fn widened(page: u32, width: u32, pages: u32) -> (u32, u32) {
    let first = page & !(width - 1);
    let end = if pages.saturating_sub(first) < width {
        pages
    } else {
        first + width
    };
    (first, end)
}

/// The parts of the aligned run `[first, end)` either side of the guard's
/// granule.
fn around_guard(first: u32, end: u32, guard: u32) -> [(u32, u32); 2] {
    let (low, high) = granule_span(guard);
    if first <= low && low < end {
        [(first, low), (high.min(end), end)]
    } else {
        [(first, end), (end, end)]
    }
}

/// Marks pages `[first, end)` dirty and writable, leaving the guard alone.
fn unprotect_run(map: &mut [u32], first: u32, end: u32, guard: u32) -> Result<(), i32> {
    let spans = around_guard(first, end, guard);
    for (from, to) in spans {
        if from < to {
            capture::before_stores(from, to);
            loom::protect(from, to - from, Access::ReadWrite)?;
            dirty::set_range(map, from, to, true);
        }
    }
    Ok(())
}

fn report_mprotect(page: u32, errno: i32) -> bool {
    Line::new()
        .str("loom: fault mprotect (")
        .dec(u64::from(page))
        .str("): ")
        .errno(errno)
        .str("\r\n")
        .emit();
    false
}

/// Swap mode: moves a just-dirtied page's granule onto the ephemeral file,
/// keeping its contents. The copy lives in a static buffer: the stack may
/// itself be growing through this very fault. Each move splits the loom's
/// mapping; when the kernel refuses another split, the whole aligned run
/// around the page moves instead (see `move_run`), as `unprotect_or_widen`
/// does for protections.
fn move_to_ephemeral(map: &mut [u32], page: u32, fd: sys::Fd) -> bool {
    static mut SAVED: [u8; MAX_GRANULE_BYTES] = [0; MAX_GRANULE_BYTES];
    // SAFETY: the handler is not re-entered for a loom page while it runs
    // (the page in question is readable), so the buffer has one user.
    let buffer = unsafe { (&raw mut SAVED).as_mut().unwrap_unchecked() };
    let first = loom::granule_floor(page);
    let count = loom::granule_pages();
    let saved = &mut buffer[..loom::bytes_of(count)];
    // SAFETY: a clean granule is mapped readable.
    saved.copy_from_slice(unsafe { loom::pages(first, count) });
    // In a child forked without exec the ephemeral file is the parent's,
    // and a background save of the parent may still be reading this very
    // granule from it: the child's stores go to memory of its own.
    let backing = if crate::process::forked_from().is_some() {
        loom::Backing::Anonymous
    } else {
        loom::Backing::FileShared(fd)
    };
    match loom::remap(first, count, backing) {
        Ok(()) => {
            // SAFETY: the granule is now mapped read-write.
            unsafe { loom::pages_mut(first, count) }.copy_from_slice(saved);
            return true;
        }
        Err(sys::ENOMEM) => {}
        Err(errno) => return report_mmap(page, errno),
    }
    if crate::process::forked_from().is_some() {
        // Widening writes the parent's file: not from a child.
        return report_mmap(page, sys::ENOMEM);
    }
    let view = pool::view();
    for width in WIDENINGS {
        let (first, end) = widened(page, width, view.pages);
        match move_run(map, page, first, end, view.guard, fd) {
            Ok(()) => return true,
            Err(sys::ENOMEM) => continue,
            Err(errno) => return report_mmap(page, errno),
        }
    }
    report_mmap(page, sys::ENOMEM)
}

/// Moves pages `[first, end)`, except the guard's granule, onto the
/// ephemeral file in one mapping per side of it, and marks them dirty. Pages
/// already dirty live in the file at their own offsets (swap mode maps
/// everything above the image there at boot, and moves image pages there on
/// their first store); the clean ones, and `page`'s granule itself, are
/// first written into the file, so the new mapping shows the same bytes.
fn move_run(
    map: &mut [u32],
    page: u32,
    first: u32,
    end: u32,
    guard: u32,
    fd: sys::Fd,
) -> Result<(), i32> {
    let guard_granule = loom::granule_of(guard);
    let page_granule = loom::granule_of(page);
    // The run is remapped: a background save gets its pages first.
    capture::before_stores(first, end);
    for at in first..end {
        let granule = loom::granule_of(at);
        if granule != guard_granule && (granule == page_granule || !dirty::is_dirty(map, at)) {
            // SAFETY: every loom page but the guard is mapped readable.
            let bytes = unsafe { loom::page_bytes(at) };
            let mut done = 0;
            while done < bytes.len() {
                let rest = &bytes[done..];
                // fd is the ephemeral file.
                match sys::pwrite(fd, rest, (loom::bytes_of(at) + done) as u64) {
                    Ok(0) => return Err(sys::EIO),
                    Ok(n) => done += n,
                    Err(sys::EINTR | sys::EAGAIN) => {}
                    Err(errno) => return Err(errno),
                }
            }
        }
    }
    let pages = pool::view().pages;
    for (from, to) in around_guard(first, end, guard) {
        if from < to {
            loom::remap_at_limit_unmapping(from, to - from, loom::Backing::FileShared(fd), pages)?;
            dirty::set_range(map, from, to, true);
        }
    }
    Ok(())
}

fn report_mmap(page: u32, errno: i32) -> bool {
    Line::new()
        .str("loom: fault mmap failed (")
        .dec(u64::from(page))
        .str("): ")
        .errno(errno)
        .str("\r\n")
        .emit();
    false
}

/// How a granule of the loom is protected, by its dirty bit: what a
/// private view of it must keep.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kept {
    Clean,
    Dirty,
    Guard,
}

/// Makes every page of the loom mapped shared from the swap file private:
/// copy-on-write over the same file `fd` at the same offsets, protected as
/// its granule's dirty bit says (the guard's granule not at all), so that
/// the loom reads the same bytes and no store through it reaches the file.
/// Run in a child forked without exec, where the file and the pages it
/// backs are the parent's (a page that was writable at the fork would
/// otherwise take the child's stores without a fault), and by `u3e_stop`
/// before it closes the file (a child forked later must not write the
/// pages the stopped process still maps). Where a run cannot be mapped
/// writable (no memory may be committed to it), it is mapped read-only and
/// marked clean, so that a store faults and gets memory of its own (see
/// `move_to_ephemeral`); where it cannot be mapped privately at all, it
/// is made inaccessible, and said: a store there fails loudly rather than
/// write the file. Async-signal-safe (no allocation); false when a run
/// had to be made inaccessible.
pub fn detach_swap_file(fd: sys::Fd) -> bool {
    let view = pool::view();
    let map = pool::dirty_map();
    let guard = (view.guard != 0).then(|| loom::granule_of(view.guard));
    let kept = |map: &[u32], page: u32| {
        let (first, end) = granule_span(page);
        if Some(loom::granule_of(page)) == guard {
            Kept::Guard
        } else if dirty::count_dirty(map, first, end.min(view.pages)) > 0 {
            Kept::Dirty
        } else {
            Kept::Clean
        }
    };
    let mut whole = true;
    for (first, end) in loom::shared_runs(view.pages) {
        let mut from = first;
        while from < end {
            let class = kept(map, from);
            let mut to = (loom::granule_floor(from) + loom::granule_pages()).min(end);
            while to < end && kept(map, to) == class {
                to = (to + loom::granule_pages()).min(end);
            }
            whole &= detach_run(map, from, to, class, fd);
            from = to;
        }
    }
    whole
}

/// `detach_swap_file` for pages `[from, to)`, all kept as `class`.
fn detach_run(map: &mut [u32], from: u32, to: u32, class: Kept, fd: sys::Fd) -> bool {
    let count = to - from;
    let copy = |writable| {
        if fd <= 0 {
            return Err(sys::EBADF);
        }
        loom::remap_at_limit(from, count, loom::Backing::FileCopy { fd, writable })
    };
    let mapped = match class {
        Kept::Dirty => {
            copy(true).or_else(|_| copy(false).map(|()| dirty::set_range(map, from, to, false)))
        }
        Kept::Clean => copy(false),
        Kept::Guard => copy(false).and_then(|()| loom::protect(from, count, Access::Nothing)),
    };
    let Err(errno) = mapped else {
        return true;
    };
    let sealed = loom::protect(from, count, Access::Nothing).is_ok();
    Line::new()
        .str("loom: swap file: pages ")
        .dec(u64::from(from))
        .str("-")
        .dec(u64::from(to))
        .str(" cannot be mapped privately (")
        .errno(errno)
        .str(if sealed {
            "); made inaccessible\r\n"
        } else {
            "); a store there reaches the swap file\r\n"
        })
        .emit();
    false
}

/// Handles a hit on the guard page.
fn guard_hit(page: u32, low: u32, high: u32) -> u3e_flaw {
    let old = pool::view().guard;
    let granule = loom::granule_of;
    match clip(granule(old), granule(low), granule(high)) {
        Clip::Bogus => {
            Line::new()
                .str("loom: ward bogus (>")
                .dec(u64::from(low))
                .str(" ")
                .dec(u64::from(old))
                .str(" ")
                .dec(u64::from(high))
                .str("<)\r\n")
                .emit();
            return u3e_flaw::u3e_flaw_sham;
        }
        Clip::Exhausted => return u3e_flaw::u3e_flaw_meme,
        Clip::Move(_) => {
            if !place_guard(low, high) {
                return u3e_flaw::u3e_flaw_base;
            }
            ensure!(old != pool::view().guard);
        }
    }
    if !dirty::is_dirty(pool::dirty_map(), page) {
        Line::new()
            .str("loom: strange guard (")
            .int(i64::from(page as i32))
            .str(")\r\n")
            .emit();
        return u3e_flaw::u3e_flaw_sham;
    }
    if !unprotect(page) {
        return u3e_flaw::u3e_flaw_base;
    }
    u3e_flaw::u3e_flaw_good
}

/// `u3e_fault`: a store hit a protected loom word `post`, with the heap's top
/// at word `low` and the stack's top at word `high`.
pub fn fault(low: u32, high: u32, post: u32) -> u3e_flaw {
    let page = loom::page_of(post);
    let guard = pool::view().guard;
    if page == guard || (guard != 0 && loom::granule_of(page) == loom::granule_of(guard)) {
        return guard_hit(page, loom::page_of(low), loom::page_of(high));
    }
    let map = pool::dirty_map();
    if dirty::is_dirty(map, page) {
        Line::new()
            .str("loom: strange page (")
            .int(i64::from(page as i32))
            .str("): ")
            .hex(post)
            .str("\r\n")
            .emit();
        return u3e_flaw::u3e_flaw_sham;
    }
    let (first, end) = granule_span(page);
    let end = end.min(pool::view().pages);
    // A background save still writing this granule's pages gets them as
    // they are, before the store lands.
    capture::before_stores(first, end);
    dirty::set_range(map, first, end, true);
    let ephemeral = pool::view().ephemeral_fd;
    let handled = if ephemeral != 0 {
        move_to_ephemeral(map, page, ephemeral)
    } else {
        unprotect_or_widen(map, page)
    };
    if handled {
        u3e_flaw::u3e_flaw_good
    } else {
        u3e_flaw::u3e_flaw_base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn guard_goes_to_the_middle() {
        assert_eq!(guard_between(0, 65536), 32768);
        assert_eq!(guard_between(10, 13), 11);
        assert_eq!(guard_between(10, 12), 11);
        assert_eq!(guard_between(10, 11), 10);
    }

    #[test]
    fn clip_decisions() {
        assert_eq!(clip(0, 1, 100), Clip::Bogus);
        assert_eq!(clip(50, 10, 100), Clip::Bogus);
        assert_eq!(clip(50, 50, 100), Clip::Move(75));
        assert_eq!(clip(50, 10, 50), Clip::Move(30));
        assert_eq!(clip(50, 50, 51), Clip::Exhausted);
        assert_eq!(clip(50, 50, 50), Clip::Exhausted);
        assert_eq!(clip(50, 49, 50), Clip::Exhausted);
    }

    #[test]
    fn widened_runs_are_aligned_and_clipped() {
        assert_eq!(widened(100, 64, 1000), (64, 128));
        assert_eq!(widened(64, 64, 1000), (64, 128));
        assert_eq!(widened(990, 64, 1000), (960, 1000));
        assert_eq!(widened(5, 1 << 20, 1000), (0, 1000));
    }

    proptest! {
        #[test]
        fn a_widened_run_holds_the_page(page in 0u32..(1 << 20), shift in 0u32..21, extra in 1u32..1000) {
            let pages = (page + extra).min(1 << 20);
            let (first, end) = widened(page, 1 << shift, pages);
            prop_assert!(first <= page && page < end && end <= pages);
            prop_assert!(end - first <= 1 << shift);
        }

        #[test]
        fn a_moved_guard_is_strictly_inside(low in 0u32..1_000_000, gap in 2u32..1_000_000) {
            let high = low + gap;
            for guard in [low, high] {
                if guard == 0 { continue; }
                match clip(guard, low, high) {
                    Clip::Move(new) => prop_assert!(low < new && new < high && new != guard),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
    }
}
