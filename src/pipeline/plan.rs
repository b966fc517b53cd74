//! What a run processes: first the items the checkpoint holds as pending, then what a walk of
//! the sources finds that is new, changed or back since the last run. An item whose file has
//! the size and modification time (or with `--verify-content`, the content hash) recorded when
//! it was planned last is skipped without being decoded. A remote object is stamped with
//! its ETag, or else its size and Last-Modified, from its listing, its manifest line or a HEAD.
//!
//! A listing of a prefix records, after each chunk it has recorded, the last key it reached:
//! a run cut short lists again from there, not from the beginning.

use std::io::ErrorKind;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::RunSpec;
use super::Stop;
use crate::checkpoint::{fields_json, Checkpoint, FileStamp, ItemState, Known};
use crate::fetch::Remote;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::{Location, Locator};
use crate::progress::Reporter;
use crate::shard::Shard;
use crate::source::SourceSpec;
use crate::util::content_hash;

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

/// The items a finished walk found, so that the ones it did not find can be deleted.
#[derive(Debug)]
pub struct WalkSeen {
    /// One bit per item id known before the walk: set when the walk found the item.
    seen: Vec<u64>,
    last_known: i64,
    /// Folders (or links) that could not be read: what is under them may still exist.
    unreadable: Vec<Locator>,
    /// Source folders in which the walk found nothing at all (an unmounted volume?).
    empty_roots: Vec<Locator>,
    /// Items the walk found in each source folder, in this shard.
    found_per_root: Vec<u64>,
    /// Items the walk found, in this shard.
    pub found: u64,
}

impl WalkSeen {
    fn new(last_known: i64, roots: usize) -> Self {
        Self {
            seen: vec![0; last_known as usize / 64 + 1],
            last_known,
            unreadable: Vec::new(),
            empty_roots: Vec::new(),
            found_per_root: vec![0; roots],
            found: 0,
        }
    }

    fn found(&mut self, path: &Locator, roots: &[PathBuf]) {
        self.found += 1;
        if let Some(root) = roots.iter().position(|root| path.starts_with(root)) {
            self.found_per_root[root] += 1;
        }
    }

    fn mark(&mut self, id: i64) {
        if (0..=self.last_known).contains(&id) {
            self.seen[id as usize / 64] |= 1 << (id % 64);
        }
    }

    /// Whether this walk has met the item with this id already: found it, or discovered it.
    fn met(&self, id: i64) -> bool {
        id > self.last_known || (id >= 0 && self.seen[id as usize / 64] & (1 << (id % 64)) != 0)
    }

    /// Whether the item with this id and path is gone: known before the walk, not found by it,
    /// and not under a folder that could not be read.
    pub fn is_missing(&self, id: i64, path: Option<&Locator>) -> bool {
        let seen = (0..=self.last_known).contains(&id) && self.seen[id as usize / 64] & (1 << (id % 64)) != 0;
        let hidden = path.is_some_and(|path| self.kept_folders().any(|(folder, _)| path.is_under(folder)));
        id <= self.last_known && !seen && !hidden
    }

    /// Folders whose items are kept although the walk did not find them, and why.
    pub fn kept_folders(&self) -> impl Iterator<Item = (&Locator, &'static str)> {
        let unreadable = self.unreadable.iter().map(|folder| (folder, "could not be read"));
        unreadable.chain(self.empty_roots.iter().map(|root| (root, "holds no images now (unmounted?)")))
    }
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
        Self { pending: true, discover: Some(source), shard: spec.shard, verify_content: spec.verify_content }
    }

    /// The plan of retry-failed: pending items only.
    pub fn pending_only() -> Self {
        Self { pending: true, discover: None, shard: None, verify_content: false }
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

    fn source_paths(&self) -> &[PathBuf] {
        self.discover.map_or(&[], |source| &source.paths)
    }

    /// Compares one chunk of walked entries with the checkpoint: records new items and new
    /// stamps, and returns the entries to process.
    fn reconcile(
        &self,
        checkpoint: &mut Checkpoint,
        remote: &Remote,
        entries: Vec<Result<Item, Failure>>,
        walk: &mut WalkSeen,
        unchanged: &mut u64,
        changed: &mut u64,
    ) -> anyhow::Result<Vec<Result<Item, Failure>>> {
        let keys: Vec<&str> = entries
            .iter()
            .map(|entry| match entry {
                Ok(item) => item.key.as_str(),
                Err(failure) => failure.key.as_str(),
            })
            .collect();
        let known = checkpoint.known(&keys)?;
        // stat (and hash) in parallel: on a cold disk each one waits on I/O.
        let mut stamps: Vec<Option<std::io::Result<FileStamp>>> = entries
            .par_iter()
            .map(|entry| {
                let item = entry.as_ref().ok()?;
                match item.path.local() {
                    Some(path) => Some(stamp(path, self.verify_content)),
                    None => item.object.as_ref().and_then(FileStamp::of_object).map(Ok),
                }
            })
            .collect();
        head_known_objects(remote, &entries, &known, &mut stamps);
        let mut new = Vec::new();
        let mut updates = Vec::new();
        let mut requeued = Vec::new();
        for ((entry, stamp), known) in entries.iter().zip(stamps).zip(known) {
            let item = match entry {
                Err(failure) => {
                    if failure.class == ErrorClass::Walk {
                        walk.unreadable.extend(failure.path.clone());
                    }
                    if let Some(known) = &known {
                        walk.mark(known.id);
                    } else {
                        new.push((Err(failure.clone()), None));
                    }
                    continue;
                }
                Ok(item) => item,
            };
            let gone = matches!(&stamp, Some(Err(error)) if error.kind() == ErrorKind::NotFound);
            let mut stamp = stamp.and_then(Result::ok);
            let Some(known) = known else {
                // A new file that is already gone still fails, so that it is reported.
                new.push((Ok(item.clone()), stamp));
                continue;
            };
            if gone {
                continue;
            }
            // A second entry with a key met already in this walk is that item again, or, with
            // another path, a collision, which `discover` records as failed.
            if walk.met(known.id) {
                if !known.path.as_ref().is_some_and(|path| path.same_item(&item.path)) {
                    new.push((Ok(item.clone()), stamp));
                }
                continue;
            }
            walk.found(&item.path, self.source_paths());
            walk.mark(known.id);
            // A run without --verify-content keeps the hash of a file whose size and time still match.
            if let (Some(new), Some(old)) = (stamp.as_mut(), known.stamp) {
                if new.hash.is_none() && (new.size, new.mtime_ns) == (old.size, old.mtime_ns) {
                    new.hash = old.hash;
                }
            }
            match judge(&known, item, stamp.as_ref(), self.verify_content) {
                Verdict::Unchanged { restamp } => {
                    *unchanged += 1;
                    if restamp {
                        updates.push((known.id, item, stamp, false));
                    }
                }
                Verdict::Changed => {
                    *changed += 1;
                    updates.push((known.id, item, stamp, true));
                    requeued.push(Ok(item.clone()));
                }
            }
        }
        for (entry, _) in &new {
            if let Ok(item) = entry {
                walk.found(&item.path, self.source_paths());
            }
        }
        checkpoint.restamp(&updates)?;
        let mut to_send = checkpoint.discover(new)?;
        to_send.extend(requeued);
        Ok(to_send)
    }
}

enum Verdict {
    /// Nothing to do; `restamp` when the checkpoint should record the stamp seen now.
    Unchanged { restamp: bool },
    /// Embed it again.
    Changed,
}

fn judge(known: &Known, item: &Item, stamp: Option<&FileStamp>, verify_content: bool) -> Verdict {
    let restamp = known.stamp.as_ref() != stamp && stamp.is_some();
    match known.state {
        // Sent already by the pending pass, or on its way there.
        ItemState::Pending => return Verdict::Unchanged { restamp },
        ItemState::Deleted => return Verdict::Changed,
        ItemState::Done | ItemState::Failed => {}
    }
    let (Some(old), Some(new)) = (&known.stamp, stamp) else {
        return match (&known.stamp, stamp) {
            // Recorded before imbed kept stamps: trust that run, and remember the file as it is.
            (None, Some(_)) => Verdict::Unchanged { restamp: true },
            // Cannot stat it now: a stored item is tried again, so that the reason is reported.
            _ if known.state == ItemState::Done => Verdict::Changed,
            _ => Verdict::Unchanged { restamp: false },
        };
    };
    // A remote object's stamp hashes its ETag, which tells a change better than a time.
    let by_hash = verify_content || item.path.is_remote();
    let same_content = old.size == new.size
        && match (by_hash, old.hash, new.hash) {
            (true, Some(before), Some(now)) => before == now,
            _ => old.mtime_ns == new.mtime_ns,
        };
    let same_item =
        known.path.as_ref().is_some_and(|path| path.same_item(&item.path)) && known.fields == fields_json(&item.fields);
    if same_content && same_item {
        Verdict::Unchanged { restamp }
    } else {
        Verdict::Changed
    }
}

/// Stamps the known remote items that came without facts (manifest URLs) with a HEAD each,
/// in parallel. New items need none: their download stamps them. An object that is gone
/// reads as a file that is gone.
fn head_known_objects(
    remote: &Remote,
    entries: &[Result<Item, Failure>],
    known: &[Option<Known>],
    stamps: &mut [Option<std::io::Result<FileStamp>>],
) {
    use futures::StreamExt;
    let wanted: Vec<(usize, Location)> = entries
        .iter()
        .zip(known)
        .enumerate()
        .filter_map(|(index, (entry, known))| {
            let item = entry.as_ref().ok()?;
            let location = item.path.location()?;
            (known.is_some() && item.object.is_none()).then_some((index, location))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let concurrency = remote.settings().concurrency.max(1);
    let heads = remote.runtime().block_on(
        futures::stream::iter(wanted)
            .map(|(index, location)| async move { (index, remote.head(&location).await) })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>(),
    );
    for (index, head) in heads {
        stamps[index] = match head {
            Ok(facts) => FileStamp::of_object(&facts).map(Ok),
            Err(error) if error.class == ErrorClass::NotFound => {
                Some(Err(std::io::Error::new(ErrorKind::NotFound, error.message)))
            }
            Err(error) => Some(Err(std::io::Error::other(error.message))),
        };
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

/// Size and modification time of the file (following links), and its hash when asked.
fn stamp(path: &Path, hash: bool) -> std::io::Result<FileStamp> {
    let metadata = std::fs::metadata(path)?;
    let mtime_ns = metadata.mtime().saturating_mul(1_000_000_000).saturating_add(metadata.mtime_nsec());
    let hash = if hash { Some(content_hash(path)?) } else { None };
    Ok(FileStamp { size: metadata.len(), mtime_ns, hash })
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
