//! The JSON configs beside `tokenizer.json`: lengths, the pad token and the embedding output.

use std::path::Path;

use anyhow::{anyhow, Context};
use serde_json::Value;
use tokenizers::Tokenizer;

/// The embedding output of each text tower family, by the `model_type` in its `config.json`
/// (or the architecture it names): what transformers' model classes return as the embedding.
const OUTPUT_BY_FAMILY: &[(&str, &str)] = &[("siglip", "pooler_output"), ("clip", "text_embeds")];

/// The JSON files beside `tokenizer.json`, each optional.
pub(super) struct Configs {
    pub(super) tokenizer_config: Value,
    pub(super) special_tokens_map: Value,
    pub(super) config: Value,
}

impl Configs {
    pub(super) fn read(dir: &Path) -> anyhow::Result<Self> {
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
    pub(super) fn named_output(&self) -> Option<(&'static str, String)> {
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
    pub(super) fn model_max_length(&self) -> Option<usize> {
        let length = self.tokenizer_config.get("model_max_length")?.as_f64()?;
        (1.0..1e9).contains(&length).then_some(length as usize)
    }

    pub(super) fn max_position_embeddings(&self) -> Option<usize> {
        let config = self.config.get("text_config").unwrap_or(&self.config);
        config.get("max_position_embeddings")?.as_u64().and_then(|n| usize::try_from(n).ok())
    }

    /// The pad token that the tokenizer configs name, with its id; config.json's
    /// `pad_token_id` comes last, since CLIP's says 1 where its tokenizer pads with 49407.
    pub(super) fn pad_token(&self, tokenizer: &Tokenizer) -> anyhow::Result<Option<(u32, String)>> {
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
