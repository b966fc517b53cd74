//! The run's description, recorded once as JSON in the `meta` table. The checkpoint stores
//! whatever record its caller gives (the pipeline's `RunRecord`), so it depends on no stage.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{now_millis, Checkpoint, CheckpointError, Result};

impl Checkpoint {
    /// The run's description, as [`Self::set_config`] recorded it.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        let text = self.meta("config")?.ok_or_else(|| CheckpointError::NoConfig { path: self.path.clone() })?;
        serde_json::from_str(&text).map_err(|source| CheckpointError::Config { path: self.path.clone(), source })
    }

    pub fn set_config<T: Serialize>(&self, config: &T) -> Result<()> {
        let text = serde_json::to_string(config)
            .map_err(|source| CheckpointError::ConfigWrite { path: self.path.clone(), source })?;
        self.set_meta("config", &text)?;
        if self.meta("created_at")?.is_none() {
            self.set_meta("created_at", &now_millis().to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Record {
        paths: Vec<String>,
    }

    #[test]
    fn a_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        assert!(matches!(checkpoint.config::<Record>(), Err(CheckpointError::NoConfig { .. })));
        let record = Record { paths: vec!["a".into()] };
        checkpoint.set_config(&record).unwrap();
        assert_eq!(checkpoint.config::<Record>().unwrap(), record);
    }

    #[test]
    fn a_configuration_that_cannot_be_parsed_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        checkpoint.set_meta("config", "{\"paths\": 3}").unwrap();
        let error = checkpoint.config::<Record>().unwrap_err();
        assert!(matches!(error, CheckpointError::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("run configuration in checkpoint"), "{error}");
    }
}
