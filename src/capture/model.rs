//! The page-state protocol under the loom model checker (`RUSTFLAGS="--cfg
//! loom" cargo test --release --lib capture::model`, run by
//! `scripts/suites/27-model.sh`): a worker holds batches of pages while a
//! store side stores to the same pages, in every interleaving of the two
//! threads (no preemption bound) and with every value the memory
//! orderings let each atomic load see.
//!
//! The pages are memory of the model's own, each filled with one byte
//! value at the capture (`u3e_save`). Every page also has a loom cell that
//! stands for its bytes: the worker reads a page of the loom inside that
//! cell's read access and the store side writes it inside its write
//! access, so loom reports a store that is not ordered after the worker's
//! read (a store during a batch, or a release that is not a release), as
//! TSan would. The worker records every value it read through `hold`;
//! each must be the page's value at the capture, whole, whether read from
//! the loom or from a slot. The side slots have cells too (`SlotWatch`):
//! the copy into a slot is a write access, the worker's read of it a read.
//!
//! The futex calls are modelled two ways, and every model runs under both
//! (`Futex`): a wait that returns once the word has changed, woken or not
//! (as a futex wait that may wake spuriously: the callers must check the
//! word again), and a wait that sleeps until a `wake_all` on its word (the
//! kernel's queue, without spurious wake-ups): there a wake-up the protocol
//! fails to make (the `WAITED` bit) leaves a thread asleep for good, which
//! loom reports as a deadlock.
//!
//! Only in the tests built with `--cfg loom`: loom is a dev-dependency for
//! that cfg alone.

use super::*;
use ::loom::cell::UnsafeCell;
use ::loom::model::Builder;
use ::loom::thread;
// Plain counters, outside the model: what the explored executions met.
use std::sync::atomic::AtomicUsize;

pub(super) use ::loom::sync::atomic::AtomicU32;

/// The futex calls of the model (see the module).
pub(super) mod futex {
    use super::{AtomicU32, Futex, MODE, WAITS};
    use ::loom::sync::{Condvar, Mutex};
    use std::sync::atomic::Ordering;

    ::loom::lazy_static! {
        /// The kernel's side: how many wake-ups each word (by address) was
        /// sent, under the lock of its queue, and where its waiters sleep.
        static ref KERNEL: (Mutex<Vec<(usize, usize)>>, Condvar) =
            (Mutex::new(Vec::new()), Condvar::new());
    }

    fn sent(wakes: &[(usize, usize)], word: usize) -> usize {
        wakes.iter().find(|w| w.0 == word).map_or(0, |w| w.1)
    }

    /// Waits while `word` is `value`. Loads the word relaxed: a futex
    /// wait orders nothing.
    pub(in crate::capture) fn wait(word: &AtomicU32, value: u32) {
        match MODE.with(|mode| mode.get()) {
            Futex::Spurious => {
                let mut counted = false;
                while word.load(Ordering::Relaxed) == value {
                    if !counted {
                        WAITS.with(|waits| waits.set(waits.get() + 1));
                        counted = true;
                    }
                    ::loom::thread::yield_now();
                }
            }
            Futex::Exact => {
                let (queue, sleep) = &*KERNEL;
                let mut wakes = queue.lock().unwrap();
                // Checked under the queue's lock, as the kernel does: a
                // wake after the change finds this waiter queued.
                if word.load(Ordering::Relaxed) != value {
                    return;
                }
                WAITS.with(|waits| waits.set(waits.get() + 1));
                let at = word as *const AtomicU32 as usize;
                let before = sent(&wakes, at);
                while sent(&wakes, at) == before {
                    wakes = sleep.wait(wakes).unwrap();
                }
            }
        }
    }

    /// Wakes every waiter on `word`.
    pub(in crate::capture) fn wake_all(word: &AtomicU32) {
        if MODE.with(|mode| mode.get()) == Futex::Exact {
            let (queue, sleep) = &*KERNEL;
            let mut wakes = queue.lock().unwrap();
            let at = word as *const AtomicU32 as usize;
            match wakes.iter_mut().find(|w| w.0 == at) {
                Some(w) => w.1 += 1,
                None => wakes.push((at, 1)),
            }
            sleep.notify_all();
        }
    }
}

/// Stands for the side slots' bytes: a loom cell a slot, whose write
/// access is the store side's copy into it (in `before_store`) and whose
/// read access is the worker's read of it (in `hold`'s call, here), so
/// loom reports a slot read before its copy was published.
pub(super) struct SlotWatch(Box<[UnsafeCell<()>]>);

impl SlotWatch {
    pub(super) fn new(slots: usize) -> SlotWatch {
        SlotWatch((0..slots).map(|_| UnsafeCell::new(())).collect())
    }

    pub(super) fn write(&self, at: usize, copy: impl FnOnce()) {
        self.0[at].with_mut(|_| copy())
    }

    fn read<R>(&self, at: usize, read: impl FnOnce() -> R) -> R {
        self.0[at].with(|_| read())
    }
}

/// How the model's futex waits (see the module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Futex {
    /// Returns once the word has changed, whether woken or not.
    Spurious,
    /// Sleeps until a `wake_all` on the word.
    Exact,
}

// The model's threads all run on the thread that checks it (loom runs them
// as coroutines there): the futex model it chose, and how many waits found
// the word unchanged.
std::thread_local! {
    static MODE: std::cell::Cell<Futex> = const { std::cell::Cell::new(Futex::Spurious) };
    static WAITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The value page `page` holds at the capture, and the `k`th store's.
fn captured(page: usize) -> u8 {
    0x10 + page as u8
}
fn stored(k: usize) -> u8 {
    0xe0 + k as u8
}

/// The model's pages: `PAGE_BYTES` apart, as the loom's are.
struct Memory {
    base: *mut u8,
    len: usize,
    cells: Box<[UnsafeCell<()>]>,
}

// SAFETY: the bytes are shared as the loom's pages are, under the
// protocol the model checks; the cells check exactly that.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

impl Memory {
    fn new(pages: usize) -> Memory {
        let bytes: Box<[u8]> = (0..pages * PAGE_BYTES)
            .map(|at| captured(at / PAGE_BYTES))
            .collect();
        let len = bytes.len();
        Memory {
            base: Box::into_raw(bytes).cast(),
            len,
            cells: (0..pages).map(|_| UnsafeCell::new(())).collect(),
        }
    }

    /// The store side's store to `page` (once `before_store` let it).
    fn store(&self, page: usize, value: u8) {
        self.cells[page].with_mut(|_| {
            // SAFETY: within the model's memory.
            unsafe {
                self.base
                    .add(page * PAGE_BYTES)
                    .write_bytes(value, PAGE_BYTES)
            }
        });
    }

    /// What the store side finds in `page` after the run.
    fn value(&self, page: usize) -> u8 {
        // SAFETY: within the model's memory; every thread is joined.
        unsafe { *self.base.add(page * PAGE_BYTES) }
    }

    /// The worker's read of a page `hold` handed it: the page's one
    /// value (a page of two values is torn), and whether it came from
    /// the loom (else from a side slot of `capture`).
    fn read(&self, capture: &Capture, slice: &[u8]) -> (u8, bool) {
        let first = slice[0];
        let whole = || slice.iter().all(|&b| b == first);
        let offset = (slice.as_ptr() as usize).wrapping_sub(self.base as usize);
        let in_loom = offset < self.len;
        let ok = if in_loom {
            self.cells[offset / PAGE_BYTES].with(|_| whole())
        } else {
            let offset = (slice.as_ptr() as usize).wrapping_sub(capture.side.base as usize);
            assert!(
                offset < capture.side.len,
                "a page read from neither the loom nor a slot"
            );
            capture.watch.read(offset / PAGE_BYTES, whole)
        };
        assert!(ok, "a page read torn");
        (first, in_loom)
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: the box `new` made, taken back once.
        drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(self.base, self.len)) });
    }
}

/// One model: `pages` pages of memory, `list` of them in the save; the
/// worker's reads `[from, to)` of the list with their `last`, in order;
/// the store side's stores, in order, each a range `[first, end)` of
/// pages (through `before_stores`, as the fault path calls it) stored
/// to once it returns.
struct Plan {
    pages: usize,
    list: &'static [u32],
    reads: &'static [(usize, usize, bool)],
    stores: &'static [(u32, u32)],
}

/// What the explored executions met, over a whole model: reads from
/// the loom, reads from a slot, and futex waits.
#[derive(Default)]
struct Met {
    loom: AtomicUsize,
    slot: AtomicUsize,
    waits: AtomicUsize,
    runs: AtomicUsize,
}

/// Runs `plan` through loom with the futex model `mode`.
fn check(plan: &'static Plan, mode: Futex) -> Met {
    MODE.with(|m| m.set(mode));
    WAITS.with(|waits| waits.set(0));
    let met = Arc::new(Met::default());
    let seen = Arc::clone(&met);
    // No preemption bound: every interleaving.
    let mut builder = Builder::new();
    builder.preemption_bound = None;
    builder.check(move || {
        let memory = Arc::new(Memory::new(plan.pages));
        let capture = Capture::over(memory.base, plan.list).unwrap();

        let worker = {
            let (memory, capture) = (Arc::clone(&memory), Arc::clone(&capture));
            thread::spawn(move || {
                let mut read = Vec::new();
                for &(from, to, last) in plan.reads {
                    capture.hold(from, to, last, |slices| {
                        for (at, slice) in (from..to).zip(slices) {
                            read.push((at, memory.read(&capture, slice)));
                        }
                    });
                }
                read
            })
        };
        for (k, &(first, end)) in plan.stores.iter().enumerate() {
            capture.before_stores(first, end);
            for page in first..end {
                memory.store(page as usize, stored(k));
            }
        }
        let read = worker.join().unwrap();

        // Every page as it was at the capture, every time the worker
        // read it, whole.
        let expected: Vec<usize> = plan.reads.iter().flat_map(|&(f, t, _)| f..t).collect();
        assert_eq!(read.iter().map(|&(at, _)| at).collect::<Vec<_>>(), expected);
        for &(at, (value, in_loom)) in &read {
            let page = plan.list[at] as usize;
            assert_eq!(value, captured(page), "page {page} read as {value:#x}");
            let count = if in_loom { &seen.loom } else { &seen.slot };
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Every store landed (the last one to each page stays).
        for page in 0..plan.pages {
            let last = plan
                .stores
                .iter()
                .rposition(|&(first, end)| (first..end).contains(&(page as u32)));
            let value = last.map_or(captured(page), stored);
            assert_eq!(memory.value(page), value, "page {page} after the stores");
        }
        // Nobody left a page held or being copied: after a last read
        // every page is done or copied, before it pending or copied.
        let last = plan.reads.last().is_some_and(|r| r.2);
        for state in capture.states.iter() {
            let state = state.load(Ordering::Relaxed);
            let rest = if last { DONE } else { PENDING };
            assert!(
                state == rest || state == COPIED,
                "a page left in state {state:#x}"
            );
        }
        seen.runs.fetch_add(1, Ordering::Relaxed);
    });
    met.waits
        .store(WAITS.with(|waits| waits.get()), Ordering::Relaxed);
    Arc::into_inner(met).unwrap()
}

/// Checks `plan` under both futex models, and that the executions of
/// each met all three hand-offs: a read from the loom, a read from a slot
/// (a store came first) and a futex wait (a store met the batch, or the
/// worker met a copy).
fn model(plan: &'static Plan) {
    for mode in [Futex::Spurious, Futex::Exact] {
        let met = check(plan, mode);
        let runs = met.runs.into_inner();
        let (loom, slot, waits) = (
            met.loom.into_inner(),
            met.slot.into_inner(),
            met.waits.into_inner(),
        );
        println!(
            "{mode:?} futex: {runs} executions, {loom} reads from the loom, {slot} from a slot, {waits} waits"
        );
        assert!(
            loom > 0 && slot > 0 && waits > 0,
            "the model missed a hand-off ({mode:?} futex)"
        );
    }
}

/// One page, read once and for the last time, stored to once.
#[test]
fn one_page_last_read_one_store() {
    model(&Plan {
        pages: 1,
        list: &[0],
        reads: &[(0, 1, true)],
        stores: &[(0, 1)],
    });
}

/// One page, read once with more reads to come, stored to once.
#[test]
fn one_page_more_to_come_one_store() {
    model(&Plan {
        pages: 1,
        list: &[0],
        reads: &[(0, 1, false)],
        stores: &[(0, 1)],
    });
}

/// One page read twice (the patch, then the image), stored to twice:
/// a store between the passes must still be copied, the second store
/// must not copy again.
#[test]
fn one_page_two_passes_two_stores() {
    model(&Plan {
        pages: 1,
        list: &[0],
        reads: &[(0, 1, false), (0, 1, true)],
        stores: &[(0, 1), (0, 1)],
    });
}

/// Two pages of three in the save, held in one batch, stored to in the
/// other order, with a page between them that is not in the save.
#[test]
fn two_pages_one_batch_stores_in_reverse() {
    model(&Plan {
        pages: 3,
        list: &[0, 2],
        reads: &[(0, 2, true)],
        stores: &[(2, 3), (1, 2), (0, 1)],
    });
}

/// Three pages in one batch with more reads to come, and one store
/// over all three (as the guard's moves make pages writable).
#[test]
fn three_pages_one_batch_one_range_store() {
    model(&Plan {
        pages: 3,
        list: &[0, 1, 2],
        reads: &[(0, 3, false)],
        stores: &[(0, 3)],
    });
}

/// Three pages in two batches, then all three again as the last read,
/// two of them stored to.
#[test]
fn three_pages_two_batches_two_passes() {
    model(&Plan {
        pages: 3,
        list: &[0, 1, 2],
        reads: &[(0, 2, false), (2, 3, false), (0, 3, true)],
        stores: &[(1, 2), (2, 3)],
    });
}
