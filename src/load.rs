//! The no_demand boot's read of `image.bin` into the loom, at memory speed.
//!
//! What bounds a plain `read` of the image into fresh memory is not the
//! read but populating that memory one 4 KiB fault (and one zeroing) at a
//! time. So the image's pages are first advised for transparent huge pages
//! (one fault per 2 MiB, where the kernel's policy allows them), then read
//! by one reader per CPU, each claiming 4 MiB chunks (huge-page aligned) in
//! turn until none is left: a reader slowed by other work on its CPU simply
//! claims fewer.
//!
//! Dirty tracking sees what it saw before: the caller protects or arms the
//! whole image afterwards, and the first store into a huge page splits it in
//! the kernel, so that only the page stored to is written (mprotect splits
//! the mapping; userfaultfd's asynchronous write-protect splits the huge
//! page and resolves one 4 KiB entry).
//!
//! Threads: a reader only calls `pread` on the image's descriptor, into the
//! chunks it claimed, which no other reader touches, and keeps the first
//! error it meets in `Readers::failed`. No reader calls into the runtime
//! (u3l_log, u3m_bail, u3a_*): the calling thread reports. A reader that
//! cannot be started is no error: the calling thread reads as well, and
//! reads every chunk left over.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::image::{File, IoError};
use crate::loom;

/// Loom pages in a chunk: 4 MiB, two huge pages.
pub const CHUNK_PAGES: u32 = 256;

/// At most this many readers, however many CPUs there are: past a few, the
/// page cache's copy bandwidth is shared and more threads only cost.
const MAX_READERS: usize = 8;

/// A reader's stack: it only calls `pread`.
const READER_STACK: usize = 256 << 10;

/// What a load did, for the caller to report or to test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Threads that read, the calling one included.
    pub readers: usize,
    /// Whether the kernel took the huge-page advice.
    pub huge_advised: bool,
}

/// The state the readers share. Owners: `next` and `stop` are shared by
/// every reader (atomic); `failed` is written by the first reader to fail
/// and read by the calling thread after every reader has finished.
struct Readers<'a> {
    file: &'a File,
    pages: u32,
    next: AtomicUsize,
    stop: AtomicBool,
    failed: Mutex<Option<IoError>>,
}

/// The chunk `index` of an image of `pages` pages: its first page and its
/// length, or `None` past the end.
pub const fn chunk(index: usize, pages: u32) -> Option<(u32, u32)> {
    let chunks = pages.div_ceil(CHUNK_PAGES) as usize;
    if index >= chunks {
        return None;
    }
    let first = index as u32 * CHUNK_PAGES;
    let rest = pages - first;
    let count = if rest < CHUNK_PAGES {
        rest
    } else {
        CHUNK_PAGES
    };
    Some((first, count))
}

/// How many threads read an image of `pages` pages on `cpus` CPUs.
pub fn reader_count(pages: u32, cpus: usize) -> usize {
    let chunks = pages.div_ceil(CHUNK_PAGES) as usize;
    cpus.min(chunks).clamp(1, MAX_READERS)
}

impl Readers<'_> {
    /// Reads chunks until none is left or a reader failed.
    fn run(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((first, count)) = chunk(index, self.pages) else {
                return;
            };
            // SAFETY: `fetch_add` hands each chunk to one reader, so no other
            // reference to these pages exists; the caller made the loom
            // writable below the image's end, and nothing else uses it
            // during boot.
            let target = unsafe { loom::pages_mut(first, count) };
            if let Err(err) = self
                .file
                .read_exact_at(target, loom::bytes_of(first) as u64)
            {
                self.stop.store(true, Ordering::Relaxed);
                let mut failed = self
                    .failed
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                failed.get_or_insert(err);
                return;
            }
        }
    }
}

/// Reads the image's `pages` pages into the bottom of the loom, which must
/// be mapped writable there. Where the loom's memory is fresh anonymous
/// memory (`huge`), it is first advised for transparent huge pages.
pub fn read_image(file: &File, pages: u32, huge: bool) -> Result<Loaded, IoError> {
    if pages == 0 {
        return Ok(Loaded {
            readers: 0,
            huge_advised: false,
        });
    }
    // A refusal (THP compiled out or `never`) only means 4 KiB pages.
    let huge_advised = huge && loom::advise_huge_pages(0, pages).is_ok();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = reader_count(pages, cpus);
    let readers = Readers {
        file,
        pages,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        failed: Mutex::new(None),
    };
    let mut started = 1;
    std::thread::scope(|scope| {
        for _ in 1..wanted {
            let spawned = crate::process::with_signals_blocked(|| {
                std::thread::Builder::new()
                    .name("looms-load".into())
                    .stack_size(READER_STACK)
                    .spawn_scoped(scope, || readers.run())
            });
            match spawned {
                Ok(_) => started += 1,
                // No more threads: this one reads what is left.
                Err(_) => break,
            }
        }
        readers.run();
    });
    let failed = readers
        .failed
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner());
    match failed {
        Some(err) => Err(err),
        None => Ok(Loaded {
            readers: started,
            huge_advised,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_image_once() {
        for pages in [1u32, 255, 256, 257, 50_000, 512] {
            let mut next = 0;
            let mut index = 0;
            while let Some((first, count)) = chunk(index, pages) {
                assert_eq!(first, next);
                assert!(count > 0 && count <= CHUNK_PAGES);
                next += count;
                index += 1;
            }
            assert_eq!(next, pages);
            assert_eq!(index as u32, pages.div_ceil(CHUNK_PAGES));
        }
        assert_eq!(chunk(0, 0), None);
    }

    #[test]
    fn chunks_start_on_huge_page_boundaries() {
        // 2 MiB huge pages: a chunk's first byte is aligned to one.
        let mut index = 0;
        while let Some((first, _)) = chunk(index, 50_000) {
            assert_eq!(loom::bytes_of(first) % (2 << 20), 0);
            index += 1;
        }
        assert_eq!(index, 196);
    }

    #[test]
    fn readers_per_cpu_and_chunk() {
        assert_eq!(reader_count(50_000, 2), 2);
        assert_eq!(reader_count(50_000, 64), MAX_READERS);
        assert_eq!(reader_count(100, 8), 1);
        assert_eq!(reader_count(300, 8), 2);
        assert_eq!(reader_count(1, 0), 1);
    }
}
