//! The text tower: a Hugging Face `tokenizer.json` and an ONNX session, one text per run.
//!
//! The tokenizer is followed as `tokenizer.json` describes it; imbed adds only truncation to
//! the model's maximum length (the post-processor's end token is kept), and padding where the
//! model needs a fixed length.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Outlet, Tensor, TensorElementType, ValueType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{build_session, l2_normalize, Device, Runtime};

/// The output used when neither `--text-output` nor the model's config names one: CLIP's
/// projected embedding.
pub const DEFAULT_TEXT_OUTPUT: &str = "text_embeds";

/// The embedding output of each text tower family, by the `model_type` in its `config.json`
/// (or the architecture it names): what transformers' model classes return as the embedding.
const OUTPUT_BY_FAMILY: &[(&str, &str)] = &[("siglip", "pooler_output"), ("clip", "text_embeds")];

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

/// One text as the model takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
}

/// `tokenizer.json` with the model's length rules: truncation always, padding when fixed.
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    max_length: usize,
    padded: bool,
}

impl TextTokenizer {
    /// Reads `dir/tokenizer.json` and the configs beside it. `model_length` is the sequence
    /// length that the model's input shape fixes, if it does; `pad` asks for padding to the
    /// maximum length even without one (for a model that takes no attention mask).
    pub fn from_folder(dir: &Path, model_length: Option<usize>, pad: bool) -> anyhow::Result<Self> {
        Self::with_configs(dir, &Configs::read(dir)?, model_length, pad)
    }

    /// [`Self::from_folder`] with the configs beside it already read.
    fn with_configs(dir: &Path, configs: &Configs, model_length: Option<usize>, pad: bool) -> anyhow::Result<Self> {
        let path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&path).map_err(|error| anyhow!("cannot read {}: {error}", path.display()))?;
        let own_fixed = tokenizer.get_padding().and_then(|padding| match padding.strategy {
            PaddingStrategy::Fixed(length) => Some(length),
            PaddingStrategy::BatchLongest => None,
        });
        // Every limit that something names; the tightest one wins, since each is a hard one.
        let limits = [
            model_length,
            own_fixed,
            tokenizer.get_truncation().map(|truncation| truncation.max_length),
            configs.model_max_length(),
            configs.max_position_embeddings(),
        ];
        let max_length = limits.into_iter().flatten().filter(|&n| n > 0).min().ok_or_else(|| {
            anyhow!(
                "cannot tell the maximum text length of {}: neither tokenizer.json, tokenizer_config.json \
                 (model_max_length) nor config.json (max_position_embeddings) names one",
                dir.display()
            )
        })?;
        let truncation = TruncationParams { max_length, ..tokenizer.get_truncation().cloned().unwrap_or_default() };
        tokenizer.with_truncation(Some(truncation)).map_err(|error| anyhow!("{error}"))?;
        let fixed = model_length.is_some() || own_fixed.is_some() || pad;
        if fixed {
            let (pad_id, pad_token) = match tokenizer.get_padding() {
                Some(padding) => (padding.pad_id, padding.pad_token.clone()),
                None => configs.pad_token(&tokenizer)?.ok_or_else(|| {
                    anyhow!(
                        "the text model {} needs its texts padded to {max_length} tokens, but no pad token is named \
                         (pad_token in special_tokens_map.json or tokenizer_config.json)",
                        dir.display()
                    )
                })?,
            };
            let padding = PaddingParams {
                strategy: PaddingStrategy::Fixed(max_length),
                pad_id,
                pad_token,
                ..tokenizer.get_padding().cloned().unwrap_or_default()
            };
            tokenizer.with_padding(Some(padding));
        }
        Ok(Self { tokenizer, max_length, padded: fixed })
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether every text is padded to [`Self::max_length`].
    pub fn padded(&self) -> bool {
        self.padded
    }

    /// The ids and attention mask of `text`, special tokens included.
    pub fn encode(&self, text: &str) -> anyhow::Result<Encoded> {
        let encoding =
            self.tokenizer.encode(text, true).map_err(|error| anyhow!("cannot tokenize {text:?}: {error}"))?;
        let ids = encoding.get_ids().iter().map(|&id| i64::from(id)).collect();
        let attention_mask = encoding.get_attention_mask().iter().map(|&m| i64::from(m)).collect();
        Ok(Encoded { ids, attention_mask })
    }
}

/// The JSON files beside `tokenizer.json`, each optional.
struct Configs {
    tokenizer_config: Value,
    special_tokens_map: Value,
    config: Value,
}

impl Configs {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| -> anyhow::Result<Value> {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("cannot parse {}", path.display())),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
                Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
            }
        };
        Ok(Self {
            tokenizer_config: read("tokenizer_config.json")?,
            special_tokens_map: read("special_tokens_map.json")?,
            config: read("config.json")?,
        })
    }

    /// The embedding output that config.json implies, with what named it: the family of its
    /// `model_type` (SigLIP's `pooler_output`, CLIP's `text_embeds`), or of its architecture.
    fn named_output(&self) -> Option<(&'static str, String)> {
        let model_types = [self.config.get("text_config"), Some(&self.config)]
            .into_iter()
            .flatten()
            .filter_map(|config| config.get("model_type")?.as_str())
            .map(|name| ("model_type", name));
        let architectures = self.config.get("architectures").and_then(Value::as_array).into_iter().flatten();
        let mut names = model_types.chain(architectures.filter_map(Value::as_str).map(|name| ("architecture", name)));
        names.find_map(|(key, name)| {
            let lower = name.to_ascii_lowercase();
            let (_, output) = OUTPUT_BY_FAMILY.iter().find(|(family, _)| lower.contains(family))?;
            Some((*output, format!("{key} {name:?}")))
        })
    }

    /// transformers writes 1e30 here when a tokenizer has no limit of its own.
    fn model_max_length(&self) -> Option<usize> {
        let length = self.tokenizer_config.get("model_max_length")?.as_f64()?;
        (1.0..1e9).contains(&length).then_some(length as usize)
    }

    fn max_position_embeddings(&self) -> Option<usize> {
        let config = self.config.get("text_config").unwrap_or(&self.config);
        config.get("max_position_embeddings")?.as_u64().and_then(|n| usize::try_from(n).ok())
    }

    /// The pad token that the tokenizer configs name, with its id; config.json's
    /// `pad_token_id` comes last, since CLIP's says 1 where its tokenizer pads with 49407.
    fn pad_token(&self, tokenizer: &Tokenizer) -> anyhow::Result<Option<(u32, String)>> {
        let named = [&self.special_tokens_map, &self.tokenizer_config]
            .into_iter()
            .filter_map(|config| config.get("pad_token"))
            .find_map(|token| token.as_str().or_else(|| token.get("content").and_then(Value::as_str)));
        if let Some(token) = named {
            let id = tokenizer
                .token_to_id(token)
                .ok_or_else(|| anyhow!("the pad token {token:?} is not in tokenizer.json's vocabulary"))?;
            return Ok(Some((id, token.to_string())));
        }
        let config = self.config.get("text_config").unwrap_or(&self.config);
        let id = config.get("pad_token_id").and_then(Value::as_u64).and_then(|id| u32::try_from(id).ok());
        Ok(id.map(|id| (id, tokenizer.id_to_token(id).unwrap_or_default())))
    }
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
