use anyhow::{bail, Context};

use super::run::{check_fingerprints, execute, source_of, SinkOptions};
use super::{
    collection_setup, connect_store, decode_options, preset_name, remembered_collection, resolve_model, ExitStatus,
};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointLock, RunConfig};
use crate::cli::{GlobalArgs, IndexArgs};
use crate::plan::Plan;
use crate::shard::Shard;
use crate::sink::qdrant::ServerTarget;
use crate::source::SourceSpec;

pub fn index(global: &GlobalArgs, args: IndexArgs) -> anyhow::Result<ExitStatus> {
    let source = SourceSpec {
        paths: args.paths.clone(),
        manifests: args.manifest.clone(),
        hidden: args.walk.hidden,
        follow_links: args.walk.follow_links,
        strict_manifest: args.strict_manifest,
    };
    source.validate()?;
    // A server that is down should say so before the model is hashed and loaded.
    let server = connect_store(&args.store)?;
    let decode = decode_options(&args.decode);
    // Without --model, an existing collection keeps the model it was built with.
    let remembered = remembered_collection(&args.store)?.filter(|_| args.model.model.is_none());
    let qdrant = args.store.qdrant.as_ref().map(|url| ServerTarget {
        url: url.clone(),
        vector_name: args.store.vector_name.clone(),
        api_key_used: args.store.server.api_key().is_some(),
        bulk: args.setup.bulk,
    });
    let shard = Shard::resolve(args.shard.shard, args.shard.shard_count)?;
    let resolved = resolve_model(&args.model, remembered.as_ref(), 1)?;
    let config = RunConfig {
        paths: source.paths.clone(),
        manifests: source.manifests.clone(),
        hidden: source.hidden,
        follow_links: source.follow_links,
        strict_manifest: source.strict_manifest,
        model: resolved.info.model.clone(),
        preprocess: resolved.spec.preset.map(preset_name),
        output: resolved.settings.output.clone(),
        normalize: resolved.settings.normalize,
        model_fingerprint: resolved.spec.model_fingerprint()?,
        preprocess_fingerprint: resolved.spec.preprocess_fingerprint(&decode),
        decode,
        store: args.store.store.clone(),
        collection: args.store.collection.clone(),
        qdrant,
        shard,
        verify_content: args.changes.verify_content,
        delete_missing: args.changes.delete_missing,
        batch_size: args.batch_size,
        device: resolved.settings.device.to_string(),
        working_dir: std::env::current_dir().context("cannot read the current folder")?,
    };

    let lock = CheckpointLock::acquire(&args.run.checkpoint)?;
    let checkpoint = Checkpoint::open(&args.run.checkpoint)?;
    let previous = match checkpoint.config() {
        Ok(previous) => Some(previous),
        Err(CheckpointError::NoConfig { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    if let Some(previous) = previous {
        // Same sources into the same collection: carry on, adding what is new.
        if (&previous.paths, &previous.manifests, previous.sink_location(), &previous.collection)
            != (&config.paths, &config.manifests, config.sink_location(), &config.collection)
        {
            bail!(
                "checkpoint {} belongs to another run ({} into collection `{}` at {}); \
                 pass another --checkpoint, or `imbed resume` to finish that run",
                args.run.checkpoint.display(),
                describe_sources(&source_of(&previous)),
                previous.collection,
                previous.sink_location()
            );
        }
        if previous.shard != config.shard {
            let describe =
                |shard: Option<Shard>| shard.map_or("the whole corpus".to_string(), |s| format!("shard {s}"));
            bail!(
                "checkpoint {} holds {}, not {}; give each shard its own --checkpoint",
                args.run.checkpoint.display(),
                describe(previous.shard),
                describe(config.shard)
            );
        }
        if !args.changes.reindex {
            let remedy = format!("pass --reindex to embed every item again into collection `{}`", config.collection);
            check_fingerprints(&previous, &config, &remedy, &args.run.checkpoint)?;
        }
    }
    checkpoint.set_config(&config)?;
    if args.changes.reindex {
        let requeued = checkpoint.requeue_all()?;
        tracing::info!("--reindex: {requeued} items will be embedded again");
    }
    let source = source_of(&config);
    let plan = Plan::pending_then_walk(&source, &config);
    let sink = SinkOptions { server, setup: collection_setup(&args.setup) };
    execute(global, &args.run, "index", &config, checkpoint, lock, &plan, args.model.intra_threads, sink)
}

fn describe_sources(source: &SourceSpec) -> String {
    let names: Vec<String> = source
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .chain(source.manifests.iter().map(|m| format!("--manifest {}", m.display())))
        .collect();
    names.join(" ")
}
