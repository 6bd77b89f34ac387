//! Saves that do not stop the runtime (`LOOMS_SAVE=background`).
//!
//! `u3e_save` composes the page set exactly as a synchronous save does,
//! makes the pages clean again (read-only: the re-arm every save does
//! anyway; under userfaultfd until the barrier) so that later stores
//! are seen by the next save, and returns. Nothing is copied there. A
//! worker thread then runs the very same durable protocol
//! (`durable::write_durably`: patch written and synced, directory synced,
//! image written and synced, patch removed, directory synced) from the
//! loom's own pages; a page the runtime stores to before the worker is
//! done with it is copied first by the store side (`capture.rs`), so every
//! page is written as it was at the call. A barrier on the runtime's thread
//! waits for the worker and finishes the save there (`after`, the
//! snapshot's `after_background`): pages not stored to since the call are
//! mapped back onto the image, or, if nothing was written, marked dirty
//! again; a failure after the patch was durable ends in `u3m_bail`.
//!
//! The rooms, top to bottom: compose (the snapshot's save), capture
//! (`capture.rs`, with the fault path as its store side), write durably
//! (`durable.rs`, on the worker), finish (this module's barrier, then the
//! snapshot's `after_background`). This module imports none of the
//! snapshot's: the barrier is handed what to finish with.
//!
//! Barriers: the next `u3e_save`, `u3e_backup`, `u3e_stop`, `u3e_live`,
//! `u3e_image_open_any`, `u3e_yolo`, `u3e_foul`, `u3e_init`,
//! `looms_save_wait`, and process exit (an `atexit` handler that only waits).
//!
//! Who owns what:
//! - The runtime's thread owns the pool (`u3e_Pool`, its dirty bitmap), the
//!   loom's mappings and protections, `LEFT_PATCH` and `UNSAVED`
//!   (snapshot.rs), the mode below, and `STATE`: the pending save. Only a
//!   call inside the library (`process::enter`, one at a time) touches
//!   `STATE`; its mutex is taken with `try_lock`, never waited for, and
//!   never held across a join, a runtime call or anything that can exit.
//! - The worker owns its `Job`, moved into it at the spawn: the pier's
//!   paths, its own descriptor of `image.bin` and a share of the capture,
//!   whose page states it changes only as `capture.rs` says. It returns
//!   its result through the join handle, publishes how it ended in
//!   `OUTCOME`, and touches nothing else: not the pool, not the loom's
//!   mappings, no runtime function (`u3l_log`, `u3m_bail`, `u3a_*`); it
//!   speaks only through `loom: save: …` lines (`write(2)`).
//! - `OUTCOME` is shared by everyone and written with single atomic stores:
//!   `RUNNING` by the runtime's thread before the spawn, the result by the
//!   worker, `IDLE` by the runtime's thread once it has finished the save,
//!   `ORPHANED` in a forked child. Threads other than the runtime's, signal
//!   handlers and the exit handler only wait on it (a futex wait: no lock
//!   that a fork or a signal could leave held) and never finish a save:
//!   finishing maps pages back under the runtime's stores, which only the
//!   runtime's thread may do.
//! - `u3e_fault` reads none of this; it consults only the capture's page
//!   states (atomics and futex waits: the fault path stays lock-free).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};

use crate::abi::u3_post;
use crate::capture::{self, Capture};
use crate::durable::{self, Source, Written};
use crate::image::File;
use crate::loom;
use crate::msg::{escape, say};
use crate::pier::Pier;
use crate::process::this_pid;
use crate::sys;

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

/// Whether saves run in the background. Set at `u3e_live`.
static BACKGROUND: AtomicBool = AtomicBool::new(false);

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

/// Reads `LOOMS_SAVE` at boot; an unknown value is said in one `loom:` line
/// and the default used. Verbose mode says which mode is in use, and that
/// `LOOMS_SAVE_MEMORY` (the bound of the copy earlier background saves
/// took) no longer applies where it is set.
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
    BACKGROUND.store(mode == Mode::Background, Ordering::Relaxed);
    if verbose {
        match mode {
            Mode::Sync => say!("loom: saves: sync\r\n"),
            Mode::Background => say!("loom: saves: background (copy-on-write)\r\n"),
        }
        if std::env::var_os("LOOMS_SAVE_MEMORY").is_some() {
            say!("loom: LOOMS_SAVE_MEMORY no longer applies: a background save copies only the pages stored to while it is written\r\n");
        }
    }
}

/// Whether saves run in the background.
pub fn enabled() -> bool {
    BACKGROUND.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// The worker

/// What the worker is given: everything it touches.
pub(crate) struct Job {
    pier: Pier,
    image: File,
    capture: Arc<Capture>,
    total: u32,
    old: u32,
    left_patch: bool,
}

/// What the worker hands back: how the protocol ended, whether an
/// applied patch could not be removed (`LEFT_PATCH`), and what it wrote.
type Outcome = (Written, bool, durable::Cost);

impl Job {
    /// The durable protocol, from the loom's pages as they were at
    /// `u3e_save` (the capture). Runs on the worker (or, where no thread
    /// can be had, on the runtime's thread).
    fn run(self) -> Outcome {
        let mut left_patch = self.left_patch;
        let (written, cost) = durable::write_durably(
            &self.pier,
            &self.image,
            self.capture.pages(),
            Source::Captured(&self.capture),
            durable::Lengths {
                total: self.total,
                old: self.old,
            },
            &mut left_patch,
            &mut || {},
        );
        (written, left_patch, cost)
    }
}

/// A save the worker is writing, as the runtime's thread keeps it.
struct Pending {
    worker: sys::Thread<Outcome>,
    /// The runtime's thread's share of the capture.
    capture: Arc<Capture>,
    cleaned: Cleaned,
    total: u32,
    marks: (u3_post, u3_post),
}

/// The pages a background save made clean at `u3e_save`.
pub(crate) struct Cleaned {
    /// Runs `(first, count)`: every page that was dirty below the heap's top.
    pub runs: Vec<(u32, u32)>,
    /// Under userfaultfd (clean pages writable), the runs were made
    /// read-only for the save, so that stores to them reach the fault path
    /// (and the capture), and are not write-protected for userfaultfd; the
    /// barrier write-protects the clean ones and makes them writable again.
    pub read_only: bool,
}

/// What a barrier finishes with.
pub(crate) struct Finished {
    pub written: Written,
    /// `None`: unknown (the worker was the parent's); `LEFT_PATCH` stays.
    pub left_patch: Option<bool>,
    pub cleaned: Cleaned,
    pub total: u32,
    pub marks: (u3_post, u3_post),
}

struct State {
    pending: Option<Pending>,
}

static STATE: Mutex<State> = Mutex::new(State { pending: None });

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
        sys::futex::wait(&OUTCOME, RUNNING);
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
    capture::forget_in_child();
}

/// Opens the image for a worker and reserves the bookkeeping of a capture
/// of `pages` (ascending). `Err` says why this save must run synchronously
/// instead; nothing has changed then.
pub(crate) fn prepare(
    pier: &Pier,
    image_fd: sys::Fd,
    pages: &[u32],
    lengths: durable::Lengths,
    left_patch: bool,
) -> Result<Job, String> {
    // The worker's own descriptor, opened by name so that every file call
    // it makes is one on image.bin; the pier's lock keeps the name on the
    // file the pool holds open, and the identity check proves it.
    let image = File::open_regular(&pier.image(), sys::O_RDWR, 0)
        .map_err(|err| format!("the worker cannot open the image ({err})"))?;
    let held = File::borrowed(image_fd, &pier.image());
    let identity = image.identity().ok();
    if identity.is_none() || identity != held.identity().ok() {
        return Err("image.bin is not the file booted".to_string());
    }
    let count = pages.len();
    let capture = Capture::new(pages).ok_or_else(|| {
        format!(
            "no address space to set aside {} MiB for pages stored to during the save",
            loom::bytes_of(count as u32).div_ceil(1 << 20)
        )
    })?;
    Ok(Job {
        pier: pier.clone(),
        image,
        capture,
        total: lengths.total,
        old: lengths.old,
        left_patch,
    })
}

impl Job {
    /// The capture the job writes from.
    pub(crate) fn capture(&self) -> &Arc<Capture> {
        &self.capture
    }
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

/// Hands `job` to a worker thread, the capture already published and its
/// pages protected.
/// Where no thread can be had, the job runs here and now and the save is
/// finished at once through `after`: a synchronous save from the capture.
pub(crate) fn launch(
    job: Job,
    cleaned: Cleaned,
    (total, marks): (u32, (u3_post, u3_post)),
    after: fn(Finished),
) {
    AT_EXIT.call_once(|| {
        sys::at_exit(wait_at_exit);
    });
    let held = Arc::clone(&job.capture);
    let slot = Arc::new(Mutex::new(Some(job)));
    let given = Arc::clone(&slot);
    let pid = this_pid();
    // RUNNING is said with signals blocked, and only while the worker is
    // being started: a signal handler that waits for the worker never finds
    // RUNNING without a worker to end it.
    let spawned = crate::process::with_signals_blocked(|| {
        WORKER_PID.store(pid, Ordering::Release);
        OUTCOME.store(RUNNING, Ordering::Release);
        let spawned = sys::spawn(Box::new(move || {
            let job = given.lock().ok().and_then(|mut job| job.take());
            let outcome = job.map_or((Written::Kept, false, Default::default()), Job::run);
            OUTCOME.store(outcome_code(outcome.0), Ordering::Release);
            sys::futex::wake_all(&OUTCOME);
            outcome
        }));
        if spawned.is_err() {
            OUTCOME.store(IDLE, Ordering::Release);
        }
        spawned
    });
    match spawned {
        Ok(worker) => {
            let pending = Pending {
                worker,
                capture: held,
                cleaned,
                total,
                marks,
            };
            match state() {
                Some(mut state) => state.pending = Some(pending),
                // Cannot happen in the process that booted (one call at a
                // time); finish it here rather than lose it.
                None => finish_pending(pending, after),
            }
        }
        Err(_) => {
            let job = slot.lock().ok().and_then(|mut job| job.take());
            let capture = job.as_ref().map(|job| Arc::clone(&job.capture));
            let (written, left_patch, cost) =
                job.map_or((Written::Kept, false, Default::default()), Job::run);
            OUTCOME.store(outcome_code(written), Ordering::Release);
            match capture {
                Some(capture) => end_capture(&capture, written, &cost),
                None => capture::clear(),
            }
            after(Finished {
                written,
                left_patch: Some(left_patch),
                cleaned,
                total,
                marks,
            });
            OUTCOME.store(IDLE, Ordering::Release);
        }
    }
}

/// Ends the store side's part of a save whose worker is done: stores no
/// longer consult the capture. Verbose mode says how many pages were
/// copied because the runtime stored to them while they were being written,
/// and what a completed save wrote.
fn end_capture(capture: &Capture, written: Written, cost: &durable::Cost) {
    capture::clear();
    if crate::runtime::flag(crate::runtime::VERBOSE) {
        say!(
            "loom: save: {} of {} pages copied while being written\r\n",
            capture.copied(),
            capture.pages().len()
        );
        if written == Written::Saved {
            cost.say();
        }
    }
}

/// The barrier: waits for a save being written, then finishes it on this
/// thread through `after`. Only the runtime's thread, inside a snapshot
/// call, may call it: finishing maps the image back under pages the
/// runtime may be storing to. Returns at once when none is pending.
pub(crate) fn finish(after: fn(Finished)) {
    let pending = state().and_then(|mut state| state.pending.take());
    match pending {
        Some(pending) => finish_pending(pending, after),
        // A save that bailed (LOST) was told to every waiter until the
        // runtime called in again after its bail: from here on, later
        // saves (synchronous ones too) answer.
        None => {
            let _ = OUTCOME.compare_exchange(LOST, IDLE, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

fn finish_pending(pending: Pending, after: fn(Finished)) {
    if WORKER_PID.load(Ordering::Acquire) != this_pid() {
        // A forked child: the worker is the parent's and does not exist
        // here; joining a handle would wait
        // forever or find no result. For this process the save wrote
        // nothing: its pages are dirty again, and nothing of the parent's
        // (lock, files) is touched.
        // Left unjoined: dropping the handle joins nothing.
        let _parents = pending.worker;
        capture::forget_in_child();
        OUTCOME.store(IDLE, Ordering::Release);
        crate::process::with_signals_blocked(|| {
            after(Finished {
                written: Written::Kept,
                left_patch: None,
                cleaned: pending.cleaned,
                total: pending.total,
                marks: pending.marks,
            })
        });
        return;
    }
    // A worker cannot panic (panics abort); a lost result counts as a save
    // that wrote nothing.
    let (written, left_patch, cost) =
        pending
            .worker
            .join()
            .unwrap_or((Written::Kept, false, Default::default()));
    end_capture(&pending.capture, written, &cost);
    // Finishing remaps and re-protects the save's pages: a signal handler
    // that stored to one of them meanwhile could have its store mapped
    // over, or taken for clean. Handlers wait until it is done (the wait
    // for the worker above leaves them free: their stores are copied).
    crate::process::with_signals_blocked(|| {
        after(Finished {
            written,
            left_patch: Some(left_patch),
            cleaned: pending.cleaned,
            total: pending.total,
            marks: pending.marks,
        })
    });
    // After the bookkeeping (`UNSAVED`), so that a waiter on another thread
    // that finds no save pending reads what this one left. A save that bails
    // (LOST) never gets here: waiters keep reading LOST.
    OUTCOME.store(IDLE, Ordering::Release);
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
}
