//! The run that index, resume and retry-failed share: model, store, checkpoint, pipeline, summary.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;
use uuid::Uuid;

use super::{connect_server, install_stop_handler, load_encoder, parse_preset, thread_split, ExitStatus, ModelChoice};
use crate::checkpoint::{Checkpoint, CheckpointLock, RunConfig};
use crate::cli::{GlobalArgs, RunArgs, ServerArgs};
use crate::embed::ModelSpec;
use crate::pipeline::{self, PipelineSettings, RunSummary};
use crate::plan::{Plan, WalkSeen};
use crate::progress::ProgressMode;
use crate::sink::edge::{ensure_free_space, CollectionInfo};
use crate::sink::qdrant::{CollectionSetup, QdrantSink, DEFAULT_HNSW_M};
use crate::sink::{point_id, EdgeStore, Sink};
use crate::source::SourceSpec;

/// Refuses a checkpoint whose model or preprocessing changed since its run started.
/// `current` holds the fingerprints of the model on disk now.
pub(crate) fn check_fingerprints(
    recorded: &RunConfig,
    current: &RunConfig,
    remedy: &str,
    checkpoint: &Path,
) -> anyhow::Result<()> {
    let model_changed = recorded.model_fingerprint != current.model_fingerprint;
    let preprocess_changed = recorded.preprocess_fingerprint != current.preprocess_fingerprint;
    if !(model_changed || preprocess_changed) {
        return Ok(());
    }
    let what = match (model_changed, preprocess_changed) {
        (true, true) => "model.onnx and its preprocessing have",
        (true, false) => "model.onnx has",
        _ => "the preprocessing has",
    };
    bail!(
        "{what} changed since the run in {} started, so new vectors would not match stored ones; \
         {remedy}, or index into a new collection with a new --checkpoint",
        checkpoint.display()
    )
}

/// An existing run for resume or retry-failed: its checkpoint, lock, config and sink options.
pub(crate) struct ExistingRun {
    pub checkpoint: Checkpoint,
    pub lock: CheckpointLock,
    pub config: RunConfig,
    pub sink: SinkOptions,
}

/// Opens the checkpoint of an existing run for resume or retry-failed, refusing a changed
/// model, and connects to its server if it has one.
pub(crate) fn open_existing(args: &RunArgs, server: &ServerArgs, force: bool) -> anyhow::Result<ExistingRun> {
    if !args.checkpoint.exists() {
        bail!("no checkpoint at {}; start a run with `imbed index`", args.checkpoint.display());
    }
    let lock = CheckpointLock::acquire(&args.checkpoint)?;
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let config = checkpoint.config()?;
    // Keys are paths as given when the run started; run from there so they mean the same files.
    std::env::set_current_dir(&config.working_dir).with_context(|| {
        format!("cannot enter {}, where the run in {} started", config.working_dir.display(), args.checkpoint.display())
    })?;
    // Before hashing the model: a server that is down should say so at once.
    let connected = connect_recorded(&config, server, &args.checkpoint)?;
    let choice = model_choice(&config, 1)?;
    let spec = ModelSpec::resolve(&choice.model, choice.preset)?;
    let current = RunConfig {
        model_fingerprint: spec.model_fingerprint()?,
        preprocess_fingerprint: spec.preprocess_fingerprint(&config.decode),
        ..config.clone()
    };
    if !force {
        check_fingerprints(&config, &current, "pass --force to go on anyway", &args.checkpoint)?;
    }
    let bulk = config.qdrant.as_ref().is_some_and(|target| target.bulk);
    let sink = SinkOptions { server: connected, setup: CollectionSetup { bulk, ..CollectionSetup::default() } };
    Ok(ExistingRun { checkpoint, lock, config, sink })
}

/// Connects to the server a checkpoint's run writes to, if any.
pub(crate) fn connect_recorded(
    config: &RunConfig,
    server: &ServerArgs,
    checkpoint: &Path,
) -> anyhow::Result<Option<QdrantSink>> {
    let Some(target) = &config.qdrant else { return Ok(None) };
    if target.api_key_used && server.api_key().is_none() {
        bail!(
            "the run in {} used an API key, and none is given now; pass --api-key or set QDRANT_API_KEY",
            checkpoint.display()
        );
    }
    Ok(Some(connect_server(&target.url, &config.collection, target.vector_name.clone(), server)?))
}

pub(crate) fn model_choice(config: &RunConfig, intra_threads: usize) -> anyhow::Result<ModelChoice> {
    Ok(ModelChoice {
        model: config.model.clone(),
        preset: config.preprocess.as_deref().and_then(parse_preset),
        output: config.output.clone(),
        normalize: config.normalize,
        device: config.device.parse()?,
        intra_threads,
    })
}

/// The Qdrant server of a run, connected before the model loads, and how to create its collection.
pub(crate) struct SinkOptions {
    pub server: Option<QdrantSink>,
    pub setup: CollectionSetup,
}

/// The sink of a run: the embedded store, or a server with its bulk-load bookkeeping.
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
}

/// Checkpoint meta keys of a bulk load: whether imbed created the server collection, and the
/// HNSW `m` to restore once every item is done.
const META_CREATED: &str = "qdrant_collection_created";
pub(crate) const META_BULK_RESTORE_M: &str = "qdrant_bulk_restore_m";

fn open_sink(
    config: &RunConfig,
    args: &RunArgs,
    checkpoint: &Checkpoint,
    server: Option<QdrantSink>,
    setup: &CollectionSetup,
    info: &CollectionInfo,
) -> anyhow::Result<RunSink> {
    let Some(mut server) = server else {
        let min_free_space = args.min_free_space.saturating_mul(1 << 20);
        ensure_free_space(&config.store, min_free_space)?;
        let store = EdgeStore::open_or_create(&config.store, &config.collection, info)?;
        return Ok(RunSink::Edge(store.with_min_free_space(min_free_space)));
    };
    open_server_collection(&mut server, checkpoint, info.dimension, setup)?;
    Ok(RunSink::Server(server))
}

/// Opens or creates the server collection and, with `--bulk`, turns its indexing off, keeping
/// in `checkpoint` what to restore. Shared by runs and `push`.
pub(crate) fn open_server_collection(
    server: &mut QdrantSink,
    checkpoint: &Checkpoint,
    dimension: usize,
    setup: &CollectionSetup,
) -> anyhow::Result<()> {
    let created = server.open_or_create(dimension, setup)?;
    if created {
        checkpoint.set_meta(META_CREATED, "1")?;
    }
    if !setup.bulk || checkpoint.meta(META_BULK_RESTORE_M)?.is_some_and(|m| !m.is_empty()) {
        return Ok(());
    }
    if created {
        // Created with m=0 already.
        checkpoint.set_meta(META_BULK_RESTORE_M, &DEFAULT_HNSW_M.to_string())?;
    } else if checkpoint.meta(META_CREATED)?.as_deref() == Some("1") {
        let m = server.state()?.hnsw_m.filter(|&m| m > 0).unwrap_or(DEFAULT_HNSW_M);
        server.set_hnsw_m(0)?;
        checkpoint.set_meta(META_BULK_RESTORE_M, &m.to_string())?;
    } else {
        tracing::warn!(
            "--bulk: collection `{}` existed before imbed wrote to it, so its index settings stay",
            server.collection()
        );
    }
    Ok(())
}

/// After a bulk load, turns indexing back on once nothing is left pending.
pub(crate) fn finish_bulk(server: &QdrantSink, checkpoint: &Checkpoint, quiet: bool) -> anyhow::Result<()> {
    let Some(m) = checkpoint.meta(META_BULK_RESTORE_M)?.and_then(|m| m.parse::<u64>().ok()) else {
        return Ok(());
    };
    if checkpoint.totals()?.pending > 0 {
        return Ok(());
    }
    server.set_hnsw_m(m)?;
    checkpoint.set_meta(META_BULK_RESTORE_M, "")?;
    if !quiet {
        eprintln!("imbed: bulk load finished; HNSW indexing is back on (m={m}), and the server now builds the index");
    }
    Ok(())
}

/// Runs `plan` for the run recorded in `checkpoint`, holding `lock`.
#[allow(clippy::too_many_arguments)] // each is a distinct resolved input; a struct would only rename them
pub(crate) fn execute(
    global: &GlobalArgs,
    args: &RunArgs,
    command: &str,
    config: &RunConfig,
    mut checkpoint: Checkpoint,
    _lock: CheckpointLock,
    plan: &Plan<'_>,
    intra_threads: Option<usize>,
    sink: SinkOptions,
) -> anyhow::Result<ExitStatus> {
    let (intra_threads, decode_threads) = thread_split(intra_threads, args.decode_threads);
    let mut resolved = model_choice(config, intra_threads)?.resolve()?;
    let mut encoder = load_encoder(global, &resolved)?;
    resolved.info.dimension = encoder.dimension();
    let mut store = open_sink(config, args, &checkpoint, sink.server, &sink.setup, &resolved.info)?;
    checkpoint.start_run(command)?;
    if plan.pending {
        checkpoint.requeue_transient(args.max_attempts)?;
    }

    let settings = PipelineSettings {
        batch_size: config.batch_size as usize,
        decode_threads,
        decode: config.decode,
        decode_memory: args.decode_memory.saturating_mul(1 << 20),
        commit_interval: Duration::from_secs(2),
        max_attempts: args.max_attempts,
        max_failures: args.max_failures,
        max_failure_rate: args.max_failure_rate,
    };
    let mode = ProgressMode::detect(global.quiet, Duration::from_secs(args.log_interval.max(1)));
    let reporter = mode.reporter(if command == "index" { "Indexing" } else { "Resuming" });
    let stop = install_stop_handler();
    let outcome = pipeline::run(
        plan,
        &mut checkpoint,
        &resolved.spec.preprocessor,
        &mut encoder,
        store.as_sink(),
        &settings,
        reporter.as_ref(),
        stop,
    );
    let mut summary = match outcome {
        Ok(summary) => summary,
        Err(error) => {
            // Best effort: the checkpoint itself may be what failed.
            let _ = checkpoint.end_run("failed");
            eprintln!("imbed: the run stopped; what was stored is recorded. Resume with: {}", resume_command(args));
            return Err(error);
        }
    };
    summary.threads = (intra_threads, decode_threads);
    if let Some(walk) = summary.walk.as_ref().filter(|_| config.delete_missing && !summary.interrupted) {
        summary.deleted = delete_missing(&mut checkpoint, store.as_sink(), walk).inspect_err(|_| {
            let _ = checkpoint.end_run("failed");
        })?;
    }
    checkpoint.end_run(match (summary.interrupted, summary.failure_limit_hit) {
        (true, _) => "interrupted",
        (false, true) => "stopped",
        (false, false) => "finished",
    })?;
    if let (false, RunSink::Server(server)) = (summary.interrupted, &store) {
        finish_bulk(server, &checkpoint, global.quiet)?;
    }
    let store = store.as_sink();
    let points = store.count().context("cannot count the points in the store")?;
    report(&checkpoint, &summary, args, config, store, points, global.quiet)?;
    Ok(if summary.interrupted {
        ExitStatus::Interrupted
    } else if summary.failed > 0 || summary.failure_limit_hit || checkpoint.totals()?.failed > 0 {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    })
}

/// Deletes the points of items that a finished walk did not find, and marks them deleted.
/// A point is deleted before its item is marked, so a run killed between the two deletes it again.
fn delete_missing(checkpoint: &mut Checkpoint, sink: &mut dyn Sink, walk: &WalkSeen) -> anyhow::Result<u64> {
    if walk.found == 0 && checkpoint.totals()?.total > 0 {
        tracing::warn!(
            "--delete-missing: the sources hold no images now, so nothing is deleted (an unmounted volume?)"
        );
        return Ok(0);
    }
    for (folder, why) in walk.kept_folders() {
        tracing::warn!("--delete-missing: {} {why}, so its items are kept", folder.display());
    }
    let mut deleted = 0;
    let mut after = 0;
    loop {
        let page = checkpoint.present_after(after, 1024)?;
        let Some((last, _, _)) = page.last() else { return Ok(deleted) };
        after = *last;
        let (ids, points): (Vec<i64>, Vec<Uuid>) = page
            .iter()
            .filter(|(id, _, path)| walk.is_missing(*id, path.as_deref()))
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

pub(crate) fn resume_command(args: &RunArgs) -> String {
    format!("imbed resume --checkpoint {}", shell_quote(&args.checkpoint.to_string_lossy()))
}

fn shell_quote(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn report(
    checkpoint: &Checkpoint,
    summary: &RunSummary,
    args: &RunArgs,
    config: &RunConfig,
    store: &dyn Sink,
    points: u64,
    quiet: bool,
) -> anyhow::Result<()> {
    let totals = checkpoint.totals()?;
    let seconds = summary.elapsed.as_secs_f64();
    let rate = summary.done as f64 / seconds.max(1e-9);
    if args.json {
        let errors: serde_json::Map<_, _> =
            checkpoint.errors(0)?.into_iter().map(|error| (error.class, json!(error.count))).collect();
        let object = json!({
            "items": totals,
            "errors": errors,
            "run": {"planned": summary.planned, "done": summary.done, "failed": summary.failed,
                    "unchanged": summary.unchanged, "changed": summary.changed, "deleted": summary.deleted,
                    "elapsed_seconds": seconds, "images_per_second": rate,
                    "checkpoint_seconds": summary.checkpoint_time.as_secs_f64(),
                    "threads": {"intra": summary.threads.0, "decode": summary.threads.1},
                    "sink_flush_seconds": summary.flush_time.as_secs_f64(),
                    "interrupted": summary.interrupted, "failure_limit_hit": summary.failure_limit_hit},
            "checkpoint": crate::item::path_text(checkpoint.path()),
            "sink": sink_json(store, &config.collection, points),
        });
        writeln!(std::io::stdout().lock(), "{object}")?;
    }
    let mut err = std::io::stderr().lock();
    if summary.interrupted || summary.failure_limit_hit {
        let why = if summary.interrupted { "interrupted" } else { "stopped: too many failures" };
        writeln!(err, "imbed: {why}; {} items still pending. Resume with: {}", totals.pending, resume_command(args))?;
    }
    if args.json || (quiet && totals.failed == 0) {
        return Ok(());
    }
    let mut changes = String::new();
    if summary.unchanged + summary.changed > 0 {
        changes +=
            &format!(" {} unchanged and {} changed files since the last run.", summary.unchanged, summary.changed);
    }
    if summary.deleted > 0 {
        changes += &format!(" Deleted {} points of files that are gone.", summary.deleted);
    }
    writeln!(
        err,
        "Embedded {} of {} planned images in {seconds:.1}s ({rate:.1} images/s), {} failed.{changes} \
         Checkpoint: {} done, {} failed, {} pending. Collection `{}` at {} holds {points} points.",
        summary.done,
        summary.planned,
        summary.failed,
        totals.done,
        totals.failed,
        totals.pending,
        config.collection,
        store.location(),
    )?;
    for error in checkpoint.errors(0)? {
        writeln!(err, "  {}: {}", error.class, error.count)?;
    }
    if totals.failed > 0 {
        writeln!(
            err,
            "Details: imbed stats --checkpoint {0}; retry: imbed retry-failed --checkpoint {0}",
            args.checkpoint.display()
        )?;
    }
    Ok(())
}

/// The sources recorded in a checkpoint.
pub(crate) fn source_of(config: &RunConfig) -> SourceSpec {
    SourceSpec {
        paths: config.paths.clone(),
        manifests: config.manifests.clone(),
        hidden: config.hidden,
        follow_links: config.follow_links,
        strict_manifest: config.strict_manifest,
    }
}

/// `{"store": DIR}` or `{"qdrant": URL}`, with the collection and its point count.
pub(crate) fn sink_json(sink: &dyn Sink, collection: &str, points: u64) -> serde_json::Value {
    let mut object = sink.describe();
    object["collection"] = json!(collection);
    object["points"] = json!(points);
    object
}
