//! `imbed push`: copies a collection of the embedded store into a Qdrant server collection.
//!
//! Points keep their IDs, so copying again overwrites instead of duplicating. After each page
//! the server acknowledged, the checkpoint records the ID where the next page starts; an
//! interrupted push resumes there.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use uuid::Uuid;

use super::printer::sink_json;
use super::settings::PushSettings;
use super::{identity, install_stop_handler, server, ExitStatus, Printer};
use crate::checkpoint::{Checkpoint, CheckpointLock};
use crate::sink::{EdgeStore, QdrantSink, Sink};

const META_SOURCE: &str = "push_source";
const META_TARGET: &str = "push_target";
/// The ID where the next page starts; empty once the push finished.
const META_NEXT: &str = "push_next";
const META_PUSHED: &str = "push_pushed";

pub fn push(printer: Printer, args: PushSettings) -> anyhow::Result<ExitStatus> {
    let printer = printer.with_json(args.json);
    let target_collection = args.to_collection.clone();
    let store = EdgeStore::open(&args.store, &args.collection)?;
    let source = format!("{}#{}", std::path::absolute(store.dir())?.display(), args.collection);
    let target = format!("{}#{}", args.server.url, target_collection);

    let lock = CheckpointLock::acquire(&args.checkpoint)?;
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    for (key, value) in [(META_SOURCE, &source), (META_TARGET, &target)] {
        match checkpoint.meta(key)? {
            Some(recorded) if &recorded != value => bail!(
                "checkpoint {} records a push of {} to {}; pass another --checkpoint",
                args.checkpoint.display(),
                checkpoint.meta(META_SOURCE)?.unwrap_or_default(),
                checkpoint.meta(META_TARGET)?.unwrap_or_default()
            ),
            Some(_) => {}
            None => checkpoint.set_meta(key, value)?,
        }
    }
    // A finished push starts over: the store may have grown since, and copies are idempotent.
    let mut next: Option<Uuid> = match checkpoint.meta(META_NEXT)?.filter(|next| !next.is_empty()) {
        Some(next) => Some(next.parse().with_context(|| format!("corrupt checkpoint {}", args.checkpoint.display()))?),
        None => None,
    };
    let mut pushed: u64 = match next {
        Some(_) => checkpoint.meta(META_PUSHED)?.and_then(|n| n.parse().ok()).unwrap_or(0),
        None => 0,
    };

    let page = (args.server.upsert_batch * args.server.upsert_parallel).max(1);
    let url = args.server.url.clone();
    let mut server = QdrantSink::connect(args.server, &target_collection, args.vector_name.clone())?;
    // A push that stopped part way into a collection since lost or replaced starts over.
    let mut start_over = false;
    let place = identity::Place {
        checkpoint: &checkpoint,
        collection: &target_collection,
        location: &url,
        repair: !args.no_repair,
        printer,
    };
    let mut send_again = || {
        start_over = true;
        Ok(checkpoint.set_meta(META_NEXT, "")?)
    };
    let in_progress = if next.is_some() { pushed } else { 0 };
    let exists = server.exists()?;
    place.check_exists(
        exists,
        identity::Sent { count: in_progress, what: "pushed points", send_again: &mut send_again },
    )?;
    server::open_for_load(&mut server, &checkpoint, store.dimension(), &args.setup)?;
    let in_progress = if exists { in_progress } else { 0 };
    let sent = identity::Sent { count: in_progress, what: "pushed points", send_again: &mut send_again };
    place.check_identity(&mut server, sent)?;
    if start_over {
        (next, pushed) = (None, 0);
    }

    let total = store.count()?;
    let reporter = printer.progress("Pushing", Duration::from_secs(10));
    reporter.discovered(total);
    reporter.progressed(pushed, 0);
    let stop = install_stop_handler(printer);
    let started = Instant::now();
    let mut pushed_now = 0u64;
    // Enough points per page to keep every parallel request busy.
    let mut interrupted = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let (points, following) = store.read_points(next, page)?;
        let count = points.len() as u64;
        if count > 0 {
            server.upsert(points).map_err(|error| {
                anyhow::anyhow!("{error}; what was copied is recorded, run the same `imbed push` to go on")
            })?;
        }
        pushed += count;
        pushed_now += count;
        next = following;
        checkpoint.set_meta(META_PUSHED, &pushed.to_string())?;
        checkpoint.set_meta(META_NEXT, &next.map(|id| id.to_string()).unwrap_or_default())?;
        reporter.progressed(pushed, 0);
        if next.is_none() {
            break;
        }
    }
    reporter.finish();
    if !interrupted {
        if let Some(m) = server::finish_bulk(&server, &checkpoint)? {
            printer.summary(format_args!("imbed: bulk load finished; HNSW indexing is back on (m={m})"), false);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let points = server.count()?;
    let rate = pushed_now as f64 / seconds.max(1e-9);
    if args.json {
        let object = json!({
            "pushed": pushed_now, "elapsed_seconds": seconds, "points_per_second": rate,
            "interrupted": interrupted, "checkpoint": args.checkpoint,
            "sink": sink_json(&server, &target_collection, points),
        });
        printer.result(object)?;
    }
    printer.summary(
        format_args!(
            "Pushed {pushed_now} points in {seconds:.1}s ({rate:.0} points/s). Collection `{target_collection}` \
             at {} holds {points} points.",
            url
        ),
        false,
    );
    drop(lock);
    if interrupted {
        printer.notice("interrupted; run the same `imbed push` again to go on from where it stopped");
        return Ok(ExitStatus::Interrupted);
    }
    Ok(ExitStatus::Success)
}
