//! What search, embed and doctor share: their models loaded once, and query images and texts
//! embedded one at a time.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::settings::GlobalSettings;
use super::{ExitStatus, Printer};
use crate::decode::MemoryBudget;
use crate::embed::{runtime, Device, Encoder, ModelConfig, ResolvedModel, TextEncoder, TextModelConfig};
use crate::item::path_text;
use crate::pipeline::{ImageOptions, ImageSource, TensorLoader};

/// Loads the text model for queries; `None` says how to name one.
pub(super) fn load_text_model(
    global: &GlobalSettings,
    config: Option<&TextModelConfig>,
    device: Device,
    intra_threads: usize,
) -> anyhow::Result<TextEncoder> {
    let Some(config) = config else {
        bail!(
            "no text model given: pass --text-model DIR (a folder with model.onnx and tokenizer.json), \
             or record one with `imbed index --text-model DIR`"
        )
    };
    let runtime = runtime::load(&global.runtime)?;
    TextEncoder::load(runtime, config, device, intra_threads)
        .with_context(|| format!("cannot load the text model {}", config.path.display()))
}

/// A model for queries: resolved and loaded on its device.
pub(super) struct QueryModel {
    pub model: ResolvedModel,
    pub encoder: Encoder,
    pub options: ImageOptions,
}

impl QueryModel {
    pub fn load(
        global: &GlobalSettings,
        config: &ModelConfig,
        options: ImageOptions,
        intra_threads: usize,
    ) -> anyhow::Result<Self> {
        let model = config.resolve(options.background)?;
        let runtime = runtime::load(&global.runtime)?;
        let encoder = Encoder::load(runtime, &model, intra_threads)?;
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
