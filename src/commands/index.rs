use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::{
    install_stop_handler, load_encoder, remembered_collection, resolve_model, thread_split,
    ExitStatus,
};
use crate::cli::{GlobalArgs, IndexArgs};
use crate::decode::DEFAULT_MAX_PIXELS;
use crate::pipeline::{self, PipelineSettings, RunSummary};
use crate::progress::ProgressMode;
use crate::sink::{EdgeStore, Sink};
use crate::source::SourceSpec;

pub fn index(global: &GlobalArgs, args: IndexArgs) -> anyhow::Result<ExitStatus> {
    let source = SourceSpec {
        paths: args.paths,
        manifests: args.manifest,
        hidden: args.walk.hidden,
        follow_links: args.walk.follow_links,
    };
    source.validate()?;
    let (intra_threads, decode_threads) =
        thread_split(args.model.intra_threads, args.pipeline.decode_threads);
    // A new collection takes this model; an existing one keeps what it was built with unless overridden.
    let remembered = remembered_collection(&args.store)?.filter(|_| args.model.model.is_none());
    let mut resolved = resolve_model(&args.model, remembered.as_ref(), intra_threads)?;
    let mut encoder = load_encoder(global, &resolved)?;
    resolved.info.dimension = encoder.dimension();
    let mut store =
        EdgeStore::open_or_create(&args.store.store, &args.store.collection, &resolved.info)?;

    let settings = PipelineSettings {
        batch_size: args.pipeline.batch_size as usize,
        decode_threads,
        max_pixels: DEFAULT_MAX_PIXELS,
        flush_interval: Duration::from_secs(5),
    };
    let mode = ProgressMode::detect(
        global.quiet,
        Duration::from_secs(args.pipeline.log_interval.max(1)),
    );
    let reporter = mode.reporter("Indexing");
    let stop = install_stop_handler();
    let summary = pipeline::run(
        &source,
        &resolved.spec.preprocessor,
        &mut encoder,
        &mut store,
        &settings,
        reporter.as_ref(),
        stop,
    )?;
    let points = store
        .count()
        .context("cannot count the points in the store")?;
    print_summary(
        &summary,
        &args.store.collection,
        &store,
        points,
        args.json,
        global.quiet,
    )?;
    Ok(if summary.interrupted {
        ExitStatus::Interrupted
    } else if summary.failed > 0 {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    })
}

fn print_summary(
    summary: &RunSummary,
    collection: &str,
    store: &EdgeStore,
    points: u64,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let seconds = summary.elapsed.as_secs_f64();
    let rate = summary.done as f64 / seconds.max(1e-9);
    if json {
        let errors: serde_json::Map<_, _> = summary
            .failures_by_class
            .iter()
            .map(|(class, count)| (class.to_string(), json!(count)))
            .collect();
        let object = json!({
            "items": {"total": summary.discovered, "done": summary.done, "failed": summary.failed,
                      "pending": summary.discovered.saturating_sub(summary.done + summary.failed)},
            "errors": errors,
            "elapsed_seconds": seconds,
            "images_per_second": rate,
            "interrupted": summary.interrupted,
            "sink": {"store": store.dir(), "collection": collection, "points": points},
        });
        writeln!(std::io::stdout().lock(), "{object}")?;
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    if summary.interrupted {
        writeln!(err, "imbed: interrupted; the items stored so far are kept")?;
    }
    if quiet && summary.failed == 0 {
        return Ok(());
    }
    writeln!(
        err,
        "Indexed {} of {} images in {seconds:.1}s ({rate:.1} images/s): {} failed. Collection `{collection}` at {} holds {points} points.",
        summary.done,
        summary.discovered,
        summary.failed,
        store.dir().display(),
    )?;
    for (class, count) in &summary.failures_by_class {
        writeln!(err, "  {class}: {count}")?;
    }
    Ok(())
}
