//! Saves that do not stop the runtime (`LOOMS_SAVE=background`).
//!
//! `u3e_save` composes the page set exactly as a synchronous save does,
//! copies the pages into a staging buffer, makes them clean again (so that
//! later stores are seen by the next save) and returns. A worker thread then
//! runs the very same durable protocol (`snapshot::write_durably`: patch
//! written and synced, directory synced, image written and synced, patch
//! removed, directory synced) from the copy. A barrier on the runtime's
//! thread waits for the worker and finishes the save there
//! (`snapshot::after_background`): pages not stored to since the copy are
//! mapped back onto the image, or, if nothing was written, marked dirty
//! again; a failure after the patch was durable ends in `u3m_bail`.
//!
//! Barriers: the next `u3e_save`, `u3e_backup`, `u3e_stop`, `u3e_live`,
//! `u3e_image_open_any`, `u3e_yolo`, `u3e_foul`, `u3e_init`,
//! `looms_save_wait`, and process exit (an `atexit` handler that only waits).
//!
//! Who owns what:
//! - The runtime's thread owns the pool (`u3e_Pool`, its dirty bitmap), the
//!   loom's mappings and protections, `LEFT_PATCH` and `UNSAVED`
//!   (snapshot.rs), the mode and bound below, and `STATE`: the staging
//!   buffer and the pending save. Only a call inside the library
//!   (`process::enter`, one at a time) touches `STATE`; its mutex is taken
//!   with `try_lock`, never waited for, and never held across a join, a
//!   runtime call or anything that can exit.
//! - The worker owns its `Job`, moved into it at the spawn: the pier's
//!   paths, its own descriptor of `image.bin`, the page list and read access
//!   to the staging buffer. It returns its result through the join handle,
//!   publishes how it ended in `OUTCOME`, and touches nothing else: not the
//!   pool, not the loom, no runtime function (`u3l_log`, `u3m_bail`,
//!   `u3a_*`); it speaks only through `loom: save: …` lines (`write(2)`).
//! - `OUTCOME` is shared by everyone and written with single atomic stores:
//!   `RUNNING` by the runtime's thread before the spawn, the result by the
//!   worker, `IDLE` by the runtime's thread once it has finished the save,
//!   `ORPHANED` in a forked child. Threads other than the runtime's, signal
//!   handlers and the exit handler only wait on it (a futex wait: no lock
//!   that a fork or a signal could leave held) and never finish a save:
//!   finishing maps pages back under the runtime's stores, which only the
//!   runtime's thread may do.
//! - The staging buffer is written by the runtime's thread before the spawn
//!   and read by the worker until the join; the spawn and the join order the
//!   two threads' accesses, and nothing touches it in between.
//! - `u3e_fault` reads none of this: the fault path stays lock-free.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;

use crate::abi::u3_post;
use crate::image::File;
use crate::loom::PAGE_BYTES;
use crate::msg::{escape, say};
use crate::pier::Pier;
use crate::process::this_pid;
use crate::snapshot::{self, Written};

/// What `LOOMS_SAVE` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The reference's save: `u3e_save` returns once the snapshot is durable.
    Sync,
    /// `u3e_save` returns once the pages are copied; a worker writes them.
    Background,
}

impl Mode {
    /// Parses `LOOMS_SAVE`; anything unknown is `None`.
    pub fn parse(value: Option<&str>) -> Option<Mode> {
        match value {
            None | Some("") | Some("sync") => Some(Mode::Sync),
            Some("background") => Some(Mode::Background),
            Some(_) => None,
        }
    }
}

/// The most a background save copies, by default: 1 GiB (65,536 pages).
pub const DEFAULT_BOUND: usize = 1 << 30;

/// Whether saves run in the background. Set at `u3e_live`.
static BACKGROUND: AtomicBool = AtomicBool::new(false);
/// `LOOMS_SAVE_MEMORY`: the most bytes a background save copies; a larger
/// save runs synchronously.
static BOUND: AtomicUsize = AtomicUsize::new(DEFAULT_BOUND);

/// Parses `LOOMS_SAVE_MEMORY`: bytes, in decimal.
pub fn parse_bound(value: Option<&str>) -> Option<usize> {
    match value {
        None | Some("") => Some(DEFAULT_BOUND),
        Some(text) => text.parse::<usize>().ok(),
    }
}

/// An environment variable as text; one that is not UTF-8 is unknown
/// (`Err` with its bytes, for the message).
fn env_text(name: &str) -> Result<Option<String>, Vec<u8>> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Some(text) => Ok(Some(text.to_string())),
            None => Err(value.as_encoded_bytes().to_vec()),
        },
    }
}

/// Reads `LOOMS_SAVE` and `LOOMS_SAVE_MEMORY` at boot; an unknown value is
/// said in one `loom:` line and the default used. Verbose mode says which
/// mode is in use.
pub fn start(verbose: bool) {
    let mode = match env_text("LOOMS_SAVE") {
        Ok(text) => Mode::parse(text.as_deref()).ok_or_else(|| text.unwrap_or_default().into()),
        Err(bytes) => Err(bytes),
    };
    let mode = mode.unwrap_or_else(|bytes: Vec<u8>| {
        say!(
            "loom: LOOMS_SAVE={} is not sync or background; using sync\r\n",
            escape(&bytes)
        );
        Mode::Sync
    });
    let bound = match env_text("LOOMS_SAVE_MEMORY") {
        Ok(text) => parse_bound(text.as_deref()).ok_or_else(|| text.unwrap_or_default().into()),
        Err(bytes) => Err(bytes),
    };
    let bound = bound.unwrap_or_else(|bytes: Vec<u8>| {
        say!(
            "loom: LOOMS_SAVE_MEMORY={} is not a number of bytes; using {DEFAULT_BOUND}\r\n",
            escape(&bytes)
        );
        DEFAULT_BOUND
    });
    BACKGROUND.store(mode == Mode::Background, Ordering::Relaxed);
    BOUND.store(bound, Ordering::Relaxed);
    if verbose {
        match mode {
            Mode::Sync => say!("loom: saves: sync\r\n"),
            Mode::Background => say!(
                "loom: saves: background (up to {} copied per save)\r\n",
                bound_text(bound)
            ),
        }
    }
}

/// A LOOMS_SAVE_MEMORY bound as said in messages: `N MiB` when it is whole
/// mebibytes, else `N bytes` (a bound under 1 MiB is not "0 MiB").
fn bound_text(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Whether saves run in the background.
pub fn enabled() -> bool {
    BACKGROUND.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// The staging buffer

/// Anonymous memory the pages are copied into, kept between saves: memory
/// touched for the first time costs far more than a copy into memory
/// touched before. Once a save is durable it is handed back lazily
/// (`MADV_FREE`): the kernel takes it under memory pressure, and otherwise
/// the next save reuses it as it is.
struct Staging {
    base: *mut u8,
    len: usize,
}

// SAFETY: the buffer is plain memory; who may touch it when is the
// module's hand-off (runtime's thread before the spawn, worker until the
// join).
unsafe impl Send for Staging {}

/// The mapping grows in whole huge pages.
const HUGE: usize = 2 << 20;
/// `MADV_POPULATE_WRITE` (Linux 5.14): fault the range in, writable, in one call.
const MADV_POPULATE_WRITE: libc::c_int = 23;

impl Staging {
    const fn empty() -> Staging {
        Staging {
            base: core::ptr::null_mut(),
            len: 0,
        }
    }

    /// Makes room for `bytes`, populated; `false` without the memory.
    fn reserve(&mut self, bytes: usize) -> bool {
        if self.len < bytes {
            self.release();
            let len = bytes.next_multiple_of(HUGE);
            // SAFETY: a fresh private anonymous mapping, owned by this struct.
            let base = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return false;
            }
            // SAFETY: advice on the mapping just made; refusal changes nothing.
            let _ = unsafe { crate::sys::advise_huge_pages(base, len) };
            self.base = base.cast();
            self.len = len;
        }
        // Faulting the pages in one call is much cheaper than one fault per
        // page during the copy; where the kernel refuses, the copy faults.
        // SAFETY: advice on this struct's mapping.
        unsafe { libc::madvise(self.base.cast(), bytes, MADV_POPULATE_WRITE) };
        true
    }

    /// Lets the kernel reclaim the buffer until it is written again.
    fn lazy_free(&self) {
        if self.len > 0 {
            // SAFETY: advice on this struct's mapping, which no one uses now.
            unsafe { libc::madvise(self.base.cast(), self.len, libc::MADV_FREE) };
        }
    }

    /// Unmaps the buffer (at `u3e_stop`).
    fn release(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping this struct's mapping, which no one uses now.
            unsafe { libc::munmap(self.base.cast(), self.len) };
        }
        *self = Staging::empty();
    }
}

// ---------------------------------------------------------------------------
// The worker

/// The staging buffer's address, as the worker reads it.
struct Copy(*const u8);
// SAFETY: see the module's hand-off: the worker only reads the buffer, and
// the runtime's thread does not touch it until the join.
unsafe impl Send for Copy {}

/// What the worker is given: everything it touches.
pub(crate) struct Job {
    pier: Pier,
    image: File,
    pages: Vec<u32>,
    copy: Copy,
    total: u32,
    old: u32,
    left_patch: bool,
}

/// What the worker hands back: how the protocol ended, and whether an
/// applied patch could not be removed (`LEFT_PATCH`).
type Outcome = (Written, bool);

impl Job {
    /// The durable protocol, from the copy. Runs on the worker (or, where
    /// no thread can be had, on the runtime's thread).
    fn run(self) -> Outcome {
        let count = self.pages.len();
        let mut slices: Vec<&[u8]> = Vec::new();
        if slices.try_reserve_exact(count).is_err() {
            say!("loom: save: no memory to list {count} pages; nothing written, will retry\r\n");
            return (Written::Kept, self.left_patch);
        }
        // SAFETY: the buffer holds `count` pages, copied before the spawn
        // and not touched by anyone else until the join.
        slices.extend((0..count).map(|at| unsafe {
            core::slice::from_raw_parts(self.copy.0.add(at * PAGE_BYTES), PAGE_BYTES)
        }));
        let mut left_patch = self.left_patch;
        let written = snapshot::write_durably(
            &self.pier,
            &self.image,
            &self.pages,
            &slices,
            snapshot::Lengths {
                total: self.total,
                old: self.old,
            },
            &mut left_patch,
            &mut || {},
        );
        (written, left_patch)
    }
}

/// A save the worker is writing, as the runtime's thread keeps it.
struct Pending {
    worker: JoinHandle<Outcome>,
    /// Runs `(first, count)` of the pages made clean at the copy: every page
    /// that was dirty below the heap's top.
    captured: Vec<(u32, u32)>,
    total: u32,
    marks: (u3_post, u3_post),
}

/// What a barrier finishes with.
pub(crate) struct Finished {
    pub written: Written,
    /// `None`: unknown (the worker was the parent's); `LEFT_PATCH` stays.
    pub left_patch: Option<bool>,
    pub captured: Vec<(u32, u32)>,
    pub total: u32,
    pub marks: (u3_post, u3_post),
}

struct State {
    staging: Staging,
    pending: Option<Pending>,
}

static STATE: Mutex<State> = Mutex::new(State {
    staging: Staging::empty(),
    pending: None,
});

/// The runtime's state, for the call inside the library. `None` only where
/// the lock was copied held into a forked child: there is nothing of this
/// process's in it then.
fn state() -> Option<std::sync::MutexGuard<'static, State>> {
    match STATE.try_lock() {
        Ok(state) => Some(state),
        // A poisoned lock cannot happen (panics abort); take it anyway.
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

// ---------------------------------------------------------------------------
// How the last background save ended, for everyone

/// No background save is pending (or the last one has been finished).
const IDLE: u32 = 0;
/// The worker is writing.
const RUNNING: u32 = 1;
/// The worker is done: the snapshot is durable.
const SAVED: u32 = 2;
/// The worker is done: nothing written, the previous snapshot kept.
const KEPT: u32 = 3;
/// The worker is done: the image failed after the patch was durable.
const LOST: u32 = 4;
/// A forked child: the worker was the parent's.
const ORPHANED: u32 = 5;

static OUTCOME: AtomicU32 = AtomicU32::new(IDLE);
/// The process that started the last worker (the one `OUTCOME` and the
/// pending save describe): in a forked child it is the parent's, the worker
/// does not exist there, and its handle must never be joined.
static WORKER_PID: AtomicI32 = AtomicI32::new(0);

fn outcome_code(written: Written) -> u32 {
    match written {
        Written::Saved => SAVED,
        Written::Kept => KEPT,
        Written::Lost => LOST,
    }
}

/// Waits (a futex wait; async-signal-safe, no lock) while a worker of this
/// process is writing; returns the word it ended with.
fn wait_while_running() -> u32 {
    loop {
        let now = OUTCOME.load(Ordering::Acquire);
        if now != RUNNING || WORKER_PID.load(Ordering::Acquire) != this_pid() {
            return now;
        }
        atomic_wait::wait(&OUTCOME, RUNNING);
    }
}

/// For a caller that may not finish a save (another thread, a signal
/// handler, a call while another is inside): waits for a save being
/// written and says whether the last background save is durable. `None`
/// when none was pending: the caller answers from what the last finished
/// save left.
pub fn wait_only() -> Option<bool> {
    match wait_while_running() {
        IDLE => None,
        SAVED => Some(true),
        _ => Some(false),
    }
}

/// In a child forked without exec (a `pthread_atfork` handler): the worker
/// is the parent's, and nothing in the child waits for it.
pub fn orphan_in_child() {
    let _ = OUTCOME.compare_exchange(RUNNING, ORPHANED, Ordering::SeqCst, Ordering::SeqCst);
}

/// Copies `pages` (ascending) for a background save into the staging
/// buffer and opens the image for the worker. `Err` says why this save
/// must run synchronously instead; nothing has changed then.
pub(crate) fn stage(
    pier: &Pier,
    image_fd: libc::c_int,
    pages: &[u32],
    total: u32,
    old: u32,
    left_patch: bool,
) -> Result<Job, String> {
    let bytes = pages.len().saturating_mul(PAGE_BYTES);
    let bound = BOUND.load(Ordering::Relaxed);
    if bytes > bound {
        return Err(format!(
            "{} MiB of pages is over LOOMS_SAVE_MEMORY ({})",
            bytes.div_ceil(1 << 20),
            bound_text(bound)
        ));
    }
    // The worker's own descriptor, opened by name so that every file call
    // it makes is one on image.bin; the pier's lock keeps the name on the
    // file the pool holds open, and the identity check proves it.
    let image = File::open_regular(&pier.image(), libc::O_RDWR, 0)
        .map_err(|err| format!("the worker cannot open the image ({err})"))?;
    let held = File::borrowed(image_fd, &pier.image());
    let identity = image.identity().ok();
    if identity.is_none() || identity != held.identity().ok() {
        return Err("image.bin is not the file booted".to_string());
    }
    let Some(mut state) = state() else {
        return Err("the staging buffer is not this process's".to_string());
    };
    if !state.staging.reserve(bytes) {
        return Err(format!(
            "no memory for a copy of {} MiB",
            bytes.div_ceil(1 << 20)
        ));
    }
    let base = state.staging.base;
    for (at, &page) in pages.iter().enumerate() {
        // SAFETY: the page is mapped readable and the runtime is inside
        // u3e_save; the buffer holds room for every page (reserved above).
        unsafe {
            core::ptr::copy_nonoverlapping(
                crate::loom::page_ptr(page),
                base.add(at * PAGE_BYTES),
                PAGE_BYTES,
            )
        };
    }
    Ok(Job {
        pier: pier.clone(),
        image,
        pages: pages.to_vec(),
        copy: Copy(base),
        total,
        old,
        left_patch,
    })
}

static AT_EXIT: Once = Once::new();

/// At process exit, a save still being written is waited for, so that a
/// runtime that calls `exit()` right after its last save finds it durable.
/// Nothing else: the process is ending (a save that failed after its patch
/// was durable is completed by the next boot). It takes no lock and joins
/// nothing, so it works from any thread, and a forked child (whose worker
/// is the parent's) returns at once.
extern "C" fn wait_at_exit() {
    wait_while_running();
}

/// Hands `job` to a worker thread. Where no thread can be had, the job runs
/// here and now and the save is finished at once: a synchronous save from
/// the copy.
pub(crate) fn launch(job: Job, captured: Vec<(u32, u32)>, total: u32, marks: (u3_post, u3_post)) {
    AT_EXIT.call_once(|| {
        // SAFETY: registering a function that lives as long as the library.
        unsafe { libc::atexit(wait_at_exit) };
    });
    let slot = Arc::new(Mutex::new(Some(job)));
    let given = Arc::clone(&slot);
    let pid = this_pid();
    // RUNNING is said with signals blocked, and only while the worker is
    // being started: a signal handler that waits for the worker never finds
    // RUNNING without a worker to end it.
    let spawned = crate::process::with_signals_blocked(|| {
        WORKER_PID.store(pid, Ordering::Release);
        OUTCOME.store(RUNNING, Ordering::Release);
        let spawned = std::thread::Builder::new()
            .name("looms-save".into())
            .spawn(move || {
                let job = given.lock().ok().and_then(|mut job| job.take());
                let outcome = job.map_or((Written::Kept, false), Job::run);
                OUTCOME.store(outcome_code(outcome.0), Ordering::Release);
                atomic_wait::wake_all(&OUTCOME);
                outcome
            });
        if spawned.is_err() {
            OUTCOME.store(IDLE, Ordering::Release);
        }
        spawned
    });
    match spawned {
        Ok(worker) => {
            let pending = Pending {
                worker,
                captured,
                total,
                marks,
            };
            match state() {
                Some(mut state) => state.pending = Some(pending),
                // Cannot happen in the process that booted (one call at a
                // time); finish it here rather than lose it.
                None => finish_pending(pending),
            }
        }
        Err(_) => {
            let job = slot.lock().ok().and_then(|mut job| job.take());
            let Some(job) = job else {
                OUTCOME.store(IDLE, Ordering::Release);
                return;
            };
            let (written, left_patch) = job.run();
            OUTCOME.store(outcome_code(written), Ordering::Release);
            if let Some(state) = state() {
                state.staging.lazy_free();
            }
            snapshot::after_background(Finished {
                written,
                left_patch: Some(left_patch),
                captured,
                total,
                marks,
            });
            OUTCOME.store(IDLE, Ordering::Release);
        }
    }
}

/// The barrier: waits for a save being written, then finishes it on this
/// thread. Only the runtime's thread, inside a snapshot call, may call it:
/// finishing maps the image back under pages the runtime may be storing
/// to. Returns at once when none is pending.
pub fn finish() {
    let pending = state().and_then(|mut state| state.pending.take());
    match pending {
        Some(pending) => finish_pending(pending),
        // A save that bailed (LOST) was told to every waiter until the
        // runtime called in again after its bail: from here on, later
        // saves (synchronous ones too) answer.
        None => {
            let _ = OUTCOME.compare_exchange(LOST, IDLE, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

fn finish_pending(pending: Pending) {
    if WORKER_PID.load(Ordering::Acquire) != this_pid() {
        // A forked child: the worker is the parent's and does not exist
        // here; joining its handle would wait forever or find no result.
        // For this process the save wrote nothing: its pages are dirty
        // again, and nothing of the parent's (lock, files) is touched.
        std::mem::forget(pending.worker);
        OUTCOME.store(IDLE, Ordering::Release);
        snapshot::after_background(Finished {
            written: Written::Kept,
            left_patch: None,
            captured: pending.captured,
            total: pending.total,
            marks: pending.marks,
        });
        return;
    }
    // A worker cannot panic (panics abort); a lost result counts as a save
    // that wrote nothing.
    let (written, left_patch) = pending.worker.join().unwrap_or((Written::Kept, false));
    if let Some(state) = state() {
        state.staging.lazy_free();
    }
    snapshot::after_background(Finished {
        written,
        left_patch: Some(left_patch),
        captured: pending.captured,
        total: pending.total,
        marks: pending.marks,
    });
    // After the bookkeeping (`UNSAVED`), so that a waiter on another thread
    // that finds no save pending reads what this one left. A save that bails
    // (LOST) never gets here: waiters keep reading LOST.
    OUTCOME.store(IDLE, Ordering::Release);
}

/// Gives the staging buffer back (`u3e_stop`, after the barrier).
pub fn release() {
    if let Some(mut state) = state() {
        state.staging.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse(None), Some(Mode::Sync));
        assert_eq!(Mode::parse(Some("")), Some(Mode::Sync));
        assert_eq!(Mode::parse(Some("sync")), Some(Mode::Sync));
        assert_eq!(Mode::parse(Some("background")), Some(Mode::Background));
        assert_eq!(Mode::parse(Some("Background")), None);
        assert_eq!(Mode::parse(Some("async")), None);
    }

    #[test]
    fn bounds() {
        assert_eq!(parse_bound(None), Some(DEFAULT_BOUND));
        assert_eq!(parse_bound(Some("1048576")), Some(1 << 20));
        assert_eq!(parse_bound(Some("0")), Some(0));
        assert_eq!(parse_bound(Some("1G")), None);
        assert_eq!(parse_bound(Some("-5")), None);
    }

    #[test]
    fn staging_is_reused_and_grows() {
        let mut staging = Staging::empty();
        assert!(staging.reserve(3 * PAGE_BYTES));
        let first = (staging.base, staging.len);
        assert_eq!(first.1, HUGE);
        // SAFETY: the buffer was just reserved for 3 pages.
        unsafe { staging.base.add(2 * PAGE_BYTES).write(7) };
        staging.lazy_free();
        assert!(staging.reserve(PAGE_BYTES));
        assert_eq!((staging.base, staging.len), first);
        assert!(staging.reserve(HUGE + 1));
        assert_eq!(staging.len, 2 * HUGE);
        staging.release();
        assert_eq!(staging.len, 0);
    }
}
