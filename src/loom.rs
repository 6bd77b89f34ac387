//! The loom: the runtime's fixed address range, in 16 KiB pages.
//!
//! Every raw `mmap`, `mprotect` and `madvise` of the loom lives here. The
//! functions are thin and allocation-free: the fault path calls them from a
//! signal handler. Page numbers (`page`) and word offsets (`post`) are both
//! `u32`; the conversions below are the only places that shift between them.

use crate::msg::last_errno;

/// Where the runtime maps the loom (`U3_OS_LoomBase` in its `portable.h`),
/// by platform (`sys`): the host maps the loom here before calling in.
pub const BASE: usize = crate::sys::LOOM_BASE;

/// log2 of the words in a page.
pub const PAGE_SHIFT: u32 = crate::abi::u3a_page;
/// Words in a page.
pub const PAGE_WORDS: u32 = 1 << PAGE_SHIFT;
/// Bytes in a page.
pub const PAGE_BYTES: usize = (PAGE_WORDS as usize) * 4;

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

/// The bytes of pages `[first, first + count)`, mutable.
///
/// # Safety
/// The pages must be mapped writable and not otherwise referenced.
pub unsafe fn pages_mut<'a>(first: u32, count: u32) -> &'a mut [u8] {
    // SAFETY: the caller guarantees the range is mapped and exclusive.
    unsafe { core::slice::from_raw_parts_mut(page_ptr(first), bytes_of(count)) }
}

/// Memory protection of a range of pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Clean pages: a store faults.
    Read,
    /// Dirty pages.
    ReadWrite,
    /// The guard page.
    Nothing,
}

impl Access {
    fn prot(self) -> libc::c_int {
        match self {
            Access::Read => libc::PROT_READ,
            Access::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Access::Nothing => libc::PROT_NONE,
        }
    }
}

/// `mprotect` pages `[first, first + count)`; `Err(errno)` on failure.
pub fn protect(first: u32, count: u32, access: Access) -> Result<(), i32> {
    // SAFETY: the range lies inside the loom, which the runtime owns and has
    // mapped; changing its protection cannot invalidate Rust references
    // because the library holds none across this call.
    let rc = unsafe { libc::mprotect(page_ptr(first).cast(), bytes_of(count), access.prot()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// What backs a remapped range of pages.
#[derive(Clone, Copy, Debug)]
pub enum Backing {
    /// A private view of a file from offset `first * PAGE_BYTES` (the image,
    /// demand-paged): read-only, or writable when clean pages are tracked
    /// without protection.
    FilePrivate { fd: libc::c_int, writable: bool },
    /// A shared, writable view of a file at the pages' own offset (swap mode's
    /// ephemeral file).
    FileShared(libc::c_int),
    /// Fresh anonymous zero pages.
    Anonymous,
}

/// Replaces pages `[first, first + count)` with a new mapping.
pub fn remap(first: u32, count: u32, backing: Backing) -> Result<(), i32> {
    let fixed = libc::MAP_FIXED;
    let (prot, flags, fd) = match backing {
        Backing::FilePrivate {
            fd,
            writable: false,
        } => (libc::PROT_READ, fixed | libc::MAP_PRIVATE, fd),
        Backing::FilePrivate { fd, writable: true } => (
            libc::PROT_READ | libc::PROT_WRITE,
            fixed | libc::MAP_PRIVATE,
            fd,
        ),
        Backing::FileShared(fd) => (
            libc::PROT_READ | libc::PROT_WRITE,
            fixed | libc::MAP_SHARED,
            fd,
        ),
        Backing::Anonymous => (
            libc::PROT_READ | libc::PROT_WRITE,
            fixed | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
        ),
    };
    let offset = match backing {
        Backing::Anonymous => 0,
        _ => bytes_of(first) as libc::off_t,
    };
    // SAFETY: MAP_FIXED over the loom, which the runtime reserved for this
    // library's use; no Rust reference into the range is alive.
    let got = unsafe {
        libc::mmap(
            page_ptr(first).cast(),
            bytes_of(count),
            prot,
            flags,
            fd,
            offset,
        )
    };
    if got == libc::MAP_FAILED {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// `remap`, for a process at the kernel's mapping limit, where `mmap`
/// refuses even a mapping that would replace others (`ENOMEM` once the
/// count is past `vm.max_map_count`): the range is unmapped first, which
/// lowers the count when it ends on mapping boundaries, then mapped anew.
/// The caller keeps the range's contents elsewhere (the swap file).
pub fn remap_unmapping_first(first: u32, count: u32, backing: Backing) -> Result<(), i32> {
    match remap(first, count, backing) {
        Err(libc::ENOMEM) => {}
        other => return other,
    }
    // SAFETY: as in `remap`: the range is the library's and no Rust
    // reference into it is alive; it is mapped again right below.
    if unsafe { libc::munmap(page_ptr(first).cast(), bytes_of(count)) } != 0 {
        return Err(last_errno());
    }
    remap(first, count, backing)
}

/// `madvise(MADV_DONTNEED)` pages `[first, first + count)`.
pub fn discard(first: u32, count: u32) -> Result<(), i32> {
    // SAFETY: the range is inside the loom; dropping its contents is what
    // the caller asked for and invalidates no Rust reference.
    let rc = unsafe { libc::madvise(page_ptr(first).cast(), bytes_of(count), libc::MADV_DONTNEED) };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// `madvise(MADV_HUGEPAGE)` pages `[first, first + count)`: the kernel may
/// back them with transparent huge pages where its policy allows (`madvise`
/// or `always`). Only a hint: `Err(errno)` where the kernel refuses it.
pub fn advise_huge_pages(first: u32, count: u32) -> Result<(), i32> {
    // SAFETY: the range is inside the loom; the advice changes how memory
    // is backed, never its contents.
    unsafe { crate::sys::advise_huge_pages(page_ptr(first).cast(), bytes_of(count)) }
}

/// The system page size.
pub fn system_page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
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
    fn base_is_the_platform_constant() {
        #[cfg(all(target_os = "linux", not(feature = "asan-base")))]
        assert_eq!(page_ptr(0) as usize, 0x2_0000_0000);
        #[cfg(all(target_os = "macos", not(feature = "asan-base")))]
        assert_eq!(page_ptr(0) as usize, 0x280_0000_0000);
        assert_eq!(BASE % 4096, 0);
    }
}
