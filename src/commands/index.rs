//! `imbed index`: a new run, or the same run again over its checkpoint (embedding what is new
//! or changed).

use anyhow::{bail, Context};

use super::query::{decode_options, model_config, remembered_collection, text_model_config};
use super::run::{execute, Prepared, RunControl, RunRequest};
use super::{server, ExitStatus, Printer};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointLock};
use crate::cli::{GlobalArgs, IndexArgs};
use crate::fetch::{Endpoints, RemoteOptions};
use crate::locator::{ignore_query_parameters, Location, Locator};
use crate::pipeline::{Plan, RunRecord, RunSpec};
use crate::shard::Shard;
use crate::sink::{ServerTarget, SinkTarget};
use crate::source::SourceSpec;

pub fn index(global: &GlobalArgs, printer: Printer, args: IndexArgs) -> anyhow::Result<ExitStatus> {
    let sources = SourceSpec {
        paths: args.paths.iter().map(|path| canonical_source(path)).collect(),
        manifests: args.manifest.iter().map(|manifest| Locator::new(manifest.as_path())).collect(),
        hidden: args.walk.hidden,
        follow_links: args.walk.follow_links,
        strict_manifest: args.strict_manifest,
        remote: RemoteOptions::from_env(
            Endpoints {
                s3: args.s3_endpoint.clone(),
                gcs: args.gcs_endpoint.clone(),
                azure: args.azure_endpoint.clone(),
            },
            args.no_sign,
        ),
        ignore_query_params: args.ignore_query_param.clone(),
    };
    ignore_query_parameters(&sources.ignore_query_params);
    let control = RunControl::from_args(&args.run, args.model.intra_threads);
    let decode = decode_options(&args.decode);
    // Remote sources are checked (bucket, credentials, endpoint) before the model loads.
    let remote = control.remote(&sources, decode.limits.max_file_size)?;
    sources.validate(&remote)?;
    // A server that is down should say so before the model is hashed and loaded.
    let server = match &args.store.qdrant {
        Some(url) => {
            Some(server::connect(url, &args.store.collection, args.store.vector_name.clone(), &args.store.server)?)
        }
        None => None,
    };
    // Without --model, an existing collection keeps the model it was built with.
    let remembered = remembered_collection(&args.store)?;
    let qdrant = args.store.qdrant.as_ref().map(|url| ServerTarget {
        url: url.clone(),
        vector_name: args.store.vector_name.clone(),
        api_key_used: args.store.server.api_key().is_some(),
        setup: server::collection_setup(&args.setup),
    });
    let spec = RunSpec {
        sources,
        model: model_config(&args.model, remembered.as_ref())?,
        text_model: text_model_config(&args.text_model, remembered.as_ref())?,
        sink: SinkTarget { store: args.store.store.clone(), collection: args.store.collection.clone(), qdrant },
        decode,
        batch_size: args.batch_size,
        shard: Shard::resolve(args.shard.shard, args.shard.shard_count)?,
        verify_content: args.changes.verify_content,
        delete_missing: args.changes.delete_missing,
        working_dir: std::env::current_dir().context("cannot read the current folder")?,
    };

    if let Some(text_model) = &spec.text_model {
        // Recorded, not loaded: a typo should still fail now rather than at the first search.
        text_model.resolve()?;
    }
    // A model or device that cannot be used fails before any checkpoint is written.
    let prepared = Prepared::new(global, spec, control.threads)?;
    let lock = CheckpointLock::acquire(&args.run.checkpoint)?;
    let checkpoint = Checkpoint::open(&args.run.checkpoint)?;
    let previous: Option<RunRecord> = match checkpoint.config() {
        Ok(previous) => Some(previous),
        Err(CheckpointError::NoConfig { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    if let Some(previous) = &previous {
        check_same_run(&previous.spec, &prepared.spec, &checkpoint)?;
    }
    if let Some(previous) = &previous {
        let remedy =
            format!("pass --reindex to embed every item again into collection `{}`", prepared.spec.sink.collection);
        prepared.check_against(previous, &checkpoint, (!args.changes.reindex).then_some(remedy.as_str()))?;
    }
    checkpoint.set_config(&prepared.record())?;
    if args.changes.reindex {
        let requeued = checkpoint.requeue_all()?;
        printer.message(format_args!("imbed: --reindex: {requeued} items will be embedded again"));
    }
    let sources = prepared.spec.sources.clone();
    let plan = Plan::pending_then_walk(&sources, &prepared.spec);
    let request = RunRequest { command: "index", prepared, checkpoint, lock, plan, control, server, remote };
    execute(printer, request)
}

/// An object-store prefix in its canonical form (`azure://` as `az://`), so that the keys
/// listed under it start with it; anything else as given.
fn canonical_source(path: &std::path::Path) -> std::path::PathBuf {
    match Location::of_path(path) {
        Some(location @ Location::Object { .. }) => location.identity().into(),
        _ => path.to_path_buf(),
    }
}

/// Same sources into the same collection, in the same shard: carry on, adding what is new.
fn check_same_run(previous: &RunSpec, spec: &RunSpec, checkpoint: &Checkpoint) -> anyhow::Result<()> {
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
        let describe = |shard: Option<Shard>| shard.map_or("the whole corpus".to_string(), |s| format!("shard {s}"));
        bail!(
            "checkpoint {} holds {}, not {}; give each shard its own --checkpoint",
            checkpoint.path().display(),
            describe(previous.shard),
            describe(spec.shard)
        );
    }
    Ok(())
}
