//! Where vectors go. A [`Sink`] takes batches of points and says when they are durable.

pub mod edge;
pub mod filter;
pub mod identity;
pub mod pages;
pub mod qdrant;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use edge::{CollectionInfo, EdgeStore};
pub use filter::{Condition, SearchParams};
pub use identity::{Index, IndexId};
pub use pages::{each_page, ReadPoints};
pub use qdrant::{CollectionSetup, QdrantSink, ServerTarget};

/// The sink part of a run description: the collection, in the embedded store or on a server.
/// Stored in checkpoints under the names they have always had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkTarget {
    /// The embedded store's folder, relative to where the run started; unused with a server.
    #[serde(with = "crate::util::path_serde")]
    pub store: PathBuf,
    pub collection: String,
    /// The Qdrant server the run writes to instead of `store`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdrant: Option<ServerTarget>,
}

impl SinkTarget {
    /// The server URL, or the store folder under `working_dir`: where the points go.
    pub fn location(&self, working_dir: &Path) -> String {
        match &self.qdrant {
            Some(target) => target.url.clone(),
            None => working_dir.join(&self.store).display().to_string(),
        }
    }
}

/// One vector with its payload, keyed by a deterministic ID.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub payload: Map<String, Value>,
}

/// A point found by a search.
#[derive(Debug, Clone)]
pub struct ScoredPoint {
    pub id: String,
    pub score: f32,
    pub payload: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("the store rejected the write: {0}")]
    Write(String),
    #[error("cannot flush the store to disk: {0}")]
    Flush(String),
    #[error("cannot read the store: {0}")]
    Read(String),
    #[error("{0}")]
    NoSpace(String),
    /// The sink already retried this write as often as it was allowed to.
    #[error("the server did not take the write {0}")]
    GaveUp(String),
}

pub trait Sink: Send {
    /// Writes the points; overwrites points with the same IDs.
    fn upsert(&mut self, points: Vec<Point>) -> Result<(), SinkError>;
    /// Deletes the points with these IDs; IDs without a point are ignored.
    fn delete(&mut self, ids: &[Uuid]) -> Result<(), SinkError>;
    /// Replaces the whole payload of each of these points, keeping its vector
    /// (`--refresh-payload`). A point that is not there is an error, not created.
    fn overwrite_payloads(&mut self, payloads: Vec<(Uuid, Map<String, Value>)>) -> Result<(), SinkError>;
    /// Makes every earlier upsert durable.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Fails when the disk under the sink is nearly full. Qdrant Edge memory-maps its files,
    /// and a write into a full file system kills the process (SIGBUS) instead of failing.
    fn ensure_space(&self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Exact number of points in the collection.
    fn count(&self) -> Result<u64, SinkError>;
    /// The `params.top` nearest points to `vector` that pass `params.filter`, best first.
    fn search(&self, vector: &[f32], params: SearchParams<'_>) -> Result<Vec<ScoredPoint>, SinkError>;
    /// Where the points are, for `--json` output: `{"store": DIR}` or `{"qdrant": URL}`.
    fn describe(&self) -> serde_json::Value;
    /// Where the points are, for people.
    fn location(&self) -> String;
}

/// Refuses points whose vectors do not have the collection's dimension.
pub fn check_dimensions(points: &[Point], dimension: usize) -> Result<(), SinkError> {
    match points.iter().find(|point| point.vector.len() != dimension) {
        Some(point) => Err(SinkError::Write(format!(
            "vector of {} dimensions for a collection of {dimension}",
            point.vector.len()
        ))),
        None => Ok(()),
    }
}
