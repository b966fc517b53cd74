//! The run that index, resume and retry-failed share: model, store, checkpoint, pipeline, summary.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;

use super::{install_stop_handler, load_encoder, parse_preset, thread_split, ExitStatus, ModelChoice};
use crate::checkpoint::{Checkpoint, CheckpointLock, RunConfig};
use crate::cli::{GlobalArgs, RunArgs};
use crate::embed::ModelSpec;
use crate::pipeline::{self, PipelineSettings, RunSummary};
use crate::plan::Plan;
use crate::progress::ProgressMode;
use crate::sink::edge::ensure_free_space;
use crate::sink::{EdgeStore, Sink};
use crate::source::SourceSpec;

/// Refuses a checkpoint whose model or preprocessing changed since its run started.
/// `current` holds the fingerprints of the model on disk now.
pub(crate) fn check_fingerprints(
    recorded: &RunConfig,
    current: &RunConfig,
    force: bool,
    checkpoint: &Path,
) -> anyhow::Result<()> {
    let model_changed = recorded.model_fingerprint != current.model_fingerprint;
    let preprocess_changed = recorded.preprocess_fingerprint != current.preprocess_fingerprint;
    if force || !(model_changed || preprocess_changed) {
        return Ok(());
    }
    let what = match (model_changed, preprocess_changed) {
        (true, true) => "model.onnx and its preprocessing have",
        (true, false) => "model.onnx has",
        _ => "the preprocessing has",
    };
    bail!(
        "{what} changed since the run in {} started, so new vectors would not match stored ones; \
         pass --force to go on anyway, or index into a new collection with a new --checkpoint",
        checkpoint.display()
    )
}

/// Opens the checkpoint of an existing run for resume or retry-failed, refusing a changed model.
pub(crate) fn open_existing(args: &RunArgs, force: bool) -> anyhow::Result<(Checkpoint, CheckpointLock, RunConfig)> {
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
    let choice = model_choice(&config, 1)?;
    let spec = ModelSpec::resolve(&choice.model, choice.preset)?;
    let current = RunConfig {
        model_fingerprint: spec.model_fingerprint()?,
        preprocess_fingerprint: spec.preprocess_fingerprint(config.decode.background),
        ..config.clone()
    };
    check_fingerprints(&config, &current, force, &args.checkpoint)?;
    Ok((checkpoint, lock, config))
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
) -> anyhow::Result<ExitStatus> {
    let (intra_threads, decode_threads) = thread_split(intra_threads, args.decode_threads);
    let mut resolved = model_choice(config, intra_threads)?.resolve()?;
    let mut encoder = load_encoder(global, &resolved)?;
    resolved.info.dimension = encoder.dimension();
    ensure_free_space(&config.store, args.min_free_space.saturating_mul(1 << 20))?;
    let mut store = EdgeStore::open_or_create(&config.store, &config.collection, &resolved.info)?
        .with_min_free_space(args.min_free_space.saturating_mul(1 << 20));
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
        &mut store,
        &settings,
        reporter.as_ref(),
        stop,
    );
    let summary = match outcome {
        Ok(summary) => summary,
        Err(error) => {
            // Best effort: the checkpoint itself may be what failed.
            let _ = checkpoint.end_run("failed");
            eprintln!("imbed: the run stopped; what was stored is recorded. Resume with: {}", resume_command(args));
            return Err(error);
        }
    };
    checkpoint.end_run(match (summary.interrupted, summary.failure_limit_hit) {
        (true, _) => "interrupted",
        (false, true) => "stopped",
        (false, false) => "finished",
    })?;
    let points = store.count().context("cannot count the points in the store")?;
    report(&checkpoint, &summary, args, config, &store, points, global.quiet)?;
    Ok(if summary.interrupted {
        ExitStatus::Interrupted
    } else if summary.failed > 0 || summary.failure_limit_hit || checkpoint.totals()?.failed > 0 {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    })
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
    store: &EdgeStore,
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
                    "elapsed_seconds": seconds, "images_per_second": rate,
                    "checkpoint_seconds": summary.checkpoint_time.as_secs_f64(),
                    "sink_flush_seconds": summary.flush_time.as_secs_f64(),
                    "interrupted": summary.interrupted, "failure_limit_hit": summary.failure_limit_hit},
            "checkpoint": checkpoint.path(),
            "sink": {"store": store.dir(), "collection": config.collection, "points": points},
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
    writeln!(
        err,
        "Embedded {} of {} planned images in {seconds:.1}s ({rate:.1} images/s), {} failed. \
         Checkpoint: {} done, {} failed, {} pending. Collection `{}` at {} holds {points} points.",
        summary.done,
        summary.planned,
        summary.failed,
        totals.done,
        totals.failed,
        totals.pending,
        config.collection,
        store.dir().display(),
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
