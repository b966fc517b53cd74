//! The model and the store of a command: from flags, else from what the embedded store
//! remembers of its collection.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::{Environment, ServerAccess, ThreadSplit};
use crate::cli::{DecodeArgs, ModelArgs, StoreArgs, TextModelArgs};
use crate::decode::DecodeOptions;
use crate::embed::{ModelConfig, TextModelConfig};
use crate::pipeline::{ImageOptions, RecordedControl};
use crate::sink::qdrant::Connection;
use crate::sink::{CollectionInfo, EdgeStore};

/// Where a command reads or writes points: a collection of the embedded store or of a server.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub store: PathBuf,
    pub collection: String,
    pub vector_name: Option<String>,
    /// The server, with `--qdrant`.
    pub server: Option<Connection>,
}

impl StoreSettings {
    pub fn resolve(args: &StoreArgs, write: Option<&crate::cli::WriteArgs>, env: &Environment) -> Self {
        let access = ServerAccess::resolve(&args.connection, write, &RecordedControl::default(), env);
        Self {
            store: args.store.clone(),
            collection: args.collection.clone(),
            vector_name: args.vector_name.clone(),
            server: args.qdrant.as_deref().map(|url| access.connection(url)),
        }
    }

    /// What the embedded store remembers of its collection; a server keeps no such record.
    pub fn remembered(&self) -> anyhow::Result<Option<CollectionInfo>> {
        if self.server.is_some() {
            return Ok(None);
        }
        EdgeStore::read_info(&self.store, &self.collection)
            .with_context(|| format!("cannot read collection `{}`", self.collection))
    }
}

/// The models of a command that embeds queries or images one at a time.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// `None`: no `--model`, and none remembered.
    pub model: Option<ModelConfig>,
    pub text_model: Option<TextModelConfig>,
    pub image: ImageOptions,
    /// Where the text model runs (the image model's config holds its own).
    pub device: crate::embed::Device,
    pub intra_threads: usize,
}

impl ModelSettings {
    pub fn resolve(
        model: &ModelArgs,
        text: &TextModelArgs,
        decode: Option<&DecodeArgs>,
        remembered: Option<&CollectionInfo>,
    ) -> anyhow::Result<Self> {
        let model_given = model.model.is_some() || remembered.is_some();
        Ok(Self {
            model: if model_given { Some(model_config(model, remembered)?) } else { None },
            text_model: text_model_config(text, remembered)?,
            image: decode.map(image_options).unwrap_or_default(),
            device: model.device,
            intra_threads: ThreadSplit::new(model.intra_threads, None).intra,
        })
    }

    /// The image model, or how to name one.
    pub fn image_model(&self) -> anyhow::Result<&ModelConfig> {
        self.model.as_ref().ok_or_else(|| anyhow::anyhow!(NO_MODEL))
    }
}

const NO_MODEL: &str = "no model given: pass --model DIR (a folder with model.onnx and preprocessor_config.json)";

/// The model flags; without `--model`, what the store remembers of its collection.
pub(super) fn model_config(args: &ModelArgs, remembered: Option<&CollectionInfo>) -> anyhow::Result<ModelConfig> {
    let remembered = remembered.filter(|_| args.model.is_none());
    let path: PathBuf = match (&args.model, remembered) {
        (Some(model), _) => model.clone(),
        (None, Some(info)) => info.model.clone(),
        (None, None) => bail!(NO_MODEL),
    };
    let remembered_preset = remembered.and_then(|info| info.preprocess.as_deref()).map(str::parse).transpose();
    Ok(ModelConfig {
        path: std::path::absolute(&path).unwrap_or(path),
        preset: args.preprocess.or(remembered_preset.map_err(anyhow::Error::msg)?),
        output: args.model_output.clone().or_else(|| remembered.and_then(|info| info.output.clone())),
        normalize: !args.no_normalize && remembered.is_none_or(|info| info.normalize),
        device: args.device,
    })
}

/// The text model flags; without `--text-model`, what the store remembers of its collection.
pub(super) fn text_model_config(
    args: &TextModelArgs,
    remembered: Option<&CollectionInfo>,
) -> anyhow::Result<Option<TextModelConfig>> {
    let Some(path) = &args.text_model else {
        let remembered = remembered.and_then(|info| info.text_model.clone());
        return Ok(
            remembered.map(|config| TextModelConfig { output: args.text_output.clone().or(config.output), ..config })
        );
    };
    let path = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    Ok(Some(TextModelConfig { path, output: args.text_output.clone() }))
}

pub(super) fn image_options(args: &DecodeArgs) -> ImageOptions {
    let limits = DecodeOptions {
        max_pixels: args.max_pixels,
        max_file_size: args.max_file_size.saturating_mul(1 << 20),
        full_decode: args.full_decode,
        payload_gps: false,
    };
    ImageOptions { limits, background: args.background }
}
