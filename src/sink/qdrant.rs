//! A Qdrant server or cluster over gRPC, through `qdrant-client`.
//!
//! Writes wait for the server's acknowledgement (`wait=true`), so a batch that returns is
//! durable as far as Qdrant promises, and `flush` has nothing left to do. Each upsert is split
//! into requests of at most `upsert_batch` points and under the server's 32 MB message limit,
//! sent `upsert_parallel` at a time, each retried with exponential backoff and jitter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use prost::Message;
use qdrant_client::qdrant::{
    point_id::PointIdOptions, vectors_config::Config as VectorsConfigKind, CollectionStatus, CountPointsBuilder,
    CreateCollectionBuilder, DeletePointsBuilder, Distance, HnswConfigDiffBuilder, NamedVectors, PointId, PointStruct,
    PointsIdsList, QueryPointsBuilder, UpdateCollectionBuilder, UpsertPoints, UpsertPointsBuilder, VectorParams,
    VectorParamsBuilder, VectorsConfig, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde::{Deserialize, Serialize};
use tonic::Code;
use uuid::Uuid;

use super::{Point, ScoredPoint, Sink, SinkError};

/// Qdrant rejects gRPC messages over 32 MB; requests are kept under this, with room for framing.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024 - 64 * 1024;
/// The HNSW `m` that Qdrant uses when a collection does not set one; restored after `--bulk`.
pub const DEFAULT_HNSW_M: u64 = 16;
/// The Qdrant version this client speaks; older servers get a warning, not an error.
const CLIENT_VERSION: &str = "1.20";

/// How to reach the server; nothing here is stored in a checkpoint except through [`ServerTarget`].
#[derive(Clone)]
pub struct Connection {
    pub url: String,
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_retries: u32,
    pub upsert_batch: usize,
    pub upsert_parallel: usize,
}

impl std::fmt::Debug for Connection {
    // The API key must never reach a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What a checkpoint records of the server a run writes to: never the API key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTarget {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_name: Option<String>,
    /// Whether the run used an API key, so a resume without one can say what is missing.
    pub api_key_used: bool,
    #[serde(default)]
    pub bulk: bool,
}

/// How imbed creates a collection that does not exist yet.
#[derive(Debug, Clone, Default)]
pub struct CollectionSetup {
    pub on_disk: bool,
    pub shards: Option<u32>,
    pub replication_factor: Option<u32>,
    /// Create it with HNSW indexing off (`m = 0`), as Qdrant's bulk-upload guide advises.
    pub bulk: bool,
}

/// The collection's state on the server, for `stats` and the end of a bulk load.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionState {
    pub status: String,
    pub points: u64,
    pub indexed_vectors: u64,
    pub hnsw_m: Option<u64>,
}

pub struct QdrantSink {
    runtime: tokio::runtime::Runtime,
    client: Arc<Qdrant>,
    connection: Connection,
    collection: String,
    vector_name: Option<String>,
    dimension: usize,
    server_version: String,
}

impl QdrantSink {
    /// Connects and checks the server's health, so a server that is down fails before the model loads.
    pub fn connect(connection: Connection, collection: &str, vector_name: Option<String>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("imbed-qdrant")
            .enable_all()
            .build()
            .context("cannot start the Qdrant client's runtime")?;
        let client = Qdrant::from_url(&connection.url)
            .api_key(connection.api_key.clone())
            .connect_timeout(connection.connect_timeout)
            .timeout(connection.request_timeout)
            // The client's own check prints to stdout, which belongs to --json; imbed checks below.
            .skip_compatibility_check()
            .build()
            .with_context(|| format!("invalid Qdrant URL `{}`", connection.url))?;
        let sink = Self {
            runtime,
            client: Arc::new(client),
            connection,
            collection: collection.to_string(),
            vector_name,
            dimension: 0,
            server_version: String::new(),
        };
        // Retried like writes: a cron run should survive a server that restarts as it starts.
        let retries = sink.connection.max_retries;
        let health = sink
            .runtime
            .block_on(with_retries(retries, || sink.client.health_check()))
            .map_err(|error| anyhow!(describe(&error)))
            .with_context(|| format!("cannot reach the Qdrant server at {}", sink.connection.url))?;
        if !compatible(&health.version) {
            tracing::warn!(
                "the Qdrant server at {} runs version {}; imbed's client speaks {CLIENT_VERSION}. \
                 Writes and searches use long-stable calls, but upgrade the server if one fails",
                sink.connection.url,
                health.version
            );
        }
        tracing::info!("connected to Qdrant {} at {}", health.version, sink.connection.url);
        Ok(Self { server_version: health.version, ..sink })
    }

    /// Uses the collection, creating it with `dimension` and cosine distance if it is missing.
    /// Returns whether imbed created it. A mismatched existing collection is an error.
    pub fn open_or_create(&mut self, dimension: usize, setup: &CollectionSetup) -> anyhow::Result<bool> {
        self.dimension = dimension;
        let exists = self.call(|client, name| async move { client.collection_exists(name).await })?;
        if exists {
            self.check_existing(dimension)?;
            return Ok(false);
        }
        let mut params = VectorParamsBuilder::new(dimension as u64, Distance::Cosine);
        if setup.on_disk {
            params = params.on_disk(true);
        }
        let vectors: VectorsConfig = match &self.vector_name {
            Some(name) => {
                let mut config = VectorsConfigBuilder::default();
                config.add_named_vector_params(name, params);
                config.into()
            }
            None => params.into(),
        };
        let mut create = CreateCollectionBuilder::new(&self.collection).vectors_config(vectors);
        if let Some(shards) = setup.shards {
            create = create.shard_number(shards);
        }
        if let Some(factor) = setup.replication_factor {
            create = create.replication_factor(factor);
        }
        if setup.on_disk {
            create = create.on_disk_payload(true);
        }
        if setup.bulk {
            create = create.hnsw_config(HnswConfigDiffBuilder::default().m(0));
        }
        let request = create.build();
        let created = self.call(|client, _| {
            let request = request.clone();
            async move { client.create_collection(request).await }
        });
        match created {
            Ok(_) => Ok(true),
            // Another shard's process created it first: use it like any existing one.
            Err(error) if error.to_string().contains("already exists") => {
                self.check_existing(dimension)?;
                Ok(false)
            }
            Err(error) => Err(error.context(format!("cannot create collection `{}`", self.collection))),
        }
    }

    /// Opens an existing collection for search, reading its dimension.
    pub fn open_existing(&mut self) -> anyhow::Result<usize> {
        let exists = self.call(|client, name| async move { client.collection_exists(name).await })?;
        if !exists {
            bail!("no collection `{}` on the Qdrant server at {}", self.collection, self.connection.url);
        }
        let params = self.vector_params()?;
        self.dimension = params.size as usize;
        Ok(self.dimension)
    }

    fn check_existing(&self, dimension: usize) -> anyhow::Result<()> {
        let params = self.vector_params()?;
        let distance = Distance::try_from(params.distance).unwrap_or(Distance::UnknownDistance);
        if params.size as usize != dimension || distance != Distance::Cosine {
            bail!(
                "collection `{}` on {} holds {}-dimensional vectors with {} distance, but the model gives \
                 {dimension}-dimensional vectors compared by cosine; use another --collection",
                self.collection,
                self.connection.url,
                params.size,
                distance.as_str_name().to_ascii_lowercase()
            );
        }
        Ok(())
    }

    /// The parameters of the vector imbed writes: the unnamed one, or `--vector-name`.
    fn vector_params(&self) -> anyhow::Result<VectorParams> {
        let info = self.call(|client, name| async move { client.collection_info(name).await })?;
        let config = info
            .result
            .and_then(|info| info.config)
            .and_then(|config| config.params)
            .and_then(|params| params.vectors_config)
            .and_then(|vectors| vectors.config);
        let collection = &self.collection;
        match (config, &self.vector_name) {
            (Some(VectorsConfigKind::Params(params)), None) => Ok(params),
            (Some(VectorsConfigKind::ParamsMap(map)), Some(name)) => map.map.get(name).cloned().ok_or_else(|| {
                let names: Vec<&String> = map.map.keys().collect();
                anyhow!("collection `{collection}` has no vector named `{name}` (it has {names:?})")
            }),
            (Some(VectorsConfigKind::ParamsMap(map)), None) => {
                let names: Vec<&String> = map.map.keys().collect();
                bail!("collection `{collection}` holds named vectors {names:?}; pick one with --vector-name")
            }
            (Some(VectorsConfigKind::Params(_)), Some(name)) => {
                bail!("collection `{collection}` holds one unnamed vector; drop --vector-name {name}")
            }
            (None, _) => bail!("the server did not describe the vectors of collection `{collection}`"),
        }
    }

    /// Status, size and HNSW `m` of the collection.
    pub fn state(&self) -> anyhow::Result<CollectionState> {
        let info = self.call(|client, name| async move { client.collection_info(name).await })?;
        let info = info.result.context("the server returned no collection info")?;
        let status = CollectionStatus::try_from(info.status).unwrap_or(CollectionStatus::UnknownCollectionStatus);
        Ok(CollectionState {
            status: status.as_str_name().to_ascii_lowercase(),
            points: info.points_count.unwrap_or(0),
            indexed_vectors: info.indexed_vectors_count.unwrap_or(0),
            hnsw_m: info.config.and_then(|config| config.hnsw_config).and_then(|hnsw| hnsw.m),
        })
    }

    /// Sets the collection's HNSW `m`: 0 turns indexing off for a bulk load.
    pub fn set_hnsw_m(&self, m: u64) -> anyhow::Result<()> {
        let request = UpdateCollectionBuilder::new(&self.collection).hnsw_config(HnswConfigDiffBuilder::default().m(m));
        let request = request.build();
        self.call(|client, _| {
            let request = request.clone();
            async move { client.update_collection(request).await }
        })
        .with_context(|| format!("cannot set HNSW m={m} on collection `{}`", self.collection))?;
        Ok(())
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Runs one request with the retry policy of writes.
    fn call<T, F, Fut>(&self, request: F) -> anyhow::Result<T>
    where
        F: Fn(Arc<Qdrant>, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, QdrantError>>,
    {
        let retries = self.connection.max_retries;
        self.runtime
            .block_on(with_retries(retries, || request(self.client.clone(), self.collection.clone())))
            .map_err(|error| anyhow!(describe(&error)))
    }

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
        super::check_dimensions(&points, self.dimension)?;
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
                    with_retries(retries, || client.upsert_points(request.clone())).await
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

    fn search(&self, vector: &[f32], top: usize) -> Result<Vec<ScoredPoint>, SinkError> {
        let mut request = QueryPointsBuilder::new(&self.collection)
            .query(qdrant_client::qdrant::Query::new_nearest(vector.to_vec()))
            .limit(top as u64)
            .with_payload(true);
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

/// Errors worth another try: the server or the network may recover.
fn is_retryable(error: &QdrantError) -> bool {
    match error {
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
        QdrantError::ResponseError { status } => {
            matches!(
                status.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted | Code::Cancelled
            ) || (matches!(status.code(), Code::Unknown | Code::Internal) && is_connection_error(status.message()))
        }
        _ => false,
    }
}

/// The client reports a refused or broken connection as Unknown or Internal, with this wording.
fn is_connection_error(message: &str) -> bool {
    ["transport error", "Failed to connect", "connection closed", "broken pipe", "Connection reset"]
        .iter()
        .any(|needle| message.contains(needle))
}

/// Delay before retry `attempt` (1-based): exponential from 100 ms, capped at 10 s, with full jitter.
fn backoff(attempt: u32, error: &QdrantError) -> Duration {
    if let QdrantError::ResourceExhaustedError { retry_after_seconds, .. } = error {
        return Duration::from_secs(*retry_after_seconds);
    }
    let ceiling = Duration::from_millis(100).saturating_mul(1 << attempt.min(7)).min(Duration::from_secs(10));
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

async fn with_retries<T, F, Fut>(max_retries: u32, mut request: F) -> Result<T, QdrantError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QdrantError>>,
{
    let mut attempt = 0;
    loop {
        match request().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < max_retries && is_retryable(&error) => {
                attempt += 1;
                let delay = backoff(attempt, &error);
                tracing::warn!(
                    "Qdrant request failed ({}); retry {attempt} of {max_retries} in {delay:.1?}",
                    describe(&error)
                );
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// A one-line reason: the gRPC code and message, without the metadata dump of `QdrantError`.
fn describe(error: &QdrantError) -> String {
    match error {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => {
            let message = status.message();
            match status.code() {
                Code::Unauthenticated | Code::PermissionDenied => {
                    format!("{message} (check --api-key, IMBED_QDRANT_API_KEY or QDRANT_API_KEY)")
                }
                Code::Unavailable => format!("server unavailable: {message}"),
                Code::DeadlineExceeded | Code::Cancelled => format!("timed out: {message} (see --timeout)"),
                code => format!("{code:?}: {message}"),
            }
        }
        other => other.to_string(),
    }
}

/// Major versions must match; within 1.x any server from 1.10 on serves the calls imbed makes.
fn compatible(server_version: &str) -> bool {
    let mut parts = server_version.split('.').map(|part| part.parse::<u32>().ok());
    let client: Vec<u32> = CLIENT_VERSION.split('.').filter_map(|part| part.parse().ok()).collect();
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => major == client[0] && client[1].abs_diff(minor) <= 1,
        _ => false,
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

    #[test]
    fn versions_within_one_minor_are_compatible() {
        assert!(compatible("1.20.3"));
        assert!(compatible("1.19.0"));
        assert!(!compatible("1.16.0"));
        assert!(!compatible("2.0.0"));
        assert!(!compatible("dev"));
    }
}
