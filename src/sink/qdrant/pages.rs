//! Whole points of a server collection, scrolled in pages in ID order.

use qdrant_client::qdrant::{
    vector_output::Vector, Query, QueryBatchPointsBuilder, QueryPointsBuilder, ScrollPointsBuilder, VectorsSelector,
};
use uuid::Uuid;

use super::{format_id, payload_to_json, QdrantSink};
use crate::sink::pages::ReadPoints;
use crate::sink::{Point, Sink, SinkError};

impl ReadPoints for QdrantSink {
    fn vector_size(&self) -> usize {
        self.dimension
    }

    fn point_count(&self) -> Result<u64, SinkError> {
        self.count()
    }

    fn read_page(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Point>, Option<Uuid>), SinkError> {
        let mut request = ScrollPointsBuilder::new(self.collection.clone())
            .limit(limit.min(u32::MAX as usize) as u32)
            .with_payload(true);
        request = match &self.vector_name {
            Some(name) => request.with_vectors(VectorsSelector { names: vec![name.clone()] }),
            None => request.with_vectors(true),
        };
        if let Some(start) = start {
            request = request.offset(start.to_string());
        }
        let request = request.build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.scroll(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        let not_imbeds = |id: &qdrant_client::qdrant::PointId| {
            SinkError::Read(format!(
                "collection `{}` holds point {}, which imbed did not write",
                self.collection,
                format_id(id)
            ))
        };
        let mut points = Vec::with_capacity(response.result.len());
        for point in response.result {
            let Some(point_id) = point.id else { continue };
            let id = format_id(&point_id).parse::<Uuid>().map_err(|_| not_imbeds(&point_id))?;
            let vector = point.vectors.and_then(|vectors| match &self.vector_name {
                Some(name) => vectors.get_vector_by_name(name),
                None => vectors.get_vector(),
            });
            let Some(Vector::Dense(dense)) = vector else {
                return Err(SinkError::Read(format!("point {id} has no dense vector")));
            };
            points.push(Point { id, vector: dense.data, payload: payload_to_json(point.payload) });
        }
        let next = match response.next_page_offset {
            Some(offset) => Some(format_id(&offset).parse::<Uuid>().map_err(|_| not_imbeds(&offset))?),
            None => None,
        };
        Ok((points, next))
    }

    fn search_many(
        &self,
        vectors: &[Vec<f32>],
        top: usize,
        min_score: f32,
    ) -> Result<Vec<Vec<(Uuid, f32)>>, SinkError> {
        let queries: Vec<_> = vectors
            .iter()
            .map(|vector| {
                let query = QueryPointsBuilder::new(&self.collection)
                    .query(Query::new_nearest(vector.clone()))
                    .limit(top as u64)
                    .score_threshold(min_score)
                    .with_payload(false);
                match &self.vector_name {
                    Some(name) => query.using(name.clone()).build(),
                    None => query.build(),
                }
            })
            .collect();
        let request = QueryBatchPointsBuilder::new(&self.collection, queries).build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.query_batch(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        Ok(response
            .result
            .into_iter()
            .map(|batch| {
                let hits = batch.result.into_iter();
                hits.filter_map(|hit| Some((hit.id.as_ref().map(format_id)?.parse().ok()?, hit.score))).collect()
            })
            .collect())
    }
}
