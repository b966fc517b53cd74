//! Which model a run uses, as a run description names it, and that model found on disk.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::preprocess::{Background, Preprocessor, Preset};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(i32),
}

impl FromStr for Device {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => match other.strip_prefix("cuda:").map(str::parse::<i32>) {
                Some(Ok(id)) if id >= 0 => Ok(Self::Cuda(id)),
                _ => Err(format!("invalid device `{text}`: expected cpu, cuda or cuda:N")),
            },
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(id) => write!(f, "cuda:{id}"),
        }
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The model part of a run description: where the model is and how to run it. Stored in
/// checkpoints under the names they have always had (`model`, `preprocess`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// A folder in the Hugging Face layout, or a bare `.onnx` file.
    #[serde(rename = "model", with = "crate::util::path_serde")]
    pub path: PathBuf,
    /// A named preprocessing instead of `preprocessor_config.json`.
    #[serde(rename = "preprocess", default, with = "preset_name")]
    pub preset: Option<Preset>,
    /// The output that holds the embedding, when not the usual one.
    #[serde(default)]
    pub output: Option<String>,
    pub normalize: bool,
    #[serde(default = "cpu")]
    pub device: Device,
}

fn cpu() -> Device {
    Device::Cpu
}

mod preset_name {
    use super::*;

    pub fn serialize<S: Serializer>(preset: &Option<Preset>, serializer: S) -> Result<S::Ok, S::Error> {
        preset.map(Preset::name).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Preset>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|name| name.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl ModelConfig {
    /// Finds the model on disk: the ONNX file and its preprocessing, compositing over `background`.
    pub fn resolve(&self, background: Background) -> anyhow::Result<ResolvedModel> {
        let path = &self.path;
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read model {}", path.display()))?;
        let (onnx, config) = if metadata.is_dir() {
            let onnx = ["model.onnx", "onnx/model.onnx", "vision_model.onnx"]
                .iter()
                .map(|name| path.join(name))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| anyhow!("no model.onnx in the model folder {}", path.display()))?;
            (onnx, Some(path.join("preprocessor_config.json")).filter(|config| config.is_file()))
        } else {
            (path.to_path_buf(), None)
        };
        let preprocessor = match (self.preset, &config) {
            (Some(preset), _) => Preprocessor::from_preset(preset),
            (None, Some(config)) => Preprocessor::from_file(config)?,
            (None, None) => bail!(
                "{} has no preprocessor_config.json beside it; pass --preprocess clip|siglip|imagenet",
                path.display()
            ),
        };
        Ok(ResolvedModel { config: self.clone(), onnx, preprocessor: preprocessor.with_background(background) })
    }
}

/// A model found on disk: the ONNX file and the steps that prepare its input.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub config: ModelConfig,
    pub onnx: PathBuf,
    pub preprocessor: Preprocessor,
}

impl ResolvedModel {
    /// Hash of `model.onnx`, to notice a model that changed under a checkpoint.
    pub fn fingerprint(&self) -> anyhow::Result<String> {
        let hash =
            crate::util::content_hash(&self.onnx).with_context(|| format!("cannot read {}", self.onnx.display()))?;
        Ok(format!("xxh3:{hash:032x}"))
    }

    pub fn onnx(&self) -> &Path {
        &self.onnx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("CUDA:1".parse::<Device>().unwrap(), Device::Cuda(1));
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
    }

    #[test]
    fn reads_the_fields_checkpoints_have_always_held() {
        let text = r#"{"model":"/m","preprocess":"clip","output":null,"normalize":true,"device":"cuda:1"}"#;
        let config: ModelConfig = serde_json::from_str(text).unwrap();
        assert_eq!(config.preset, Some(Preset::Clip));
        assert_eq!(config.device, Device::Cuda(1));
        assert_eq!(serde_json::to_string(&config).unwrap(), text);
    }
}
