//! One module per subcommand. Each takes parsed arguments and returns an [`ExitStatus`].

mod doctor;
mod embed;
mod index;
mod push;
mod resume;
mod retry_failed;
mod run;
mod search;
mod stats;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};

use crate::cli::{
    Cli, CollectionSetupArgs, Command, DecodeArgs, GlobalArgs, ModelArgs, PreprocessPreset, ServerArgs, StoreArgs,
};
use crate::decode::{DecodeOptions, MemoryBudget};
use crate::embed::{runtime, Device, Encoder, EncoderSettings, ModelSpec};
use crate::pipeline::TensorLoader;
use crate::sink::edge::CollectionInfo;
use crate::sink::qdrant::{CollectionSetup, Connection, QdrantSink};

pub use doctor::doctor;
pub use embed::embed;
pub use index::index;
pub use push::push;
pub use resume::resume;
pub use retry_failed::retry_failed;
pub use search::search;
pub use stats::stats;

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every item is done.
    Success,
    /// The run finished, but some items failed.
    ItemsFailed,
    /// Usage, configuration or fatal error.
    Error,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ItemsFailed => 1,
            Self::Error => 2,
            Self::Interrupted => 130,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Index(args) => index(&cli.global, args),
        Command::Resume(args) => resume(&cli.global, args),
        Command::RetryFailed(args) => retry_failed(&cli.global, args),
        Command::Stats(args) => stats(args),
        Command::Search(args) => search(&cli.global, args),
        Command::Embed(args) => embed(&cli.global, args),
        Command::Doctor(args) => doctor(&cli.global, args),
        Command::Push(args) => push(args),
    }
}

/// Set by the first Ctrl-C or SIGTERM; a second one exits at once.
pub(crate) fn install_stop_handler() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    let result = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(ExitStatus::Interrupted.code()));
        }
        eprintln!("imbed: stopping after the batches in flight (press Ctrl-C again to exit now)");
    });
    if let Err(error) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {error}");
    }
    &STOP
}

/// Cores for ONNX Runtime and for decoding. Both default to every core: ORT's threads do not
/// spin, so the decoders fill whatever ORT leaves idle. On 2 cores (bench model and photos,
/// batch 32) end to end: 1 decoder 26-27 images/s, 2 decoders 27-30; the model alone 37-40.
pub(crate) fn thread_split(intra: Option<usize>, decode: Option<usize>) -> (usize, usize) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (intra.unwrap_or(cores).max(1), decode.unwrap_or(cores).max(1))
}

/// The model arguments resolved against what the store remembers of its collection.
pub(crate) struct ResolvedModel {
    pub spec: ModelSpec,
    pub settings: EncoderSettings,
    pub info: CollectionInfo,
}

/// What picks and configures the model, from flags or from a checkpoint.
pub(crate) struct ModelChoice {
    pub model: PathBuf,
    pub preset: Option<PreprocessPreset>,
    pub output: Option<String>,
    pub normalize: bool,
    pub device: Device,
    pub intra_threads: usize,
}

impl ModelChoice {
    pub fn resolve(self) -> anyhow::Result<ResolvedModel> {
        let spec = ModelSpec::resolve(&self.model, self.preset)?;
        let info = CollectionInfo {
            dimension: 0,
            model: std::path::absolute(&self.model).unwrap_or(self.model),
            preprocess: self.preset.map(preset_name),
            output: self.output.clone(),
            normalize: self.normalize,
        };
        let settings = EncoderSettings {
            device: self.device,
            intra_threads: self.intra_threads,
            output: self.output,
            normalize: self.normalize,
        };
        Ok(ResolvedModel { spec, settings, info })
    }
}

/// Loads the query images of `search` and `embed`, one at a time.
pub(crate) fn query_loader<'a>(resolved: &'a ResolvedModel, encoder: &Encoder, args: &DecodeArgs) -> TensorLoader<'a> {
    TensorLoader {
        preprocessor: &resolved.spec.preprocessor,
        layout: encoder.layout(),
        decode: decode_options(args),
        budget: MemoryBudget::unlimited(),
    }
}

pub(crate) fn decode_options(args: &DecodeArgs) -> DecodeOptions {
    DecodeOptions {
        max_pixels: args.max_pixels,
        max_file_size: args.max_file_size.saturating_mul(1 << 20),
        background: args.background,
        full_decode: args.full_decode,
    }
}

pub(crate) fn preset_name(preset: PreprocessPreset) -> String {
    format!("{preset:?}").to_ascii_lowercase()
}

pub(crate) fn parse_preset(name: &str) -> Option<PreprocessPreset> {
    clap::ValueEnum::from_str(name, true).ok()
}

/// Model flags, falling back to what the store remembers of its collection.
pub(crate) fn resolve_model(
    args: &ModelArgs,
    remembered: Option<&CollectionInfo>,
    intra_threads: usize,
) -> anyhow::Result<ResolvedModel> {
    let model: PathBuf = match (&args.model, remembered) {
        (Some(model), _) => model.clone(),
        (None, Some(info)) => info.model.clone(),
        (None, None) => {
            bail!("no model given: pass --model DIR (a folder with model.onnx and preprocessor_config.json)")
        }
    };
    let remembered = remembered.filter(|_| args.model.is_none());
    ModelChoice {
        model,
        preset: args
            .preprocess
            .or_else(|| remembered.and_then(|info| info.preprocess.as_deref()).and_then(parse_preset)),
        output: args.output.clone().or_else(|| remembered.and_then(|info| info.output.clone())),
        normalize: !args.no_normalize && remembered.is_none_or(|info| info.normalize),
        device: args.device.parse()?,
        intra_threads,
    }
    .resolve()
}

pub(crate) fn load_encoder(global: &GlobalArgs, resolved: &ResolvedModel) -> anyhow::Result<Encoder> {
    let runtime = runtime::load(global.ort_lib.as_deref())?;
    Encoder::load(runtime, &resolved.spec, &resolved.settings)
}

/// What the embedded store remembers of its collection; a server keeps no such record.
pub(crate) fn remembered_collection(store: &StoreArgs) -> anyhow::Result<Option<CollectionInfo>> {
    if store.qdrant.is_some() {
        return Ok(None);
    }
    crate::sink::EdgeStore::read_info(&store.store, &store.collection)
        .with_context(|| format!("cannot read collection `{}`", store.collection))
}

/// The server that `--qdrant` names, connected and healthy; `None` for the embedded store.
pub(crate) fn connect_store(store: &StoreArgs) -> anyhow::Result<Option<QdrantSink>> {
    store
        .qdrant
        .as_deref()
        .map(|url| connect_server(url, &store.collection, store.vector_name.clone(), &store.server))
        .transpose()
}

pub(crate) fn collection_setup(args: &CollectionSetupArgs) -> CollectionSetup {
    CollectionSetup {
        on_disk: args.on_disk,
        shards: args.shards,
        replication_factor: args.replication_factor,
        bulk: args.bulk,
    }
}

/// Connects to a Qdrant server, checking its health before anything else is loaded.
pub(crate) fn connect_server(
    url: &str,
    collection: &str,
    vector_name: Option<String>,
    server: &ServerArgs,
) -> anyhow::Result<QdrantSink> {
    let connection = Connection {
        url: url.to_string(),
        api_key: server.api_key(),
        connect_timeout: server.connect_timeout,
        request_timeout: server.request_timeout,
        max_retries: server.max_retries,
        upsert_batch: server.upsert_batch as usize,
        upsert_parallel: server.upsert_parallel as usize,
    };
    QdrantSink::connect(connection, collection, vector_name)
}
