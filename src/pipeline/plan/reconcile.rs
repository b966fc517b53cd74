//! One chunk of walked entries compared with the checkpoint: new, unchanged or changed.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Plan, WalkSeen};
use crate::checkpoint::{fields_json, Checkpoint, FileStamp, ItemState, Known};
use crate::fetch::Remote;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::Location;
use crate::util::content_hash;

impl Plan<'_> {
    fn source_paths(&self) -> &[PathBuf] {
        self.discover.map_or(&[], |source| &source.paths)
    }

    /// Compares one chunk of walked entries with the checkpoint: records new items and new
    /// stamps, and returns the entries to process.
    pub(super) fn reconcile(
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
        let mut refreshed = Vec::new();
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
                    if self.refresh_payload && known.state == ItemState::Done {
                        refreshed.push(Ok(Item { refresh_payload: true, ..item.clone() }));
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
        to_send.extend(refreshed);
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
        ItemState::Done | ItemState::Failed | ItemState::Duplicate => {}
    }
    let (Some(old), Some(new)) = (&known.stamp, stamp) else {
        return match (&known.stamp, stamp) {
            // Recorded before imbed kept stamps: trust that run, and remember the file as it is.
            (None, Some(_)) => Verdict::Unchanged { restamp: true },
            // Cannot stat it now: a stored item is tried again, so that the reason is reported.
            _ if matches!(known.state, ItemState::Done | ItemState::Duplicate) => Verdict::Changed,
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

/// Size and modification time of the file (following links), and its hash when asked.
fn stamp(path: &Path, hash: bool) -> std::io::Result<FileStamp> {
    let metadata = std::fs::metadata(path)?;
    let mtime_ns = metadata.mtime().saturating_mul(1_000_000_000).saturating_add(metadata.mtime_nsec());
    let hash = if hash { Some(content_hash(path)?) } else { None };
    Ok(FileStamp { size: metadata.len(), mtime_ns, hash })
}
