//! The text tower: a Hugging Face `tokenizer.json` and an ONNX session, one text per run.
//!
//! The tokenizer is followed as `tokenizer.json` describes it; imbed adds only truncation to
//! the model's maximum length (the post-processor's end token is kept), and padding where the
//! model needs a fixed length.

mod configs;
mod tokenizer;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Outlet, Tensor, TensorElementType, ValueType};
use serde::{Deserialize, Serialize};

use super::{build_session, l2_normalize, Device, Runtime};
use configs::Configs;
pub use tokenizer::{Encoded, TextTokenizer};

/// The output used when neither `--text-output` nor the model's config names one: CLIP's
/// projected embedding.
pub const DEFAULT_TEXT_OUTPUT: &str = "text_embeds";

/// A text model as a collection remembers it: a folder in the Hugging Face ONNX layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextModelConfig {
    #[serde(with = "crate::util::path_serde")]
    pub path: PathBuf,
    /// The output holding the embedding, when not `text_embeds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl TextModelConfig {
    /// The model's files, checked without loading anything.
    pub fn resolve(&self) -> anyhow::Result<TextModelFiles> {
        let dir = &self.path;
        if !dir.is_dir() {
            bail!(
                "the text model {} is not a folder; --text-model takes a folder with model.onnx and tokenizer.json",
                dir.display()
            );
        }
        let onnx = ["model.onnx", "onnx/model.onnx", "text_model.onnx"]
            .iter()
            .map(|name| dir.join(name))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| anyhow!("no model.onnx in the text model folder {}", dir.display()))?;
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.is_file() {
            bail!("no tokenizer.json in the text model folder {}", dir.display());
        }
        Ok(TextModelFiles { dir: dir.clone(), onnx })
    }
}

/// Where a text model's files are.
#[derive(Debug, Clone)]
pub struct TextModelFiles {
    pub dir: PathBuf,
    pub onnx: PathBuf,
}

/// The text encoder: the tokenizer and an ONNX Runtime session, giving L2-normalised vectors.
pub struct TextEncoder {
    session: Session,
    tokenizer: TextTokenizer,
    ids: Input,
    attention_mask: Option<Input>,
    /// Inputs fed zeros (`token_type_ids`) or positions (`position_ids`).
    extra: Vec<(Input, Extra)>,
    output: String,
    dimension: usize,
}

#[derive(Debug, Clone)]
struct Input {
    name: String,
    integer: Integer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integer {
    I32,
    I64,
}

#[derive(Debug, Clone, Copy)]
enum Extra {
    Zeros,
    Positions,
}

impl TextEncoder {
    pub fn load(
        runtime: &Runtime,
        config: &TextModelConfig,
        device: Device,
        intra_threads: usize,
    ) -> anyhow::Result<Self> {
        let files = config.resolve()?;
        let started = Instant::now();
        let session = build_session(runtime, &files.onnx, device, intra_threads)?;
        let session_time = started.elapsed();
        let mut ids = None;
        let mut attention_mask = None;
        let mut extra = Vec::new();
        let mut model_length = None;
        for outlet in session.inputs() {
            let input = integer_input(outlet)?;
            match outlet.name() {
                "input_ids" => {
                    model_length = outlet.dtype().tensor_shape().and_then(|shape| shape.get(1).copied());
                    ids = Some(input);
                }
                "attention_mask" => attention_mask = Some(input),
                "token_type_ids" => extra.push((input, Extra::Zeros)),
                "position_ids" => extra.push((input, Extra::Positions)),
                other => bail!(
                    "the text model {} has an input `{other}` that imbed does not know how to fill \
                     (it feeds input_ids, attention_mask, token_type_ids and position_ids)",
                    files.onnx.display()
                ),
            }
        }
        let ids = ids.ok_or_else(|| anyhow!("the text model {} has no input_ids input", files.onnx.display()))?;
        let model_length = model_length.and_then(|n| usize::try_from(n).ok()).filter(|&n| n > 0);
        // Without a mask the model cannot tell padding from text, so it was trained on one length (SigLIP).
        let started = Instant::now();
        let configs = Configs::read(&files.dir)?;
        let tokenizer = TextTokenizer::with_configs(&files.dir, &configs, model_length, attention_mask.is_none())?;
        tracing::info!(
            "text model {}: session built in {session_time:.1?}, tokenizer read in {:.1?}",
            files.dir.display(),
            started.elapsed()
        );
        let output = pick_text_output(session.outputs(), config.output.as_deref(), configs.named_output())?;
        let dimension = session.outputs()[output]
            .dtype()
            .tensor_shape()
            .and_then(|shape| shape.get(1).copied())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut encoder = Self {
            output: session.outputs()[output].name().to_string(),
            session,
            tokenizer,
            ids,
            attention_mask,
            extra,
            dimension,
        };
        if encoder.dimension == 0 {
            // A symbolic dimension: one run tells it.
            encoder.dimension = encoder.embed_text("").context("cannot run the text model on an empty text")?.len();
        }
        Ok(encoder)
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn output_name(&self) -> &str {
        &self.output
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The text's embedding, L2-normalised.
    pub fn embed_text(&mut self, text: &str) -> anyhow::Result<Vec<f32>> {
        let encoded = self.tokenizer.encode(text)?;
        let length = encoded.ids.len();
        let mut inputs: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> = Vec::new();
        inputs.push((self.ids.name.clone().into(), integer_tensor(self.ids.integer, &encoded.ids)?.into()));
        if let Some(mask) = &self.attention_mask {
            inputs.push((mask.name.clone().into(), integer_tensor(mask.integer, &encoded.attention_mask)?.into()));
        }
        for (input, fill) in &self.extra {
            let values: Vec<i64> = match fill {
                Extra::Zeros => vec![0; length],
                Extra::Positions => (0..length as i64).collect(),
            };
            inputs.push((input.name.clone().into(), integer_tensor(input.integer, &values)?.into()));
        }
        let outputs = self.session.run(inputs)?;
        let (shape, data) = outputs[self.output.as_str()].try_extract_tensor::<f32>()?;
        if shape.len() != 2 || data.is_empty() {
            bail!(
                "the text model's output `{}` has shape {:?}, not [batch, dimension]; imbed does not pool hidden \
                 states, so pass --text-output with the projected embedding",
                self.output,
                shape.to_vec()
            );
        }
        let mut vector = data.to_vec();
        l2_normalize(&mut vector);
        Ok(vector)
    }
}

fn integer_input(outlet: &Outlet) -> anyhow::Result<Input> {
    let integer = match outlet.dtype() {
        ValueType::Tensor { ty: TensorElementType::Int64, .. } => Integer::I64,
        ValueType::Tensor { ty: TensorElementType::Int32, .. } => Integer::I32,
        other => {
            bail!("the text model's input `{}` is {other}; imbed feeds int64 or int32 token tensors", outlet.name())
        }
    };
    Ok(Input { name: outlet.name().to_string(), integer })
}

/// A `[1, n]` tensor of `values` in the input's integer type.
fn integer_tensor(integer: Integer, values: &[i64]) -> anyhow::Result<DynValue> {
    let shape = [1usize, values.len()];
    Ok(match integer {
        Integer::I64 => Tensor::from_array((shape, values.to_vec()))?.into_dyn(),
        Integer::I32 => {
            let narrow = values.iter().map(|&v| i32::try_from(v)).collect::<Result<Vec<_>, _>>()?;
            Tensor::from_array((shape, narrow))?.into_dyn()
        }
    })
}

/// The output holding the text embedding: `wanted`, else the one config.json implies
/// (`named`, with what named it), else `text_embeds`; never a guess.
fn pick_text_output(outputs: &[Outlet], wanted: Option<&str>, named: Option<(&str, String)>) -> anyhow::Result<usize> {
    let (wanted, why) = match (wanted, named) {
        (Some(wanted), _) => (wanted, String::new()),
        (None, Some((output, by))) => (output, format!(", which config.json's {by} names")),
        (None, None) => (DEFAULT_TEXT_OUTPUT, String::new()),
    };
    outputs.iter().position(|output| output.name() == wanted).ok_or_else(|| {
        let names: Vec<_> = outputs.iter().map(Outlet::name).collect();
        anyhow!(
            "the text model has no output `{wanted}`{why}; its outputs are {names:?} (choose one with --text-output)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn named(config: Value) -> Option<(&'static str, String)> {
        Configs { tokenizer_config: Value::Null, special_tokens_map: Value::Null, config }.named_output()
    }

    #[test]
    fn the_config_names_the_embedding_output_of_its_family() {
        let siglip = named(serde_json::json!({"model_type": "siglip_text_model"}));
        assert_eq!(siglip, Some(("pooler_output", "model_type \"siglip_text_model\"".into())));
        let pair =
            named(serde_json::json!({"model_type": "siglip", "text_config": {"model_type": "siglip_text_model"}}));
        assert_eq!(pair.map(|(output, _)| output), Some("pooler_output"));
        let clip = named(serde_json::json!({"architectures": ["CLIPTextModelWithProjection"]}));
        assert_eq!(clip, Some(("text_embeds", "architecture \"CLIPTextModelWithProjection\"".into())));
        assert_eq!(named(serde_json::json!({"model_type": "bert"})), None);
        assert_eq!(named(Value::Null), None);
    }
}
