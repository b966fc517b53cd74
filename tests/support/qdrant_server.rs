//! A Qdrant gRPC stand-in on loopback, for the faults a real Qdrant cannot be made to show.
//!
//! Everything a real server can show is tested against one (tests/qdrant_real.rs, with a TCP
//! proxy for network faults). What is left needs Qdrant to answer wrongly on purpose, and each
//! fault here exists for one such case:
//!
//! - `fail_next_upserts(n, code)`: a live server answering a chosen status (Unavailable,
//!   Internal, ...) to a write it did not apply. A real server that is up answers OK.
//! - `fail_upsert_after_apply(n)`: a write applied, then its answer lost. A real server cannot
//!   be stopped between applying a write and answering it.
//! - `rate_limit_upserts(n, secs)`: ResourceExhausted with `retry-after`, as Qdrant's rate
//!   limiter answers. Its limiter (strict mode's `write_rate_limit`) counts writes per minute,
//!   so a real one asks a test to wait tens of seconds; this one asks for one.
//! - `max_request_bytes`: a limit on a gRPC request. Qdrant's gRPC server has none (its REST
//!   API has `service.max_request_size_mb`, 32), so imbed's splitting is tested here.
//!
//! ```text
//! TestServer::start() -> TestServer                   requests up to 32 MiB, version "1.16.0"
//! TestServer::builder().max_request_bytes(n).start()
//! server.url() -> String                              "http://127.0.0.1:PORT"
//! server.faults() -> &Faults                          shared, thread-safe
//! server.upserts() -> Vec<UpsertRecord>               every upsert applied (batch size), in order
//! server.points(collection) -> Vec<StoredPoint>       what the collection holds, in ID order
//! drop(server)                                        stops the server and its thread
//!
//! faults.fail_next_upserts(n, Code)                   the next n upserts answer this status, unapplied
//! faults.rate_limit_upserts(n, retry_after_secs)      the next n upserts answer ResourceExhausted + `retry-after`
//! faults.fail_upsert_after_apply(n)                   the next n upserts are applied, then answer Unavailable
//! faults.clear()                                      no more faults
//! faults.injected() -> usize                          faults fired so far
//! ```
//!
//! RPCs that work, as much as imbed's index, resume, retry-failed and stats use them:
//! `Qdrant/HealthCheck`; `Collections/` `CollectionExists`, `Get`, `Create` (dense vectors,
//! unnamed or named); `Points/` `Upsert` and `Count` (exact, no filter). Points are kept in
//! memory. Every other RPC answers `Unimplemented`, so a test never gets a silently wrong answer.
//!
//! Mind the client: qdrant-client retries a `Points` or `HealthCheck` call once, on a new
//! connection, when it fails with Internal, Unavailable, Cancelled or Unknown. One injected
//! Unavailable upsert is therefore invisible to its caller, and `fail_upsert_after_apply(1)`
//! applies the batch twice.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status};

/// The default limit on a request: Qdrant's REST `service.max_request_size_mb` (32).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// What `health_check` reports: older than imbed's client, as the real test server is.
pub const VERSION: &str = "1.16.0";

// ---------------------------------------------------------------------------------------------
// The public handle
// ---------------------------------------------------------------------------------------------

/// A running loopback server. Dropping it stops the server.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Option<Running>,
}

#[derive(Debug, Clone, Default)]
pub struct TestServerBuilder {
    max_request_bytes: Option<usize>,
}

impl TestServerBuilder {
    /// The largest request accepted (default [`MAX_REQUEST_BYTES`]).
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = Some(bytes);
        self
    }

    pub fn start(self) -> TestServer {
        let shared = Arc::new(Shared {
            max_request_bytes: self.max_request_bytes.unwrap_or(MAX_REQUEST_BYTES),
            faults: Faults::default(),
            upserts: Mutex::default(),
            collections: Mutex::default(),
        });
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let running = Running::spawn(shared.clone(), listener);
        TestServer { shared, addr, running: Some(running) }
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, for `--qdrant` and `Qdrant::from_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every upsert that was applied (answered OK or not), in order.
    pub fn upserts(&self) -> Vec<UpsertRecord> {
        lock(&self.shared.upserts).clone()
    }

    /// The points of a collection in ID order (empty if there is no such collection).
    pub fn points(&self, collection: &str) -> Vec<StoredPoint> {
        lock(&self.shared.collections)
            .get(collection)
            .map(|collection| collection.points.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

/// A point as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// The UUID (hyphenated, lower case) or the number.
    pub id: String,
    /// Dense vectors by name; the unnamed vector has the name "".
    pub vectors: BTreeMap<String, Vec<f32>>,
    /// A JSON object.
    pub payload: serde_json::Value,
}

/// An upsert that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertRecord {
    pub collection: String,
    pub points: usize,
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/// Faults to inject; every setter replaces the previous setting of its kind.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
    injected: AtomicUsize,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_upserts: Option<Failure>,
    fail_after_apply: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    remaining: usize,
    code: Code,
    retry_after_secs: Option<u64>,
}

impl Faults {
    /// The next `n` upserts answer `code` without being applied.
    pub fn fail_next_upserts(&self, n: usize, code: Code) {
        lock(&self.state).fail_upserts = (n > 0).then_some(Failure { remaining: n, code, retry_after_secs: None });
    }

    /// The next `n` upserts answer ResourceExhausted with `retry-after: SECONDS` metadata, as
    /// Qdrant's rate limiter does (qdrant-client turns it into `ResourceExhaustedError`).
    pub fn rate_limit_upserts(&self, n: usize, retry_after_secs: u64) {
        lock(&self.state).fail_upserts = (n > 0).then_some(Failure {
            remaining: n,
            code: Code::ResourceExhausted,
            retry_after_secs: Some(retry_after_secs),
        });
    }

    /// The next `n` upserts are applied, then answered with Unavailable: a lost acknowledgement.
    pub fn fail_upsert_after_apply(&self, n: usize) {
        lock(&self.state).fail_after_apply = n;
    }

    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    /// How many faults have fired: failed upserts and lost acknowledgements.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    fn take_failure(&self) -> Option<Status> {
        let mut state = lock(&self.state);
        let failure = state.fail_upserts.as_mut()?;
        failure.remaining -= 1;
        let failure = *failure;
        if failure.remaining == 0 {
            state.fail_upserts = None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(match failure.retry_after_secs {
            None => Status::new(failure.code, format!("injected fault: {}", failure.code.description())),
            Some(seconds) => {
                let mut status = Status::resource_exhausted(format!(
                    "Rate limiting exceeded: Write rate limit exceeded, retry after {seconds}s (injected fault)"
                ));
                status.metadata_mut().insert("retry-after", seconds.to_string().parse().expect("a number"));
                status
            }
        })
    }

    fn take_after_apply(&self) -> bool {
        let mut state = lock(&self.state);
        let fire = state.fail_after_apply > 0;
        if fire {
            state.fail_after_apply -= 1;
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fire
    }
}

// ---------------------------------------------------------------------------------------------
// Server state and thread
// ---------------------------------------------------------------------------------------------

struct Shared {
    max_request_bytes: usize,
    faults: Faults,
    upserts: Mutex<Vec<UpsertRecord>>,
    collections: Mutex<BTreeMap<String, Collection>>,
}

struct Collection {
    config: pb::VectorsConfig,
    /// Dense vector sizes by name; the unnamed vector has the name "".
    sizes: BTreeMap<String, u64>,
    shard_number: u32,
    replication_factor: u32,
    /// The collection's metadata, where imbed keeps the identity it gave it.
    metadata: std::collections::HashMap<String, pb::Value>,
    points: BTreeMap<String, StoredPoint>,
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Running {
    fn spawn(shared: Arc<Shared>, listener: StdTcpListener) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("qdrant-test-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build the server's runtime");
                runtime.block_on(serve(shared, listener, stopped));
                runtime.shutdown_timeout(Duration::from_secs(5));
            })
            .expect("spawn the server thread");
        Running { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            eprintln!("the Qdrant test server's thread panicked");
        }
    }
}

async fn serve(shared: Arc<Shared>, listener: StdTcpListener, stopped: tokio::sync::oneshot::Receiver<()>) {
    listener.set_nonblocking(true).expect("a non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
    let limit = shared.max_request_bytes;
    let service = Service(shared);
    let router = Server::builder()
        .add_service(QdrantServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(CollectionsServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(PointsServer::new(service).max_decoding_message_size(limit));
    // As Qdrant's server does: without it, answers wait on Nagle and delayed ACKs.
    let incoming = TcpListenerStream::new(listener).map(|stream| {
        let stream = stream?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    });
    tokio::select! {
        result = router.serve_with_incoming(incoming) => {
            if let Err(error) = result {
                eprintln!("the Qdrant test server failed: {error}");
            }
        }
        _ = stopped => {}
    }
}

// ---------------------------------------------------------------------------------------------
// The RPCs
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Service(Arc<Shared>);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(collection: &str) -> Status {
    Status::not_found(format!("Not found: Collection `{collection}` doesn't exist!"))
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented by the test server"))
}

fn seconds(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

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
    fn info(&self) -> pb::CollectionInfo {
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
    fn create_collection(&self, request: pb::CreateCollection) -> Result<bool, Status> {
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

    fn upsert_points(&self, request: pb::UpsertPoints) -> Result<pb::PointsOperationResponse, Status> {
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

/// Trait methods that answer Unimplemented, written as `#[tonic::async_trait]` expands them.
macro_rules! unimplemented_rpcs {
    ($($method:ident($request:ty) -> $response:ty = $path:literal;)*) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            _request: Request<$request>,
        ) -> Pin<Box<dyn Future<Output = Result<Response<$response>, Status>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move { Err(unimplemented($path)) })
        }
    )*};
}

#[tonic::async_trait]
impl Qdrant for Service {
    async fn health_check(
        &self,
        _request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckReply>, Status> {
        Ok(Response::new(pb::HealthCheckReply {
            title: "qdrant - vector search engine".to_owned(),
            version: VERSION.to_owned(),
            commit: None,
        }))
    }
}

#[tonic::async_trait]
impl Collections for Service {
    async fn get(
        &self,
        request: Request<pb::GetCollectionInfoRequest>,
    ) -> Result<Response<pb::GetCollectionInfoResponse>, Status> {
        let start = Instant::now();
        let name = &request.get_ref().collection_name;
        let info = lock(&self.0.collections).get(name).map(Collection::info).ok_or_else(|| not_found(name))?;
        Ok(Response::new(pb::GetCollectionInfoResponse { result: Some(info), time: seconds(start) }))
    }

    async fn create(
        &self,
        request: Request<pb::CreateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let result = self.create_collection(request.into_inner())?;
        Ok(Response::new(pb::CollectionOperationResponse { result, time: seconds(start) }))
    }

    /// Only what imbed updates besides `--bulk`'s HNSW switch: the metadata, merged.
    async fn update(
        &self,
        request: Request<pb::UpdateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let request = request.into_inner();
        let only_metadata = pb::UpdateCollection {
            collection_name: request.collection_name.clone(),
            metadata: request.metadata.clone(),
            ..Default::default()
        };
        if request != only_metadata {
            return Err(unimplemented("Collections/Update of anything but metadata"));
        }
        let mut collections = lock(&self.0.collections);
        let name = &request.collection_name;
        let collection = collections.get_mut(name).ok_or_else(|| not_found(name))?;
        collection.metadata.extend(request.metadata);
        Ok(Response::new(pb::CollectionOperationResponse { result: true, time: seconds(start) }))
    }

    async fn collection_exists(
        &self,
        request: Request<pb::CollectionExistsRequest>,
    ) -> Result<Response<pb::CollectionExistsResponse>, Status> {
        let start = Instant::now();
        let exists = lock(&self.0.collections).contains_key(&request.get_ref().collection_name);
        Ok(Response::new(pb::CollectionExistsResponse {
            result: Some(pb::CollectionExists { exists }),
            time: seconds(start),
        }))
    }

    unimplemented_rpcs! {
        list(pb::ListCollectionsRequest) -> pb::ListCollectionsResponse = "Collections/List";
        delete(pb::DeleteCollection) -> pb::CollectionOperationResponse = "Collections/Delete";
        update_aliases(pb::ChangeAliases) -> pb::CollectionOperationResponse = "Collections/UpdateAliases";
        list_collection_aliases(pb::ListCollectionAliasesRequest) -> pb::ListAliasesResponse =
            "Collections/ListCollectionAliases";
        list_aliases(pb::ListAliasesRequest) -> pb::ListAliasesResponse = "Collections/ListAliases";
        collection_cluster_info(pb::CollectionClusterInfoRequest) -> pb::CollectionClusterInfoResponse =
            "Collections/CollectionClusterInfo";
        update_collection_cluster_setup(pb::UpdateCollectionClusterSetupRequest)
            -> pb::UpdateCollectionClusterSetupResponse = "Collections/UpdateCollectionClusterSetup";
        create_shard_key(pb::CreateShardKeyRequest) -> pb::CreateShardKeyResponse = "Collections/CreateShardKey";
        delete_shard_key(pb::DeleteShardKeyRequest) -> pb::DeleteShardKeyResponse = "Collections/DeleteShardKey";
        list_shard_keys(pb::ListShardKeysRequest) -> pb::ListShardKeysResponse = "Collections/ListShardKeys";
    }
}

#[tonic::async_trait]
impl Points for Service {
    async fn upsert(
        &self,
        request: Request<pb::UpsertPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        self.upsert_points(request.into_inner()).map(Response::new)
    }

    async fn count(&self, request: Request<pb::CountPoints>) -> Result<Response<pb::CountResponse>, Status> {
        let start = Instant::now();
        let request = request.into_inner();
        if request.filter.is_some() {
            return Err(unimplemented("a filter"));
        }
        let name = &request.collection_name;
        let count = lock(&self.0.collections)
            .get(name)
            .map(|collection| collection.points.len())
            .ok_or_else(|| not_found(name))?;
        Ok(Response::new(pb::CountResponse {
            result: Some(pb::CountResult { count: count as u64 }),
            time: seconds(start),
            usage: None,
        }))
    }

    unimplemented_rpcs! {
        delete(pb::DeletePoints) -> pb::PointsOperationResponse = "Points/Delete";
        get(pb::GetPoints) -> pb::GetResponse = "Points/Get";
        scroll(pb::ScrollPoints) -> pb::ScrollResponse = "Points/Scroll";
        search(pb::SearchPoints) -> pb::SearchResponse = "Points/Search";
        query(pb::QueryPoints) -> pb::QueryResponse = "Points/Query";
        update_vectors(pb::UpdatePointVectors) -> pb::PointsOperationResponse = "Points/UpdateVectors";
        delete_vectors(pb::DeletePointVectors) -> pb::PointsOperationResponse = "Points/DeleteVectors";
        set_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/SetPayload";
        overwrite_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/OverwritePayload";
        delete_payload(pb::DeletePayloadPoints) -> pb::PointsOperationResponse = "Points/DeletePayload";
        clear_payload(pb::ClearPayloadPoints) -> pb::PointsOperationResponse = "Points/ClearPayload";
        create_field_index(pb::CreateFieldIndexCollection) -> pb::PointsOperationResponse = "Points/CreateFieldIndex";
        delete_field_index(pb::DeleteFieldIndexCollection) -> pb::PointsOperationResponse = "Points/DeleteFieldIndex";
        create_vector_name(pb::CreateVectorNameRequest) -> pb::PointsOperationResponse = "Points/CreateVectorName";
        delete_vector_name(pb::DeleteVectorNameRequest) -> pb::PointsOperationResponse = "Points/DeleteVectorName";
        search_batch(pb::SearchBatchPoints) -> pb::SearchBatchResponse = "Points/SearchBatch";
        search_groups(pb::SearchPointGroups) -> pb::SearchGroupsResponse = "Points/SearchGroups";
        recommend(pb::RecommendPoints) -> pb::RecommendResponse = "Points/Recommend";
        recommend_batch(pb::RecommendBatchPoints) -> pb::RecommendBatchResponse = "Points/RecommendBatch";
        recommend_groups(pb::RecommendPointGroups) -> pb::RecommendGroupsResponse = "Points/RecommendGroups";
        discover(pb::DiscoverPoints) -> pb::DiscoverResponse = "Points/Discover";
        discover_batch(pb::DiscoverBatchPoints) -> pb::DiscoverBatchResponse = "Points/DiscoverBatch";
        update_batch(pb::UpdateBatchPoints) -> pb::UpdateBatchResponse = "Points/UpdateBatch";
        query_batch(pb::QueryBatchPoints) -> pb::QueryBatchResponse = "Points/QueryBatch";
        query_groups(pb::QueryPointGroups) -> pb::QueryGroupsResponse = "Points/QueryGroups";
        facet(pb::FacetCounts) -> pb::FacetResponse = "Points/Facet";
        search_matrix_pairs(pb::SearchMatrixPoints) -> pb::SearchMatrixPairsResponse = "Points/SearchMatrixPairs";
        search_matrix_offsets(pb::SearchMatrixPoints) -> pb::SearchMatrixOffsetsResponse = "Points/SearchMatrixOffsets";
    }
}
