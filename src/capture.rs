//! The pages of a background save, held as they were at `u3e_save`
//! without copying them (copy-on-write by hand).
//!
//! At `u3e_save` the pages to save are made clean again and read-only
//! (under userfaultfd too, until the barrier). Nothing is copied. The
//! worker then writes the patch and the image from the loom's own pages.
//! A page the runtime stores to before the worker is done with it is
//! copied first, by the fault path (the store side), into a slot of the
//! side storage reserved for it; the worker then reads the slot. So the
//! worker always writes each page as it was at the call, and the memory a
//! save costs beyond the loom is what the runtime stores to during it.
//!
//! Each page of the list has one state word:
//!
//! ```text
//!   PENDING --worker--> READING --worker--> PENDING (more reads to come)
//!      |                   |                 DONE   (its last read)
//!      |                   +-- a store waits for the worker's batch
//!      +--store--> COPYING --store--> COPIED (the worker reads the slot)
//! ```
//!
//! Every change is a single atomic operation, and every wait is a futex
//! wait on the page's word, woken by whoever leaves the state waited on:
//! the store side stays async-signal-safe and lock-free (no allocation,
//! no lock). A store waits at most for the batch the worker holds (a
//! `BATCH`), never for the save; the worker waits at most for one page's
//! copy.
//!
//! Who owns what:
//! - The runtime's thread makes a `Capture` at `u3e_save` (before the
//!   worker exists) and publishes it in `CURRENT`; it clears `CURRENT` and
//!   drops its share at the barrier, after the worker is joined. In
//!   between the page list is read-only for everyone.
//! - The worker holds a share (`Arc`) and changes states only as above.
//! - The store side (the runtime's thread: `u3e_fault`, and `u3e_toss`
//!   and the guard's moves, which also change pages the worker may read)
//!   reads `CURRENT` and changes states only as above; a slot is
//!   written only by the store side that moved its page to `COPYING`,
//!   and read only once it is `COPIED`.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crate::loom::{self, PAGE_BYTES};
use crate::sys;

// The page states' atomics and futex calls, and what watches the side
// slots' bytes: std's and atomic-wait's, and nothing; in the model check
// (the tests built with `--cfg loom`) the loom crate's (capture/model.rs).
#[cfg(all(loom, test))]
use model::{futex, AtomicU32, SlotWatch};
#[cfg(not(all(loom, test)))]
use {std::sync::atomic::AtomicU32, sys::futex};

/// Nothing outside the model check; there the copy into a slot is a write
/// access of a loom cell standing for the slot's bytes.
#[cfg(not(all(loom, test)))]
struct SlotWatch;

#[cfg(not(all(loom, test)))]
impl SlotWatch {
    fn new(_slots: usize) -> SlotWatch {
        SlotWatch
    }

    /// Runs `copy`, the copy into slot `at`.
    #[inline(always)]
    fn write(&self, _at: usize, copy: impl FnOnce()) {
        copy()
    }
}

const PENDING: u32 = 0;
const READING: u32 = 1;
const COPYING: u32 = 2;
const COPIED: u32 = 3;
const DONE: u32 = 4;
/// Set beside READING or COPYING by a side that waits for it to end: only
/// then does the side that ends it make a wake-up call.
const WAITED: u32 = 1 << 8;

/// Waits while `state` is `now` (READING or COPYING), saying so first.
fn wait_out(state: &AtomicU32, now: u32) {
    match state.compare_exchange(now, now | WAITED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => futex::wait(state, now | WAITED),
        Err(seen) if seen == now | WAITED => futex::wait(state, now | WAITED),
        Err(_) => {}
    }
}

/// Ends READING or COPYING with `next`, waking whoever waits.
fn end(state: &AtomicU32, next: u32) {
    if state.swap(next, Ordering::AcqRel) & WAITED != 0 {
        futex::wake_all(state);
    }
}

/// The most pages the worker holds at once: a store to one of them waits
/// for at most this much writing.
pub const BATCH: usize = 64;

/// Anonymous memory, a slot per page of the list, reserved at `u3e_save`
/// and backed only where a slot is written (`MAP_NORESERVE`).
struct Side {
    base: *mut u8,
    len: usize,
}

impl Side {
    fn reserve(pages: usize) -> Option<Side> {
        let len = pages.max(1).checked_mul(PAGE_BYTES)?;
        // A fresh mapping, owned by the result.
        let base = sys::map_scratch(len).ok()?;
        Some(Side { base, len })
    }

    fn slot(&self, at: usize) -> *mut u8 {
        debug_assert!(at * PAGE_BYTES < self.len);
        // SAFETY: within the mapping (one slot per page of the list).
        unsafe { self.base.add(at * PAGE_BYTES) }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        // SAFETY: unmapping this struct's own mapping; no share is left.
        let _ = unsafe { sys::unmap(self.base, self.len) };
    }
}

/// The pages of one background save.
pub struct Capture {
    /// Where page 0 is: the loom (a test gives memory of its own).
    base: *mut u8,
    /// The pages, ascending.
    pages: Vec<u32>,
    states: Box<[AtomicU32]>,
    side: Side,
    watch: SlotWatch,
}

// SAFETY: the side storage is shared under the state protocol above: a
// slot has one writer (the store side, in COPYING) before any reader (the
// worker, once COPIED).
unsafe impl Send for Capture {}
// SAFETY: as above.
unsafe impl Sync for Capture {}

/// The capture the store side consults; null when no save is being
/// written. Set and cleared by the runtime's thread only (see the module).
static CURRENT: AtomicPtr<Capture> = AtomicPtr::new(core::ptr::null_mut());

/// Where the worker reads a page from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum From {
    Loom,
    Slot,
}

impl Capture {
    /// A capture of `pages` (ascending), every one pending; `None` without
    /// the memory for its bookkeeping or address space for its slots.
    pub fn new(list: &[u32]) -> Option<Arc<Capture>> {
        Capture::over(loom::page_ptr(0), list)
    }

    /// A capture of pages `list` of the memory at `base` (the loom's pages
    /// are `PAGE_BYTES` apart from there).
    fn over(base: *mut u8, list: &[u32]) -> Option<Arc<Capture>> {
        let mut pages = Vec::new();
        pages.try_reserve_exact(list.len()).ok()?;
        pages.extend_from_slice(list);
        let mut states = Vec::new();
        states.try_reserve_exact(pages.len()).ok()?;
        states.extend((0..pages.len()).map(|_| AtomicU32::new(PENDING)));
        let side = Side::reserve(pages.len())?;
        Some(Arc::new(Capture {
            base,
            pages,
            states: states.into_boxed_slice(),
            side,
            watch: SlotWatch::new(list.len()),
        }))
    }

    /// Where `page` is.
    fn page(&self, page: u32) -> *mut u8 {
        // SAFETY: within the memory the capture was made over.
        unsafe { self.base.add(page as usize * PAGE_BYTES) }
    }

    /// The pages, ascending.
    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    /// Copies page `at` of the list now, unless a store did already: a
    /// page the runtime could store to without the store side hearing of it.
    /// Before the worker starts.
    pub fn copy_now(&self, at: usize) {
        self.before_store(at);
    }

    /// Publishes this capture to the store side (the runtime's thread).
    pub fn publish(self: &Arc<Capture>) {
        let raw = Arc::into_raw(Arc::clone(self)).cast_mut();
        let old = CURRENT.swap(raw, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: the share published earlier, taken back.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    /// How many pages were copied because the runtime stored to them (or
    /// could store to them unseen) before the worker was done.
    pub fn copied(&self) -> usize {
        self.states
            .iter()
            .filter(|state| state.load(Ordering::Acquire) == COPIED)
            .count()
    }

    /// The worker's read of pages `[from, to)` of the list: runs `with` on
    /// their bytes, which nobody changes during the call. `last`: the
    /// worker reads these pages no more (they are free for the runtime
    /// from here on without a copy).
    pub fn hold<R>(
        &self,
        from: usize,
        to: usize,
        last: bool,
        with: impl FnOnce(&[&[u8]]) -> R,
    ) -> R {
        let mut whence = [From::Loom; BATCH];
        let mut slices: [&[u8]; BATCH] = [&[]; BATCH];
        debug_assert!(to - from <= BATCH);
        for at in from..to {
            whence[at - from] = self.claim(at);
            // SAFETY: a page in READING is not stored to until released (a
            // store waits); a COPIED slot is never written again.
            slices[at - from] = unsafe {
                match whence[at - from] {
                    From::Loom => {
                        core::slice::from_raw_parts(self.page(self.pages[at]), PAGE_BYTES)
                    }
                    From::Slot => core::slice::from_raw_parts(self.side.slot(at), PAGE_BYTES),
                }
            };
        }
        let result = with(&slices[..to - from]);
        for at in from..to {
            let state = &self.states[at];
            // A copied page stays COPIED: its slot is what is saved.
            if whence[at - from] == From::Loom {
                end(state, if last { DONE } else { PENDING });
            }
        }
        result
    }

    /// The worker takes page `at` for reading: from the loom (READING) or,
    /// where a store copied it, from its slot.
    fn claim(&self, at: usize) -> From {
        let state = &self.states[at];
        loop {
            match state.compare_exchange(PENDING, READING, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return From::Loom,
                Err(COPIED) => return From::Slot,
                Err(seen) if seen & !WAITED == COPYING => wait_out(state, COPYING),
                // DONE or READING: the worker reads each page once per
                // pass and releases it before the next; neither can be.
                Err(_) => return From::Loom,
            }
        }
    }

    /// The store side, before the runtime may store to page `at` of the
    /// list: copies it if the worker still needs it, waits while the
    /// worker reads it. Async-signal-safe.
    fn before_store(&self, at: usize) {
        let state = &self.states[at];
        loop {
            match state.compare_exchange(PENDING, COPYING, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.watch.write(at, || {
                        // SAFETY: the page is mapped readable and, until
                        // this function returns, read-only for the runtime;
                        // the slot is this page's and nobody reads it
                        // before COPIED.
                        unsafe {
                            core::ptr::copy_nonoverlapping(
                                self.page(self.pages[at]),
                                self.side.slot(at),
                                PAGE_BYTES,
                            )
                        }
                    });
                    end(state, COPIED);
                    return;
                }
                Err(seen) if seen & !WAITED == READING => wait_out(state, READING),
                Err(seen) if seen & !WAITED == COPYING => wait_out(state, COPYING),
                Err(_) => return,
            }
        }
    }

    /// The store side, before pages `[first, end)` of the loom become
    /// writable: every one of them in the list is copied or waited for.
    fn before_stores(&self, first: u32, end: u32) {
        let start = self.pages.partition_point(|&page| page < first);
        for at in start..self.pages.len() {
            if self.pages[at] >= end {
                break;
            }
            self.before_store(at);
        }
    }
}

/// Before pages `[first, end)` of the loom become writable for the
/// runtime: the pending ones among them are copied (or waited for while
/// the worker reads them). Async-signal-safe and lock-free: the fault path
/// calls it.
pub fn before_stores(first: u32, end: u32) {
    let current = CURRENT.load(Ordering::Acquire);
    if current.is_null() {
        return;
    }
    // SAFETY: CURRENT holds a share until the runtime's thread clears it,
    // which it does only when no store side can be running (see the module).
    unsafe { (*current).before_stores(first, end) };
}

/// Whether a save is being written from the loom (the store side must
/// call `before_stores`).
pub fn active() -> bool {
    !CURRENT.load(Ordering::Acquire).is_null()
}

/// In a child forked during a save (a `pthread_atfork` handler): the
/// worker is the parent's and reads nothing here, so the child's stores go
/// on without the capture (never waiting for a worker that is not there).
/// Its share is left as it is: freeing memory is no business of a fork
/// handler.
pub fn forget_in_child() {
    CURRENT.store(core::ptr::null_mut(), Ordering::Release);
}

/// Ends the capture for the store side (the runtime's thread, at the
/// barrier, once the worker is gone).
pub fn clear() {
    let old = CURRENT.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: the share `publish` leaked, taken back once.
        drop(unsafe { Arc::from_raw(old) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture_of(pages: usize) -> Arc<Capture> {
        Capture::new(&(0..pages as u32).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn states_follow_the_protocol() {
        let capture = capture_of(4);
        let states = |c: &Capture| -> Vec<u32> {
            c.states.iter().map(|s| s.load(Ordering::Relaxed)).collect()
        };
        assert_eq!(states(&capture), vec![PENDING; 4]);
        assert_eq!(capture.claim(1), From::Loom);
        assert_eq!(states(&capture)[1], READING);
        capture.states[1].store(PENDING, Ordering::Release);
        capture.states[2].store(COPIED, Ordering::Release);
        assert_eq!(capture.claim(2), From::Slot);
        assert_eq!(capture.copied(), 1);
    }

    /// The protocol under real threads, over memory of the test's own: a
    /// worker reads every page twice (the patch, then the image) in
    /// batches while a store side rewrites every page in a shuffled order,
    /// each after `before_store`, as the fault path does. Every byte the
    /// worker reads must be the page as it was when the capture was made:
    /// a lost copy, a read of a page being stored to, or a copy of an
    /// already changed page shows as a wrong byte.
    #[test]
    fn the_worker_reads_every_page_as_captured_under_stores() {
        const PAGES: usize = 192;
        for round in 0..60u32 {
            let mut memory = vec![0u8; PAGES * PAGE_BYTES + PAGE_BYTES];
            // Page-aligned, as the loom is.
            let offset = memory.as_ptr().align_offset(PAGE_BYTES);
            let base = memory[offset..].as_mut_ptr();
            let fill = |page: usize, value: u8| {
                // SAFETY: within the test's memory.
                unsafe { base.add(page * PAGE_BYTES).write_bytes(value, PAGE_BYTES) };
            };
            for page in 0..PAGES {
                fill(page, page as u8);
            }
            // Every other page is in the save, as scattered dirty pages are.
            let list: Vec<u32> = (0..PAGES as u32).filter(|p| p % 2 == round % 2).collect();
            let capture = Capture::over(base, &list).unwrap();
            let base_at = base as usize;
            std::thread::scope(|scope| {
                let worker = Arc::clone(&capture);
                scope.spawn(move || {
                    for last in [false, true] {
                        let count = worker.pages().len();
                        let mut from = 0;
                        while from < count {
                            let to = (from + 7).min(count);
                            worker.hold(from, to, last, |slices| {
                                for (at, slice) in slices.iter().enumerate() {
                                    let page = worker.pages()[from + at] as u8;
                                    assert!(slice.iter().all(|&b| b == page), "page {page} torn");
                                }
                            });
                            from = to;
                            std::thread::yield_now();
                        }
                    }
                });
                let stores = Arc::clone(&capture);
                scope.spawn(move || {
                    let base = base_at as *mut u8;
                    let mut order: Vec<usize> = (0..PAGES).collect();
                    let mut x = 0x9e37_79b9u32.wrapping_mul(round + 1);
                    for i in (1..order.len()).rev() {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        order.swap(i, x as usize % (i + 1));
                    }
                    for page in order {
                        if let Ok(at) = stores.pages().binary_search(&(page as u32)) {
                            stores.before_store(at);
                        }
                        // SAFETY: the page is the store side's now.
                        unsafe { base.add(page * PAGE_BYTES).write_bytes(0xee, PAGE_BYTES) };
                    }
                });
            });
            drop(memory);
        }
    }

    #[test]
    fn side_slots_are_lazily_backed_and_separate() {
        let side = Side::reserve(3).unwrap();
        assert_eq!(side.len, 3 * PAGE_BYTES);
        // SAFETY: writing within the reserved slots.
        unsafe {
            side.slot(0).write_bytes(1, PAGE_BYTES);
            side.slot(2).write_bytes(3, PAGE_BYTES);
            assert_eq!(*side.slot(1), 0);
            assert_eq!(*side.slot(2).add(PAGE_BYTES - 1), 3);
        }
    }
}

#[cfg(all(loom, test))]
mod model;
