//! A run, described once: where its items come from, which model embeds them, and where the
//! points go, with the options that shape every vector. It is built from the command line or
//! read back from a checkpoint, which records it with the fingerprints of what it embedded with.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decode::DecodeOptions;
use crate::embed::{ModelConfig, ResolvedModel, TextModelConfig};
use crate::preprocess::Background;
use crate::shard::Shard;
use crate::sink::SinkTarget;
use crate::source::SourceSpec;

/// Everything a run (and its resume) needs to produce the same vectors for the same items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    #[serde(flatten)]
    pub sources: SourceSpec,
    #[serde(flatten)]
    pub model: ModelConfig,
    /// The text model the collection records for searches; the run itself never loads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_model: Option<TextModelConfig>,
    #[serde(flatten)]
    pub sink: SinkTarget,
    /// Checkpoints from before these options existed get the defaults of then (full-size decoding).
    #[serde(default = "ImageOptions::before_recorded")]
    pub decode: ImageOptions,
    pub batch_size: u32,
    /// The part of the corpus this run takes, when several machines split it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Compare file contents, not only size and modification time, to find changed files.
    #[serde(default)]
    pub verify_content: bool,
    /// Delete the points of items whose files are gone, once a walk has finished.
    #[serde(default)]
    pub delete_missing: bool,
    /// Record an item whose bytes equal a done item's as its duplicate, without embedding it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_duplicates: bool,
    /// Where the run started: relative sources, keys and the store are relative to it.
    #[serde(with = "crate::util::path_serde")]
    pub working_dir: PathBuf,
}

/// How images are read, and the colour under their transparent pixels (stored beside the
/// decode limits, where checkpoints have always kept it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOptions {
    #[serde(flatten)]
    pub limits: DecodeOptions,
    #[serde(default)]
    pub background: Background,
}

impl ImageOptions {
    /// What a checkpoint from before the decode options existed ran with.
    pub fn before_recorded() -> Self {
        Self { limits: DecodeOptions::before_recorded(), background: Background::WHITE }
    }
}

impl RunSpec {
    /// The store folder, wherever the command runs from.
    pub fn store_dir(&self) -> PathBuf {
        self.working_dir.join(&self.sink.store)
    }

    /// The server URL, or the store folder: where the points go.
    pub fn sink_location(&self) -> String {
        self.sink.location(&self.working_dir)
    }

    /// Whether `other` takes the same items into the same collection, so that one checkpoint
    /// can serve both. Manifests compare by identity: the same presigned manifest signed
    /// again tomorrow is the same manifest.
    pub fn same_items_and_collection(&self, other: &RunSpec) -> bool {
        let manifests = |spec: &RunSpec| -> Vec<String> {
            spec.sources.manifests.iter().map(|manifest| manifest.identity().into_owned()).collect()
        };
        (&self.sources.paths, manifests(self), self.sink_location(), &self.sink.collection)
            == (&other.sources.paths, manifests(other), other.sink_location(), &other.sink.collection)
    }

    /// The sources for people: paths and `--manifest` flags, as typed but without secrets.
    pub fn describe_sources(&self) -> String {
        let paths = self.sources.paths.iter().map(|p| p.display().to_string());
        let manifests = self.sources.manifests.iter().map(|m| format!("--manifest {}", m.shown()));
        paths.chain(manifests).collect::<Vec<_>>().join(" ")
    }
}

/// What a checkpoint records of its run: the description and the fingerprints of the model
/// and preprocessing that its vectors came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub spec: RunSpec,
    #[serde(flatten)]
    pub fingerprints: Fingerprints,
    /// How the run was told to go; checkpoints from before it was recorded have none.
    #[serde(default, skip_serializing_if = "RecordedControl::is_empty")]
    pub control: RecordedControl,
}

/// The run-control numbers given to a run (by flag or variable), so that its resume and
/// retry-failed go the same way unless given others. What was never given is left out, and
/// takes the default of the imbed that resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedControl {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failure_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_memory_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_space_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_interval_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_concurrency: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_memory_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_connect_timeout: Option<std::time::Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_stall_timeout: Option<std::time::Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_object_timeout: Option<std::time::Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_host_failure_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upsert_batch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upsert_parallel: Option<u32>,
}

impl RecordedControl {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// Hash of `model.onnx`.
    #[serde(rename = "model_fingerprint")]
    pub model: String,
    /// Hash of the preprocessing steps and the JPEG decoding scale.
    #[serde(rename = "preprocess_fingerprint")]
    pub preprocess: String,
}

/// How a recorded run compares with the model and preprocessing on disk now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// The same, recorded by imbed 0.1 in its older form: the record should be rewritten.
    SameInOlderForm,
    Changed {
        model: bool,
        preprocess: bool,
    },
}

impl Fingerprints {
    /// Hashes the model file and describes its preprocessing.
    pub fn of(model: &ResolvedModel, decode: &ImageOptions) -> anyhow::Result<Self> {
        Ok(Self { model: model.fingerprint()?, preprocess: model.preprocessor.fingerprint(&decode.limits) })
    }

    pub fn compare(&self, recorded: &Fingerprints, model: &ResolvedModel, decode: &ImageOptions) -> Comparison {
        let model_changed = self.model != recorded.model;
        let legacy = model.preprocessor.legacy_fingerprint(&decode.limits);
        let older_form = legacy.as_deref() == Some(recorded.preprocess.as_str());
        let preprocess_changed = self.preprocess != recorded.preprocess && !older_form;
        match (model_changed, preprocess_changed) {
            (false, false) if older_form => Comparison::SameInOlderForm,
            (false, false) => Comparison::Same,
            (model, preprocess) => Comparison::Changed { model, preprocess },
        }
    }
}

/// The one-line refusal of a changed model, naming `remedy`.
pub fn changed_model_message(model: bool, preprocess: bool, checkpoint: &Path, remedy: &str) -> String {
    let what = match (model, preprocess) {
        (true, true) => "model.onnx and its preprocessing have",
        (true, false) => "model.onnx has",
        _ => "the preprocessing has",
    };
    format!(
        "{what} changed since the run in {} started, so new vectors would not match stored ones; \
         {remedy}, or index into a new collection with a new --checkpoint",
        checkpoint.display()
    )
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::embed::Device;

    fn spec(paths: Vec<PathBuf>, store: PathBuf, working_dir: PathBuf) -> RunSpec {
        RunSpec {
            sources: SourceSpec {
                paths,
                manifests: vec![crate::locator::Locator::new("list.jsonl")],
                ..SourceSpec::default()
            },
            model: ModelConfig {
                path: "model".into(),
                preset: None,
                output: None,
                normalize: true,
                device: Device::Cpu,
            },
            text_model: None,
            sink: SinkTarget { store, collection: "images".into(), qdrant: None },
            decode: ImageOptions::default(),
            batch_size: 32,
            shard: None,
            verify_content: false,
            delete_missing: false,
            skip_duplicates: false,
            working_dir,
        }
    }

    fn raw(bytes: &[u8]) -> PathBuf {
        Path::new(OsStr::from_bytes(bytes)).to_path_buf()
    }

    #[test]
    fn paths_that_are_not_utf8_are_recorded_and_read_back() {
        let written = spec(vec![raw(b"caf\xe9"), raw(b"photos")], raw(b"store\xff"), raw(b"/home/\xfe"));
        let text = serde_json::to_string(&written).unwrap();
        assert!(text.contains(r#""paths":[{"unix_bytes":"Y2Fm6Q=="},"photos"]"#), "{text}");
        assert!(text.contains(r#""store":{"unix_bytes":"c3RvcmX/"}"#), "{text}");
        assert_eq!(serde_json::from_str::<RunSpec>(&text).unwrap(), written);
    }

    #[test]
    fn utf8_paths_stay_plain_strings_as_older_checkpoints_wrote_them() {
        let written = spec(vec![PathBuf::from("photos/été")], PathBuf::from("imbed-store"), PathBuf::from("/w"));
        let text = serde_json::to_string(&written).unwrap();
        assert!(text.contains(r#""paths":["photos/été"],"manifests":["list.jsonl"]"#), "{text}");
        assert!(text.contains(r#""model":"model""#) && text.contains(r#""working_dir":"/w""#), "{text}");
        assert_eq!(serde_json::from_str::<RunSpec>(&text).unwrap(), written);
    }

    #[test]
    fn a_path_object_must_hold_base64_bytes() {
        let text = serde_json::to_string(&spec(Vec::new(), PathBuf::from("s"), PathBuf::from("/w"))).unwrap();
        for (bad, expected) in [
            (r#"{"unix_bytes":"not base64!"}"#, "not base64"),
            (r#"{"bytes":"YQ=="}"#, "unknown field `bytes`"),
            (r#"{}"#, "missing field `unix_bytes`"),
            ("7", "a path"),
        ] {
            let broken = text.replace(r#""store":"s""#, &format!(r#""store":{bad}"#));
            let error = serde_json::from_str::<RunSpec>(&broken).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn a_record_of_imbed_0_1_reads_into_the_three_parts() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/checkpoint-0.1/config.json"))
                .unwrap();
        let record: RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(record.spec.sources.paths, [PathBuf::from("imgs")]);
        assert_eq!(record.spec.sink.collection, "images");
        assert_eq!(
            record.spec.decode,
            ImageOptions { limits: DecodeOptions::default(), background: Background::WHITE }
        );
        assert_eq!(record.fingerprints.preprocess, "xxh3:16e24a025385961e099b83a6d7180f28");
    }
}
