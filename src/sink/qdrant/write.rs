//! Writes and reads: points to requests under the server's limits, upserts in parallel with
//! retries, deletes, counts and searches.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use qdrant_client::qdrant::points_update_operation::{Operation, OverwritePayload};
use qdrant_client::qdrant::{
    point_id::PointIdOptions, CountPointsBuilder, DeletePointsBuilder, NamedVectors, PointId, PointStruct,
    PointsIdsList, PointsSelector, PointsUpdateOperation, QueryPointsBuilder, UpdateBatchPointsBuilder, UpsertPoints,
    UpsertPointsBuilder,
};
use qdrant_client::Payload;
use uuid::Uuid;

use super::{describe, with_retries, QdrantSink, MAX_REQUEST_BYTES};
use crate::sink::{check_dimensions, Point, ScoredPoint, SearchParams, Sink, SinkError};

impl QdrantSink {
    fn to_grpc(&self, point: Point) -> PointStruct {
        let payload = Payload::from(point.payload);
        match &self.vector_name {
            Some(name) => {
                PointStruct::new(point.id.to_string(), NamedVectors::default().add_vector(name, point.vector), payload)
            }
            None => PointStruct::new(point.id.to_string(), point.vector, payload),
        }
    }
}

/// Splits points into requests of at most `batch` points and `MAX_REQUEST_BYTES` bytes.
fn split_requests(collection: &str, points: Vec<PointStruct>, batch: usize) -> Result<Vec<UpsertPoints>, SinkError> {
    let empty = UpsertPointsBuilder::new(collection, Vec::new()).wait(true).build();
    let overhead = empty.encoded_len();
    let mut requests = Vec::new();
    let mut current = empty.clone();
    let mut bytes = overhead;
    for point in points {
        // Field tag and length prefix of a repeated message: at most 1 + 5 bytes.
        let size = point.encoded_len() + 6;
        if overhead + size > MAX_REQUEST_BYTES {
            return Err(SinkError::Write(format!(
                "point {} takes {size} bytes, over the server's 32 MB request limit; shrink its payload",
                point.id.as_ref().map(format_id).unwrap_or_default()
            )));
        }
        if !current.points.is_empty() && (current.points.len() >= batch || bytes + size > MAX_REQUEST_BYTES) {
            requests.push(std::mem::replace(&mut current, empty.clone()));
            bytes = overhead;
        }
        bytes += size;
        current.points.push(point);
    }
    if !current.points.is_empty() {
        requests.push(current);
    }
    Ok(requests)
}
impl Sink for QdrantSink {
    fn upsert(&mut self, points: Vec<Point>) -> Result<(), SinkError> {
        check_dimensions(&points, self.dimension)?;
        let points: Vec<PointStruct> = points.into_iter().map(|point| self.to_grpc(point)).collect();
        let requests = split_requests(&self.collection, points, self.connection.upsert_batch)?;
        let retries = self.connection.max_retries;
        let parallel = Arc::new(tokio::sync::Semaphore::new(self.connection.upsert_parallel.max(1)));
        let client = &self.client;
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for request in requests {
                let client = client.clone();
                let parallel = parallel.clone();
                tasks.spawn(async move {
                    let _permit = parallel.acquire_owned().await;
                    with_retries("upsert", retries, || client.upsert_points(request.clone())).await
                });
            }
            // Every request is awaited, so none is still in flight when the batch is reported.
            let mut first_error = None;
            while let Some(joined) = tasks.join_next().await {
                let error = match joined {
                    Ok(Ok(_)) => continue,
                    Ok(Err(error)) => describe(&error),
                    Err(panic) => format!("the upsert task failed: {panic}"),
                };
                first_error.get_or_insert(error);
            }
            match first_error {
                None => Ok(()),
                Some(error) => Err(SinkError::GaveUp(format!("after {} tries: {error}", retries + 1))),
            }
        })
    }

    fn delete(&mut self, ids: &[Uuid]) -> Result<(), SinkError> {
        let ids: Vec<PointId> = ids.iter().map(|id| PointId::from(id.to_string())).collect();
        let request = DeletePointsBuilder::new(&self.collection).points(PointsIdsList { ids }).wait(true).build();
        let retries = self.connection.max_retries;
        self.call(|client, _| {
            let request = request.clone();
            async move { client.delete_points(request).await }
        })
        .map(drop)
        .map_err(|error| SinkError::GaveUp(format!("after {} tries: {error:#}", retries + 1)))
    }

    fn overwrite_payloads(
        &mut self,
        payloads: Vec<(Uuid, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<(), SinkError> {
        let operations: Vec<PointsUpdateOperation> = payloads
            .into_iter()
            .map(|(id, payload)| {
                let ids = vec![PointId::from(id.to_string())];
                PointsUpdateOperation {
                    operation: Some(Operation::OverwritePayload(OverwritePayload {
                        payload: Payload::from(payload).into(),
                        points_selector: Some(PointsSelector::from(ids)),
                        shard_key_selector: None,
                        key: None,
                    })),
                }
            })
            .collect();
        let retries = self.connection.max_retries;
        // As many operations a request as points in an upsert: payloads are far smaller.
        for chunk in operations.chunks(self.connection.upsert_batch.max(1)) {
            let request = UpdateBatchPointsBuilder::new(&self.collection, chunk.to_vec()).wait(true).build();
            self.call(|client, _| {
                let request = request.clone();
                async move { client.update_points_batch(request).await }
            })
            .map_err(|error| SinkError::GaveUp(format!("after {} tries: {error:#}", retries + 1)))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // Upserts already waited for the server's acknowledgement.
        Ok(())
    }

    fn count(&self) -> Result<u64, SinkError> {
        let request = CountPointsBuilder::new(&self.collection).exact(true).build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.count(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        Ok(response.result.map_or(0, |result| result.count))
    }

    fn search(&self, vector: &[f32], params: SearchParams<'_>) -> Result<Vec<ScoredPoint>, SinkError> {
        let mut request = QueryPointsBuilder::new(&self.collection)
            .query(qdrant_client::qdrant::Query::new_nearest(vector.to_vec()))
            .limit(params.top as u64)
            .with_payload(true);
        if !params.filter.is_empty() {
            request = request.filter(crate::sink::filter::to_grpc(params.filter));
        }
        if let Some(min_score) = params.min_score {
            request = request.score_threshold(min_score);
        }
        if let Some(name) = &self.vector_name {
            request = request.using(name.clone());
        }
        let request = request.build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.query(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        Ok(response
            .result
            .into_iter()
            .map(|hit| ScoredPoint {
                id: hit.id.as_ref().map(format_id).unwrap_or_default(),
                score: hit.score,
                payload: payload_to_json(hit.payload),
            })
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"qdrant": self.connection.url})
    }

    fn location(&self) -> String {
        self.connection.url.clone()
    }
}
pub fn payload_to_json(
    payload: HashMap<String, qdrant_client::qdrant::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    payload.into_iter().map(|(key, value)| (key, value.into_json())).collect()
}

pub fn format_id(id: &qdrant_client::qdrant::PointId) -> String {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(uuid)) => uuid.clone(),
        Some(PointIdOptions::Num(number)) => number.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: u128, bytes: usize) -> PointStruct {
        let payload = Payload::from(serde_json::Map::from_iter([("blob".to_string(), "x".repeat(bytes).into())]));
        PointStruct::new(uuid::Uuid::from_u128(id).to_string(), vec![0.5f32; 8], payload)
    }

    #[test]
    fn requests_stay_under_the_batch_and_the_size_limit() {
        let points = (0..10).map(|id| point(id, 10)).collect();
        let sizes: Vec<usize> =
            split_requests("c", points, 4).unwrap().iter().map(|request| request.points.len()).collect();
        assert_eq!(sizes, [4, 4, 2]);

        // Five points of 10 MB: three fit under 32 MB, so no request may hold more.
        let points = (0..5).map(|id| point(id, 10 << 20)).collect();
        let requests = split_requests("c", points, 256).unwrap();
        assert_eq!(requests.iter().map(|request| request.points.len()).sum::<usize>(), 5);
        assert!(requests.iter().all(|request| request.encoded_len() <= MAX_REQUEST_BYTES));
        assert_eq!(requests.len(), 2);

        let too_big = vec![point(1, 40 << 20)];
        assert!(split_requests("c", too_big, 256).is_err());
    }
}
