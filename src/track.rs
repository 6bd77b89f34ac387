//! How the library learns which clean pages were written: two backends.
//!
//! - `mprotect` (the reference's way): clean pages are read-only; the first
//!   store faults, and the runtime's SIGSEGV handler calls `u3e_fault`.
//! - `uffd`: clean pages stay writable and are write-protected with
//!   userfaultfd in asynchronous mode (`UFFD_FEATURE_WP_ASYNC`, Linux 6.7+):
//!   the kernel resolves the first store itself, with no signal, and
//!   `PAGEMAP_SCAN` later reports the written pages and re-protects them in
//!   one call. The guard page stays `PROT_NONE`, so a store into it still
//!   reaches `u3e_fault`, exactly as before.
//!
//! `LOOMS_TRACKING=mprotect|uffd|auto` chooses (default `auto`). `auto`
//! picks per boot mode, from the session model `make bench` measures:
//!
//! - no_demand: `uffd` where the kernel has it. The loom is populated at
//!   boot, so reads cost nothing under either backend, and a first store
//!   costs a fraction of a signal.
//! - default (the image demand-paged): `mprotect` from boot to the first
//!   save, `uffd` from then on. A VMA registered for uffd write-protection
//!   gets no fault-around, so every first read of a 4 KiB page of the image
//!   is its own fault, and arming the unpopulated image costs milliseconds:
//!   under `mprotect` the boot and the burst of first reads after it cost
//!   what they cost the reference. Once the runtime saves, first stores
//!   dominate every session measured, and uffd takes them without a signal.
//! - swap: `mprotect` always: its dirty pages must move onto the ephemeral
//!   file, which only the fault path does.
//!
//! With uffd the dirty bitmap is brought up to date by `harvest`, which save,
//! toss, yolo and foul call first; between those calls it may lag.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Mutex;

use crate::dirty;
use crate::loom::{self, PAGE_BYTES};
use crate::msg::{last_errno, say, strerror};
use crate::pool;
use crate::sys::{self, IoctlRequest};

/// Which backend the snapshot system uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Mprotect,
    Uffd,
}

/// What `LOOMS_TRACKING` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Mprotect,
    Uffd,
    Auto,
}

impl Choice {
    /// Parses `LOOMS_TRACKING`; anything unknown is `None`.
    pub fn parse(value: Option<&str>) -> Option<Choice> {
        match value {
            None | Some("") | Some("auto") => Some(Choice::Auto),
            Some("mprotect") => Some(Choice::Mprotect),
            Some("uffd") => Some(Choice::Uffd),
            Some(_) => None,
        }
    }
}

static UFFD: AtomicBool = AtomicBool::new(false);
/// `auto` in default mode: uffd is tried at the first save (`save_boundary`).
/// Owner: the runtime's thread (boot and save), like the rest of this module.
static UFFD_AT_SAVE: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);
static UFFD_FD: AtomicI32 = AtomicI32::new(-1);
static PAGEMAP_FD: AtomicI32 = AtomicI32::new(-1);
/// Pages `[0, ARMED)` are registered with userfaultfd.
static ARMED: AtomicU32 = AtomicU32::new(0);
/// Runs of a pending background save that are read-only and not
/// write-protected for userfaultfd (`arm_for_background`), ascending, until
/// the save ends (`rearmed`): a harvest must not take them for written (a
/// clean page that is read-only must stay clean, or its next store is a
/// "strange page"); a store to one faults and is marked by the fault path.
/// Owner: the runtime's thread, like the rest of this module (the mutex is
/// never contended; the fault path does not read it).
static DEFERRED: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());

/// `DEFERRED`, taken.
fn deferred() -> std::sync::MutexGuard<'static, Vec<(u32, u32)>> {
    DEFERRED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pending background save's clean pages are tracked again
/// (`protect_range` or a remap and `arm`): harvests see them as before.
pub fn rearmed() {
    deferred().clear();
}

/// Runs `each` on the parts of `[first, end)` outside the runs `skip`
/// (ascending).
fn outside(first: u32, end: u32, skip: &[(u32, u32)], mut each: impl FnMut(u32, u32)) {
    let mut at = first;
    let start = skip.partition_point(|&(from, count)| from + count <= first);
    for &(from, count) in &skip[start..] {
        if from >= end {
            break;
        }
        if from > at {
            each(at, from);
        }
        at = at.max(from + count);
    }
    if at < end {
        each(at, end);
    }
}

/// The backend in use.
pub fn backend() -> Backend {
    if UFFD.load(Ordering::Relaxed) {
        Backend::Uffd
    } else {
        Backend::Mprotect
    }
}

/// Whether clean pages are left writable (uffd) rather than read-only.
pub fn clean_pages_writable() -> bool {
    backend() == Backend::Uffd
}

// Linux's userfaultfd and pagemap interfaces (linux/userfaultfd.h, linux/fs.h).
const UFFD_USER_MODE_ONLY: i32 = 1;
const UFFD_API: u64 = 0xaa;
const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;
const PAGE_IS_WRITTEN: u64 = 1 << 1;

const fn iowr(kind: u8, nr: u8, size: usize) -> IoctlRequest {
    sys::ioctl_request(3, kind, nr, size)
}
const fn ior(kind: u8, nr: u8, size: usize) -> IoctlRequest {
    sys::ioctl_request(2, kind, nr, size)
}

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioWriteprotect {
    range: UffdioRange,
    mode: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

const UFFDIO_API: IoctlRequest = iowr(0xaa, 0x3f, size_of::<UffdioApi>());
const UFFDIO_REGISTER: IoctlRequest = iowr(0xaa, 0x00, size_of::<UffdioRegister>());
const UFFDIO_UNREGISTER: IoctlRequest = ior(0xaa, 0x01, size_of::<UffdioRange>());
const UFFDIO_WRITEPROTECT: IoctlRequest = iowr(0xaa, 0x06, size_of::<UffdioWriteprotect>());
const PAGEMAP_SCAN: IoctlRequest = iowr(b'f', 16, size_of::<PmScanArg>());

fn range(pages: u32) -> UffdioRange {
    UffdioRange {
        start: loom::page_ptr(0) as u64,
        len: loom::bytes_of(pages) as u64,
    }
}

/// Opens userfaultfd with asynchronous write protection and the pagemap;
/// `Err` says why not.
fn open_uffd() -> Result<(sys::Fd, sys::Fd), String> {
    let flags = sys::O_CLOEXEC | sys::O_NONBLOCK | UFFD_USER_MODE_ONLY;
    let fd = match sys::userfaultfd(flags) {
        Ok(fd) => fd,
        Err(errno) => return Err(format!("userfaultfd: {}", strerror(errno))),
    };
    let close = |message: String| {
        // The descriptor just opened.
        let _ = sys::close(fd);
        Err(message)
    };
    let wanted = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
    let mut api = UffdioApi {
        api: UFFD_API,
        features: wanted,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_API with a valid uffdio_api.
    if unsafe { sys::ioctl(fd, UFFDIO_API, &mut api) } != 0 {
        return close(format!(
            "UFFDIO_API (asynchronous write-protect): {}",
            strerror(last_errno())
        ));
    }
    if api.features & wanted != wanted {
        return close("kernel lacks asynchronous write-protect".to_string());
    }
    let pagemap = match sys::open(c"/proc/self/pagemap", sys::O_RDONLY | sys::O_CLOEXEC, 0) {
        Ok(pagemap) => pagemap,
        Err(errno) => return close(format!("/proc/self/pagemap: {}", strerror(errno))),
    };
    Ok((fd, pagemap))
}

/// How the loom is booted, as far as the choice of backend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    /// The image mapped and demand-paged (the default).
    Mapped,
    /// The image read into the loom at boot (`u3o_no_demand`).
    Loaded,
    /// Swap mode (`u3o_swap`): dirty pages live in the ephemeral file.
    Swap,
}

impl Boot {
    /// The boot mode of the runtime's flags.
    pub fn of(swap: bool, no_demand: bool) -> Boot {
        if swap {
            Boot::Swap
        } else if no_demand {
            Boot::Loaded
        } else {
            Boot::Mapped
        }
    }
}

/// The backend `auto` boots with in boot mode `boot` (see the module's
/// documentation for why).
pub const fn auto_backend(boot: Boot) -> Backend {
    match boot {
        Boot::Loaded => Backend::Uffd,
        Boot::Mapped | Boot::Swap => Backend::Mprotect,
    }
}

/// Whether `auto` moves to uffd at the first save in boot mode `boot`.
pub const fn auto_switches_at_save(boot: Boot) -> bool {
    matches!(boot, Boot::Mapped)
}

/// Tries to open the uffd backend; says why not when `loud`.
fn try_uffd(loud: bool) -> bool {
    match open_uffd() {
        Ok((fd, pagemap)) => {
            UFFD_FD.store(fd, Ordering::Relaxed);
            PAGEMAP_FD.store(pagemap, Ordering::Relaxed);
            true
        }
        Err(why) => {
            if loud {
                say!("loom: tracking: uffd unavailable ({why}); using mprotect\r\n");
            }
            false
        }
    }
}

/// Chooses the backend at boot; in verbose mode says which.
pub fn start(boot: Boot, verbose: bool) {
    stop();
    // A value that is not UTF-8 is unknown too, and said as its bytes.
    let value = std::env::var_os("LOOMS_TRACKING");
    let text = value
        .as_ref()
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let choice = Choice::parse(text).unwrap_or_else(|| {
        let bytes = value
            .as_ref()
            .map_or(&[][..], |value| value.as_encoded_bytes());
        say!(
            "loom: LOOMS_TRACKING={} is not mprotect, uffd or auto; using auto\r\n",
            crate::msg::escape(bytes)
        );
        Choice::Auto
    });
    let use_uffd = match choice {
        Choice::Mprotect => false,
        _ if boot == Boot::Swap => {
            if choice == Choice::Uffd {
                say!("loom: tracking: swap mode needs mprotect tracking\r\n");
            }
            false
        }
        Choice::Auto if auto_backend(boot) == Backend::Mprotect => false,
        _ => try_uffd(choice == Choice::Uffd || verbose),
    };
    UFFD.store(use_uffd, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
    UFFD_AT_SAVE.store(
        choice == Choice::Auto && auto_switches_at_save(boot),
        Ordering::Relaxed,
    );
    if verbose {
        let name = if use_uffd { "uffd" } else { "mprotect" };
        say!("loom: tracking: {name}\r\n");
    }
}

/// A save is about to remap and re-protect the image: where `auto` waits
/// for the first save, uffd takes over from here (the caller's remap then
/// arms it). Where the kernel lacks it, mprotect simply goes on. `true`
/// when uffd took over now.
pub fn save_boundary() -> bool {
    if !UFFD_AT_SAVE.swap(false, Ordering::Relaxed) || backend() == Backend::Uffd {
        return false;
    }
    let verbose = VERBOSE.load(Ordering::Relaxed);
    if !try_uffd(verbose) {
        return false;
    }
    UFFD.store(true, Ordering::Relaxed);
    if verbose {
        say!("loom: tracking: uffd from the first save on\r\n");
    }
    true
}

/// Releases the uffd backend (`u3e_stop`).
pub fn stop() {
    for fd in [&UFFD_FD, &PAGEMAP_FD] {
        let old = fd.swap(-1, Ordering::Relaxed);
        if old >= 0 {
            // A descriptor this module owned.
            let _ = sys::close(old);
        }
    }
    UFFD.store(false, Ordering::Relaxed);
    UFFD_AT_SAVE.store(false, Ordering::Relaxed);
    ARMED.store(0, Ordering::Relaxed);
    rearmed();
}

/// Starts tracking stores to the clean pages `[0, pages)`: registers them
/// and write-protects them. Called whenever the image is (re)mapped or
/// (re)protected: `mmap(MAP_FIXED)` drops a registration.
pub fn arm(pages: u32) {
    if backend() != Backend::Uffd {
        return;
    }
    let fd = UFFD_FD.load(Ordering::Relaxed);
    ARMED.store(0, Ordering::Relaxed);
    rearmed();
    if pages == 0 {
        return;
    }
    let mut register = UffdioRegister {
        range: range(pages),
        mode: UFFDIO_REGISTER_MODE_WP,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_REGISTER over the loom's image pages, which are mapped.
    if unsafe { sys::ioctl(fd, UFFDIO_REGISTER, &mut register) } != 0 {
        fall_back(pages, "UFFDIO_REGISTER", last_errno());
        return;
    }
    let mut protect = UffdioWriteprotect {
        range: range(pages),
        mode: UFFDIO_WRITEPROTECT_MODE_WP,
    };
    // SAFETY: UFFDIO_WRITEPROTECT over the registered range.
    if unsafe { sys::ioctl(fd, UFFDIO_WRITEPROTECT, &mut protect) } != 0 {
        fall_back(pages, "UFFDIO_WRITEPROTECT", last_errno());
        return;
    }
    ARMED.store(pages, Ordering::Relaxed);
}

/// Starts tracking stores to the clean pages `[0, pages)` of a background
/// save, after a harvest that left what it found written
/// (`harvest_leaving_written`) and after the save made `read_only` (runs)
/// read-only: those are write-protected for userfaultfd when the save
/// ends (`protect_range`, or the remap onto the image), which spares
/// `u3e_save` a second walk over them. `unheard` (runs of the save the
/// kernel would not make read-only) are write-protected now. Where `[0,
/// pages)` is not exactly the armed range, it is registered again and
/// every page outside `read_only` write-protected.
pub fn arm_for_background(pages: u32, read_only: &[(u32, u32)], unheard: &[(u32, u32)]) {
    if backend() != Backend::Uffd {
        return;
    }
    let fd = UFFD_FD.load(Ordering::Relaxed);
    let write_protect = |first: u32, count: u32| {
        let mut protect = UffdioWriteprotect {
            range: UffdioRange {
                start: loom::page_ptr(first) as u64,
                len: loom::bytes_of(count) as u64,
            },
            mode: UFFDIO_WRITEPROTECT_MODE_WP,
        };
        // SAFETY: UFFDIO_WRITEPROTECT over registered, mapped loom pages.
        if count == 0 || unsafe { sys::ioctl(fd, UFFDIO_WRITEPROTECT, &mut protect) } == 0 {
            Ok(())
        } else {
            Err(last_errno())
        }
    };
    let written = if ARMED.load(Ordering::Relaxed) == pages {
        unheard
            .iter()
            .try_for_each(|&(first, count)| write_protect(first, count))
    } else {
        ARMED.store(0, Ordering::Relaxed);
        let mut register = UffdioRegister {
            range: range(pages),
            mode: UFFDIO_REGISTER_MODE_WP,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER over the loom's image pages, which are mapped.
        if pages > 0 && unsafe { sys::ioctl(fd, UFFDIO_REGISTER, &mut register) } != 0 {
            fall_back(pages, "UFFDIO_REGISTER", last_errno());
            return;
        }
        let mut at = 0;
        let gaps = read_only
            .iter()
            .chain(std::iter::once(&(pages, 0)))
            .map(|&(first, count)| {
                let gap = (at, first.min(pages).saturating_sub(at));
                at = at.max(first + count);
                gap
            })
            .collect::<Vec<_>>();
        gaps.into_iter()
            .try_for_each(|(first, count)| write_protect(first, count))
    };
    match written {
        Ok(()) => {
            ARMED.store(pages, Ordering::Relaxed);
            let mut deferred = deferred();
            deferred.clear();
            deferred.extend_from_slice(read_only);
        }
        Err(errno) => fall_back(pages, "UFFDIO_WRITEPROTECT", errno),
    }
}

/// Some armed page lost its registration (a remap that could not be
/// registered again): the next `arm_for_background` arms everything.
pub fn forget_armed() {
    ARMED.store(0, Ordering::Relaxed);
}

/// Tracks stores to the clean pages `[first, first + count)` again after
/// they were remapped (`mmap(MAP_FIXED)` drops a registration), within the
/// armed range; `false` when the kernel refused (the caller counts them as
/// written).
pub fn protect_range(first: u32, count: u32) -> bool {
    if backend() != Backend::Uffd || first + count > ARMED.load(Ordering::Relaxed) {
        return backend() != Backend::Uffd;
    }
    let fd = UFFD_FD.load(Ordering::Relaxed);
    let range = UffdioRange {
        start: loom::page_ptr(first) as u64,
        len: loom::bytes_of(count) as u64,
    };
    let mut register = UffdioRegister {
        range,
        mode: UFFDIO_REGISTER_MODE_WP,
        ioctls: 0,
    };
    let mut protect = UffdioWriteprotect {
        range,
        mode: UFFDIO_WRITEPROTECT_MODE_WP,
    };
    // SAFETY: UFFDIO_REGISTER and UFFDIO_WRITEPROTECT over mapped loom pages.
    unsafe {
        sys::ioctl(fd, UFFDIO_REGISTER, &mut register) == 0
            && sys::ioctl(fd, UFFDIO_WRITEPROTECT, &mut protect) == 0
    }
}

/// Stops tracking (`u3e_yolo`): stores are no longer recorded.
pub fn disarm() {
    rearmed();
    let pages = ARMED.swap(0, Ordering::Relaxed);
    if backend() != Backend::Uffd || pages == 0 {
        return;
    }
    let mut unregister = range(pages);
    // SAFETY: UFFDIO_UNREGISTER over a range this module registered.
    unsafe {
        sys::ioctl(
            UFFD_FD.load(Ordering::Relaxed),
            UFFDIO_UNREGISTER,
            &mut unregister,
        )
    };
}

/// uffd failed mid-run: switch to mprotect for good, keeping every
/// invariant: the clean pages `[0, pages)` become read-only.
fn fall_back(pages: u32, what: &str, errno: i32) {
    say!(
        "loom: tracking: {what} failed: {}; using mprotect\r\n",
        strerror(errno)
    );
    stop();
    if pages > 0 {
        if let Err(errno) = loom::protect(0, pages, loom::Access::Read) {
            say!("loom: pure ({pages} pages): {}\r\n", strerror(errno));
            crate::runtime::oops("0", file!(), line!());
        }
    }
}

/// The loom pages touched by a 4 KiB-granular region `[start, end)`.
pub fn region_pages(start: u64, end: u64) -> (u32, u32) {
    let base = loom::BASE as u64;
    let first = ((start - base) / PAGE_BYTES as u64) as u32;
    let last = ((end - base).div_ceil(PAGE_BYTES as u64)) as u32;
    (first, last)
}

/// Marks every page written since the last harvest dirty, and write-protects
/// it again. With the mprotect backend the bitmap is always current.
pub fn harvest() {
    scan(PM_SCAN_WP_MATCHING);
}

/// Marks every page written since the last harvest dirty and leaves it
/// writable and unprotected: for a background save, which makes its pages
/// read-only itself and tracks them again when it ends
/// (`arm_for_background`). Until then the next harvest finds them written
/// again.
pub fn harvest_leaving_written() {
    scan(0);
}

/// A harvest; `rearm`: `PM_SCAN_WP_MATCHING` (write-protect what is
/// found written) or nothing.
/// The most runs left unprotected by a background save for which a
/// harvest walks the gaps between them, one walk each, rather than all.
const WALK_GAPS_MAX: usize = 64;

fn scan(rearm: u64) {
    let pages = ARMED.load(Ordering::Relaxed);
    if backend() != Backend::Uffd || pages == 0 {
        return;
    }
    let map = pool::dirty_map();
    let skip = deferred();
    // Where a pending background save left few runs unprotected, only the
    // gaps between them are walked (the runs are neither reported nor
    // write-protected: that is left to the end of the save); otherwise
    // all of it, and what the runs report is ignored.
    let mut walks = Vec::new();
    if skip.is_empty() || skip.len() > WALK_GAPS_MAX {
        walks.push((0, pages));
    } else {
        outside(0, pages, &skip, |from, to| walks.push((from, to)));
    }
    let mut regions = [PageRegion::default(); 512];
    for (first, last) in walks {
        let start = loom::page_ptr(first) as u64;
        let end = loom::page_ptr(0) as u64 + loom::bytes_of(last) as u64;
        let mut at = start;
        while at < end {
            let mut arg = PmScanArg {
                size: size_of::<PmScanArg>() as u64,
                flags: rearm | PM_SCAN_CHECK_WPASYNC,
                start: at,
                end,
                walk_end: 0,
                vec: regions.as_mut_ptr() as u64,
                vec_len: regions.len() as u64,
                max_pages: 0,
                category_inverted: 0,
                category_mask: PAGE_IS_WRITTEN,
                category_anyof_mask: 0,
                return_mask: PAGE_IS_WRITTEN,
            };
            // SAFETY: PAGEMAP_SCAN with a valid argument and output vector.
            let found =
                unsafe { sys::ioctl(PAGEMAP_FD.load(Ordering::Relaxed), PAGEMAP_SCAN, &mut arg) };
            if found < 0 {
                // Cannot tell what was written: count every tracked page as
                // written. They are writable already and stay so, as dirty pages
                // are; the mprotect backend tracks from the next save on.
                let errno = last_errno();
                outside(0, pages, &skip, |from, to| {
                    dirty::set_range(map, from, to, true)
                });
                drop(skip);
                say!(
                    "loom: tracking: PAGEMAP_SCAN failed: {}; every page counted as written, using mprotect\r\n",
                    strerror(errno)
                );
                stop();
                return;
            }
            for region in &regions[..found as usize] {
                // Whole granules, as the fault path marks them.
                let (first, last) = region_pages(region.start, region.end);
                let (first, last) = (loom::granule_floor(first), loom::granule_ceil(last));
                outside(first, last.min(pages), &skip, |from, to| {
                    dirty::set_range(map, from, to, true)
                });
            }
            if (found as usize) < regions.len() || arg.walk_end <= at {
                break;
            }
            at = arg.walk_end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_are_linux_s() {
        // The C library's request type may be signed (musl): compare bits.
        // (macOS encodes requests the BSD way and has no userfaultfd.)
        if !cfg!(target_os = "linux") {
            return;
        }
        assert_eq!(UFFDIO_API as u32, 0xc018_aa3f);
        assert_eq!(UFFDIO_REGISTER as u32, 0xc020_aa00);
        assert_eq!(UFFDIO_UNREGISTER as u32, 0x8010_aa01);
        assert_eq!(UFFDIO_WRITEPROTECT as u32, 0xc018_aa06);
        assert_eq!(PAGEMAP_SCAN as u32, 0xc060_6610);
    }

    #[test]
    fn choices() {
        assert_eq!(Choice::parse(None), Some(Choice::Auto));
        assert_eq!(Choice::parse(Some("uffd")), Some(Choice::Uffd));
        assert_eq!(Choice::parse(Some("mprotect")), Some(Choice::Mprotect));
        assert_eq!(Choice::parse(Some("fast")), None);
    }

    #[test]
    fn auto_is_uffd_only_where_the_loom_is_loaded() {
        assert_eq!(Boot::of(false, false), Boot::Mapped);
        assert_eq!(Boot::of(false, true), Boot::Loaded);
        assert_eq!(Boot::of(true, true), Boot::Swap);
        assert_eq!(Boot::of(true, false), Boot::Swap);
        assert_eq!(auto_backend(Boot::Loaded), Backend::Uffd);
        assert_eq!(auto_backend(Boot::Mapped), Backend::Mprotect);
        assert_eq!(auto_backend(Boot::Swap), Backend::Mprotect);
        assert!(auto_switches_at_save(Boot::Mapped));
        assert!(!auto_switches_at_save(Boot::Loaded));
        assert!(!auto_switches_at_save(Boot::Swap));
    }

    #[test]
    fn regions_round_out_to_loom_pages() {
        let base = loom::BASE as u64;
        assert_eq!(region_pages(base, base + 4096), (0, 1));
        assert_eq!(region_pages(base + 3 * 4096, base + 5 * 4096), (0, 2));
        assert_eq!(region_pages(base + 16384, base + 32768), (1, 2));
    }
}
