//! What a run processes: first the items the checkpoint holds as pending, then what a walk of
//! the sources finds that is new, changed or back since the last run. An item whose file has
//! the size and modification time (or with `--verify-content`, the content hash) recorded when
//! it was planned last is skipped without being decoded. A remote object is stamped with
//! its ETag, or else its size and Last-Modified, from its listing, its manifest line or a HEAD.
//!
//! A listing of a prefix records, after each chunk it has recorded, the last key it reached:
//! a run cut short lists again from there, not from the beginning.

mod reconcile;
mod walk_seen;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::RunSpec;
use super::Stop;
use crate::checkpoint::Checkpoint;
use crate::fetch::Remote;
use crate::item::{Failure, Item};
use crate::locator::{Location, Locator};
use crate::progress::Reporter;
use crate::shard::Shard;
use crate::source::SourceSpec;

pub use walk_seen::WalkSeen;

/// Rows read or inserted per checkpoint transaction.
const CHUNK: usize = 512;

/// The checkpoint's meta key, before the source path, of where a prefix's listing reached.
const LISTING_POSITION: &str = "listing_position:";

pub struct Plan<'a> {
    /// Process the items that are pending in the checkpoint (resume, retry-failed).
    pub pending: bool,
    /// Walk these sources for items that are new or changed (index, resume).
    pub discover: Option<&'a SourceSpec>,
    /// Take only the items of this shard.
    pub shard: Option<Shard>,
    /// Compare content hashes, not modification times.
    pub verify_content: bool,
    /// Send done, unchanged items too, to rewrite their payloads without the model.
    pub refresh_payload: bool,
}

/// What planning found.
#[derive(Debug, Default)]
pub struct PlanOutcome {
    /// Items sent to be embedded.
    pub emitted: u64,
    /// Known items whose files had not changed.
    pub unchanged: u64,
    /// Known items whose files changed or came back, sent again.
    pub changed: u64,
    /// What a walk that went to the end saw; `None` without a walk, when it stopped early,
    /// or when a listing started again from a recorded position.
    pub walk: Option<WalkSeen>,
}

/// The plan stage: sends each item to the load stage, counting what it finds.
pub(super) fn stage(
    plan: &Plan<'_>,
    checkpoint: &mut Checkpoint,
    remote: &Remote,
    items: tokio::sync::mpsc::Sender<Result<Item, Failure>>,
    reporter: &dyn Reporter,
    stop: &Stop<'_>,
) -> anyhow::Result<PlanOutcome> {
    let mut planned = 0;
    plan.run(checkpoint, remote, &|| stop.is_set(), |item| {
        if stop.is_set() {
            return ControlFlow::Break(());
        }
        planned += 1;
        reporter.discovered(planned);
        match items.blocking_send(item) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    })
}

impl<'a> Plan<'a> {
    /// The plan of index and resume: pending items, then a walk for new and changed ones.
    pub fn pending_then_walk(source: &'a SourceSpec, spec: &RunSpec) -> Self {
        Self {
            pending: true,
            discover: Some(source),
            shard: spec.shard,
            verify_content: spec.verify_content,
            refresh_payload: false,
        }
    }

    /// The plan of retry-failed: pending items only.
    pub fn pending_only() -> Self {
        Self { pending: true, discover: None, shard: None, verify_content: false, refresh_payload: false }
    }

    /// Calls `emit` with each item to process; stops early when `emit` breaks.
    /// `should_stop` is asked at every walked entry, so a walk over known files stops promptly.
    pub fn run(
        &self,
        checkpoint: &mut Checkpoint,
        remote: &Remote,
        should_stop: &dyn Fn() -> bool,
        mut emit: impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<PlanOutcome> {
        let mut outcome = PlanOutcome::default();
        let mut send = |entry| {
            outcome.emitted += 1;
            emit(entry)
        };
        let last_known = checkpoint.max_id()?;
        if self.pending && stream_pending(checkpoint, last_known, &mut send)?.is_break() {
            return Ok(outcome);
        }
        let Some(source) = self.discover else { return Ok(outcome) };
        let listed: Vec<&PathBuf> = source.paths.iter().filter(|path| SourceSpec::is_listed_prefix(path)).collect();
        let mut offsets = std::collections::HashMap::new();
        for root in &listed {
            if let Some(position) = checkpoint.meta(&listing_meta_key(root))?.filter(|key| !key.is_empty()) {
                offsets.insert(root.to_path_buf(), position);
            }
        }
        let mut walk = WalkSeen::new(last_known, source.paths.len());
        let (mut unchanged, mut changed) = (0, 0);
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut failed: Option<anyhow::Error> = None;
        let mut flush = |chunk: &mut Vec<_>, walk: &mut WalkSeen| -> ControlFlow<()> {
            let entries = std::mem::take(chunk);
            let reached = listing_reached(&entries, &listed);
            let reconciled = self.reconcile(checkpoint, remote, entries, walk, &mut unchanged, &mut changed);
            let recorded = reconciled.and_then(|to_send| {
                for (root, key) in &reached {
                    checkpoint.set_meta(&listing_meta_key(root), key)?;
                }
                Ok(to_send)
            });
            match recorded {
                Ok(to_send) => to_send.into_iter().try_for_each(&mut send),
                Err(error) => {
                    failed = Some(error);
                    ControlFlow::Break(())
                }
            }
        };
        let mut stopped = false;
        let offset_of = |root: &Path| offsets.get(root).cloned();
        source.for_each(remote, &offset_of, |entry| {
            if should_stop() {
                stopped = true;
                return ControlFlow::Break(());
            }
            let key = match &entry {
                Ok(item) => &item.key,
                Err(failure) => &failure.key,
            };
            if self.shard.is_some_and(|shard| !shard.contains(key)) {
                return ControlFlow::Continue(());
            }
            chunk.push(entry);
            if chunk.len() < CHUNK {
                return ControlFlow::Continue(());
            }
            let flow = flush(&mut chunk, &mut walk);
            stopped = flow.is_break();
            flow
        })?;
        if !stopped && !chunk.is_empty() {
            stopped = flush(&mut chunk, &mut walk).is_break();
        }
        if let Some(error) = failed {
            return Err(error);
        }
        outcome.unchanged = unchanged;
        outcome.changed = changed;
        if !stopped {
            // Listed to the end: the next run lists from the beginning again.
            for root in &listed {
                checkpoint.set_meta(&listing_meta_key(root), "")?;
            }
        }
        // A listing that started again part-way did not meet the items before its position.
        if !stopped && offsets.is_empty() {
            let roots = source.paths.iter().zip(&walk.found_per_root);
            walk.empty_roots =
                roots.filter(|(_, &found)| found == 0).map(|(root, _)| Locator::from(root.as_path())).collect();
            outcome.walk = Some(walk);
        }
        Ok(outcome)
    }
}

/// For each listed prefix, the last object key of the chunk under it: where its listing
/// starts again once the chunk is recorded.
fn listing_reached(entries: &[Result<Item, Failure>], listed: &[&PathBuf]) -> Vec<(PathBuf, String)> {
    let mut reached: Vec<(PathBuf, String)> = Vec::new();
    for item in entries.iter().filter_map(|entry| entry.as_ref().ok()) {
        let Some(root) = listed.iter().find(|root| item.path.starts_with(root)) else { continue };
        let Some(Location::Object { key, .. }) = item.path.location() else { continue };
        match reached.iter_mut().find(|(listed_root, _)| listed_root == *root) {
            Some((_, last)) => *last = key,
            None => reached.push((root.to_path_buf(), key)),
        }
    }
    reached
}

fn listing_meta_key(root: &Path) -> String {
    format!("{LISTING_POSITION}{}", root.display())
}

/// Pending items that existed when the run started, in discovery order. Items discovered
/// later in this run are emitted by the walk, so they are not read here a second time.
fn stream_pending(
    checkpoint: &mut Checkpoint,
    last: i64,
    send: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> anyhow::Result<ControlFlow<()>> {
    let mut after = 0;
    loop {
        let page = checkpoint.pending_after(after, CHUNK)?;
        let Some((last_in_page, _)) = page.last() else {
            return Ok(ControlFlow::Continue(()));
        };
        after = *last_in_page;
        for (id, item) in page {
            if id > last {
                return Ok(ControlFlow::Continue(()));
            }
            if send(Ok(item)).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
    }
}
