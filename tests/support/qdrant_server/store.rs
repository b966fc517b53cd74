//! The collections in memory: created, written and described as Qdrant does.

use std::collections::BTreeMap;
use std::time::Instant;

use qdrant_client::qdrant as pb;
use tonic::Status;

use super::rpcs::Service;
use super::{lock, not_found, seconds, unimplemented, Collection, StoredPoint, UpsertRecord};

fn id_text(id: Option<pb::PointId>) -> Result<String, Status> {
    match id.and_then(|id| id.point_id_options) {
        Some(pb::point_id::PointIdOptions::Num(number)) => Ok(number.to_string()),
        Some(pb::point_id::PointIdOptions::Uuid(text)) => Ok(text.to_lowercase()),
        None => Err(Status::invalid_argument("Wrong input: a point ID is missing")),
    }
}

#[allow(deprecated)]
fn dense(vector: pb::Vector) -> Result<Vec<f32>, Status> {
    match vector.vector {
        Some(pb::vector::Vector::Dense(dense)) => Ok(dense.data),
        None if vector.indices.is_none() && vector.vectors_count.is_none() => Ok(vector.data),
        _ => Err(unimplemented("a vector other than dense")),
    }
}

impl Collection {
    fn check_vector(&self, name: &str, len: usize) -> Result<(), Status> {
        match self.sizes.get(name) {
            None => Err(Status::invalid_argument(format!("Wrong input: Not existing vector name error: {name}"))),
            Some(&size) if size != len as u64 => Err(Status::invalid_argument(format!(
                "Wrong input: Vector dimension error: expected dim: {size}, got {len}"
            ))),
            Some(_) => Ok(()),
        }
    }

    #[allow(deprecated)]
    pub(super) fn info(&self) -> pb::CollectionInfo {
        let hnsw = pb::HnswConfigDiff { m: Some(16), ef_construct: Some(100), ..Default::default() };
        let optimizers = pb::OptimizersConfigDiff { indexing_threshold: Some(10_000), ..Default::default() };
        pb::CollectionInfo {
            status: pb::CollectionStatus::Green as i32,
            optimizer_status: Some(pb::OptimizerStatus { ok: true, error: String::new() }),
            segments_count: 1,
            config: Some(pb::CollectionConfig {
                params: Some(pb::CollectionParams {
                    shard_number: self.shard_number,
                    on_disk_payload: true,
                    vectors_config: Some(self.config.clone()),
                    replication_factor: Some(self.replication_factor),
                    write_consistency_factor: Some(1),
                    ..Default::default()
                }),
                hnsw_config: Some(hnsw),
                optimizer_config: Some(optimizers),
                metadata: self.metadata.clone(),
                ..Default::default()
            }),
            points_count: Some(self.points.len() as u64),
            indexed_vectors_count: Some(0),
            ..Default::default()
        }
    }
}

impl Service {
    pub(super) fn create_collection(&self, request: pb::CreateCollection) -> Result<bool, Status> {
        let config =
            request.vectors_config.ok_or_else(|| Status::invalid_argument("Wrong input: vectors_config is missing"))?;
        let sizes = match config.config.clone() {
            Some(pb::vectors_config::Config::Params(params)) => BTreeMap::from([(String::new(), params.size)]),
            Some(pb::vectors_config::Config::ParamsMap(map)) => {
                map.map.into_iter().map(|(name, params)| (name, params.size)).collect()
            }
            None => return Err(Status::invalid_argument("Wrong input: vectors_config is empty")),
        };
        let mut collections = lock(&self.0.collections);
        let name = request.collection_name;
        if collections.contains_key(&name) {
            return Err(Status::already_exists(format!("Wrong input: Collection `{name}` already exists!")));
        }
        let collection = Collection {
            config,
            sizes,
            shard_number: request.shard_number.unwrap_or(1),
            replication_factor: request.replication_factor.unwrap_or(1),
            metadata: request.metadata,
            points: BTreeMap::new(),
        };
        collections.insert(name, collection);
        Ok(true)
    }

    pub(super) fn upsert_points(&self, request: pb::UpsertPoints) -> Result<pb::PointsOperationResponse, Status> {
        let start = Instant::now();
        if let Some(status) = self.0.faults.take_failure() {
            return Err(status);
        }
        let mut collections = lock(&self.0.collections);
        let name = request.collection_name;
        let collection = collections.get_mut(&name).ok_or_else(|| not_found(&name))?;
        let count = request.points.len();
        // Checked before anything is written: a bad point fails the whole batch, as in Qdrant.
        let mut points = Vec::with_capacity(count);
        for point in request.points {
            let id = id_text(point.id)?;
            let vectors = match point.vectors.and_then(|vectors| vectors.vectors_options) {
                Some(pb::vectors::VectorsOptions::Vector(vector)) => BTreeMap::from([(String::new(), dense(vector)?)]),
                Some(pb::vectors::VectorsOptions::Vectors(named)) => named
                    .vectors
                    .into_iter()
                    .map(|(name, vector)| Ok((name, dense(vector)?)))
                    .collect::<Result<_, Status>>()?,
                None => return Err(Status::invalid_argument("Wrong input: a point has no vectors")),
            };
            for (vector_name, vector) in &vectors {
                collection.check_vector(vector_name, vector.len())?;
            }
            let payload: serde_json::Map<String, serde_json::Value> =
                point.payload.into_iter().map(|(key, value)| (key, serde_json::Value::from(value))).collect();
            points.push(StoredPoint { id, vectors, payload: serde_json::Value::Object(payload) });
        }
        for point in points {
            collection.points.insert(point.id.clone(), point);
        }
        drop(collections);
        lock(&self.0.upserts).push(UpsertRecord { collection: name, points: count });
        if self.0.faults.take_after_apply() {
            return Err(Status::unavailable("injected fault: applied, then the answer was lost"));
        }
        let status =
            if request.wait.unwrap_or(false) { pb::UpdateStatus::Completed } else { pb::UpdateStatus::Acknowledged };
        Ok(pb::PointsOperationResponse {
            result: Some(pb::UpdateResult { operation_id: Some(0), status: status as i32 }),
            time: seconds(start),
            usage: None,
        })
    }
}
