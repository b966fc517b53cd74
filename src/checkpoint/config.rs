//! The configuration of a run, recorded in the checkpoint so that `resume` needs no flags.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{now_millis, Checkpoint, CheckpointError, Result};
use crate::decode::DecodeOptions;

/// Everything `resume` needs to carry on a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub paths: Vec<PathBuf>,
    pub manifests: Vec<PathBuf>,
    pub hidden: bool,
    pub follow_links: bool,
    /// A bad manifest line ends the run instead of failing alone.
    #[serde(default)]
    pub strict_manifest: bool,
    pub model: PathBuf,
    #[serde(default)]
    pub preprocess: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    pub normalize: bool,
    /// Hash of `model.onnx`.
    pub model_fingerprint: String,
    /// Hash of the resolved preprocessing steps (and of the background under transparency).
    pub preprocess_fingerprint: String,
    /// Size limits, the background and the JPEG scale; checkpoints from before they existed
    /// get the defaults of then (full-size decoding).
    #[serde(default = "DecodeOptions::before_recorded")]
    pub decode: DecodeOptions,
    pub store: PathBuf,
    pub collection: String,
    /// The Qdrant server the run writes to instead of `store`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdrant: Option<crate::sink::qdrant::ServerTarget>,
    /// The part of the corpus this run takes, when several machines split it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// Compare file contents, not only size and modification time, to find changed files.
    #[serde(default)]
    pub verify_content: bool,
    /// Delete the points of items whose files are gone, once a walk has finished.
    #[serde(default)]
    pub delete_missing: bool,
    pub batch_size: u32,
    pub device: String,
    /// Where the run started: relative sources, keys and the store are relative to it.
    pub working_dir: PathBuf,
}

impl RunConfig {
    /// The store folder, wherever the command runs from.
    pub fn store_dir(&self) -> PathBuf {
        self.working_dir.join(&self.store)
    }

    /// The server URL, or the store folder: where the points go.
    pub fn sink_location(&self) -> String {
        match &self.qdrant {
            Some(target) => target.url.clone(),
            None => self.store_dir().display().to_string(),
        }
    }
}

impl Checkpoint {
    pub fn config(&self) -> Result<RunConfig> {
        let text = self.meta("config")?.ok_or_else(|| CheckpointError::NoConfig { path: self.path.clone() })?;
        serde_json::from_str(&text).map_err(|error| CheckpointError::Sqlite {
            path: self.path.clone(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(error)),
        })
    }

    pub fn set_config(&self, config: &RunConfig) -> Result<()> {
        let text = serde_json::to_string(config).expect("run configuration serialises");
        self.set_meta("config", &text)?;
        if self.meta("created_at")?.is_none() {
            self.set_meta("created_at", &now_millis().to_string())?;
        }
        Ok(())
    }
}
