//! The end of a run: one JSON object with `--json`, else a summary line and the error classes.

use serde_json::json;

use crate::checkpoint::Checkpoint;
use crate::commands::printer::sink_json;
use crate::commands::settings::{RunControl, ThreadSplit};
use crate::commands::Printer;
use crate::pipeline::{RunSpec, RunSummary};
use crate::sink::Sink;

/// What the run did, with what came after the pipeline.
pub(in crate::commands) struct Outcome<'a> {
    pub summary: &'a RunSummary,
    /// Points deleted because their files are gone.
    pub deleted: u64,
    pub threads: ThreadSplit,
    /// Points in the collection now; `None` when the store could not count them.
    pub points: Option<u64>,
}

pub(in crate::commands) fn report(
    checkpoint: &Checkpoint,
    outcome: &Outcome<'_>,
    control: &RunControl,
    spec: &RunSpec,
    store: &dyn Sink,
    printer: Printer,
) -> anyhow::Result<()> {
    let Outcome { summary, deleted, threads, points } = *outcome;
    let totals = checkpoint.totals()?;
    let seconds = summary.elapsed.as_secs_f64();
    let rate = summary.done as f64 / seconds.max(1e-9);
    let errors = checkpoint.errors(0)?;
    if printer.json() {
        let error_counts: serde_json::Map<_, _> =
            errors.iter().map(|error| (error.class.clone(), json!(error.count))).collect();
        let object = json!({
            "items": totals,
            "errors": error_counts,
            "run": {"planned": summary.planned, "done": summary.done, "duplicates": summary.duplicates,
                    "refreshed": summary.refreshed, "not_refreshed": summary.not_refreshed,
                    "failed": summary.failed,
                    "unchanged": summary.unchanged, "changed": summary.changed, "deleted": deleted,
                    "elapsed_seconds": seconds, "images_per_second": rate,
                    "checkpoint_seconds": summary.checkpoint_time.as_secs_f64(),
                    "threads": {"intra": threads.intra, "decode": threads.decode},
                    "sink_flush_seconds": summary.flush_time.as_secs_f64(),
                    "interrupted": summary.interrupted, "failure_limit_hit": summary.failure_limit_hit},
            "checkpoint": crate::item::path_text(checkpoint.path()),
            "sink": sink_json(store, &spec.sink.collection, points),
        });
        printer.result(object)?;
    }
    if summary.interrupted || summary.failure_limit_hit {
        let why = if summary.interrupted { "interrupted" } else { "stopped: too many failures" };
        printer.notice(format_args!(
            "{why}; {} items still pending. Resume with: {}",
            totals.pending,
            control.resume_command()
        ));
    }
    if !summary.interrupted && !summary.failure_limit_hit && totals.pending > 0 {
        // A finished run leaves items pending only when the original of a duplicate changed
        // or went during it.
        printer.notice(format_args!(
            "{} duplicates lost their original in this run and are pending; embed them with: {}",
            totals.pending,
            control.resume_command()
        ));
    }
    let mut changes = String::new();
    if summary.unchanged + summary.changed > 0 {
        changes +=
            &format!(" {} unchanged and {} changed files since the last run.", summary.unchanged, summary.changed);
    }
    if deleted > 0 {
        changes += &format!(" Deleted {deleted} points of files that are gone.");
    }
    if summary.refreshed > 0 {
        changes += &format!(" Rewrote the payloads of {} done items.", summary.refreshed);
    }
    if summary.not_refreshed > 0 {
        changes +=
            &format!(" {} payloads could not be made again; their points are as they were.", summary.not_refreshed);
    }
    if summary.duplicates > 0 {
        changes += &format!(" {} duplicates of items already done, not embedded.", summary.duplicates);
    }
    let important = totals.failed > 0;
    printer.summary(
        format_args!(
            "Embedded {} of {} planned images in {seconds:.1}s ({rate:.1} images/s), {} failed.{changes} \
             Checkpoint: {} done, {} failed, {} pending{}. Collection `{}` at {} holds {}.",
            summary.done,
            summary.planned,
            summary.failed,
            totals.done,
            totals.failed,
            totals.pending,
            if totals.duplicate > 0 { format!(", {} duplicates", totals.duplicate) } else { String::new() },
            spec.sink.collection,
            store.location(),
            points.map_or("an unknown number of points".to_string(), |points| format!("{points} points")),
        ),
        important,
    );
    for error in &errors {
        printer.summary(format_args!("  {}: {}", error.class, error.count), important);
    }
    if important {
        // A notice, so that a `--json` or `--quiet` run says it too (on stderr).
        printer.notice(format_args!(
            "{} items failed. Details: imbed stats --checkpoint {}; retry: {}",
            totals.failed,
            control.quoted_checkpoint(),
            control.retry_command()
        ));
    }
    Ok(())
}
