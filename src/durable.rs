//! Steps 1-4 of the save protocol: what is durable before what.
//!
//! 1. create `control.bin` and `memory.bin` (`O_EXCL`), write the dirty
//!    pages and the control block;            crash: torn patch, discarded at boot
//! 2. `fdatasync` both, `fsync` `.urb/chk`;   crash: complete patch, applied at boot
//! 3. resize `image.bin` to `tot_w` pages, write the pages (or, where the
//!    file system shares blocks, make the image share them with
//!    `memory.bin`), `fdatasync`; crash: half image, patch re-applied at boot
//! 4. unlink `control.bin`, then `memory.bin`, `fsync` `.urb/chk`;
//!    crash: orphan memory.bin, removed at boot
//!
//! The patch is durable (data and names) before the image is touched, and
//! the image is durable before the patch is removed, so a boot after any
//! crash or power loss sees exactly the old snapshot or exactly the new one.
//! Durable means every call that can report a write-back error said
//! none: the syncs, the waits on ranges of a file written through the page
//! cache, the closes of the patch files. The kernel reports such an error
//! once per open file and then forgets it (errseq), so one left unchecked
//! lets the sync that follows succeed for pages that never reached the
//! disk.
//!
//! Both kinds of save run these steps through `write_durably`, which
//! touches no runtime state: a synchronous save on the runtime's thread
//! straight from the loom (`Source::Still`), a background save on its
//! worker from the loom's pages as they were at `u3e_save`
//! (`Source::Captured`, see `capture.rs`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::abi::u3e_line;
use crate::capture::{Capture, BATCH};
use crate::image::{self, File, IoError};
use crate::loom::{self, PAGE_BYTES};
use crate::msg::{say, strerror};
use crate::patch;
use crate::pier::Pier;
use crate::process;
use crate::recovery;
use crate::runtime;
use crate::sys;

/// Where the protocol reads the bytes of the pages it saves.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// `slices[i]` holds the bytes of `pages[i]`, and nothing changes them
    /// during the save (the runtime waits in `u3e_save`).
    Still(&'a [&'a [u8]]),
    /// A background save's pages, read a batch at a time while the runtime
    /// goes on (each batch held still for the read; see `capture.rs`).
    Captured(&'a Capture),
}

/// What the protocol does with one batch: its first index in the page
/// list, and its pages' bytes.
type EachBatch<'e> = dyn FnMut(usize, &[&[u8]]) -> Result<(), IoError> + 'e;

/// The pages a synchronous save hands to one call of `each` (8 MiB): the
/// image is written a chunk at a time, so that the disk starts on the
/// first chunks while the last are copied into the page cache.
const STILL_CHUNK: usize = 512;

impl Source<'_> {
    /// Runs `each` on every batch: its first index in the page list and
    /// its pages' bytes, each held still for the call; then `settle` on
    /// the batch's range of indices, once it is released. `last`: no read
    /// of these pages follows. The first error of either ends the run.
    fn for_each(
        self,
        last: bool,
        each: &mut EachBatch,
        settle: &mut dyn FnMut(usize, usize) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        let (count, batch) = match self {
            Source::Still(slices) => (slices.len(), STILL_CHUNK),
            Source::Captured(capture) => (capture.pages().len(), BATCH),
        };
        let mut from = 0;
        while from < count {
            let to = (from + batch).min(count);
            match self {
                Source::Still(slices) => each(from, &slices[from..to])?,
                Source::Captured(capture) => {
                    capture.hold(from, to, last, |slices| each(from, slices))?
                }
            }
            settle(from, to)?;
            from = to;
        }
        Ok(())
    }
}

/// Once this much has been written through the page cache since the last
/// start, the disk is started on it (`File::start_writeback`).
const WRITEBACK_BYTES: u64 = 8 << 20;

/// How far behind the newest write a file that is not read again is
/// waited for and dropped from the page cache (`Writeback::dropping`).
const DROP_BEHIND_BYTES: u64 = 64 << 20;

/// Keeps the disk busy while a save writes a file through the page cache:
/// every `WRITEBACK_BYTES` the range written since the last start is sent
/// on, so that the sync at the end waits only for the tail, not for the
/// whole file (the kernel would otherwise leave it dirty in memory for
/// up to `dirty_expire_centisecs`). The writes must go forward.
///
/// Every call here that can report a write-back error is checked: a wait
/// on a range reports such an error once and the kernel then forgets it
/// for this open file (errseq), so the sync at the end would return
/// success for pages that never reached the disk.
struct Writeback<'f> {
    file: &'f File,
    /// Written since the last start, not yet started: `[from, to)`.
    from: u64,
    to: u64,
    /// Started and not yet dropped from the cache, from here; `None`: the
    /// file stays cached.
    drop_from: Option<u64>,
}

impl<'f> Writeback<'f> {
    /// A file whose pages stay in the page cache once written (the image,
    /// which the loom maps).
    fn new(file: &'f File) -> Self {
        Writeback {
            file,
            from: 0,
            to: 0,
            drop_from: None,
        }
    }

    /// A file that is written once and read again only after a crash
    /// (`memory.bin`): what lies `DROP_BEHIND_BYTES` behind the newest
    /// write is waited for and dropped from the page cache, so that the
    /// patch never takes more than that of the cache from the runtime's
    /// own files, as a direct write would not.
    fn dropping(file: &'f File) -> Self {
        Writeback {
            drop_from: Some(0),
            ..Writeback::new(file)
        }
    }

    /// `[from, to)` of the file was just written. `Err`: the write-back of
    /// some of the file failed, and the file is not to be trusted.
    fn wrote(&mut self, from: u64, to: u64) -> Result<(), IoError> {
        if self.from == self.to {
            self.from = from;
        }
        self.to = self.to.max(to);
        if self.to - self.from < WRITEBACK_BYTES {
            return Ok(());
        }
        self.file.start_writeback(self.from, self.to - self.from)?;
        self.from = self.to;
        if let Some(dropped) = self.drop_from {
            let upto = self.to.saturating_sub(DROP_BEHIND_BYTES);
            if upto > dropped {
                self.file.written_and_dropped(dropped, upto - dropped)?;
                self.drop_from = Some(upto);
            }
        }
        Ok(())
    }
}

/// Why a save wrote nothing and left the previous snapshot in place.
#[derive(Debug)]
enum SaveError {
    /// Not enough free space for the patch and the image's growth.
    Space { need: u64, free: u64 },
    /// Reserving the image's blocks, or creating, writing or syncing the
    /// patch failed.
    Patch(IoError),
}

/// Prints what removing an applied patch met, in the reference's words.
pub(crate) fn say_removal(removal: &recovery::Removal) {
    if let Some(err) = &removal.control {
        say!(
            "loom: failed to delete control.bin: {}\r\n",
            strerror(err.errno)
        );
    }
    if let Some(err) = &removal.memory {
        say!(
            "loom: failed to remove memory.bin: {}\r\n",
            strerror(err.errno)
        );
    }
    if let Some(err) = &removal.directory {
        say!("loom: {err}\r\n");
    }
}

/// Set once a file system has refused to reserve space (`EOPNOTSUPP`), so
/// that it is said once per boot (`u3e_live` clears it). Owned by the
/// runtime's thread.
pub(crate) static RESERVE_UNSUPPORTED_SAID: AtomicBool = AtomicBool::new(false);

/// Whether `reserve_image` reserved what the image write needs.
enum Reserved {
    /// Every block the image write fills is allocated now.
    All,
    /// The file system cannot reserve (`EOPNOTSUPP`): the write may still
    /// need `holes` bytes inside the image's present length, beyond the
    /// growth the space check counts anyway.
    Unsupported { holes: u64 },
}

/// Reserves the blocks the image write of step 3 needs, before anything of
/// the patch exists: every page to be written that lies in a hole of
/// `image.bin` (free pages skipped by earlier saves) or beyond its end.
/// Once the patch is durable the image write then cannot meet a full disk,
/// whatever other writers take meanwhile. Neither the image's length nor
/// its contents change. Where the file system cannot reserve, says so once
/// and returns what the holes may still need, for the space check.
fn reserve_image(pier: &Pier, image: &File, pages: &[u32]) -> Result<Reserved, SaveError> {
    let end = image.len().map_err(SaveError::Patch)?;
    // Some file systems (ext2) answer SEEK_HOLE with "no hole" for a file
    // whose blocks say otherwise: there every page is taken for a hole.
    let unallocated = image.unallocated().unwrap_or(0);
    let hidden = unallocated > 0 && image.next_hole(0).is_some_and(|at| at >= end);
    let mut holes = if hidden {
        image::Holes::everywhere(image, end)
    } else {
        image::Holes::new(image, end)
    };
    // The byte ranges of the runs of `pages`, one at a time (no list: the
    // worker must not need memory it may not get).
    let byte_runs = || {
        image::each_run(pages).map(|(first, count)| {
            (
                loom::bytes_of(first) as u64,
                loom::bytes_of(first + count) as u64,
            )
        })
    };
    for run in byte_runs() {
        for (from, to) in holes.within(run) {
            match image.reserve(from, to - from) {
                Ok(()) => {}
                Err(err) if err.unsupported() => {
                    if !RESERVE_UNSUPPORTED_SAID.swap(true, Ordering::Relaxed) {
                        say!(
                        "loom: save: {} cannot reserve space ({}); the holes it fills are counted before the patch is written\r\n",
                        pier.image().show(),
                        strerror(err.errno)
                    );
                    }
                    let inside = pages
                        .iter()
                        .filter(|&&page| (loom::bytes_of(page) as u64) < end)
                        .count() as u64
                        * PAGE_BYTES as u64;
                    let mut again = if hidden {
                        image::Holes::everywhere(image, end)
                    } else {
                        image::Holes::new(image, end)
                    };
                    let seen: u64 = byte_runs()
                        .flat_map(|run| again.within(run))
                        .map(|(from, to)| to.min(end).saturating_sub(from))
                        .sum();
                    // Where the holes are hidden, no more than the file lacks.
                    let holes = if hidden {
                        unallocated.min(inside)
                    } else {
                        seen
                    };
                    return Ok(Reserved::Unsupported { holes });
                }
                Err(err) => return Err(SaveError::Patch(err)),
            }
        }
    }
    Ok(Reserved::All)
}

/// Step 1–2: writes the patch and makes it durable. On error the patch files
/// this call created are removed again; the image is untouched.
/// `slices[i]` holds the bytes of `pages[i]`; `old` is the image's length
/// in pages before the save. `between` runs after the patch is written and
/// before it is synced, where the reference calls the runtime.
fn write_patch(
    pier: &Pier,
    image: &File,
    pages: &[u32],
    source: Source,
    total: u32,
    old: u32,
    between: &mut dyn FnMut(),
) -> Result<File, SaveError> {
    let count = pages.len();
    let need = patch::control_len(count as u32)
        + loom::bytes_of(count as u32) as u64
        + loom::bytes_of(total.saturating_sub(old)) as u64;
    // No block counts (ramfs, some FUSE file systems): free space unknown,
    // not zero; the writes themselves then say whether there was room.
    let free = image::free_bytes(&pier.chk()).map_err(SaveError::Patch)?;
    if let Some(free) = free {
        if free < need {
            return Err(SaveError::Space { need, free });
        }
    }
    if let Reserved::Unsupported { holes } = reserve_image(pier, image, pages)? {
        // Without reservation the image write fills the holes after the
        // patch is durable: they must fit now, or nothing is written.
        let need = need + holes;
        if let Some(free) = free.filter(|&free| free < need) {
            return Err(SaveError::Space { need, free });
        }
    }

    let exclusive = sys::O_RDWR | sys::O_CREAT | sys::O_EXCL;
    let control_file = match File::open_regular(&pier.control(), exclusive, 0o600) {
        Ok(file) => file,
        Err(err) if err.errno == sys::EEXIST => {
            // A patch this process did not write: never overwrite it.
            say!(
                "loom: patch c3_open control.bin: {}\r\n",
                strerror(err.errno)
            );
            runtime::oops("0", file!(), line!());
        }
        Err(err) => return Err(SaveError::Patch(err)),
    };
    let written = (|| {
        let memory = File::open_regular(&pier.memory(), exclusive, 0o600)?;
        // memory.bin is written once, read back only after a crash and
        // removed at the end of the save: a synchronous save keeps it out
        // of the page cache (the pages are 16 KiB-aligned in memory and in
        // the file, as direct I/O wants; where it is refused the write goes
        // through the cache). A background save writes it through the
        // cache, a batch at a time, and keeps the disk busy behind it
        // (`Writeback::dropping`): each batch is released as soon as it is
        // copied there, so the runtime's stores wait less and copy less,
        // and no batch waits for the disk while it is held. Direct writes
        // of one batch each left the disk idle while the next was hashed.
        let direct = matches!(source, Source::Still(_)) && memory.enter_direct();
        let lines = write_and_hash(&memory, pages, source, direct)?;
        let control = patch::try_encode(total, &lines)
            .ok_or_else(|| control_file.fail("make the control block of", sys::ENOMEM))?;
        control_file.write_all_at(&control, 0)?;
        Ok::<(File, bool), IoError>((memory, direct))
    })();
    let (memory, direct) = match written {
        Ok(memory) => memory,
        Err(err) => {
            discard_own_patch(pier);
            return Err(SaveError::Patch(err));
        }
    };

    between();

    // Every call that can report a write-back error of the patch is
    // checked before the patch counts as durable: the syncs, the wait that
    // drops what is left of memory.bin in the cache, the closes.
    let synced = control_file
        .sync_data()
        .and_then(|()| memory.sync_data())
        .and_then(|()| {
            if direct {
                Ok(())
            } else {
                memory.written_and_dropped(0, 0)
            }
        })
        .and_then(|()| memory.flush())
        .and_then(|()| control_file.close())
        .and_then(|()| image::sync_dir(&pier.chk()));
    if let Err(err) = synced {
        discard_own_patch(pier);
        return Err(SaveError::Patch(err));
    }
    Ok(memory)
}

/// Writes `slices` (the bytes of `pages`) into `memory` and returns their
/// control lines. The pages are hashed on a second thread while this one
/// writes, so the disk never waits; where no thread can be had (a process
/// or cgroup limit on tasks, no address space for its stack) this thread
/// hashes them after the write. Nothing here can panic.
fn write_and_hash(
    memory: &File,
    pages: &[u32],
    source: Source,
    direct: bool,
) -> Result<Vec<u3e_line>, IoError> {
    let Source::Still(slices) = source else {
        // A batch at a time, hashed while it is held: the runtime may
        // store to a page as soon as the batch is released.
        let mut lines = Vec::new();
        if lines.try_reserve_exact(pages.len()).is_err() {
            return Err(memory.fail("list the checksums of", sys::ENOMEM));
        }
        let mut writeback = Writeback::dropping(memory);
        source.for_each(
            false,
            &mut |from, slices| {
                // Into the room reserved above: nothing allocated here.
                let mut page = pages[from..].iter();
                crate::checksum::hash_each(slices, |has_w| {
                    if let Some(&pag_w) = page.next() {
                        lines.push(u3e_line { pag_w, has_w });
                    }
                });
                memory.write_vectored_at(slices, loom::bytes_of(from as u32) as u64)
            },
            &mut |from, to| {
                if direct {
                    return Ok(());
                }
                let at = |index: usize| loom::bytes_of(index as u32) as u64;
                writeback.wrote(at(from), at(to))
            },
        )?;
        return Ok(lines);
    };
    let hasher = process::with_signals_blocked(|| {
        // SAFETY: joined below, before `pages` and `slices` go.
        unsafe { sys::spawn_borrowing(Box::new(|| hash_pages(pages, slices))) }
    });
    let wrote = memory.write_vectored_at(slices, 0);
    let lines = match hasher {
        // A hasher that died (it cannot: panics abort) is redone here.
        Ok(hasher) => hasher.join(),
        Err(_) => None,
    };
    wrote?;
    Ok(lines.unwrap_or_else(|| hash_pages(pages, slices)))
}

/// The control lines of `pages`, whose bytes are `slices`.
fn hash_pages(pages: &[u32], slices: &[&[u8]]) -> Vec<u3e_line> {
    pages
        .iter()
        .zip(crate::checksum::hash_all(slices))
        .map(|(&page, has_w)| u3e_line { pag_w: page, has_w })
        .collect()
}

/// Removes the patch files a failed save created, before the image was touched.
fn discard_own_patch(pier: &Pier) {
    for path in [pier.control(), pier.memory()] {
        if let Err(err) = image::unlink(&path) {
            if err.errno != sys::ENOENT {
                say!("loom: {err}\r\n");
            }
        }
    }
    let _ = image::sync_dir(&pier.chk());
}

/// Step 3: the saved pages into the image, `tot_w` pages long. Where the
/// file system shares blocks between files (`image::sharing_enabled`), the
/// image takes each run of the patch's pages from `memory.bin` by
/// reference (`File::share_from`): page `i` of `memory.bin` lies at
/// `16 KiB * i` and page `p` of the image at `16 KiB * p`, both multiples
/// of any block size up to 16 KiB, so a run of adjacent pages is one range
/// in each file. Each run the call refuses is written from `source`, as
/// everywhere else. `memory.bin` is durable by now (step 2), and sharing
/// never changes it, so it stays the recovery source until step 4.
fn write_image(
    image: &File,
    memory: &File,
    pages: &[u32],
    source: Source,
    total: u32,
    cost: &mut Cost,
) -> Result<(), IoError> {
    image::resize(image, total)?;
    let left = if image::sharing_enabled() {
        share_runs(image, memory, pages, cost)
    } else {
        vec![(0, pages.len())]
    };
    let at = |page: u32| loom::bytes_of(page) as u64;
    let mut writeback = Writeback::new(image);
    let mut written = 0u64;
    if !left.is_empty() || matches!(source, Source::Captured(_)) {
        // A background save's pages are released here whatever is left
        // to write: the runtime's stores to them need no copy from now on.
        let mut next = 0;
        source.for_each(
            true,
            &mut |from, slices| {
                let to = from + slices.len();
                while next < left.len() && left[next].1 <= from {
                    next += 1;
                }
                for &(first, end) in left[next..].iter().take_while(|run| run.0 < to) {
                    let (a, b) = (first.max(from), end.min(to));
                    image::write_pages(image, &pages[a..b], &slices[a - from..b - from])?;
                    writeback.wrote(at(pages[a]), at(pages[b - 1] + 1))?;
                    written += loom::bytes_of((b - a) as u32) as u64;
                }
                Ok(())
            },
            &mut |_, _| Ok(()),
        )?;
    }
    cost.image_written = written;
    image.sync_data()
}

/// The runs of `pages` (as index ranges into the list, and so into
/// `memory.bin`) that the image took from `memory.bin` by reference are
/// done; returns the index ranges `[from, to)` left to write, ascending.
/// The first refusal that says the file system cannot share these files
/// at all (no reflinks, two file systems, a block size the pages are not
/// aligned to) leaves the rest of the save to the writes.
fn share_runs(image: &File, memory: &File, pages: &[u32], cost: &mut Cost) -> Vec<(usize, usize)> {
    let mut left: Vec<(usize, usize)> = Vec::new();
    let push = |left: &mut Vec<(usize, usize)>, from: usize, to: usize| match left.last_mut() {
        Some(last) if last.1 == from => last.1 = to,
        _ => left.push((from, to)),
    };
    let mut from = 0;
    while from < pages.len() {
        let mut to = from + 1;
        while to < pages.len() && pages[to] == pages[to - 1] + 1 {
            to += 1;
        }
        let len = loom::bytes_of((to - from) as u32) as u64;
        let src = loom::bytes_of(from as u32) as u64;
        let dst = loom::bytes_of(pages[from]) as u64;
        match image.share_from(memory, src, dst, len) {
            Ok(()) => cost.image_shared += len,
            Err(errno) if image::never_shares(errno) => {
                push(&mut left, from, pages.len());
                break;
            }
            Err(_) => push(&mut left, from, to),
        }
        from = to;
    }
    left
}

/// What a save wrote, for the verbose line (`Cost::say`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cost {
    /// Pages saved.
    pub pages: usize,
    /// Bytes written to `control.bin` and `memory.bin`.
    pub patch: u64,
    /// Bytes of pages written to the image.
    pub image_written: u64,
    /// Bytes of pages the image took from `memory.bin` by reference.
    pub image_shared: u64,
    /// Microseconds from the first check to the patch's removal.
    pub micros: u64,
}

impl Cost {
    /// The verbose line of a completed save: what reached the files, and
    /// how long it took.
    pub(crate) fn say(&self) {
        let mib = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
        say!(
            "loom: save: {} pages, {:.1} MiB written ({:.1} MiB patch, {:.1} MiB image), {:.1} MiB of the image shared with the patch, {:.1} ms\r\n",
            self.pages,
            mib(self.patch + self.image_written),
            mib(self.patch),
            mib(self.image_written),
            mib(self.image_shared),
            self.micros as f64 / 1000.0
        );
    }
}

/// The image's length in pages after a save (`tot_w`) and before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lengths {
    pub total: u32,
    pub old: u32,
}

/// How the durable protocol ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The image holds the pages and the patch is gone.
    Saved,
    /// Nothing written: the previous snapshot is whole, every page to save
    /// is still to save. One `loom: save: …` line said why.
    Kept,
    /// The image failed after the patch was durable: the next boot
    /// re-applies the patch; the runtime must stop (`u3m_bail`).
    Lost,
}

/// Steps 1-4 of the save protocol, from `slices` (the bytes of `pages`),
/// for both kinds of save: the synchronous one straight from the loom, the
/// background one from the copy taken at `u3e_save`, on the worker thread.
/// Touches no runtime state: `between` is where the caller may call the
/// runtime; `left_patch` is `LEFT_PATCH`, read and written by the caller.
/// Returns how it ended, and what it wrote.
pub(crate) fn write_durably(
    pier: &Pier,
    image: &File,
    pages: &[u32],
    source: Source,
    Lengths { total, old }: Lengths,
    left_patch: &mut bool,
    between: &mut dyn FnMut(),
) -> (Written, Cost) {
    let started = std::time::Instant::now();
    let mut cost = Cost {
        pages: pages.len(),
        ..Cost::default()
    };
    // An applied patch whose removal failed must go before a new one is
    // written (its control.bin would refuse the new patch).
    if *left_patch {
        // Part of it may be gone already: only what is left counts.
        let removal = recovery::remove_patch(pier).gone_is_removed();
        if !removal.complete() {
            say_removal(&removal);
            say!(
                "loom: save: the last patch is still in {}; nothing written, will retry\r\n",
                pier.chk().show()
            );
            return (Written::Kept, cost);
        }
        *left_patch = false;
    }

    // Steps 1-2. Failure here keeps the old snapshot and every dirty page dirty.
    let memory = match write_patch(pier, image, pages, source, total, old, between) {
        Ok(memory) => memory,
        Err(SaveError::Space { need, free }) => {
            say!(
                "loom: save: need {} MiB in {}, {} MiB free; nothing written, will retry\r\n",
                need.div_ceil(1 << 20),
                pier.chk().show(),
                free >> 20
            );
            return (Written::Kept, cost);
        }
        Err(SaveError::Patch(err)) => {
            say!("loom: save: {err}; previous snapshot kept, will retry\r\n");
            return (Written::Kept, cost);
        }
    };
    cost.patch = patch::control_len(pages.len() as u32) + loom::bytes_of(pages.len() as u32) as u64;

    // Step 3. The patch is durable: from here a failure is recovered at boot.
    if let Err(err) = write_image(image, &memory, pages, source, total, &mut cost) {
        say!("loom: save: {err}; the patch is kept and applied at the next boot\r\n");
        return (Written::Lost, cost);
    }

    drop(memory);

    // Step 4.
    let removal = recovery::remove_patch(pier);
    *left_patch = !removal.complete();
    say_removal(&removal);
    cost.micros = started.elapsed().as_micros() as u64;
    (Written::Saved, cost)
}
