//! Who may call what: the process that booted the pier, the runtime's
//! thread in it, and one snapshot call at a time.
//!
//! - **One call at a time.** Every entry point that changes the snapshot
//!   system's state (`u3e_save`, `u3e_backup`, `u3e_live`, `u3e_stop`,
//!   `u3e_yolo`, `u3e_foul`, `u3e_init`, and the finishing part of
//!   `looms_save_wait`) enters through `enter`. A second call while one is
//!   inside, from a signal handler on the same thread or from another
//!   thread, is told so at once (`Busy`) and never blocks: the caller
//!   refuses with a clear line, or (where the reference would have
//!   asserted) bails. `u3e_fault`, `u3e_toss` and `u3e_ward` do not enter:
//!   they touch only the loom and the bitmap, as the reference's do.
//! - **The runtime's thread** is the thread that last booted a pier or
//!   saved, stopped, fouled or unprotected it (`u3e_live`, `u3e_save`,
//!   `u3e_stop`, `u3e_foul`, `u3e_yolo`, `u3e_init`: calls only the runtime
//!   makes). Only it finishes a background save, which maps pages back under
//!   its stores: `looms_save_wait`, `u3e_backup` and `u3e_image_open_any`
//!   from any other thread only wait for the worker.
//! - **Forks.** A child forked without exec is not the process that booted
//!   the pier: it neither holds the pier's lock (closed in the child by a
//!   `pthread_atfork` handler) nor writes the pier (its saves are refused),
//!   and a background save the parent was writing is not its to wait for.
//!   Nor does it write the parent's swap file: the handler makes the loom's
//!   pages mapped from it private, and whatever the child boots later, its
//!   swap file is one of its own (`forked`).
//!
//! Owners: `BOOT_PID` is written by `u3e_live`, `RUNTIME_THREAD` by the
//! calls above, both on the runtime's thread, and read anywhere; `FORKED`
//! by the fork handler only; `INSIDE` is the lock word itself
//! (compare-and-swap only). Nothing here allocates or blocks.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Once;

/// The process that booted the pier (0: none yet).
static BOOT_PID: AtomicI32 = AtomicI32::new(0);
/// The runtime's thread (`pthread_self`, 0: none yet).
static RUNTIME_THREAD: AtomicUsize = AtomicUsize::new(0);
/// The thread inside a snapshot call (0: none).
static INSIDE: AtomicUsize = AtomicUsize::new(0);
/// Whether this process was forked (without exec) from one that had booted
/// a pier, or from such a child.
static FORKED: AtomicBool = AtomicBool::new(false);

fn this_thread() -> usize {
    crate::sys::this_thread()
}

pub fn this_pid() -> i32 {
    crate::sys::this_pid()
}

/// What a forked child must do to let go of what is the parent's, each an
/// async-signal-safe function of a room above this one (the swap file's
/// pages, the pier's lock, the background save), registered by the boot
/// (`at_fork_in_child`) and run in the order registered: this room imports
/// none of them. Written on the runtime's thread before the handler is
/// installed; read only by the handler.
static IN_CHILD: [AtomicUsize; IN_CHILD_SLOTS] = [const { AtomicUsize::new(0) }; IN_CHILD_SLOTS];
const IN_CHILD_SLOTS: usize = 4;

/// Registers `handler` to run in a child right after `fork` (once, however
/// often it is registered). It must be async-signal-safe.
pub fn at_fork_in_child(handler: fn()) {
    let address = handler as usize;
    for slot in &IN_CHILD {
        match slot.compare_exchange(0, address, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return,
            Err(held) if held == address => return,
            Err(_) => {}
        }
    }
    // More handlers than slots is a mistake of this library's own rooms.
    crate::msg::Line::new()
        .str("loom: internal: too many fork handlers\r\n")
        .emit();
}

/// Records this process and thread as the pier's, at `u3e_live`, and
/// makes sure a forked child lets go of what is the parent's (what the
/// rooms above registered with `at_fork_in_child`).
pub fn booted() {
    BOOT_PID.store(this_pid(), Ordering::SeqCst);
    runtime_call();
    static AT_FORK: Once = Once::new();
    AT_FORK.call_once(|| {
        // A handler that lives as long as the library (glibc unregisters
        // it if the library is unloaded).
        crate::sys::at_fork_in_child(in_child);
    });
}

/// The process that booted the pier, when this process is a child forked
/// from it (without exec); `None` in the booting process or before a boot.
/// Async-signal-safe (an atomic load and getpid): the fault path asks.
pub fn forked_from() -> Option<i32> {
    let boot = BOOT_PID.load(Ordering::SeqCst);
    let me = this_pid();
    (boot != 0 && boot != me).then_some(boot)
}

/// Whether this process is a child forked without exec from one that had
/// booted a pier (or from such a child), whatever it has booted since: the
/// swap file named by `u3C.eph_c` may be an ancestor's, still in use, so
/// every swap file it uses is one of its own, and it removes none by name.
/// Async-signal-safe.
pub fn forked() -> bool {
    FORKED.load(Ordering::SeqCst)
}

/// A call only the runtime makes: its thread is the runtime's from here on.
pub fn runtime_call() {
    RUNTIME_THREAD.store(this_thread(), Ordering::SeqCst);
}

/// Whether the caller is the runtime's thread in the booting process.
pub fn on_runtime_thread() -> bool {
    forked_from().is_none() && RUNTIME_THREAD.load(Ordering::SeqCst) == this_thread()
}

/// Runs in a child right after `fork`: only async-signal-safe work.
extern "C" fn in_child() {
    FORKED.store(true, Ordering::SeqCst);
    for slot in &IN_CHILD {
        let address = slot.load(Ordering::SeqCst);
        if address == 0 {
            break;
        }
        // SAFETY: every non-zero slot holds a `fn()` stored by
        // `at_fork_in_child`.
        let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(address) };
        handler();
    }
    // Only the forking thread lives on in the child, and it was not inside
    // a snapshot call (the library never forks).
    INSIDE.store(0, Ordering::SeqCst);
}

/// Runs `spawn` with every asynchronous signal blocked on this thread.
/// Where it starts a thread of the library, the thread inherits a mask that
/// keeps the runtime's signal handlers off it: a handler that called into
/// the library there could wait for that very thread. On the runtime's
/// thread it keeps the handlers (and their stores to the loom) out of a
/// change of the loom's tracking, until it is whole. Faults that a thread
/// itself raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) stay open. The
/// caller's mask is restored before this returns, and a signal that came
/// meanwhile is handled then.
pub fn with_signals_blocked<T>(spawn: impl FnOnce() -> T) -> T {
    let before = crate::sys::block_signals();
    let out = spawn();
    crate::sys::restore_signals(before);
    out
}

/// Why a call could not enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// This thread is already inside a call: a signal handler re-entered.
    Reentered,
    /// Another thread is inside a call.
    OtherThread,
}

impl Busy {
    /// The reason, for a `loom: …` line.
    pub fn text(self) -> &'static str {
        match self {
            Busy::Reentered => {
                "called from inside another snapshot call on the same thread (a signal handler?)"
            }
            Busy::OtherThread => "another thread is inside a snapshot call",
        }
    }
}

/// Says `<what>: <why>; <then>` for a call that could not enter, from a
/// fixed buffer: it may be a signal handler's call, interrupting anything.
pub fn say_busy(what: &str, busy: Busy, then: &str) {
    crate::msg::Line::new()
        .str("loom: ")
        .str(what)
        .str(": ")
        .str(busy.text())
        .str(then)
        .str("\r\n")
        .emit();
}

/// Being inside a snapshot call; leaving is dropping it.
#[must_use]
pub struct Inside(());

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.store(0, Ordering::SeqCst);
    }
}

/// Enters a snapshot call, or says at once why not.
pub fn enter() -> Result<Inside, Busy> {
    let me = this_thread();
    match INSIDE.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Ok(Inside(())),
        Err(held) if held == me => Err(Busy::Reentered),
        Err(_) => Err(Busy::OtherThread),
    }
}

/// The call is over without returning through its `Inside` (the runtime's
/// bail longjmps, `exit` runs the runtime's handlers): leave it first.
/// Async-signal-safe.
pub fn leave() {
    let me = this_thread();
    let _ = INSIDE.compare_exchange(me, 0, Ordering::SeqCst, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_at_a_time() {
        let inside = enter().expect("nobody inside");
        assert_eq!(enter().err(), Some(Busy::Reentered));
        let other = std::thread::spawn(|| enter().err()).join().unwrap();
        assert_eq!(other, Some(Busy::OtherThread));
        drop(inside);
        let again = enter().expect("free again");
        leave();
        assert!(enter().is_ok(), "leave() let go of the call");
        drop(again);
    }
}
