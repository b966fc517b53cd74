//! `imbed index`: a new run, or the same run again over its checkpoint (embedding what is new
//! or changed).

use super::run::{execute, Prepared, RunRequest};
use super::settings::{GlobalSettings, RunSettings};
use super::{ExitStatus, Printer};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointLock};
use crate::pipeline::{Plan, RunRecord};
use crate::sink::QdrantSink;

pub fn index(global: &GlobalSettings, printer: Printer, settings: RunSettings) -> anyhow::Result<ExitStatus> {
    let (spec, control, reindex, refresh_payload) =
        (settings.spec, settings.control, settings.reindex, settings.refresh_payload);
    // Remote sources are checked (bucket, credentials, endpoint) before the model loads.
    let remote = crate::fetch::Remote::new(spec.sources.remote.clone(), control.fetch.clone())?;
    spec.sources.validate(&remote)?;
    // A server that is down should say so before the model is hashed and loaded.
    let collection = &spec.sink.collection;
    let vector_name = spec.sink.qdrant.as_ref().and_then(|target| target.vector_name.clone());
    let server =
        settings.server.map(|connection| QdrantSink::connect(connection, collection, vector_name)).transpose()?;
    if let Some(text_model) = &spec.text_model {
        // Recorded, not loaded: a typo should still fail now rather than at the first search.
        text_model.resolve()?;
    }
    // A model or device that cannot be used fails before any checkpoint is written.
    let prepared = Prepared::new(global, spec, control.threads)?;
    let lock = CheckpointLock::acquire(&control.checkpoint)?;
    let checkpoint = Checkpoint::open(&control.checkpoint)?;
    let previous: Option<RunRecord> = match checkpoint.config() {
        Ok(previous) => Some(previous),
        Err(CheckpointError::NoConfig { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    if let Some(previous) = &previous {
        prepared.check_same_run(&previous.spec, &checkpoint)?;
        let remedy =
            format!("pass --reindex to embed every item again into collection `{}`", prepared.spec.sink.collection);
        prepared.check_against(previous, &checkpoint, (!reindex).then_some(remedy.as_str()))?;
    }
    checkpoint.set_config(&prepared.record(&control))?;
    if reindex {
        let requeued = checkpoint.requeue_all()?;
        printer.message(format_args!("imbed: --reindex: {requeued} items will be embedded again"));
    }
    let sources = prepared.spec.sources.clone();
    let plan = Plan { refresh_payload, ..Plan::pending_then_walk(&sources, &prepared.spec) };
    let request = RunRequest { command: "index", prepared, checkpoint, lock, plan, control, server, remote };
    execute(printer, request)
}
