//! Everything the commands show: results on stdout, messages, warnings and progress on stderr.
//! It knows `--quiet`, `--json` and whether stderr takes colour.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::item::Failure;
use crate::progress::Reporter;
use crate::sink::Sink;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Only errors, warnings and the final result.
    quiet: bool,
    /// The result is one JSON object on stdout; the human summary is left out.
    json: bool,
    /// Escape codes on stderr: a terminal, unless NO_COLOR; or CLICOLOR_FORCE.
    colour: bool,
    /// Whether stderr is a terminal, where a progress bar can redraw itself.
    terminal: bool,
}

impl Printer {
    /// `colour`: whether stderr takes escape codes (the settings say, from NO_COLOR and the terminal).
    pub fn new(quiet: bool, colour: bool) -> Self {
        Self { quiet, json: false, colour, terminal: std::io::stderr().is_terminal() }
    }

    /// The same printer for a command whose result is JSON.
    pub fn with_json(self, json: bool) -> Self {
        Self { json, ..self }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// A line of the command's result, on stdout.
    pub fn result(&self, line: impl std::fmt::Display) -> std::io::Result<()> {
        writeln!(std::io::stdout().lock(), "{line}")
    }

    /// A message for people, on stderr; nothing under `--quiet`.
    pub fn message(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            self.stderr(&line.to_string());
        }
    }

    /// The human summary of a run: left out under `--json` (the object says it all) and
    /// under `--quiet` unless `important`.
    pub fn summary(&self, line: impl std::fmt::Display, important: bool) {
        if !self.json && (!self.quiet || important) {
            self.stderr(&line.to_string());
        }
    }

    /// Something the user must see even under `--quiet`.
    pub fn warning(&self, line: impl std::fmt::Display) {
        let label = if self.colour { "\x1b[33mwarning\x1b[0m" } else { "warning" };
        self.stderr(&format!("{label}: {line}"));
    }

    /// A note that must be seen whatever the flags, such as how to resume.
    pub fn notice(&self, line: impl std::fmt::Display) {
        self.stderr(&format!("imbed: {line}"));
    }

    fn stderr(&self, line: &str) {
        // Messages are built without secrets (see `locator`); a second wall for what a
        // library's error quotes: no URL on stderr keeps its userinfo or query string.
        let line = crate::locator::redacted(line);
        // A closed stderr must not end the run; there is nowhere left to say so.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Progress for a long job: a bar on a terminal, a line every `interval` otherwise,
    /// nothing under `--quiet`.
    pub fn progress(&self, verb: &'static str, interval: Duration) -> Box<dyn Reporter> {
        if self.quiet {
            Box::new(QuietReporter)
        } else if self.terminal {
            Box::new(BarReporter::new(verb, *self))
        } else {
            Box::new(LineReporter::new(verb, interval, *self))
        }
    }
}

/// `{"store": DIR}` or `{"qdrant": URL}`, with the collection and its point count.
/// `points` is null when the store could not count them.
pub fn sink_json(sink: &dyn Sink, collection: &str, points: impl Into<Option<u64>>) -> serde_json::Value {
    let mut object = sink.describe();
    object["collection"] = serde_json::json!(collection);
    object["points"] = serde_json::json!(points.into());
    object
}

struct BarReporter {
    bar: ProgressBar,
    printer: Printer,
}

impl BarReporter {
    fn new(verb: &'static str, printer: Printer) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
        let template = if printer.colour {
            "{prefix:>9.cyan.bold} [{bar:30.cyan/blue}] {pos}/{len} {rate:.dim} ETA {eta} {msg:.yellow}"
        } else {
            "{prefix:>9} [{bar:30}] {pos}/{len} {rate} ETA {eta} {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.1} images/s", state.per_sec());
            })
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(verb);
        Self { bar, printer }
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
        self.bar.suspend(|| self.printer.warning(failure));
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
    printer: Printer,
}

struct LineState {
    total: u64,
    last_line: Instant,
}

impl LineReporter {
    fn new(verb: &'static str, interval: Duration, printer: Printer) -> Self {
        let now = Instant::now();
        Self { verb, interval, started: now, state: Mutex::new(LineState { total: 0, last_line: now }), printer }
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
        self.printer.notice(format_args!(
            "{} {}/{} items ({done} done, {failed} failed), {rate:.1} items/s",
            self.verb,
            done + failed,
            state.total
        ));
    }

    fn failed(&self, failure: &Failure) {
        self.printer.warning(failure);
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
