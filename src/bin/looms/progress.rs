//! A progress bar on stderr for work that takes more than a second, drawn
//! only when stderr is a terminal (never into a pipe or a log).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before a bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// What the counts are.
#[derive(Clone, Copy)]
pub enum Unit {
    Pages,
    Bytes,
}

/// A bar that appears once its work has taken longer than [`DELAY`].
pub struct Progress {
    label: &'static str,
    unit: Unit,
    started: Instant,
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(label: &'static str, unit: Unit) -> Progress {
        Progress {
            label,
            unit,
            started: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// Reports `done` of `total`; the library's progress callbacks call this.
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && done < total && self.started.elapsed() >= DELAY {
            self.bar = Some(self.make_bar(total));
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    fn make_bar(&self, total: u64) -> ProgressBar {
        let counts = match self.unit {
            Unit::Pages => "{pos}/{len} pages",
            Unit::Bytes => "{bytes}/{total_bytes} ({bytes_per_sec})",
        };
        let template = format!("{{msg}} [{{bar:40}}] {counts}, {{eta}} left");
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.set_message(self.label);
        bar
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
