//! The commit stage: writes points to the sink, makes them durable, then records every
//! outcome in the checkpoint. An item is marked done only after the sink made its point durable.

use std::time::Instant;

use crossbeam_channel::{Receiver, TryRecvError};

use super::infer::Embedded;
use super::load::{Duplicate, Refreshed};
use super::{PipelineSettings, RunSummary, Stop};
use crate::checkpoint::{Checkpoint, ContentHashes, FileStamp, Outcome};
use crate::item::{ErrorClass, Failure};
use crate::progress::Reporter;
use crate::sink::Sink;
use crate::util::point_id;

/// Batches written to the sink before a commit makes them durable and marks them done.
const MAX_UNCOMMITTED_BATCHES: usize = 2;

/// Duplicates and refreshed payloads held before a commit records them.
const MAX_UNRECORDED_WITHOUT_MODEL: usize = 1024;

pub(super) struct Committer<'a> {
    checkpoint: &'a mut Checkpoint,
    sink: &'a mut dyn Sink,
    settings: &'a PipelineSettings,
    reporter: &'a dyn Reporter,
    stop: &'a Stop<'a>,
    summary: &'a mut RunSummary,
    /// Keys (with remote stamps and hashes) written to the sink since the last commit, and
    /// the duplicates and failures not yet recorded.
    written: Vec<(String, Option<FileStamp>, ContentHashes)>,
    duplicates: Vec<Duplicate>,
    refreshed: Vec<Refreshed>,
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
        let (written, duplicates, refreshed, failures) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        Self { checkpoint, sink, settings, reporter, stop, summary, written, duplicates, refreshed, failures }
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
                Embedded::Points { keys, stamps, hashes, points } => {
                    // A full disk ends the run; these items stay pending for the resume.
                    self.sink.ensure_space()?;
                    // One retry policy: the sink retries what may pass (a server that is
                    // briefly away); what it returns is final for this run.
                    match self.sink.upsert(points) {
                        Ok(()) => {
                            let entries = keys.into_iter().zip(stamps).zip(hashes);
                            self.written.extend(entries.map(|((key, stamp), hashes)| (key, stamp, hashes)));
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
                Embedded::Duplicate(duplicate) => self.duplicates.push(duplicate),
                Embedded::Refreshed(refreshed) => self.refreshed.push(refreshed),
                Embedded::NotRefreshed(failure) => {
                    self.summary.not_refreshed += 1;
                    self.reporter.failed(&failure);
                }
                Embedded::Failed(failure) => self.failures.push(failure),
            }
            // Items that need no model call come fast: they are recorded in bounded groups too.
            let unrecorded = self.duplicates.len() + self.refreshed.len();
            if written_batches >= MAX_UNCOMMITTED_BATCHES
                || unrecorded >= MAX_UNRECORDED_WITHOUT_MODEL
                || last_commit.elapsed() >= self.settings.commit_interval
            {
                self.commit()?;
                written_batches = 0;
                last_commit = Instant::now();
            }
        }
        self.commit()
    }

    /// Flushes the sink, then marks its points done and records duplicates and failures, in
    /// one transaction.
    fn commit(&mut self) -> anyhow::Result<()> {
        if self.written.is_empty()
            && self.duplicates.is_empty()
            && self.refreshed.is_empty()
            && self.failures.is_empty()
        {
            return Ok(());
        }
        if !self.refreshed.is_empty() {
            // Each payload is written once: taken, not copied.
            let payloads = self
                .refreshed
                .iter_mut()
                .map(|refreshed| (point_id(&refreshed.item.key), std::mem::take(&mut refreshed.payload)))
                .collect();
            self.sink.overwrite_payloads(payloads)?;
        }
        if !self.duplicates.is_empty() {
            // An item embedded before whose bytes are now another's keeps no point of its own.
            let ids: Vec<_> = self.duplicates.iter().map(|duplicate| point_id(&duplicate.item.key)).collect();
            self.sink.delete(&ids)?;
        }
        if !self.written.is_empty() || !self.duplicates.is_empty() || !self.refreshed.is_empty() {
            let flushing = Instant::now();
            self.sink.flush()?;
            self.summary.flush_time += flushing.elapsed();
        }
        let outcomes: Vec<Outcome<'_>> = self
            .written
            .iter()
            .map(|(key, stamp, hashes)| Outcome::Done(key, *stamp, Some(*hashes)))
            .chain(self.refreshed.iter().map(|refreshed| {
                let stamp = refreshed.item.object.as_ref().and_then(FileStamp::of_object);
                Outcome::Done(&refreshed.item.key, stamp, Some(refreshed.hashes))
            }))
            .chain(self.duplicates.iter().map(|duplicate| Outcome::Duplicate {
                key: &duplicate.item.key,
                of: &duplicate.of,
                bytes_hash: duplicate.bytes_hash,
                stamp: duplicate.item.object.as_ref().and_then(FileStamp::of_object),
            }))
            .chain(self.failures.iter().map(Outcome::Failed))
            .collect();
        let recording = Instant::now();
        self.checkpoint.commit(&outcomes)?;
        self.summary.checkpoint_time += recording.elapsed();
        self.summary.done += self.written.len() as u64;
        self.summary.duplicates += self.duplicates.len() as u64;
        self.summary.refreshed += self.refreshed.len() as u64;
        self.summary.failed += self.failures.len() as u64;
        for failure in self.failures.drain(..) {
            // A host taken for down is named once, in one warning, for all of its items.
            if failure.class != ErrorClass::HostDown {
                self.reporter.failed(&failure);
            }
        }
        self.written.clear();
        self.duplicates.clear();
        self.refreshed.clear();
        // Duplicates and refreshed payloads are finished as surely as embedded items.
        let finished =
            self.summary.done + self.summary.duplicates + self.summary.refreshed + self.summary.not_refreshed;
        self.reporter.progressed(finished, self.summary.failed);
        self.check_failure_limits();
        Ok(())
    }

    fn check_failure_limits(&mut self) {
        let failed = self.summary.failed;
        let finished = failed + self.summary.done + self.summary.duplicates;
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
