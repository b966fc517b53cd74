//! Whole points (vectors and payloads) read in pages, in ID order, from either kind of index:
//! what `export` and `dupes` walk, never holding a collection in memory.

use std::ops::ControlFlow;

use uuid::Uuid;

use super::{EdgeStore, Point, SearchParams, Sink, SinkError};

/// Calls `visit` with every page of up to `limit` points, in ID order, until the last page or
/// until `visit` breaks.
pub fn each_page(
    source: &dyn ReadPoints,
    limit: usize,
    mut visit: impl FnMut(Vec<Point>) -> anyhow::Result<ControlFlow<()>>,
) -> anyhow::Result<()> {
    let mut next = None;
    loop {
        let (points, following) = source.read_page(next, limit)?;
        if visit(points)?.is_break() {
            return Ok(());
        }
        next = following;
        if next.is_none() {
            return Ok(());
        }
    }
}

pub trait ReadPoints: Sink {
    /// The vectors' dimension.
    fn vector_size(&self) -> usize;
    /// Exact number of points.
    fn point_count(&self) -> Result<u64, SinkError>;
    /// Up to `limit` points from `start` on, and the ID where the next page starts.
    fn read_page(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Point>, Option<Uuid>), SinkError>;
    /// The `top` nearest points (IDs and scores) at least `min_score` from each vector; a
    /// server answers them in one request.
    fn search_many(
        &self,
        vectors: &[Vec<f32>],
        top: usize,
        min_score: f32,
    ) -> Result<Vec<Vec<(Uuid, f32)>>, SinkError> {
        let params = SearchParams { top, min_score: Some(min_score), filter: &[] };
        vectors
            .iter()
            .map(|vector| {
                let hits = self.search(vector, params)?;
                Ok(hits.into_iter().filter_map(|hit| Some((hit.id.parse().ok()?, hit.score))).collect())
            })
            .collect()
    }
}

impl ReadPoints for EdgeStore {
    fn vector_size(&self) -> usize {
        self.dimension()
    }

    fn point_count(&self) -> Result<u64, SinkError> {
        super::Sink::count(self)
    }

    fn read_page(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Point>, Option<Uuid>), SinkError> {
        self.read_points(start, limit).map_err(|error| SinkError::Read(format!("{error:#}")))
    }
}
