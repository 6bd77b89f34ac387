//! `u3e_Pool` (`u3P`): the snapshot system's state, exported to the runtime.
//!
//! The runtime reads `img_u.pgs_w` and `gar_w` directly. A position-
//! independent executable that names `u3e_Pool` gets its own copy of it
//! (a copy relocation) and the dynamic loader points this library's
//! references at that copy, so every access here goes through the symbol,
//! never through a cached private address.

use crate::abi::{u3e_image, u3e_pool};
use crate::sys;

/// The exported pool. Zero until `u3e_live` or `u3e_init`, like a C global.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut u3e_Pool: u3e_pool = u3e_pool::ZERO;

/// The pool, wherever the loader placed the copy the runtime reads.
///
/// # Safety
/// The runtime drives the module from one thread; the fault handler runs on
/// that thread between stores the library does not make. No two live
/// references from this function may overlap in time.
#[allow(clippy::mut_from_ref)]
pub unsafe fn get() -> &'static mut u3e_pool {
    // SAFETY: see the function's contract.
    unsafe { (&raw mut u3e_Pool).as_mut().unwrap_unchecked() }
}

/// A read-only copy of the fields the protocols consult.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub pages: u32,
    pub guard: u32,
    pub image_pages: u32,
    pub image_fd: sys::Fd,
    pub ephemeral_fd: sys::Fd,
}

/// Reads the scalar fields of the pool.
pub fn view() -> View {
    // SAFETY: plain reads of the pool's scalars through the exported symbol.
    let pool = unsafe { (&raw const u3e_Pool).as_ref().unwrap_unchecked() };
    View {
        pages: pool.pag_w,
        guard: pool.gar_w,
        image_pages: pool.img_u.pgs_w,
        image_fd: pool.img_u.fid_i,
        ephemeral_fd: pool.eph_i,
    }
}

/// The image record (`u3P.img_u`).
pub fn image() -> &'static mut u3e_image {
    // SAFETY: single-threaded use, see `get`.
    unsafe { &mut get().img_u }
}

/// The dirty bitmap (`u3P.dit_w`).
pub fn dirty_map() -> &'static mut [u32] {
    // SAFETY: single-threaded use, see `get`.
    unsafe { &mut get().dit_w[..] }
}
