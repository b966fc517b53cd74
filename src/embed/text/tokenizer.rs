//! The tokenizer: `tokenizer.json` with the model's truncation and padding.

use std::path::Path;

use anyhow::anyhow;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::configs::Configs;

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
    pub(super) fn with_configs(
        dir: &Path,
        configs: &Configs,
        model_length: Option<usize>,
        pad: bool,
    ) -> anyhow::Result<Self> {
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
