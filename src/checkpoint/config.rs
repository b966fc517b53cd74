//! The configuration of a run, recorded in the checkpoint so that `resume` needs no flags.
//!
//! It is stored as JSON. A path that is UTF-8 is a plain string; one that is not (Linux
//! allows any bytes in a name) is `{"unix_bytes": "<base64 of its bytes>"}`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{now_millis, Checkpoint, CheckpointError, Result};
use crate::decode::DecodeOptions;

/// Everything `resume` needs to carry on a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    #[serde(with = "path_json::many")]
    pub paths: Vec<PathBuf>,
    #[serde(with = "path_json::many")]
    pub manifests: Vec<PathBuf>,
    pub hidden: bool,
    pub follow_links: bool,
    /// A bad manifest line ends the run instead of failing alone.
    #[serde(default)]
    pub strict_manifest: bool,
    #[serde(with = "path_json")]
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
    #[serde(with = "path_json")]
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
    #[serde(with = "path_json")]
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
        serde_json::from_str(&text).map_err(|source| CheckpointError::Config { path: self.path.clone(), source })
    }

    pub fn set_config(&self, config: &RunConfig) -> Result<()> {
        let text = serde_json::to_string(config)
            .map_err(|source| CheckpointError::ConfigWrite { path: self.path.clone(), source })?;
        self.set_meta("config", &text)?;
        if self.meta("created_at")?.is_none() {
            self.set_meta("created_at", &now_millis().to_string())?;
        }
        Ok(())
    }
}

/// A path in JSON: the string itself when it is UTF-8, so that checkpoints written before
/// this existed read unchanged, and otherwise `{"unix_bytes": BASE64}` (standard alphabet,
/// padded) of its raw bytes.
mod path_json {
    use std::ffi::OsString;
    use std::fmt;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use base64::prelude::{Engine, BASE64_STANDARD};
    use serde::de::{self, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    const BYTES: &str = "unix_bytes";

    pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => serializer.serialize_str(text),
            None => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BYTES, &BASE64_STANDARD.encode(path.as_os_str().as_bytes()))?;
                map.end()
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
        deserializer.deserialize_any(PathVisitor)
    }

    struct PathVisitor;

    impl<'de> Visitor<'de> for PathVisitor {
        type Value = PathBuf;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a path: a string, or {{\"{BYTES}\": base64}}")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<PathBuf, E> {
            Ok(PathBuf::from(text))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathBuf, A::Error> {
            let mut bytes = None;
            while let Some(key) = map.next_key::<String>()? {
                if key != BYTES {
                    return Err(de::Error::unknown_field(&key, &[BYTES]));
                }
                if bytes.is_some() {
                    return Err(de::Error::duplicate_field(BYTES));
                }
                let text: String = map.next_value()?;
                let decoded = BASE64_STANDARD
                    .decode(&text)
                    .map_err(|error| de::Error::custom(format!("{BYTES} is not base64 ({error})")))?;
                bytes = Some(decoded);
            }
            let bytes = bytes.ok_or_else(|| de::Error::missing_field(BYTES))?;
            Ok(PathBuf::from(OsString::from_vec(bytes)))
        }
    }

    /// A list of paths, each as above.
    pub mod many {
        use std::path::{Path, PathBuf};

        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize)]
        struct Borrowed<'a>(#[serde(with = "super")] &'a Path);

        #[derive(Deserialize)]
        struct Owned(#[serde(with = "super")] PathBuf);

        pub fn serialize<S: Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(paths.iter().map(|path| Borrowed(path)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PathBuf>, D::Error> {
            let paths = Vec::<Owned>::deserialize(deserializer)?;
            Ok(paths.into_iter().map(|Owned(path)| path).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::*;

    fn config(paths: Vec<PathBuf>, store: PathBuf, working_dir: PathBuf) -> RunConfig {
        RunConfig {
            paths,
            manifests: vec![PathBuf::from("list.jsonl")],
            hidden: false,
            follow_links: false,
            strict_manifest: false,
            model: PathBuf::from("model"),
            preprocess: None,
            output: None,
            normalize: true,
            model_fingerprint: "m".into(),
            preprocess_fingerprint: "p".into(),
            decode: DecodeOptions::default(),
            store,
            collection: "images".into(),
            qdrant: None,
            shard: None,
            verify_content: false,
            delete_missing: false,
            batch_size: 32,
            device: "cpu".into(),
            working_dir,
        }
    }

    fn raw(bytes: &[u8]) -> PathBuf {
        Path::new(OsStr::from_bytes(bytes)).to_path_buf()
    }

    #[test]
    fn paths_that_are_not_utf8_are_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let written = config(vec![raw(b"caf\xe9"), raw(b"photos")], raw(b"store\xff"), raw(b"/home/\xfe"));
        checkpoint.set_config(&written).unwrap();
        assert_eq!(checkpoint.config().unwrap(), written);
        let text = checkpoint.meta("config").unwrap().unwrap();
        assert!(text.contains(r#""paths":[{"unix_bytes":"Y2Fm6Q=="},"photos"]"#), "{text}");
        assert!(text.contains(r#""store":{"unix_bytes":"c3RvcmX/"}"#), "{text}");
    }

    #[test]
    fn utf8_paths_stay_plain_strings_as_older_checkpoints_wrote_them() {
        let written = config(vec![PathBuf::from("photos/été")], PathBuf::from("imbed-store"), PathBuf::from("/w"));
        let text = serde_json::to_string(&written).unwrap();
        assert!(text.contains(r#""paths":["photos/été"],"manifests":["list.jsonl"]"#), "{text}");
        assert!(text.contains(r#""model":"model""#) && text.contains(r#""working_dir":"/w""#), "{text}");
        assert_eq!(serde_json::from_str::<RunConfig>(&text).unwrap(), written);
    }

    #[test]
    fn a_path_object_must_hold_base64_bytes() {
        let written = config(Vec::new(), PathBuf::from("s"), PathBuf::from("/w"));
        let text = serde_json::to_string(&written).unwrap();
        for (bad, expected) in [
            (r#"{"unix_bytes":"not base64!"}"#, "not base64"),
            (r#"{"bytes":"YQ=="}"#, "unknown field `bytes`"),
            (r#"{}"#, "missing field `unix_bytes`"),
            ("7", "a path"),
        ] {
            let broken = text.replace(r#""store":"s""#, &format!(r#""store":{bad}"#));
            let error = serde_json::from_str::<RunConfig>(&broken).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn a_configuration_that_cannot_be_parsed_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        checkpoint.set_meta("config", "{\"paths\": 3}").unwrap();
        let error = checkpoint.config().unwrap_err();
        assert!(matches!(error, CheckpointError::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("run configuration in checkpoint"), "{error}");
    }
}
