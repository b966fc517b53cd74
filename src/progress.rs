//! Progress reporting. The pipeline calls a [`Reporter`]; the CLI picks a bar on a terminal
//! and plain log lines otherwise, so library code never prints.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::item::Failure;

pub trait Reporter: Send + Sync {
    /// The walk has found `total` items so far.
    fn discovered(&self, total: u64);
    /// Items have reached their final state (stored or failed).
    fn progressed(&self, done: u64, failed: u64);
    /// One item failed; the run goes on.
    fn failed(&self, failure: &Failure);
    /// The run is over; clear any bar.
    fn finish(&self);
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines { interval: Duration },
    Quiet,
}

impl ProgressMode {
    pub fn detect(quiet: bool, interval: Duration) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines { interval }
        }
    }

    pub fn reporter(self, verb: &'static str) -> Box<dyn Reporter> {
        match self {
            Self::Bar => Box::new(BarReporter::new(verb)),
            Self::Lines { interval } => Box::new(LineReporter::new(verb, interval)),
            Self::Quiet => Box::new(QuietReporter),
        }
    }
}

struct BarReporter {
    bar: ProgressBar,
}

impl BarReporter {
    fn new(verb: &'static str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
        let style = ProgressStyle::with_template(
            "{prefix:>9.cyan.bold} [{bar:30.cyan/blue}] {pos}/{len} {rate:.dim} ETA {eta} {msg:.yellow}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.1} images/s", state.per_sec());
        })
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(verb);
        Self { bar }
    }
}

impl Reporter for BarReporter {
    fn discovered(&self, total: u64) {
        self.bar.set_length(total);
    }

    fn progressed(&self, done: u64, failed: u64) {
        self.bar.set_position(done + failed);
        if failed > 0 {
            self.bar.set_message(format!("{failed} failed"));
        }
    }

    fn failed(&self, failure: &Failure) {
        self.bar.suspend(|| eprintln!("warning: {failure}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// One line every `interval`, for cron and CI logs: no escape codes.
struct LineReporter {
    verb: &'static str,
    interval: Duration,
    started: Instant,
    state: Mutex<LineState>,
}

struct LineState {
    total: u64,
    last_line: Instant,
}

impl LineReporter {
    fn new(verb: &'static str, interval: Duration) -> Self {
        let now = Instant::now();
        Self { verb, interval, started: now, state: Mutex::new(LineState { total: 0, last_line: now }) }
    }
}

impl Reporter for LineReporter {
    fn discovered(&self, total: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.total = total;
        }
    }

    fn progressed(&self, done: u64, failed: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.last_line.elapsed() < self.interval {
            return;
        }
        state.last_line = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = (done + failed) as f64 / elapsed.max(1e-9);
        eprintln!(
            "imbed: {} {}/{} items ({done} done, {failed} failed), {rate:.1} items/s",
            self.verb,
            done + failed,
            state.total
        );
    }

    fn failed(&self, failure: &Failure) {
        eprintln!("warning: {failure}");
    }

    fn finish(&self) {}
}

struct QuietReporter;

impl Reporter for QuietReporter {
    fn discovered(&self, _: u64) {}
    fn progressed(&self, _: u64, _: u64) {}
    fn failed(&self, _: &Failure) {}
    fn finish(&self) {}
}
