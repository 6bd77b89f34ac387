//! `looms`: inspect, verify, recover and back up a pier's snapshot offline.
//!
//! Every check and every write goes through the library's own code
//! (`looms::recovery`, `looms::patch`, `looms::image`, `looms::pier`): the
//! command reads the snapshot exactly as boot reads it, and repairs it
//! exactly as boot repairs it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!`, with the bytes of paths as they are (see `looms::msg::escape`).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::emit(&mut std::io::stdout(), &format!($($arg)*)) };
}

/// `eprintln!`, with the bytes of paths as they are.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::emit(&mut std::io::stderr(), &format!($($arg)*)) };
}

/// Writes `text` and a newline to `out`, escaped path bytes as bytes.
fn emit(out: &mut dyn std::io::Write, text: &str) {
    let mut bytes = looms::msg::unescape(text);
    bytes.push(b'\n');
    // As println! would, but a closed pipe is not worth a panic.
    let _ = out.write_all(&bytes);
}

// The crate root is src/bin/looms.rs, so its modules are found relative to
// src/bin/; they live in src/bin/looms/.
#[path = "looms/backup.rs"]
mod backup;
#[path = "looms/diff.rs"]
mod diff;
#[path = "looms/holder.rs"]
mod holder;
#[path = "looms/info.rs"]
mod info;
#[path = "looms/progress.rs"]
mod progress;
#[path = "looms/recover.rs"]
mod recover;
#[path = "looms/report.rs"]
mod report;
#[path = "looms/verify.rs"]
mod verify;

/// What each exit status means (also printed by `looms --help`).
const EXIT_CODES: &str = "\
Exit status:
  0  success: the snapshot boots cleanly (verify, recover), the images are
     identical (diff), the report or the copy was made (info, backup)
  1  the answer is no: verify found a problem, diff found a difference,
     recover could not make the snapshot bootable (e.g. an image of odd size
     and no valid patch)
  2  error: bad arguments, a missing pier or file, an I/O error
  3  the pier is in use by a running process (recover, backup); stop it first

Files (PIER/.urb/chk/):
  image.bin    the snapshot, a whole number of 16384-byte pages
  control.bin  a pending patch's control block; memory.bin its pages
  limbo.bin    the swap file of a pier run with swap";

#[derive(Parser)]
#[command(
    name = "looms",
    version,
    about = "Inspect, verify, recover and back up a pier's snapshot offline",
    long_about = "Inspect, verify, recover and back up a pier's snapshot (PIER/.urb/chk) \
                  while the pier is not running. Read-only subcommands take --json and then \
                  print one JSON object on stdout. A progress bar is drawn on stderr, when it \
                  is a terminal, for anything that takes more than a second.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Image size, pending patch, swap file, free space and lock state.
    #[command(after_help = EXIT_CODES)]
    Info {
        /// The pier directory.
        pier: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every check boot makes, and a full read of the image; changes nothing.
    ///
    /// Exits 0 only when the snapshot would boot cleanly; a valid pending
    /// patch counts (boot applies it) and is reported as a note. Each problem
    /// is one line: `PIER/.urb/chk/FILE: reason`.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The pier directory.
        pier: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Does what boot does: apply a valid patch, discard a corrupt one,
    /// remove an orphan memory.bin.
    ///
    /// Takes the pier's lock first and refuses (exit 3) when a running
    /// process holds it. An image of odd size with no valid patch is left
    /// untouched and reported (exit 1).
    #[command(after_help = EXIT_CODES)]
    Recover {
        /// The pier directory.
        pier: PathBuf,
    },
    /// Copies PIER/.urb/chk/image.bin to DEST/image.bin, durably.
    ///
    /// DEST is a directory, created (with its parents) when missing. An
    /// existing DEST/image.bin is replaced atomically: the copy is written
    /// to DEST/image.bin.tmp, synced, then renamed over it, so DEST always
    /// holds the old file or a complete copy. The copy is of the image as it
    /// is: a pending patch is not included (run `looms recover` first).
    #[command(after_help = EXIT_CODES)]
    Backup {
        /// The pier directory.
        pier: PathBuf,
        /// The directory receiving image.bin.
        dest: PathBuf,
        /// Refuse when DEST exists (as `u3e_backup` without overwrite).
        #[arg(long)]
        no_overwrite: bool,
    },
    /// Which pages differ between two images.
    ///
    /// A and B are each a pier directory, a directory holding image.bin (a
    /// backup) or an image file. Exits 0 if identical, 1 if different.
    #[command(after_help = EXIT_CODES)]
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Info { pier, json } => info::run(&pier, json),
        Command::Verify { pier, json } => verify::run(&pier, json),
        Command::Recover { pier } => recover::run(&pier),
        Command::Backup {
            pier,
            dest,
            no_overwrite,
        } => backup::run(&pier, &dest, !no_overwrite),
        Command::Diff { a, b, json } => diff::run(&a, &b, json),
    };
    ExitCode::from(status as u8)
}
