//! The loom: the runtime's fixed address range, in 16 KiB pages.
//!
//! Every raw `mmap`, `mprotect` and `madvise` of the loom lives here. The
//! functions are thin and allocation-free: the fault path calls them from a
//! signal handler. Page numbers (`page`) and word offsets (`post`) are both
//! `u32`; the conversions below are the only places that shift between them.
//!
//! Protection and mappings change in granules: the larger of the loom page
//! and the kernel's page (16 KiB on x86_64 and most arm64 kernels, 64 KiB
//! on arm64 kernels built with 64 KiB pages). A granule is clean or dirty
//! as a whole: a first store into it marks all its pages dirty, the guard
//! covers one, and the last, partial granule of an image is dirty from the
//! start (a save writes its pages again, with the same bytes).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Where the runtime maps the loom (`U3_OS_LoomBase` in its `portable.h`),
/// by platform (`sys`): the host maps the loom here before calling in.
pub const BASE: usize = crate::sys::LOOM_BASE;

/// log2 of the words in a page.
pub const PAGE_SHIFT: u32 = crate::abi::u3a_page;
/// Words in a page.
pub const PAGE_WORDS: u32 = 1 << PAGE_SHIFT;
/// Bytes in a page.
pub const PAGE_BYTES: usize = (PAGE_WORDS as usize) * 4;

/// The most pages a loom has: word offsets are 32 bits.
pub const MAX_PAGES: u32 = 1 << (32 - PAGE_SHIFT);

/// The largest granule the fault path can move in one piece (its static
/// buffer's size): 64 KiB, the largest arm64 kernel page.
pub const MAX_GRANULE_BYTES: usize = 64 << 10;

/// log2 of the loom pages in a granule; set at boot (`choose_granule`).
static GRANULE_SHIFT: AtomicU32 = AtomicU32::new(0);

/// Loom pages in a granule.
pub fn granule_pages() -> u32 {
    1 << GRANULE_SHIFT.load(Ordering::Relaxed)
}

/// The first page of the granule holding `page`.
pub fn granule_floor(page: u32) -> u32 {
    page & !(granule_pages() - 1)
}

/// `page` rounded up to a granule.
pub fn granule_ceil(page: u32) -> u32 {
    let g = granule_pages();
    page.saturating_add(g - 1) & !(g - 1)
}

/// The granule a page lies in, as an index.
pub fn granule_of(page: u32) -> u32 {
    page >> GRANULE_SHIFT.load(Ordering::Relaxed)
}

/// The granule for a kernel page of `kernel` bytes: the larger of it and
/// the loom page. `test` (`LOOMS_TEST_GRANULE`, a test setting) asks for a
/// larger one, to run a kernel with larger pages' arithmetic on this one.
/// `Err` says why the kernel's page cannot be served; a `test` value that
/// is not a power of two between the granule and `MAX_GRANULE_BYTES` is
/// ignored, with `Ok` telling so in its second member.
pub fn granule_for(kernel: usize, test: Option<&str>) -> Result<(usize, bool), usize> {
    if !kernel.is_power_of_two() || kernel > MAX_GRANULE_BYTES {
        return Err(kernel);
    }
    let natural = kernel.max(PAGE_BYTES);
    match test.map(str::parse::<usize>) {
        None => Ok((natural, true)),
        Some(Ok(bytes))
            if bytes.is_power_of_two() && bytes >= natural && bytes <= MAX_GRANULE_BYTES =>
        {
            Ok((bytes, true))
        }
        Some(_) => Ok((natural, false)),
    }
}

/// Sets the granule, in bytes (a power of two, at least a loom page).
pub fn set_granule(bytes: usize) {
    let shift = (bytes / PAGE_BYTES).trailing_zeros();
    GRANULE_SHIFT.store(shift, Ordering::Relaxed);
}

/// The page holding word `post`.
pub const fn page_of(post: u32) -> u32 {
    post >> PAGE_SHIFT
}

/// The first page wholly above word `post` (`post` rounded up to a page).
/// Computed in 32 bits as the reference does; watermarks never come within a
/// page of 2^32 because the stack occupies the top of the loom.
pub const fn page_above(post: u32) -> u32 {
    post.wrapping_add(PAGE_WORDS - 1) >> PAGE_SHIFT
}

/// Bytes in `pages` pages.
pub const fn bytes_of(pages: u32) -> usize {
    (pages as usize) << (PAGE_SHIFT + 2)
}

/// Words in `pages` pages.
pub const fn words_of(pages: u32) -> u32 {
    pages << PAGE_SHIFT
}

/// The address of page `page`.
pub fn page_ptr(page: u32) -> *mut u8 {
    (BASE + bytes_of(page)) as *mut u8
}

/// The bytes of page `page`.
///
/// # Safety
/// The page must be mapped readable (the runtime maps the whole loom) and not
/// written while the slice is alive.
pub unsafe fn page_bytes<'a>(page: u32) -> &'a [u8] {
    // SAFETY: the caller guarantees the page is mapped and quiescent.
    unsafe { core::slice::from_raw_parts(page_ptr(page), PAGE_BYTES) }
}

/// The bytes of pages `[first, first + count)`.
///
/// # Safety
/// The pages must be mapped readable and not written while the slice lives.
pub unsafe fn pages<'a>(first: u32, count: u32) -> &'a [u8] {
    // SAFETY: the caller guarantees the range is mapped and quiescent.
    unsafe { core::slice::from_raw_parts(page_ptr(first), bytes_of(count)) }
}

/// The bytes of pages `[first, first + count)`, mutable.
///
/// # Safety
/// The pages must be mapped writable and not otherwise referenced.
pub unsafe fn pages_mut<'a>(first: u32, count: u32) -> &'a mut [u8] {
    // SAFETY: the caller guarantees the range is mapped and exclusive.
    unsafe { core::slice::from_raw_parts_mut(page_ptr(first), bytes_of(count)) }
}

pub use crate::sys::{Access, Backing};

/// `mprotect` pages `[first, first + count)`, widened to whole granules;
/// `Err(errno)` on failure.
pub fn protect(first: u32, count: u32, access: Access) -> Result<(), i32> {
    let start = granule_floor(first);
    let end = granule_ceil(first.saturating_add(count));
    // SAFETY: the range lies inside the loom, which the runtime owns and has
    // mapped; changing its protection cannot invalidate Rust references
    // because the library holds none across this call.
    unsafe { crate::sys::protect(page_ptr(start), bytes_of(end - start), access) }
}

/// Pages mapped shared from a file (`Backing::FileShared`: swap mode's
/// ephemeral file), a bit each: a store there reaches the file, so a forked
/// child makes them private (`fault::detach_swap_file`). Written by `remap`
/// and `remap_unmapped` only, as they map (on the runtime's thread,
/// in its fault handler included); read in a forked child and at `u3e_stop`.
static SHARED: [AtomicU64; (MAX_PAGES / 64) as usize] =
    [const { AtomicU64::new(0) }; (MAX_PAGES / 64) as usize];

/// Marks pages `[first, first + count)` as mapped shared or not, a word at
/// a time where it can. Async-signal-safe.
fn mark_shared(first: u32, count: u32, shared: bool) {
    let end = first.saturating_add(count).min(MAX_PAGES);
    let mut page = first;
    while page < end {
        let word = &SHARED[(page / 64) as usize];
        let bits = if page % 64 == 0 && end - page >= 64 {
            u64::MAX
        } else {
            let width = (64 - page % 64).min(end - page);
            (u64::MAX >> (64 - width)) << (page % 64)
        };
        if shared {
            word.fetch_or(bits, Ordering::Relaxed);
        } else {
            word.fetch_and(!bits, Ordering::Relaxed);
        }
        page = (page / 64 + 1) * 64;
    }
}

/// The runs of pages below `pages` that are mapped shared from a file, in
/// order, as `(first, end)`. Allocation-free: a forked child's handler and
/// `u3e_stop` walk it.
pub fn shared_runs(pages: u32) -> SharedRuns {
    SharedRuns {
        at: 0,
        end: pages.min(MAX_PAGES),
    }
}

/// See `shared_runs`.
pub struct SharedRuns {
    at: u32,
    end: u32,
}

impl SharedRuns {
    fn shared(page: u32) -> bool {
        SHARED[(page / 64) as usize].load(Ordering::Relaxed) & (1 << (page % 64)) != 0
    }

    /// The first page from `page` on whose bit is `bit` (or the end).
    fn next_with(&self, mut page: u32, bit: bool) -> u32 {
        while page < self.end {
            let word = SHARED[(page / 64) as usize].load(Ordering::Relaxed);
            let whole = if bit { 0 } else { u64::MAX };
            if page % 64 == 0 && word == whole {
                page += 64;
            } else if Self::shared(page) == bit {
                return page;
            } else {
                page += 1;
            }
        }
        self.end
    }
}

impl Iterator for SharedRuns {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        let first = self.next_with(self.at, true);
        if first >= self.end {
            self.at = self.end;
            return None;
        }
        let end = self.next_with(first, false);
        self.at = end;
        Some((first, end))
    }
}

/// Replaces pages `[first, first + count)` with a new mapping.
pub fn remap(first: u32, count: u32, backing: Backing) -> Result<(), i32> {
    let offset = match backing {
        Backing::Anonymous => 0,
        _ => bytes_of(first) as u64,
    };
    // SAFETY: a fixed mapping over the loom, which the runtime reserved for
    // this library's use; no Rust reference into the range is alive.
    unsafe { crate::sys::map_fixed(page_ptr(first), bytes_of(count), backing, offset) }?;
    mark_shared(first, count, matches!(backing, Backing::FileShared(_)));
    Ok(())
}

/// Mappings moved out of the loom by `remap_releasing`, whose memory is
/// still to be freed (`Released::free`). Owned by whoever holds it: the
/// runtime's thread until `free`, then the thread that unmaps them; nothing
/// else knows where they are.
#[derive(Default)]
pub struct Released(Vec<(usize, usize)>);

/// The fewest pages `remap_releasing` moves out rather than frees at once.
const RELEASE_MIN_PAGES: u32 = 64;

/// How a moved mapping is aligned, so that the kernel moves its page
/// tables a 2 MiB table at a time where it can.
const MOVE_ALIGN: usize = 2 << 20;

impl Released {
    /// Frees the moved mappings on a thread of the library's (signals
    /// blocked), so that the caller does not wait for the kernel to free
    /// their pages; where no thread can be had, here.
    pub fn free(self) {
        if self.0.is_empty() {
            return;
        }
        // Shared, so that a thread that cannot be started leaves the list
        // to this one rather than dropping it with its closure.
        let list: Handed = std::sync::Arc::new(std::sync::Mutex::new(Some(self.0)));
        let theirs = std::sync::Arc::clone(&list);
        let spawned = crate::process::with_signals_blocked(|| {
            crate::sys::spawn_detached(Box::new(move || unmap_all(theirs)))
        });
        if spawned.is_err() {
            unmap_all(list);
        }
    }
}

/// Moved mappings `(address, length)`, shared between the caller of
/// `Released::free` and the thread it starts, and taken by one of them.
type Handed = std::sync::Arc<std::sync::Mutex<Option<Vec<(usize, usize)>>>>;

/// Unmaps the moved mappings in `list` (taken once, by whoever comes first).
fn unmap_all(list: Handed) {
    let taken = list.lock().map(|mut list| list.take()).unwrap_or(None);
    for (at, len) in taken.into_iter().flatten() {
        // A 2 MiB piece at a time: the kernel holds the process's mapping
        // lock while it frees what it unmaps, and the runtime's thread
        // may be waiting for that lock to change a protection.
        let end = at + len;
        let mut from = at;
        while from < end {
            let to = ((from / MOVE_ALIGN + 1) * MOVE_ALIGN).min(end);
            // SAFETY: part of a mapping moved out of the loom by
            // `remap_releasing`, which nothing refers to.
            let _ = unsafe { crate::sys::unmap(from as *mut u8, to - from) };
            from = to;
        }
    }
}

/// `remap`, with the old mapping's memory freed later (`Released::free`)
/// rather than by the `mmap` that replaces it: the old mapping is moved
/// out of the loom (`sys::move_mapping`, which moves page tables without
/// touching the pages), and the new one mapped in its place. Freeing the
/// copies a save leaves (a page each) is most of what a remap costs.
/// Where the move is refused (a range across mappings, no address space,
/// macOS) or the range is small, `remap`. If the new mapping fails, the
/// old one is moved back and the error returned.
pub fn remap_releasing(
    first: u32,
    count: u32,
    backing: Backing,
    released: &mut Released,
) -> Result<(), i32> {
    if count < RELEASE_MIN_PAGES {
        return remap(first, count, backing);
    }
    let len = bytes_of(count);
    let from = page_ptr(first) as usize;
    // SAFETY: a fresh reservation of address space only.
    let Ok(base) = crate::sys::reserve_address_space(len + MOVE_ALIGN) else {
        return remap(first, count, backing);
    };
    let base = base as usize;
    let away = base + (from.wrapping_sub(base) % MOVE_ALIGN);
    // SAFETY: the loom's range (no reference into it is alive) moved onto
    // the reservation just made.
    let moved = unsafe { crate::sys::move_mapping(from as *mut u8, len, away as *mut u8) };
    // What is left of the reservation around the moved mapping (all of it
    // if the move was refused).
    let (keep_from, keep_len) = if moved.is_ok() {
        (away, len)
    } else {
        (away, 0)
    };
    for (at, end) in [
        (base, keep_from),
        (keep_from + keep_len, base + len + MOVE_ALIGN),
    ] {
        if end > at {
            // SAFETY: parts of the reservation made above, unused.
            let _ = unsafe { crate::sys::unmap(at as *mut u8, end - at) };
        }
    }
    if moved.is_err() {
        return remap(first, count, backing);
    }
    match remap(first, count, backing) {
        Ok(()) => {
            // A child forked from here on does not inherit it.
            // SAFETY: advice on the moved mapping, which the caller owns.
            unsafe { crate::sys::keep_from_children(away as *mut u8, len) };
            released.0.push((away, len));
            Ok(())
        }
        Err(errno) => {
            // SAFETY: the moved mapping back into the hole it left.
            let back = unsafe { crate::sys::move_mapping(away as *mut u8, len, from as *mut u8) };
            if back.is_err() {
                crate::msg::say!(
                    "loom: remap: {count} pages at {first} could not be mapped back ({})\r\n",
                    crate::msg::strerror(errno)
                );
                crate::runtime::oops("0", file!(), line!());
            }
            Err(errno)
        }
    }
}

/// Mappings of one page each, set aside (`set_aside_spares`) so that a
/// remap can still be made at the kernel's mapping limit: past
/// `vm.max_map_count` the kernel refuses every `mmap`, even one that
/// replaces others and would lower the count, while `mprotect` that merges
/// mappings, and `munmap`, are still let through. Giving one of these up
/// lowers the count (it merges with its neighbours); the remap, made with
/// `MAP_FIXED` over the range (one step: where the kernel refuses, the
/// range keeps its old mapping), is then let through. The other way round
/// (the range unmapped first) only where the unmapping provably lowers the
/// count (`remap_at_limit_unmapping`): where it does not (it splits as many
/// mappings as it removes), the new mapping may be refused and the loom
/// left with a hole. The last spare (`RESERVE`) is kept for the mapping
/// that follows such an unmapping. Spent from the fault path (lock-free:
/// an atomic mask and `mprotect`), set aside again by the runtime's thread
/// at boot and after each save, by splits the kernel refuses at the limit:
/// setting them aside never takes the count past it.
const SPARES: u32 = 16;
/// Where the spares' reservation starts (0: none yet): `2 * SPARES + 1`
/// pages of no access; spare `k` is page `2k + 1`, made readable, which
/// makes it a mapping of its own (and its neighbours two more).
static SPARE_BASE: AtomicUsize = AtomicUsize::new(0);
/// Bit `k`: spare `k` is set aside (readable).
static SPARES_MAPPED: AtomicU32 = AtomicU32::new(0);
/// The spare kept back for mapping a range that was just unmapped
/// (`remap_unmapped`): no other remap spends it.
const RESERVE: u32 = 1 << (SPARES - 1);

/// The address of spare `spare`.
fn spare_at(base: usize, spare: u32) -> *mut u8 {
    (base + (2 * spare as usize + 1) * system_page_size()) as *mut u8
}

/// Sets aside the spare mappings that are not (the first call reserves
/// their place); where the kernel refuses one, it is set aside later.
/// The runtime's thread, outside a save.
pub fn set_aside_spares() {
    let mut base = SPARE_BASE.load(Ordering::Acquire);
    if base == 0 {
        // SAFETY: a fresh private reservation of address space, owned here.
        let Ok(got) =
            crate::sys::reserve_address_space((2 * SPARES as usize + 1) * system_page_size())
        else {
            return;
        };
        base = got as usize;
        SPARE_BASE.store(base, Ordering::Release);
    }
    for spare in 0..SPARES {
        let bit = 1 << spare;
        if SPARES_MAPPED.load(Ordering::Acquire) & bit != 0 {
            continue;
        }
        // SAFETY: a page of the reservation above, which nothing else uses.
        if unsafe { crate::sys::protect(spare_at(base, spare), system_page_size(), Access::Read) }
            .is_err()
        {
            return;
        }
        SPARES_MAPPED.fetch_or(bit, Ordering::AcqRel);
    }
}

/// Gives up one spare mapping, the reserve too when `reserve` (and only
/// when no other is left); false when none is left. Async-signal-safe.
fn spend_spare(reserve: bool) -> bool {
    let base = SPARE_BASE.load(Ordering::Acquire);
    loop {
        let mapped = SPARES_MAPPED.load(Ordering::Acquire);
        let spendable = if reserve { mapped } else { mapped & !RESERVE };
        if base == 0 || spendable == 0 {
            return false;
        }
        let spare = spendable.trailing_zeros();
        let bit = 1 << spare;
        if SPARES_MAPPED
            .compare_exchange(mapped, mapped & !bit, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        // SAFETY: a spare page of the reservation, which nothing refers to;
        // of no access again, it merges with its neighbours.
        if unsafe {
            crate::sys::protect(spare_at(base, spare), system_page_size(), Access::Nothing)
        }
        .is_ok()
        {
            return true;
        }
    }
}

/// `remap`, for a process at the kernel's mapping limit, where `mmap`
/// refuses even a mapping that would replace others (`ENOMEM` once the
/// count is past `vm.max_map_count`): spare mappings are given up, one at
/// a time, until the kernel lets the remap through. Where none is left,
/// `Err(ENOMEM)`, and the range is as it was: never a hole.
pub fn remap_at_limit(first: u32, count: u32, backing: Backing) -> Result<(), i32> {
    loop {
        match remap(first, count, backing) {
            Err(crate::sys::ENOMEM) if spend_spare(false) => continue,
            other => return other,
        }
    }
}

/// `remap_at_limit`, unmapping the range first where that provably lowers
/// the mapping count (`unmapping_lowers_count`) and the new mapping commits
/// no memory: the kernel then lets the mapping that follows through
/// (`remap_unmapped`), and no spare is spent. The count can pass
/// `vm.max_map_count` by one (the kernel checks it before a split that adds
/// two), and from there it refuses every `mmap` however many mappings it
/// would replace, so a run of first stores between two saves would spend
/// every spare; an unmapping that removes more mappings than it splits is
/// let through. Elsewhere spares are spent, as in `remap_at_limit`. Pages
/// `[first, first + count)` lie below the loom's `pages`; the caller keeps
/// their contents elsewhere (the file they are mapped from anew).
/// Async-signal-safe.
pub fn remap_at_limit_unmapping(
    first: u32,
    count: u32,
    backing: Backing,
    pages: u32,
) -> Result<(), i32> {
    let commits = match backing {
        Backing::FileShared(_) => false,
        Backing::FilePrivate { writable, .. } | Backing::FileCopy { writable, .. } => writable,
        Backing::Anonymous => true,
    };
    loop {
        match remap(first, count, backing) {
            Err(crate::sys::ENOMEM) => {}
            other => return other,
        }
        if !commits && unmapping_lowers_count(first, first.saturating_add(count), pages) {
            return remap_unmapped(first, count, backing);
        }
        if !spend_spare(false) {
            return Err(crate::sys::ENOMEM);
        }
    }
}

/// Whether unmapping pages `[first, end)` of a loom of `pages` pages lowers
/// the process's mapping count by one at least, as far as `SHARED` shows:
/// a mapping has one backing, so each run of pages alike (mapped shared
/// from the ephemeral file or not) is one mapping at least, all removed,
/// while the unmapping splits at most the mapping at each end, and none
/// at an end where the pages either side differ. Allocation-free.
fn unmapping_lowers_count(first: u32, end: u32, pages: u32) -> bool {
    let pages = pages.min(MAX_PAGES);
    if first >= end || end > pages {
        return false;
    }
    let shared = SharedRuns::shared;
    let splits = u32::from(first == 0 || shared(first - 1) == shared(first))
        + u32::from(end == pages || shared(end) == shared(end - 1));
    let runs = SharedRuns { at: first, end };
    let mut alike = 0;
    let mut page = first;
    while page < end && alike <= splits {
        page = runs.next_with(page, !shared(page));
        alike += 1;
    }
    alike > splits
}

/// Unmaps pages `[first, first + count)` and maps them anew from `backing`;
/// where the kernel refuses the new mapping, spares are given up, the
/// reserve last, until it lets it through. The caller has made sure that
/// the unmapping lowers the count (`unmapping_lowers_count`): only another
/// thread's mapping made in between, or a lowered `vm.max_map_count`, can
/// take the place it makes. Where no spare is left, said, and the range is
/// left unmapped. Async-signal-safe.
fn remap_unmapped(first: u32, count: u32, backing: Backing) -> Result<(), i32> {
    // SAFETY: as in `remap`: the range is the library's and no Rust
    // reference into it is alive; it is mapped again right below. Where
    // the kernel refuses, the range keeps its mapping.
    unsafe { crate::sys::unmap(page_ptr(first), bytes_of(count)) }?;
    mark_shared(first, count, false);
    loop {
        match remap(first, count, backing) {
            Err(crate::sys::ENOMEM) if spend_spare(true) => continue,
            Err(errno) => {
                crate::msg::Line::new()
                    .str("loom: remap: pages ")
                    .dec(u64::from(first))
                    .str("-")
                    .dec(u64::from(first) + u64::from(count))
                    .str(" left unmapped (")
                    .errno(errno)
                    .str(")\r\n")
                    .emit();
                return Err(errno);
            }
            Ok(()) => return Ok(()),
        }
    }
}

/// `protect`, for a process at the kernel's mapping limit: where the
/// kernel refuses the split a change of protection needs, spare mappings
/// are given up, one at a time, until it lets it through.
pub fn protect_at_limit(first: u32, count: u32, access: Access) -> Result<(), i32> {
    loop {
        match protect(first, count, access) {
            Err(crate::sys::ENOMEM) if spend_spare(false) => continue,
            other => return other,
        }
    }
}

/// `madvise(MADV_DONTNEED)` the whole granules inside pages
/// `[first, first + count)` (a granule partly outside keeps its contents).
pub fn discard(first: u32, count: u32) -> Result<(), i32> {
    let start = granule_ceil(first);
    let end = granule_floor(first.saturating_add(count));
    if start >= end {
        return Ok(());
    }
    // SAFETY: the range is inside the loom; dropping its contents is what
    // the caller asked for and invalidates no Rust reference.
    unsafe { crate::sys::discard(page_ptr(start), bytes_of(end - start)) }
}

/// `madvise(MADV_HUGEPAGE)` pages `[first, first + count)`: the kernel may
/// back them with transparent huge pages where its policy allows (`madvise`
/// or `always`). Only a hint: `Err(errno)` where the kernel refuses it.
pub fn advise_huge_pages(first: u32, count: u32) -> Result<(), i32> {
    // SAFETY: the range is inside the loom; the advice changes how memory
    // is backed, never its contents.
    unsafe { crate::sys::advise_huge_pages(page_ptr(first), bytes_of(count)) }
}

/// The system page size.
pub fn system_page_size() -> usize {
    crate::sys::page_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arithmetic() {
        assert_eq!(PAGE_BYTES, 16384);
        assert_eq!(page_of(0), 0);
        assert_eq!(page_of(4095), 0);
        assert_eq!(page_of(4096), 1);
        assert_eq!(page_above(0), 0);
        assert_eq!(page_above(1), 1);
        assert_eq!(page_above(4096), 1);
        assert_eq!(page_above(4097), 2);
        assert_eq!(bytes_of(3), 3 * 16384);
        assert_eq!(bytes_of(1 << 20), 1 << 34);
        assert_eq!(words_of(2), 8192);
        assert_eq!(page_ptr(1) as usize - page_ptr(0) as usize, PAGE_BYTES);
    }

    #[test]
    fn granules() {
        assert_eq!(granule_for(4096, None), Ok((16384, true)));
        assert_eq!(granule_for(16384, None), Ok((16384, true)));
        assert_eq!(granule_for(65536, None), Ok((65536, true)));
        assert_eq!(granule_for(131072, None), Err(131072));
        assert_eq!(granule_for(4096, Some("65536")), Ok((65536, true)));
        assert_eq!(granule_for(4096, Some("32768")), Ok((32768, true)));
        assert_eq!(granule_for(65536, Some("16384")), Ok((65536, false)));
        assert_eq!(granule_for(4096, Some("20000")), Ok((16384, false)));
        assert_eq!(granule_for(4096, Some("big")), Ok((16384, false)));
        assert_eq!(granule_for(4096, Some("131072")), Ok((16384, false)));
    }

    #[test]
    fn shared_bits_make_runs() {
        // Far above any loom a test maps: only the bits are exercised.
        let base = MAX_PAGES - 4096;
        mark_shared(base + 3, 130, true);
        mark_shared(base + 200, 1, true);
        mark_shared(base + 64, 10, false);
        let runs: Vec<_> = SharedRuns {
            at: base,
            end: MAX_PAGES,
        }
        .collect();
        assert_eq!(
            runs,
            [
                (base + 3, base + 64),
                (base + 74, base + 133),
                (base + 200, base + 201)
            ]
        );
        mark_shared(base, 4096, false);
        assert_eq!(
            SharedRuns {
                at: base,
                end: MAX_PAGES
            }
            .next(),
            None
        );
    }

    #[test]
    fn an_unmapping_lowers_the_count_where_it_removes_more_than_it_splits() {
        // Pages of their own, far above any loom a test maps.
        let base = MAX_PAGES - 8192;
        let pages = base + 1000;
        let lowers = |first: u32, end: u32| unmapping_lowers_count(base + first, base + end, pages);
        assert!(!lowers(10, 20), "inside one mapping: split in three");
        mark_shared(base + 12, 2, true);
        assert!(lowers(10, 20), "three mappings, two split");
        assert!(lowers(12, 14), "a whole mapping");
        assert!(lowers(12, 20), "two mappings, one split");
        assert!(!lowers(13, 20), "two mappings, maybe both split");
        assert!(!lowers(10, 13), "two mappings, maybe both split");
        assert!(
            !unmapping_lowers_count(base + 12, base + 14, base + 14),
            "the loom's end"
        );
        assert!(!lowers(12, 12), "nothing");
        assert!(
            !unmapping_lowers_count(base + 990, base + 1010, pages),
            "past the loom"
        );
        mark_shared(base, 4096, false);
    }

    #[test]
    fn base_is_the_platform_constant() {
        #[cfg(all(target_os = "linux", not(feature = "asan-base")))]
        assert_eq!(page_ptr(0) as usize, 0x2_0000_0000);
        #[cfg(all(target_os = "macos", not(feature = "asan-base")))]
        assert_eq!(page_ptr(0) as usize, 0x280_0000_0000);
        assert_eq!(BASE % 4096, 0);
    }
}
