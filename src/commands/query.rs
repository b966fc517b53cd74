//! What search, embed and doctor share: the models from flags or from what the store
//! remembers, loaded once, and query images and texts embedded one at a time.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{ExitStatus, Printer, ThreadSplit};
use crate::cli::{DecodeArgs, GlobalArgs, ModelArgs, StoreArgs, TextModelArgs};
use crate::decode::{DecodeOptions, MemoryBudget};
use crate::embed::{runtime, Encoder, ModelConfig, ResolvedModel, TextEncoder, TextModelConfig};
use crate::item::path_text;
use crate::pipeline::{ImageOptions, ImageSource, TensorLoader};
use crate::sink::{CollectionInfo, EdgeStore};

/// The model flags; without `--model`, what the store remembers of its collection.
pub(super) fn model_config(args: &ModelArgs, remembered: Option<&CollectionInfo>) -> anyhow::Result<ModelConfig> {
    let remembered = remembered.filter(|_| args.model.is_none());
    let path: PathBuf = match (&args.model, remembered) {
        (Some(model), _) => model.clone(),
        (None, Some(info)) => info.model.clone(),
        (None, None) => {
            bail!("no model given: pass --model DIR (a folder with model.onnx and preprocessor_config.json)")
        }
    };
    let remembered_preset = remembered.and_then(|info| info.preprocess.as_deref()).map(str::parse).transpose();
    Ok(ModelConfig {
        path: std::path::absolute(&path).unwrap_or(path),
        preset: args.preprocess.or(remembered_preset.map_err(anyhow::Error::msg)?),
        output: args.output.clone().or_else(|| remembered.and_then(|info| info.output.clone())),
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

/// Loads the text model for queries; `None` says how to name one.
pub(super) fn load_text_model(
    global: &GlobalArgs,
    config: Option<&TextModelConfig>,
    model: &ModelArgs,
) -> anyhow::Result<TextEncoder> {
    let Some(config) = config else {
        bail!(
            "no text model given: pass --text-model DIR (a folder with model.onnx and tokenizer.json), \
             or record one with `imbed index --text-model DIR`"
        )
    };
    let runtime = runtime::load(global.ort_lib.as_deref())?;
    TextEncoder::load(runtime, config, model.device, ThreadSplit::new(model.intra_threads, None).intra)
        .with_context(|| format!("cannot load the text model {}", config.path.display()))
}

/// What the embedded store remembers of its collection; a server keeps no such record.
pub(super) fn remembered_collection(store: &StoreArgs) -> anyhow::Result<Option<CollectionInfo>> {
    if store.qdrant.is_some() {
        return Ok(None);
    }
    EdgeStore::read_info(&store.store, &store.collection)
        .with_context(|| format!("cannot read collection `{}`", store.collection))
}

pub(super) fn decode_options(args: &DecodeArgs) -> ImageOptions {
    let limits = DecodeOptions {
        max_pixels: args.max_pixels,
        max_file_size: args.max_file_size.saturating_mul(1 << 20),
        full_decode: args.full_decode,
        payload_gps: args.payload_gps,
    };
    ImageOptions { limits, background: args.background }
}

/// A model for queries: resolved and loaded on its device.
pub(super) struct QueryModel {
    pub model: ResolvedModel,
    pub encoder: Encoder,
    pub options: ImageOptions,
}

impl QueryModel {
    pub fn load(
        global: &GlobalArgs,
        config: &ModelConfig,
        options: ImageOptions,
        intra: Option<usize>,
    ) -> anyhow::Result<Self> {
        let model = config.resolve(options.background)?;
        let runtime = runtime::load(global.ort_lib.as_deref())?;
        let encoder = Encoder::load(runtime, &model, ThreadSplit::new(intra, None).intra)?;
        Ok(Self { model, encoder, options })
    }

    /// Embeds each image and hands its vector to `use_vector`. An image that cannot be read
    /// or decoded is a warning, the others go on, and the status says that some failed.
    pub fn for_each_vector(
        &mut self,
        images: &[PathBuf],
        printer: Printer,
        mut use_vector: impl FnMut(&Path, Vec<f32>) -> anyhow::Result<()>,
    ) -> anyhow::Result<ExitStatus> {
        let mut failed = false;
        for image in images {
            match self.embed_image(image) {
                Ok(vector) => use_vector(image, vector)?,
                Err(why) => {
                    printer.warning(format_args!("{} {why}", path_text(image)));
                    failed = true;
                }
            }
        }
        Ok(if failed { ExitStatus::ItemsFailed } else { ExitStatus::Success })
    }

    /// One image's vector, or why there is none: `[class]: message`.
    pub fn embed_image(&mut self, image: &Path) -> Result<Vec<f32>, String> {
        let loader = TensorLoader {
            preprocessor: &self.model.preprocessor,
            layout: self.encoder.layout(),
            decode: self.options.limits,
            budget: MemoryBudget::unlimited(),
        };
        let (_, slot) =
            loader.load(ImageSource::File(image)).map_err(|error| format!("[{}]: {}", error.class, error.message))?;
        let vectors = self.encoder.embed(&[&slot]).map_err(|error| format!("[model]: {error:#}"))?;
        vectors.into_iter().next().ok_or_else(|| "[model]: the model returned no vector".to_string())
    }
}
