//! What the runtime provides: its configuration, its current road, and the
//! logging and failure functions. These stay undefined in `liblooms.so`, as
//! they are in `events.o`, and resolve against the executable at load time.

use core::ffi::{c_char, c_void};

/// `u3o_config`: only the fields this module uses (offsets 0–44 of 88).
#[repr(C)]
pub struct u3o_config {
    pub who_w: u32,
    pub dir_c: *mut c_char,
    pub eph_c: *mut c_char,
    pub wag_w: u32,
    pub wor_i: usize,
    pub tos_w: u32,
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(u3o_config, dir_c) == 8);
    assert!(offset_of!(u3o_config, eph_c) == 16);
    assert!(offset_of!(u3o_config, wag_w) == 24);
    assert!(offset_of!(u3o_config, wor_i) == 32);
    assert!(offset_of!(u3o_config, tos_w) == 40);
};

/// `u3o_verbose`: size messages on save.
pub const VERBOSE: u32 = 1 << 4;
/// `u3o_dryrun`: saves write nothing.
pub const DRYRUN: u32 = 1 << 5;
/// `u3o_no_demand`: read the image into memory instead of mapping it.
pub const NO_DEMAND: u32 = 1 << 9;
/// `u3o_swap`: back the non-image loom with the ephemeral file.
pub const SWAP: u32 = 1 << 12;

/// Byte offsets in the runtime's `u3a_road`.
mod road {
    pub const RUT_P: usize = 24;
    pub const HEP_LEN_W: usize = 1220;
    pub const HEP_PAG_P: usize = 1224;
}

/// `u3a_free_pg`: a page-directory entry for a free heap page.
pub const FREE_PAGE: u32 = 0;

/// The `c3__oops` mote.
pub const OOPS: u32 = 0x7370_6f6f;

#[allow(non_upper_case_globals)]
extern "C" {
    static mut u3o_Config: u3o_config;
    static mut u3a_Road: *mut u8;
    fn u3a_loom_sane();
    fn u3a_print_memory(fil_u: *mut c_void, cap_c: *const c_char, wor_w: u32);
    fn u3l_log(format: *const c_char, ...);
    fn u3m_bail(mote: u32) -> !;
}

/// The runtime's flags (`u3C.wag_w`).
pub fn flags() -> u32 {
    // SAFETY: a plain read of the runtime's configuration.
    unsafe { u3o_Config.wag_w }
}

/// Whether flag `flag` is in force: the runtime's flags, except where the
/// system cannot map a file's pages into the loom (`sys::MAPS_FILES`:
/// Windows), which leaves one way to hold the loom: the image read into
/// memory (`u3o_no_demand`, as the runtime itself sets it on Windows) and
/// no swap file.
pub fn flag(flag: u32) -> bool {
    in_force(flags(), crate::sys::MAPS_FILES) & flag != 0
}

/// The flags in force, of `wag` asked for, where files can or cannot be
/// mapped into the loom.
fn in_force(wag: u32, maps_files: bool) -> u32 {
    if maps_files {
        wag
    } else {
        (wag | NO_DEMAND) & !SWAP
    }
}

/// Whether the runtime asked for swap mode where it cannot be had (see
/// `flag`).
pub fn swap_unavailable() -> bool {
    flags() & SWAP != 0 && !flag(SWAP)
}

/// The loom's length in words (`u3C.wor_i`).
pub fn loom_words() -> usize {
    // SAFETY: a plain read of the runtime's configuration.
    unsafe { u3o_Config.wor_i }
}

/// The ephemeral file's path (`u3C.eph_c`), null when unset.
pub fn ephemeral_path() -> *mut c_char {
    // SAFETY: a plain read of the runtime's configuration.
    unsafe { u3o_Config.eph_c }
}

/// Sets `u3C.eph_c` (the reference fills it in when it is null).
pub fn set_ephemeral_path(path: *mut c_char) {
    // SAFETY: a plain write of the runtime's configuration, as events.c does.
    unsafe { u3o_Config.eph_c = path };
}

fn road_word(offset: usize) -> u32 {
    // SAFETY: u3R points at the runtime's current road, at least 1368 bytes;
    // the offsets are the runtime's field offsets.
    unsafe { core::ptr::read_unaligned(u3a_Road.add(offset).cast::<u32>()) }
}

/// The current road's page directory, in the runtime's own numbers: which
/// heap pages are free is read from the loom by the save (`PageDirectory`).
#[derive(Clone, Copy, Debug)]
pub struct RoadDirectory {
    /// Word offset of the road's heap (`rut_p`).
    pub heap_word: u32,
    /// Entries (`hep.len_w`).
    pub len: u32,
    /// Word offset of the entries in the loom (`hep.pag_p`).
    pub at: u32,
}

/// The current road's page directory.
pub fn road_directory() -> RoadDirectory {
    RoadDirectory {
        heap_word: road_word(road::RUT_P),
        len: road_word(road::HEP_LEN_W),
        at: road_word(road::HEP_PAG_P),
    }
}

/// `u3a_loom_sane()`.
pub fn loom_sane() {
    // SAFETY: a host function with no arguments.
    unsafe { u3a_loom_sane() }
}

/// `u3a_print_memory(stderr, cap, words)`.
pub fn print_memory(cap: &core::ffi::CStr, words: u32) {
    // SAFETY: the C library's standard error stream; cap is a valid C string.
    unsafe { u3a_print_memory(crate::sys::c_stderr(), cap.as_ptr(), words) }
}

/// `u3l_log(line)`, with a constant line that holds no `%`.
pub fn log(line: &'static core::ffi::CStr) {
    debug_assert!(!line.to_bytes().contains(&b'%'));
    // SAFETY: a constant format string with no conversions.
    unsafe { u3l_log(line.as_ptr()) }
}

/// Where the reference asserts: print the assertion as `u3_assert` does and
/// `u3m_bail(c3__oops)`. Never returns.
/// Allocation-free: the fault path reaches it.
pub fn oops(what: &str, file: &str, line: u32) -> ! {
    crate::msg::Line::new()
        .str("\rAssertion '")
        .str(what)
        .str("' failed in ")
        .str(file)
        .str(":")
        .dec(u64::from(line))
        .str("\r\n")
        .emit();
    bail(OOPS)
}

/// `u3m_bail(mote)`; aborts if the runtime's bail ever returns.
pub fn bail(mote: u32) -> ! {
    // The bail leaves the library without returning through the call.
    crate::process::leave();
    // SAFETY: the runtime's bail does not return (it longjmps or exits).
    unsafe { u3m_bail(mote) }
}

/// `u3_assert(cond)` with the reference's behaviour on failure.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            $crate::runtime::oops(stringify!($cond), file!(), line!())
        }
    };
}
pub(crate) use ensure;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_file_mappings_the_image_is_read_and_swap_is_off() {
        assert_eq!(in_force(SWAP | VERBOSE, true), SWAP | VERBOSE);
        assert_eq!(in_force(0, true), 0);
        assert_eq!(in_force(0, false), NO_DEMAND);
        assert_eq!(in_force(SWAP | VERBOSE, false), NO_DEMAND | VERBOSE);
        assert_eq!(in_force(NO_DEMAND | DRYRUN, false), NO_DEMAND | DRYRUN);
    }
}
