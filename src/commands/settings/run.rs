//! The settings of a run (index, resume, retry-failed): what it takes, how it goes, where
//! it writes. `index` resolves them from flags; resume and retry-failed from the checkpoint's
//! record, with flags given now over what it recorded.

use std::path::PathBuf;

use super::control::{given_control, RunControl, RunShape};
use super::model::{image_options, model_config, text_model_config};
use super::server::collection_setup;
use super::{Environment, ServerAccess, StoreSettings};
use crate::cli::{ConnectionArgs, IndexArgs, RunArgs, WriteArgs};
use crate::fetch::{Endpoints, RemoteOptions};
use crate::item::ErrorClass;
use crate::locator::{Location, Locator};
use crate::pipeline::{RecordedControl, RunRecord, RunSpec};
use crate::shard::Shard;
use crate::sink::qdrant::Connection;
use crate::sink::{ServerTarget, SinkTarget};
use crate::source::SourceSpec;

/// Everything a run needs, resolved.
#[derive(Debug)]
pub struct RunSettings {
    /// What the checkpoint records: sources, model, store, decoding.
    pub spec: RunSpec,
    pub control: RunControl,
    /// The server, when the run writes to one.
    pub server: Option<Connection>,
    /// index: `--reindex`, every item again.
    pub reindex: bool,
    /// index: `--refresh-payload`, the payloads of done items again.
    pub refresh_payload: bool,
    /// resume, retry-failed: go on with a changed model.
    pub force: bool,
    /// retry-failed: the classes to retry, or all.
    pub classes: Vec<ErrorClass>,
}

impl RunSettings {
    /// A new run, from the command line.
    pub fn index(args: IndexArgs, env: &Environment) -> anyhow::Result<Self> {
        let store = StoreSettings::resolve(&args.store, Some(&args.write), env);
        // Without --model, an existing collection keeps the model it was built with.
        let remembered = store.remembered()?;
        let mut decode = image_options(&args.decode);
        decode.limits.payload_gps = args.payload_gps;
        let model = model_config(&args.model, remembered.as_ref())?;
        let text_model = text_model_config(&args.text_model, remembered.as_ref())?;
        let setup = collection_setup(&args.setup);
        let recorded = given_control(&args.run, &args.write, &RecordedControl::default());
        let shape = RunShape { batch_size: args.batch_size, max_file_size: decode.limits.max_file_size };
        let control = RunControl::resolve(&args.run, shape, args.model.intra_threads, recorded);
        let shard = Shard::resolve(args.shard.shard, args.shard.shard_count, |name| env.var(name))?;
        let remote = RemoteOptions::from_variables(
            Endpoints { s3: args.s3_endpoint, gcs: args.gcs_endpoint, azure: args.azure_endpoint },
            args.no_sign,
            |name| env.var(name),
        );
        let sources = SourceSpec {
            paths: args.paths.iter().map(|path| canonical_source(path)).collect(),
            manifests: args.manifest.iter().map(|manifest| Locator::new(manifest.as_path())).collect(),
            hidden: args.walk.hidden,
            follow_links: args.walk.follow_links,
            strict_manifest: args.strict_manifest,
            remote,
            ignore_query_params: args.ignore_query_param,
        };
        let qdrant = store.server.as_ref().map(|server| ServerTarget {
            url: server.url.clone(),
            vector_name: store.vector_name.clone(),
            api_key_used: server.api_key.is_some(),
            setup,
        });
        let spec = RunSpec {
            sources,
            model,
            text_model,
            sink: SinkTarget { store: store.store, collection: store.collection, qdrant },
            decode,
            batch_size: args.batch_size,
            shard,
            verify_content: args.changes.verify_content,
            delete_missing: args.changes.delete_missing,
            skip_duplicates: args.changes.skip_duplicates,
            working_dir: env.current_dir()?,
        };
        Ok(Self {
            spec,
            control,
            server: store.server,
            reindex: args.changes.reindex,
            refresh_payload: args.changes.refresh_payload,
            force: false,
            classes: Vec::new(),
        })
    }

    /// The run a checkpoint records, with the flags given now over what it recorded.
    pub fn recorded(record: &RunRecord, flags: &RecordedFlags<'_>, env: &Environment) -> anyhow::Result<Self> {
        let mut spec = record.spec.clone();
        // A checkpoint from before these were recorded read them when it ran, as it does now.
        spec.sources.remote = spec.sources.remote.clone().with_s3_variables(|name| env.var(name));
        let recorded = given_control(flags.run, flags.write, &record.control);
        let access = ServerAccess::resolve(flags.connection, Some(flags.write), &recorded, env);
        let server = match &spec.sink.qdrant {
            Some(target) => Some(access.recorded_connection(target, &flags.run.checkpoint)?),
            None => None,
        };
        let shape = RunShape { batch_size: spec.batch_size, max_file_size: spec.decode.limits.max_file_size };
        let control = RunControl::resolve(flags.run, shape, None, recorded);
        Ok(Self {
            spec,
            control,
            server,
            reindex: false,
            refresh_payload: false,
            force: flags.force,
            classes: flags.classes.to_vec(),
        })
    }
}

/// The flags of resume and retry-failed.
pub struct RecordedFlags<'a> {
    pub run: &'a RunArgs,
    pub connection: &'a ConnectionArgs,
    pub write: &'a WriteArgs,
    pub force: bool,
    pub classes: &'a [ErrorClass],
}

/// An object-store prefix in its canonical form (`azure://` as `az://`), so that the keys
/// listed under it start with it; anything else as given.
fn canonical_source(path: &std::path::Path) -> PathBuf {
    match Location::of_path(path) {
        Some(location @ Location::Object { .. }) => location.identity().into(),
        _ => path.to_path_buf(),
    }
}
