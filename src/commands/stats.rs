use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Value};

use super::settings::{ServerAccess, StatsSettings};
use super::{identity, server, ExitStatus, Printer};
use crate::checkpoint::{self, now_millis, Checkpoint, Totals};
use crate::pipeline::{RunRecord, RunSpec};
use crate::sink::qdrant::ServerTarget;
use crate::sink::{EdgeStore, IndexId, QdrantSink, Sink};

/// Example paths shown per error class.
const EXAMPLES: usize = 3;

/// Reads checkpoints without locking them, so it works beside a running index.
pub fn stats(printer: Printer, settings: StatsSettings) -> anyhow::Result<ExitStatus> {
    let paths = &settings.checkpoints;
    let mut totals = Totals::default();
    let mut errors: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    let mut runs = Vec::new();
    let mut sinks = BTreeSet::new();
    let mut servers: BTreeMap<(String, String), (ServerTarget, bool)> = BTreeMap::new();
    // Checkpoints whose run configuration does not parse: where they store is unknown.
    let mut unreadable = Vec::new();
    // Per run: the index identity its checkpoint recorded, and where its index is.
    let mut indexes: Vec<Option<(Option<IndexId>, RunSpec)>> = Vec::new();
    for path in paths {
        let checkpoint = Checkpoint::open_read_only(path)?;
        let these = checkpoint.totals()?;
        totals += these;
        for error in checkpoint.errors(EXAMPLES)? {
            let entry = errors.entry(error.class).or_default();
            entry.0 += error.count;
            entry.1.extend(error.examples);
            entry.1.truncate(EXAMPLES);
        }
        let config = match checkpoint.config::<RunRecord>().map(|record| record.spec) {
            Ok(config) => Some(config),
            // A checkpoint that never started a run has no configuration, and no store.
            Err(checkpoint::CheckpointError::NoConfig { .. }) => None,
            Err(error) => {
                printer.warning(format_args!("{error}; its store is not counted"));
                unreadable.push(path.display().to_string());
                None
            }
        };
        runs.push(run_info(&checkpoint, path, config.as_ref(), these)?);
        indexes.push(match &config {
            Some(config) => Some((identity::recorded(&checkpoint)?, config.clone())),
            None => None,
        });
        if let Some(config) = config {
            match config.sink.qdrant.clone() {
                Some(target) => {
                    let bulk = server::bulk_load(&checkpoint)?.restore_m.is_some();
                    let entry = servers.entry((target.url.clone(), config.sink.collection)).or_insert((target, false));
                    entry.1 |= bulk;
                }
                None => {
                    sinks.insert((config.store_dir(), config.sink.collection));
                }
            }
        }
    }
    let collections = server_states(&servers, &settings.access);
    for (run, index) in runs.iter_mut().zip(&indexes) {
        if let Some((recorded, spec)) = index {
            run["index"] = index_json(recorded.as_ref(), spec, &collections);
        }
    }
    let sink = if unreadable.is_empty() {
        sink_points(&sinks)
            .map(|points| points + collections.iter().filter_map(|state| state["points"].as_u64()).sum::<u64>())
    } else {
        Err(format!("the run configuration of {} cannot be read", unreadable.join(", ")))
    };

    if settings.json {
        let error_counts: serde_json::Map<_, _> =
            errors.iter().map(|(class, (count, _))| (class.clone(), json!(count))).collect();
        let examples: serde_json::Map<_, _> =
            errors.iter().map(|(class, (_, examples))| (class.clone(), json!(examples))).collect();
        let mut object = json!({"items": totals, "errors": error_counts, "error_examples": examples, "runs": runs});
        object["sink"] = match &sink {
            Ok(points) => json!({"points": points}),
            Err(reason) => json!({"error": reason}),
        };
        if !collections.is_empty() {
            object["sink"]["collections"] = json!(collections);
        }
        printer.result(object)?;
        return Ok(ExitStatus::Success);
    }
    let mut items = format!(
        "Items: {} total, {} done, {} failed, {} pending",
        totals.total, totals.done, totals.failed, totals.pending
    );
    if totals.duplicate > 0 {
        items += &format!(", {} duplicates (their bytes are a done item's)", totals.duplicate);
    }
    if totals.deleted > 0 {
        items += &format!(" ({} deleted: their files are gone)", totals.deleted);
    }
    printer.result(items)?;
    for (class, (count, examples)) in &errors {
        printer.result(format_args!("  {class}: {count}"))?;
        for example in examples {
            printer.result(format_args!("    {example}"))?;
        }
    }
    for run in &runs {
        printer.result(describe_run(run))?;
    }
    for state in &collections {
        printer.result(describe_collection(state))?;
    }
    match sink {
        Ok(points) => printer.result(format_args!("Store: {points} points"))?,
        Err(reason) => printer.result(format_args!("Store: not counted ({reason})"))?,
    }
    Ok(ExitStatus::Success)
}

fn run_info(
    checkpoint: &Checkpoint,
    path: &std::path::Path,
    config: Option<&RunSpec>,
    totals: Totals,
) -> anyhow::Result<Value> {
    let millis = |key: &str| -> anyhow::Result<Option<i64>> { Ok(checkpoint.meta(key)?.and_then(|v| v.parse().ok())) };
    let started = millis("run_started_at")?;
    let ended = millis("run_ended_at")?;
    let done_at_start = millis("run_done_at_start")?.unwrap_or(0);
    let running = checkpoint::is_running(path)?;
    let end = ended.filter(|_| !running).unwrap_or_else(now_millis);
    let elapsed = started.map(|start| (end - start).max(0) as f64 / 1000.0);
    let rate = elapsed.filter(|&e| e > 0.0).map(|e| (totals.done as i64 - done_at_start).max(0) as f64 / e);
    let eta = rate.filter(|&r| running && r > 0.0).map(|r| totals.pending as f64 / r);
    let outcome = checkpoint.meta("run_outcome")?.filter(|outcome| !outcome.is_empty());
    let state = match (running, outcome, started) {
        (true, _, _) => "running".to_string(),
        (false, Some(outcome), _) => outcome,
        (false, None, Some(_)) => "killed".to_string(),
        (false, None, None) => "not started".to_string(),
    };
    let shard = config.and_then(|config| config.shard.as_ref()).map(|shard| shard.to_string());
    Ok(json!({
        "checkpoint": crate::item::path_text(path),
        "shard": shard,
        "items": totals,
        "command": checkpoint.meta("run_command")?,
        "state": state,
        "elapsed_seconds": elapsed,
        "items_per_second": rate,
        "eta_seconds": eta,
    }))
}

fn describe_run(run: &Value) -> String {
    let mut line = format!(
        "Run: {} ({}) in {}",
        run["command"].as_str().unwrap_or("none"),
        run["state"].as_str().unwrap_or("unknown"),
        run["checkpoint"].as_str().unwrap_or("?")
    );
    if let Some(shard) = run["shard"].as_str() {
        line += &format!(", shard {shard}");
    }
    if let Some(elapsed) = run["elapsed_seconds"].as_f64() {
        line += &format!(", {elapsed:.0}s");
    }
    if let Some(rate) = run["items_per_second"].as_f64() {
        line += &format!(", {rate:.1} items/s");
    }
    if let Some(eta) = run["eta_seconds"].as_f64() {
        line += &format!(", ETA {eta:.0}s");
    }
    if let Some(index) = run["index"]["described"].as_str() {
        line += &format!("\n  Index: {index}");
    }
    line
}

/// The identity of a run's index beside the one its checkpoint recorded: from the embedded
/// store's info file (readable beside a running index), or from the server's state.
fn index_json(recorded: Option<&IndexId>, spec: &RunSpec, collections: &[Value]) -> Value {
    let collection = &spec.sink.collection;
    let (exists, current) = match &spec.sink.qdrant {
        None => {
            let store = spec.store_dir();
            let exists = EdgeStore::stored_dimension(&store, collection).is_ok_and(|dimension| dimension.is_some());
            let info = EdgeStore::read_info(&store, collection).ok().flatten();
            (exists, info.and_then(|info| info.index))
        }
        Some(target) => {
            let state = collections
                .iter()
                .find(|state| state["qdrant"] == target.url.as_str() && state["collection"] == collection.as_str());
            let Some(state) = state.filter(|state| state.get("error").is_none()) else {
                return json!({"recorded_id": recorded.map(|identity| identity.id), "matches": null});
            };
            (state["exists"] != false, serde_json::from_value::<IndexId>(state["identity"].clone()).ok())
        }
    };
    let mut object = identity::identity_json(recorded, current.as_ref(), exists);
    object["described"] = json!(identity::describe_identity(recorded, current.as_ref(), exists));
    object
}

/// Points in the stores the checkpoints write to; a store in use by a running index is locked.
fn sink_points(sinks: &BTreeSet<(PathBuf, String)>) -> Result<u64, String> {
    let mut points = 0;
    for (store, collection) in sinks {
        let opened = EdgeStore::open(store, collection).map_err(|error| format!("{error:#}"))?;
        points += opened.count().map_err(|error| error.to_string())?;
    }
    Ok(points)
}

/// The state of each server collection the checkpoints write to; an unreachable server is
/// reported, not fatal, since stats must work while a server is down.
fn server_states(servers: &BTreeMap<(String, String), (ServerTarget, bool)>, access: &ServerAccess) -> Vec<Value> {
    servers
        .iter()
        .map(|((url, collection), (target, bulk))| {
            let mut object = json!({"qdrant": url, "collection": collection, "bulk_load": bulk});
            let connection = access.connection(url);
            let state = QdrantSink::connect(connection, collection, target.vector_name.clone()).and_then(|server| {
                if server.exists()? {
                    server.state().map(Some)
                } else {
                    Ok(None)
                }
            });
            match state {
                // Dropped, or a server on an empty volume: `index` or `resume` sends it all again.
                Ok(None) => {
                    object["exists"] = json!(false);
                    object["points"] = json!(0);
                }
                Ok(Some(state)) => {
                    object["status"] = json!(state.status);
                    object["points"] = json!(state.points);
                    object["indexed_vectors"] = json!(state.indexed_vectors);
                    object["hnsw_m"] = json!(state.hnsw_m);
                    object["identity"] = json!(state.identity);
                }
                Err(error) => object["error"] = json!(format!("{error:#}")),
            }
            object
        })
        .collect()
}

fn describe_collection(state: &Value) -> String {
    let mut line = format!(
        "Server {}: collection `{}`",
        state["qdrant"].as_str().unwrap_or("?"),
        state["collection"].as_str().unwrap_or("?")
    );
    if let Some(error) = state["error"].as_str() {
        return line + &format!(" not reachable ({error})");
    }
    if state["exists"] == false {
        return line + " does not exist";
    }
    line += &format!(
        " is {}, {} points, {} indexed vectors",
        state["status"].as_str().unwrap_or("unknown"),
        state["points"],
        state["indexed_vectors"]
    );
    if let Some(m) = state["hnsw_m"].as_u64() {
        line += &format!(", HNSW m={m}");
    }
    if state["bulk_load"].as_bool() == Some(true) {
        line += " (bulk load: indexing is off until the run finishes)";
    }
    line
}
