//! The run that index, resume and retry-failed share: prepare the model once, open the sink,
//! run the pipeline, delete what is gone, and report.

use anyhow::{bail, Context};
use uuid::Uuid;

use super::settings::{GlobalSettings, RunControl, ThreadSplit};
use super::{identity, install_stop_handler, server, ExitStatus, Printer};
use crate::checkpoint::{Checkpoint, CheckpointLock};
use crate::embed::{runtime, Encoder, ResolvedModel};
use crate::fetch::Remote;
use crate::pipeline::{
    self, Comparison, Fingerprints, HashClaims, Plan, RunRecord, RunSpec, Stages, TensorLoader, WalkSeen,
};
use crate::shard::Shard;
use crate::sink::edge::ensure_free_space;
use crate::sink::{each_page, CollectionInfo, EdgeStore, Index, QdrantSink, ReadPoints, Sink};
use crate::util::point_id;

mod existing;
mod report;

pub(super) use existing::Existing;

/// A run's description with its model found on disk, fingerprinted and loaded on its
/// device: each once, before anything is written.
pub(super) struct Prepared {
    pub spec: RunSpec,
    pub model: ResolvedModel,
    pub fingerprints: Fingerprints,
    pub encoder: Encoder,
}

impl Prepared {
    pub fn new(global: &GlobalSettings, spec: RunSpec, threads: ThreadSplit) -> anyhow::Result<Self> {
        let model = spec.model.resolve(spec.decode.background)?;
        let fingerprints = Fingerprints::of(&model, &spec.decode)?;
        let runtime = runtime::load(&global.runtime)?;
        let encoder = Encoder::load(runtime, &model, threads.intra)?;
        Ok(Self { spec, model, fingerprints, encoder })
    }

    /// Compares the fingerprints that `recorded` holds with the model on disk now; refuses a
    /// change unless `remedy` is `None` (the user forced the run on).
    pub fn check_against(
        &self,
        recorded: &RunRecord,
        checkpoint: &Checkpoint,
        remedy: Option<&str>,
    ) -> anyhow::Result<()> {
        match self.fingerprints.compare(&recorded.fingerprints, &self.model, &self.spec.decode) {
            Comparison::Same | Comparison::SameInOlderForm => Ok(()),
            Comparison::Changed { .. } if remedy.is_none() => Ok(()),
            Comparison::Changed { model, preprocess } => Err(anyhow::anyhow!(pipeline::changed_model_message(
                model,
                preprocess,
                checkpoint.path(),
                remedy.unwrap_or_default()
            ))),
        }
    }

    /// Same sources into the same collection, in the same shard: carry on, adding what is new.
    pub fn check_same_run(&self, previous: &RunSpec, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let spec = &self.spec;
        if !previous.same_items_and_collection(spec) {
            bail!(
                "checkpoint {} belongs to another run ({} into collection `{}` at {}); \
                 pass another --checkpoint, or `imbed resume` to finish that run",
                checkpoint.path().display(),
                previous.describe_sources(),
                previous.sink.collection,
                previous.sink_location()
            );
        }
        if previous.shard != spec.shard {
            let describe =
                |shard: Option<Shard>| shard.map_or("the whole corpus".to_string(), |s| format!("shard {s}"));
            bail!(
                "checkpoint {} holds {}, not {}; give each shard its own --checkpoint",
                checkpoint.path().display(),
                describe(previous.shard),
                describe(spec.shard)
            );
        }
        Ok(())
    }

    /// What the checkpoint records for this run from now on.
    pub fn record(&self, control: &RunControl) -> RunRecord {
        RunRecord {
            spec: self.spec.clone(),
            fingerprints: self.fingerprints.clone(),
            control: control.recorded.clone(),
        }
    }
}

/// Everything a run needs, resolved by its command.
pub(super) struct RunRequest<'a> {
    pub command: &'static str,
    pub prepared: Prepared,
    pub checkpoint: Checkpoint,
    pub lock: CheckpointLock,
    pub plan: Plan<'a>,
    pub control: RunControl,
    /// The server of the run, connected before the model loaded; `None` for the embedded store.
    pub server: Option<QdrantSink>,
    /// The clients of remote items, their sources checked before the model loaded.
    pub remote: Remote,
}

/// The sink of a run: the embedded store, or a server.
// One per run, never moved in a loop: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum RunSink {
    Edge(EdgeStore),
    Server(QdrantSink),
}

impl RunSink {
    fn as_sink(&mut self) -> &mut dyn Sink {
        match self {
            RunSink::Edge(store) => store,
            RunSink::Server(server) => server,
        }
    }

    fn as_index(&mut self) -> &mut dyn Index {
        match self {
            RunSink::Edge(store) => store,
            RunSink::Server(server) => server,
        }
    }

    fn as_points(&self) -> &dyn ReadPoints {
        match self {
            RunSink::Edge(store) => store,
            RunSink::Server(server) => server,
        }
    }
}

/// With `--skip-duplicates`, who holds which bytes before the run starts: the done items of
/// the checkpoint, then the points that imbed wrote to the collection from elsewhere (read
/// once, a page at a time, when the collection holds more points than the checkpoint's).
fn hash_claims(spec: &RunSpec, checkpoint: &Checkpoint, store: &RunSink) -> anyhow::Result<Option<HashClaims>> {
    if !spec.skip_duplicates {
        return Ok(None);
    }
    let mut claims = HashClaims::default();
    checkpoint.done_hashes(|hash, key| claims.insert(hash, key))?;
    let points = store.as_points();
    if points.point_count()? > checkpoint.totals()?.done {
        each_page(points, 1024, |page| {
            for point in page {
                let text = |name: &str| point.payload.get(name).and_then(serde_json::Value::as_str);
                let hash = text("content_hash").and_then(|hash| u128::from_str_radix(hash, 16).ok());
                if let (Some(hash), Some(key)) = (hash, text("key")) {
                    claims.insert(hash, key.to_string());
                }
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    }
    Ok(Some(claims))
}

/// Runs the plan for the run recorded in the checkpoint, holding its lock.
pub(super) fn execute(printer: Printer, request: RunRequest<'_>) -> anyhow::Result<ExitStatus> {
    let RunRequest { command, prepared, mut checkpoint, lock: _lock, plan, control, server, remote } = request;
    let printer = printer.with_json(control.json);
    let Prepared { spec, model, mut encoder, .. } = prepared;
    let (spec, model) = (&spec, &model);
    // Keys and payloads follow the rule the run started with.
    crate::locator::ignore_query_parameters(&spec.sources.ignore_query_params);
    let collection = &spec.sink.collection;
    let (location, exists) = match &server {
        Some(server) => (server.location(), server.exists()?),
        None => {
            let dir = std::path::absolute(EdgeStore::collection_dir(&spec.sink.store, collection))?;
            (dir.display().to_string(), EdgeStore::stored_dimension(&spec.sink.store, collection)?.is_some())
        }
    };
    let place = identity::Place {
        checkpoint: &checkpoint,
        collection,
        location: &location,
        repair: !control.no_repair,
        printer,
    };
    let mut send_again = || checkpoint.requeue_done().map(|_| ()).map_err(anyhow::Error::from);
    let done = checkpoint.totals()?.done;
    place.check_exists(exists, identity::Sent { count: done, what: "done items", send_again: &mut send_again })?;
    let mut store = open_sink(spec, model, &encoder, &checkpoint, server, control.min_free_space)?;
    let done = checkpoint.totals()?.done;
    let sent = identity::Sent { count: done, what: "done items", send_again: &mut send_again };
    place.check_identity(store.as_index(), sent)?;
    if spec.shard.is_none() {
        identity::check_count(&place, store.as_index(), &control.verify_command())?;
    }
    let claims = hash_claims(spec, &checkpoint, &store)?;
    checkpoint.start_run(command)?;
    if plan.pending {
        checkpoint.requeue_transient(control.max_attempts())?;
        checkpoint.requeue_duplicates(spec.skip_duplicates)?;
    }
    let reporter = printer.progress(if command == "index" { "Indexing" } else { "Resuming" }, control.log_interval);
    let stop = install_stop_handler(printer);
    let loader = TensorLoader {
        preprocessor: &model.preprocessor,
        layout: encoder.layout(),
        decode: spec.decode.limits,
        budget: crate::decode::MemoryBudget::unlimited(),
    };
    let stages = Stages {
        plan: &plan,
        checkpoint: &mut checkpoint,
        loader,
        embedder: &mut encoder,
        sink: store.as_sink(),
        reporter: reporter.as_ref(),
        remote: &remote,
        claims,
    };
    let mut summary = match pipeline::run(stages, &control.pipeline, stop) {
        Ok(summary) => summary,
        Err(error) => {
            end_failed(&checkpoint, printer);
            printer.notice(format_args!(
                "the run stopped; what was stored is recorded. Resume with: {}",
                control.resume_command()
            ));
            return Err(error);
        }
    };
    let mut deleted = 0;
    if let Some(walk) = summary.walk.take().filter(|_| spec.delete_missing && !summary.interrupted) {
        deleted = delete_missing(&mut checkpoint, store.as_sink(), &walk, printer).inspect_err(|_| {
            end_failed(&checkpoint, printer);
        })?;
    }
    checkpoint.end_run(match (summary.interrupted, summary.failure_limit_hit) {
        (true, _) => "interrupted",
        (false, true) => "stopped",
        (false, false) => "finished",
    })?;
    if let (false, RunSink::Server(server)) = (summary.interrupted, &store) {
        if let Some(m) = server::finish_bulk(server, &checkpoint)? {
            printer.message(format_args!(
                "imbed: bulk load finished; HNSW indexing is back on (m={m}), and the server now builds the index"
            ));
        }
    }
    let store = store.as_sink();
    // Every item is already recorded: a server that went down by now costs the count, not the run.
    let points = match store.count() {
        Ok(points) => Some(points),
        Err(error) => {
            printer.warning(format_args!("cannot count the points in the store: {error:#}"));
            None
        }
    };
    let outcome = report::Outcome { summary: &summary, deleted, threads: control.threads, points };
    report::report(&checkpoint, &outcome, &control, spec, store, printer)?;
    Ok(if summary.interrupted {
        ExitStatus::Interrupted
    } else if summary.failed > 0 || summary.failure_limit_hit || checkpoint.totals()?.failed > 0 {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    })
}

/// Records that the run failed. Best effort: the checkpoint itself may be what failed.
fn end_failed(checkpoint: &Checkpoint, printer: Printer) {
    if let Err(error) = checkpoint.end_run("failed") {
        printer.warning(format_args!("cannot record the end of the run: {error}"));
    }
}

fn open_sink(
    spec: &RunSpec,
    model: &ResolvedModel,
    encoder: &Encoder,
    checkpoint: &Checkpoint,
    server: Option<QdrantSink>,
    min_free_space: u64,
) -> anyhow::Result<RunSink> {
    let dimension = encoder.dimension();
    let Some(mut server) = server else {
        ensure_free_space(&spec.sink.store, min_free_space)?;
        let info = CollectionInfo {
            dimension,
            model: model.config.path.clone(),
            preprocess: model.config.preset.map(|preset| preset.name().to_string()),
            output: model.config.output.clone(),
            normalize: model.config.normalize,
            text_model: spec.text_model.clone(),
            index: None,
        };
        let store = EdgeStore::open_or_create(&spec.sink.store, &spec.sink.collection, &info)?;
        return Ok(RunSink::Edge(store.with_min_free_space(min_free_space)));
    };
    let setup = spec.sink.qdrant.as_ref().map(|target| target.setup.clone()).unwrap_or_default();
    server::open_for_load(&mut server, checkpoint, dimension, &setup)?;
    Ok(RunSink::Server(server))
}

/// Deletes the points of items that a finished walk did not find, and marks them deleted.
/// A point is deleted before its item is marked, so a run killed between the two deletes it again.
fn delete_missing(
    checkpoint: &mut Checkpoint,
    sink: &mut dyn Sink,
    walk: &WalkSeen,
    printer: Printer,
) -> anyhow::Result<u64> {
    if walk.found == 0 && checkpoint.totals()?.total > 0 {
        printer
            .warning("--delete-missing: the sources hold no images now, so nothing is deleted (an unmounted volume?)");
        return Ok(0);
    }
    for (folder, why) in walk.kept_folders() {
        printer.warning(format_args!("--delete-missing: {} {why}, so its items are kept", folder.shown()));
    }
    let mut deleted = 0;
    let mut after = 0;
    loop {
        let page = checkpoint.present_after(after, 1024)?;
        let Some((last, _, _)) = page.last() else { return Ok(deleted) };
        after = *last;
        let (ids, points): (Vec<i64>, Vec<Uuid>) = page
            .iter()
            .filter(|(id, _, path)| walk.is_missing(*id, path.as_ref()))
            .map(|(id, key, _)| (*id, point_id(key)))
            .unzip();
        if ids.is_empty() {
            continue;
        }
        sink.delete(&points).and_then(|()| sink.flush()).context(
            "cannot delete the points of files that are gone; the next run with --delete-missing tries again",
        )?;
        checkpoint.mark_deleted(&ids)?;
        deleted += ids.len() as u64;
    }
}
