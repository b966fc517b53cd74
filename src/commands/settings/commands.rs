//! The settings of the commands that read a run or a store: stats, verify, push, doctor, embed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::model::{model_config, text_model_config};
use super::server::collection_setup;
use super::{Environment, ModelSettings, ServerAccess, StoreSettings, ThreadSplit};
use crate::cli::{DoctorArgs, EmbedArgs, PushArgs, StatsArgs, VerifyArgs};
use crate::embed::{ModelConfig, TextModelConfig};
use crate::pipeline::RecordedControl;
use crate::sink::qdrant::Connection;
use crate::sink::{CollectionInfo, CollectionSetup};

#[derive(Debug)]
pub struct StatsSettings {
    pub checkpoints: Vec<PathBuf>,
    pub json: bool,
    /// How the servers that the checkpoints write to are asked for their counts: one try each.
    pub access: ServerAccess,
}

impl StatsSettings {
    pub fn resolve(args: StatsArgs, env: &Environment) -> Self {
        let access = ServerAccess::resolve(&args.connection, None, &RecordedControl::default(), env).once();
        Self { checkpoints: checkpoint_paths(&args.checkpoints, args.checkpoint.as_ref()), json: args.json, access }
    }
}

#[derive(Debug)]
pub struct VerifySettings {
    pub checkpoints: Vec<PathBuf>,
    pub repair: bool,
    pub delete_unknown: bool,
    pub json: bool,
    pub access: ServerAccess,
}

impl VerifySettings {
    pub fn resolve(args: VerifyArgs, env: &Environment) -> Self {
        Self {
            checkpoints: checkpoint_paths(&args.checkpoints, args.checkpoint.as_ref()),
            repair: args.repair,
            delete_unknown: args.delete_unknown,
            json: args.json,
            access: ServerAccess::resolve(&args.connection, None, &RecordedControl::default(), env),
        }
    }
}

#[derive(Debug)]
pub struct PushSettings {
    pub store: PathBuf,
    pub collection: String,
    pub server: Connection,
    pub to_collection: String,
    pub vector_name: Option<String>,
    pub checkpoint: PathBuf,
    pub json: bool,
    pub no_repair: bool,
    pub setup: CollectionSetup,
}

impl PushSettings {
    pub fn resolve(args: PushArgs, env: &Environment) -> Self {
        let access = ServerAccess::resolve(&args.connection, Some(&args.write), &RecordedControl::default(), env);
        Self {
            to_collection: args.to_collection.unwrap_or_else(|| args.collection.clone()),
            store: args.store,
            collection: args.collection,
            server: access.connection(&args.qdrant),
            vector_name: args.vector_name,
            checkpoint: args.checkpoint,
            json: args.json,
            no_repair: args.no_repair,
            setup: collection_setup(&args.setup),
        }
    }
}

/// What `doctor` checks. What cannot be resolved is kept, to be reported with the rest.
#[derive(Debug)]
pub struct DoctorSettings {
    pub store: StoreSettings,
    pub checkpoint: PathBuf,
    /// What the store remembers of its collection, or why it cannot be read.
    pub remembered: Result<Option<CollectionInfo>, String>,
    /// `None`: no model given or remembered.
    pub model: Option<Result<ModelConfig, String>>,
    pub text_model: Result<Option<TextModelConfig>, String>,
    pub device: crate::embed::Device,
    pub intra_threads: usize,
}

impl DoctorSettings {
    pub fn resolve(args: DoctorArgs, env: &Environment) -> Self {
        let store = StoreSettings::resolve(&args.store, None, env);
        let remembered = store.remembered().map_err(|error| format!("{error:#}"));
        let known = remembered.as_ref().ok().and_then(Option::as_ref);
        let model = (args.model.model.is_some() || known.is_some())
            .then(|| model_config(&args.model, known).map_err(|error| format!("{error:#}")));
        Self {
            text_model: text_model_config(&args.text, known).map_err(|error| format!("{error:#}")),
            model,
            remembered,
            store,
            checkpoint: args.checkpoint,
            device: args.model.device,
            intra_threads: ThreadSplit::new(args.model.intra_threads, None).intra,
        }
    }
}

#[derive(Debug)]
pub struct EmbedSettings {
    pub models: ModelSettings,
    pub images: Vec<PathBuf>,
    pub texts: Vec<String>,
}

impl EmbedSettings {
    pub fn resolve(args: EmbedArgs) -> anyhow::Result<Self> {
        let models = ModelSettings::resolve(&args.model, &args.text_model, Some(&args.decode), None)?;
        Ok(Self { models, images: args.images, texts: args.text })
    }
}

/// The checkpoints named as arguments and with --checkpoint, or the default one.
fn checkpoint_paths(arguments: &[PathBuf], flag: Option<&PathBuf>) -> Vec<PathBuf> {
    let mut paths = arguments.to_vec();
    paths.extend(flag.cloned());
    if paths.is_empty() {
        paths.push(PathBuf::from("imbed.checkpoint"));
    }
    // A checkpoint named twice (say as an argument and in IMBED_CHECKPOINT) counts once; a
    // missing one keeps its name, so that opening it reports it.
    let mut seen = BTreeSet::new();
    paths.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    paths
}
