//! The commit stage: writes points to the sink, makes them durable, then records every
//! outcome in the checkpoint. An item is marked done only after the sink made its point durable.

use std::time::Instant;

use crossbeam_channel::{Receiver, TryRecvError};

use super::infer::Embedded;
use super::{PipelineSettings, RunSummary, Stop};
use crate::checkpoint::{Checkpoint, FileStamp, Outcome};
use crate::item::{ErrorClass, Failure};
use crate::progress::Reporter;
use crate::sink::Sink;

/// Batches written to the sink before a commit makes them durable and marks them done.
const MAX_UNCOMMITTED_BATCHES: usize = 2;

pub(super) struct Committer<'a> {
    checkpoint: &'a mut Checkpoint,
    sink: &'a mut dyn Sink,
    settings: &'a PipelineSettings,
    reporter: &'a dyn Reporter,
    stop: &'a Stop<'a>,
    summary: &'a mut RunSummary,
    /// Keys (with remote stamps) written to the sink since the last commit, and failures
    /// not yet recorded.
    written: Vec<(String, Option<FileStamp>)>,
    failures: Vec<Failure>,
}

impl<'a> Committer<'a> {
    pub fn new(
        checkpoint: &'a mut Checkpoint,
        sink: &'a mut dyn Sink,
        settings: &'a PipelineSettings,
        reporter: &'a dyn Reporter,
        stop: &'a Stop<'a>,
        summary: &'a mut RunSummary,
    ) -> Self {
        Self { checkpoint, sink, settings, reporter, stop, summary, written: Vec::new(), failures: Vec::new() }
    }

    pub fn run(&mut self, embedded: Receiver<Embedded>) -> anyhow::Result<()> {
        let result = self.commit_all(embedded);
        if result.is_err() {
            // Nothing more can be recorded: stop the other stages instead of decoding on.
            self.stop.halt();
        }
        result
    }

    fn commit_all(&mut self, embedded: Receiver<Embedded>) -> anyhow::Result<()> {
        let mut written_batches = 0;
        let mut last_commit = Instant::now();
        loop {
            // Group commit: write what is ready (at most MAX_UNCOMMITTED_BATCHES), then make it
            // durable once. The cap bounds what a kill can cost in re-embedding.
            let message = match embedded.try_recv() {
                Ok(message) => Some(message),
                Err(TryRecvError::Empty) => {
                    self.commit()?;
                    written_batches = 0;
                    last_commit = Instant::now();
                    embedded.recv().ok()
                }
                Err(TryRecvError::Disconnected) => None,
            };
            let Some(message) = message else { break };
            match message {
                Embedded::Points { keys, stamps, points } => {
                    // A full disk ends the run; these items stay pending for the resume.
                    self.sink.ensure_space()?;
                    // One retry policy: the sink retries what may pass (a server that is
                    // briefly away); what it returns is final for this run.
                    match self.sink.upsert(points) {
                        Ok(()) => {
                            self.written.extend(keys.into_iter().zip(stamps));
                            written_batches += 1;
                        }
                        Err(error) if self.stop.is_set() => {
                            tracing::warn!("{} items stay pending for the resume: {error}", keys.len());
                        }
                        Err(error) => self.failures.extend(keys.into_iter().map(|key| Failure {
                            key,
                            path: None,
                            class: ErrorClass::Sink,
                            message: error.to_string(),
                        })),
                    }
                }
                Embedded::Failed(failure) => self.failures.push(failure),
            }
            if written_batches >= MAX_UNCOMMITTED_BATCHES || last_commit.elapsed() >= self.settings.commit_interval {
                self.commit()?;
                written_batches = 0;
                last_commit = Instant::now();
            }
        }
        self.commit()
    }

    /// Flushes the sink, then marks its points done and records failures, in one transaction.
    fn commit(&mut self) -> anyhow::Result<()> {
        if self.written.is_empty() && self.failures.is_empty() {
            return Ok(());
        }
        if !self.written.is_empty() {
            let flushing = Instant::now();
            self.sink.flush()?;
            self.summary.flush_time += flushing.elapsed();
        }
        let outcomes: Vec<Outcome<'_>> = self
            .written
            .iter()
            .map(|(key, stamp)| Outcome::Done(key, *stamp))
            .chain(self.failures.iter().map(Outcome::Failed))
            .collect();
        let recording = Instant::now();
        self.checkpoint.commit(&outcomes)?;
        self.summary.checkpoint_time += recording.elapsed();
        self.summary.done += self.written.len() as u64;
        self.summary.failed += self.failures.len() as u64;
        for failure in self.failures.drain(..) {
            // A host taken for down is named once, in one warning, for all of its items.
            if failure.class != ErrorClass::HostDown {
                self.reporter.failed(&failure);
            }
        }
        self.written.clear();
        self.reporter.progressed(self.summary.done, self.summary.failed);
        self.check_failure_limits();
        Ok(())
    }

    fn check_failure_limits(&mut self) {
        let failed = self.summary.failed;
        let finished = failed + self.summary.done;
        let over_count = self.settings.max_failures.is_some_and(|limit| failed > limit);
        let over_rate = self
            .settings
            .max_failure_rate
            .is_some_and(|rate| finished >= 100 && failed as f64 / finished as f64 > rate);
        if over_count || over_rate {
            self.summary.failure_limit_hit = true;
            self.stop.halt();
        }
    }
}
