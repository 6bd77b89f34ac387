//! The C types of the events.c ABI, laid out exactly as the runtime's headers
//! lay them out (x86_64 Linux). Sizes and offsets are pinned by the
//! compile-time assertions at the bottom of this file, by a ctest layout check
//! against `include/looms.h`, and by a C test of the runtime's numbers.
#![allow(non_camel_case_types)]

/// A 32-bit word: the loom's unit of address.
pub type c3_w = u32;
/// A C `char`.
pub type c3_c = core::ffi::c_char;
/// A loobean: `c3y` (0) is yes, `c3n` (1) is no.
pub type c3_o = u8;
/// A C `int`.
pub type c3_i = core::ffi::c_int;
/// A C `size_t`.
pub type c3_z = usize;
/// A word offset into the loom.
pub type u3_post = u32;

/// Loobean yes.
pub const c3y: c3_o = 0;
/// Loobean no.
pub const c3n: c3_o = 1;

/// log2 of the words in a loom page: a page is 4096 words, 16384 bytes.
pub const u3a_page: u32 = 12;
/// The most pages a loom can hold (2^32 words).
pub const u3a_pages: u32 = 1 << 20;
/// Words in the dirty bitmap: one bit per loom page.
pub const LOOMS_DIRTY_WORDS: usize = (u3a_pages >> 5) as usize;
/// The patch format version written into and required of `control.bin`.
pub const U3P_VERLAT: c3_w = 2;

/// What `u3e_fault` tells the runtime's SIGSEGV handler.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum u3e_flaw {
    /// Bogus state: the runtime aborts.
    u3e_flaw_sham = 0,
    /// `mprotect` or `mmap` failed: the runtime aborts.
    u3e_flaw_base = 1,
    /// The heap met the stack: the runtime bails with `%meme`.
    u3e_flaw_meme = 2,
    /// Handled: the faulting store is resumed.
    u3e_flaw_good = 3,
}

/// One page of a patch: its loom page number and the checksum of its bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct u3e_line {
    pub pag_w: c3_w,
    pub has_w: c3_w,
}

/// The head of `control.bin`; `pgs_w` lines follow it.
#[repr(C)]
#[derive(Debug)]
pub struct u3e_control {
    pub ver_w: c3_w,
    pub has_w: c3_w,
    pub tot_w: c3_w,
    pub pgs_w: c3_w,
    pub mem_u: [u3e_line; 0],
}

/// An image file: `<dir>/<nam_c>.bin`.
#[repr(C)]
#[derive(Debug)]
pub struct u3e_image {
    pub nam_c: *const c3_c,
    pub fid_i: c3_i,
    pub pgs_w: c3_w,
}

/// The snapshot system's whole state, exported as `u3e_Pool` (`u3P`).
#[repr(C)]
pub struct u3e_pool {
    pub dir_c: *mut c3_c,
    pub eph_i: c3_i,
    pub dit_w: [c3_w; LOOMS_DIRTY_WORDS],
    pub pag_w: c3_w,
    pub gar_w: c3_w,
    pub img_u: u3e_image,
}

impl u3e_pool {
    /// The state before `u3e_live` or `u3e_init`: all zero, as a C global is.
    pub const ZERO: u3e_pool = u3e_pool {
        dir_c: core::ptr::null_mut(),
        eph_i: 0,
        dit_w: [0; LOOMS_DIRTY_WORDS],
        pag_w: 0,
        gar_w: 0,
        img_u: u3e_image {
            nam_c: core::ptr::null(),
            fid_i: 0,
            pgs_w: 0,
        },
    };
}

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<u3e_flaw>() == 4);
    assert!(size_of::<u3e_line>() == 8 && align_of::<u3e_line>() == 4);
    assert!(size_of::<u3e_control>() == 16 && offset_of!(u3e_control, mem_u) == 16);
    assert!(offset_of!(u3e_control, tot_w) == 8 && offset_of!(u3e_control, pgs_w) == 12);
    assert!(size_of::<u3e_image>() == 16 && align_of::<u3e_image>() == 8);
    assert!(offset_of!(u3e_image, fid_i) == 8 && offset_of!(u3e_image, pgs_w) == 12);
    assert!(size_of::<u3e_pool>() == 131112 && align_of::<u3e_pool>() == 8);
    assert!(offset_of!(u3e_pool, eph_i) == 8 && offset_of!(u3e_pool, dit_w) == 12);
    assert!(offset_of!(u3e_pool, pag_w) == 131084 && offset_of!(u3e_pool, gar_w) == 131088);
    assert!(offset_of!(u3e_pool, img_u) == 131096);
};
