//! The library's memory: the C library's allocator, and behind it a
//! reserve set aside when the library is loaded, for the allocations that
//! must not fail.
//!
//! Where the C library has no memory to give (at the kernel's mapping
//! limit its allocator can neither grow its heap nor map more, and a new
//! thread gets no arena of its own), Rust would end the process at the
//! first allocation it refuses. A save must not: its paths, messages and
//! bookkeeping come from the reserve then. The reserve is part of the
//! library's own image (zero pages the kernel backs only once they are
//! written), so taking from it needs no new mapping.
//!
//! The reserve is a bump allocator: one atomic word holds how many of its
//! blocks are live and where the free space starts, so that taking and
//! giving back are single compare-and-swap steps (any thread, no lock). A
//! block given back at the top lowers the top; once none is live, all of
//! it is free again. What the save allocates in proportion to its pages
//! is reserved before the save starts or fails softly (`try_reserve`), so
//! the reserve serves only small, short-lived blocks.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use std::alloc::System;

/// Bytes set aside.
const RESERVE_BYTES: usize = 4 << 20;

#[repr(C, align(4096))]
struct Space(UnsafeCell<[u8; RESERVE_BYTES]>);

// SAFETY: blocks of the space are handed out once each (the atomic word
// below), and only their owners touch them.
unsafe impl Sync for Space {}

static SPACE: Space = Space(UnsafeCell::new([0; RESERVE_BYTES]));

/// Live blocks (high 32 bits) and the offset of the free space (low 32).
static USE: AtomicU64 = AtomicU64::new(0);

fn base() -> usize {
    SPACE.0.get() as usize
}

fn inside(ptr: *mut u8) -> bool {
    let at = ptr as usize;
    at >= base() && at < base() + RESERVE_BYTES
}

/// A block of the reserve for `layout`, or null when it is full.
fn take(layout: Layout) -> *mut u8 {
    let mut now = USE.load(Ordering::Acquire);
    loop {
        let (live, top) = (now >> 32, (now & 0xffff_ffff) as usize);
        let start = (base() + top).next_multiple_of(layout.align()) - base();
        let Some(end) = start.checked_add(layout.size().max(1)) else {
            return core::ptr::null_mut();
        };
        if end > RESERVE_BYTES {
            return core::ptr::null_mut();
        }
        let next = ((live + 1) << 32) | end as u64;
        match USE.compare_exchange_weak(now, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return (base() + start) as *mut u8,
            Err(seen) => now = seen,
        }
    }
}

/// Gives back a block of the reserve.
fn give_back(ptr: *mut u8, layout: Layout) {
    let offset = ptr as usize - base();
    let mut now = USE.load(Ordering::Acquire);
    loop {
        let (live, top) = (now >> 32, now & 0xffff_ffff);
        let end = (offset + layout.size().max(1)) as u64;
        let next = if live <= 1 {
            0
        } else if end == top {
            ((live - 1) << 32) | offset as u64
        } else {
            ((live - 1) << 32) | top
        };
        match USE.compare_exchange_weak(now, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(seen) => now = seen,
        }
    }
}

/// The allocator: the C library's, then the reserve.
pub struct Reserved;

// SAFETY: every block comes from `System` or from the reserve, and goes
// back to where it came from (told apart by its address).
unsafe impl GlobalAlloc for Reserved {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            take(layout)
        } else {
            ptr
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            return ptr;
        }
        let ptr = take(layout);
        if !ptr.is_null() {
            // SAFETY: a block of `layout.size()` bytes just taken.
            unsafe { ptr.write_bytes(0, layout.size()) };
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if inside(ptr) {
            give_back(ptr, layout);
        } else {
            // SAFETY: a block `System` gave, with its layout.
            unsafe { System.dealloc(ptr, layout) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !inside(ptr) {
            // SAFETY: a block `System` gave, with its layout.
            let grown = unsafe { System.realloc(ptr, layout, new_size) };
            if !grown.is_null() {
                return grown;
            }
        }
        // SAFETY: `layout`'s alignment with a size the caller vouches for.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as `alloc`.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are live and distinct; the smaller size
            // is within both.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_distinct_and_come_back() {
        let a = take(Layout::from_size_align(100, 8).unwrap());
        let b = take(Layout::from_size_align(64, 64).unwrap());
        assert!(inside(a) && inside(b) && b as usize >= a as usize + 100);
        assert_eq!(b as usize % 64, 0);
        give_back(b, Layout::from_size_align(64, 64).unwrap());
        give_back(a, Layout::from_size_align(100, 8).unwrap());
        // Nothing live: all of it is free again.
        assert_eq!(USE.load(Ordering::Acquire), 0);
        assert!(take(Layout::from_size_align(RESERVE_BYTES + 1, 1).unwrap()).is_null());
    }
}
