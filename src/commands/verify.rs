//! `imbed verify`: each done item's point looked up by its ID (derived from the key, so known
//! without reading the index's payloads), in batches; then every point of the index against
//! the items the checkpoints know. `--repair` marks the missing items pending for `resume`,
//! `--delete-unknown` deletes the points no checkpoint knows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use super::settings::VerifySettings;
use super::{identity, ExitStatus, Printer};
use crate::checkpoint::{is_running, Checkpoint, CheckpointLock};
use crate::locator::redacted;
use crate::pipeline::{RunRecord, RunSpec};
use crate::sink::{EdgeStore, Index, QdrantSink};

mod compare;

use compare::Findings;

/// Examples of each difference shown without `--json`.
const EXAMPLES: usize = 5;

/// A checkpoint to verify, with its lock when it is to be repaired.
pub(super) struct Opened {
    pub checkpoint: Checkpoint,
    _lock: Option<CheckpointLock>,
    pub spec: RunSpec,
}

pub fn verify(printer: Printer, args: VerifySettings) -> anyhow::Result<ExitStatus> {
    let printer = printer.with_json(args.json);
    let started = Instant::now();
    let mut opened = Vec::new();
    // Both write: repairs to the checkpoints, deletions to the index. Either takes the
    // checkpoints' locks, so that no run sends points that would look unknown.
    let writes = args.repair || args.delete_unknown;
    for path in &args.checkpoints {
        opened.push(open_checkpoint(path, writes, printer)?);
    }
    let first = &opened[0].spec;
    let (collection, location) = (first.sink.collection.clone(), redacted(&first.sink_location()));
    if let Some(other) = opened[1..]
        .iter()
        .find(|other| other.spec.sink.collection != collection || other.spec.sink_location() != location)
    {
        bail!(
            "checkpoint {} writes to collection `{}` at {}, not `{collection}` at {location}; verify the \
             checkpoints of one collection together",
            other.checkpoint.path().display(),
            other.spec.sink.collection,
            redacted(&other.spec.sink_location())
        );
    }
    if args.delete_unknown {
        every_shard(&opened)?;
    }
    let mut index = open_index(&opened[0], &args)?;
    let findings = compare::compare(&opened, index.as_deref())?;
    let recorded = identity::recorded(&opened[0].checkpoint)?;
    let current = index.as_deref().and_then(Index::identity).cloned();

    let mut repaired = 0;
    if args.repair {
        for (which, item_ids) in findings.to_requeue() {
            repaired += opened[which].checkpoint.requeue_items(&item_ids)?;
        }
        // Item by item, what is done is in this index now: the next run need not send it again.
        if let Some(current) = &current {
            for opened in &opened {
                identity::record(&opened.checkpoint, current)?;
            }
        }
    }
    if args.delete_unknown && !findings.unknown.is_empty() {
        if !args.json {
            for id in &findings.unknown {
                printer.result(format_args!("unknown point {id}"))?;
            }
        }
        // Unknown points were read from the index, so it exists.
        if let Some(index) = index.as_deref_mut() {
            for ids in findings.unknown.chunks(1024) {
                index.delete(ids)?;
            }
            index.flush()?;
        }
    }
    let deleted = if args.delete_unknown { findings.unknown.len() } else { 0 };
    let agree = findings.missing.is_empty() && findings.other_key.is_empty() && findings.unknown.len() == deleted;
    let seconds = started.elapsed().as_secs_f64();
    let resume: Vec<String> = opened
        .iter()
        .map(|opened| format!("imbed resume --checkpoint {}", crate::util::path_text(opened.checkpoint.path())))
        .collect();

    if args.json {
        let examples = |keys: &[compare::Difference]| -> Vec<String> {
            keys.iter().take(100).map(|difference| difference.key.clone()).collect()
        };
        let mut object = json!({
            "checkpoints": opened.iter().map(|o| crate::util::path_text(o.checkpoint.path())).collect::<Vec<_>>(),
            "collection": collection,
            "location": location,
            "index": identity::identity_json(recorded.as_ref(), current.as_ref(), index.is_some()),
            "checked": findings.checked,
            "points": findings.points,
            "missing": findings.missing.len(),
            "other_key": findings.other_key.len(),
            "unknown": findings.unknown.len(),
            "missing_examples": examples(&findings.missing),
            "other_key_examples": examples(&findings.other_key),
            "repaired": repaired,
            "deleted": deleted,
            "agree": agree,
            "elapsed_seconds": seconds,
        });
        let unknown_shown = if args.delete_unknown { findings.unknown.len() } else { 100 };
        object["unknown_ids"] = json!(findings.unknown.iter().take(unknown_shown).collect::<Vec<_>>());
        printer.result(object)?;
    } else {
        report(&findings, &collection, &location, printer)?;
        let index_line = identity::describe_identity(recorded.as_ref(), current.as_ref(), index.is_some());
        printer.result(format_args!("Index: {index_line}"))?;
        if repaired > 0 {
            printer
                .result(format_args!("Marked {repaired} items pending again; send them with: {}", resume.join("; ")))?;
        }
        if deleted > 0 {
            printer.result(format_args!("Deleted {deleted} points that no checkpoint knows."))?;
        }
        if agree {
            printer.result("The checkpoint and the index agree.")?;
        } else if !args.repair && !findings.to_requeue().is_empty() {
            printer.result(format_args!(
                "They differ. `imbed verify --repair` marks the missing items pending, then `{}` sends them.",
                resume[0]
            ))?;
        }
    }
    Ok(if agree { ExitStatus::Success } else { ExitStatus::Differ })
}

/// Refuses to delete unknown points unless the checkpoints cover every shard that writes to
/// the collection: the points of a shard left out would all look unknown.
fn every_shard(opened: &[Opened]) -> anyhow::Result<()> {
    let shards: Vec<_> = opened.iter().filter_map(|opened| opened.spec.shard).collect();
    let Some(count) = shards.first().map(|shard| shard.count) else { return Ok(()) };
    let covered: std::collections::BTreeSet<u32> =
        shards.iter().filter(|shard| shard.count == count).map(|shard| shard.index).collect();
    if shards.len() != opened.len() || covered.len() as u32 != count {
        bail!(
            "--delete-unknown needs the checkpoints of all {count} shards that write to the collection \
             (given: {}); the points of the others would look unknown",
            shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn open_checkpoint(path: &Path, writes: bool, printer: Printer) -> anyhow::Result<Opened> {
    // A repair writes to the checkpoint, so it takes the lock: never beside a running index.
    let (lock, checkpoint) = if writes {
        if !path.exists() {
            bail!("no checkpoint at {}", path.display());
        }
        let lock = CheckpointLock::acquire(path)?;
        (Some(lock), Checkpoint::open(path)?)
    } else {
        let checkpoint = Checkpoint::open_read_only(path)?;
        if is_running(path)? {
            printer.warning(format_args!(
                "a run is writing with {}; points it is sending now may show as unknown",
                path.display()
            ));
        }
        (None, checkpoint)
    };
    let spec = checkpoint.config::<RunRecord>()?.spec;
    Ok(Opened { checkpoint, _lock: lock, spec })
}

/// The index the checkpoints write to, or `None` when it does not exist (every item is missing).
fn open_index(opened: &Opened, args: &VerifySettings) -> anyhow::Result<Option<Box<dyn Index>>> {
    let spec = &opened.spec;
    let collection = &spec.sink.collection;
    match &spec.sink.qdrant {
        Some(target) => {
            let connection = args.access.recorded_connection(target, opened.checkpoint.path())?;
            let mut sink = QdrantSink::connect(connection, collection, target.vector_name.clone())?;
            if !sink.exists()? {
                return Ok(None);
            }
            sink.open_existing()?;
            Ok(Some(Box::new(sink)))
        }
        None => {
            let store: PathBuf = spec.store_dir();
            if EdgeStore::stored_dimension(&store, collection)?.is_none() {
                return Ok(None);
            }
            Ok(Some(Box::new(EdgeStore::open(&store, collection)?)))
        }
    }
}

fn report(findings: &Findings, collection: &str, location: &str, printer: Printer) -> anyhow::Result<()> {
    printer.result(format_args!(
        "Checked {} done items against collection `{collection}` at {location}, which holds {} points.",
        findings.checked, findings.points
    ))?;
    let rows: [(&str, &[compare::Difference]); 2] =
        [("missing from the index", &findings.missing), ("with another key in the index", &findings.other_key)];
    for (what, differences) in rows {
        printer.result(format_args!("  {} done items {what}", differences.len()))?;
        for difference in differences.iter().take(EXAMPLES) {
            printer.result(format_args!("    {}", difference.key))?;
        }
    }
    printer.result(format_args!("  {} points that no checkpoint knows", findings.unknown.len()))?;
    for id in findings.unknown.iter().take(EXAMPLES) {
        printer.result(format_args!("    {id}"))?;
    }
    Ok(())
}
