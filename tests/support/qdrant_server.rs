//! A Qdrant gRPC server on loopback, for tests and benchmarks.
//!
//! It serves the `Qdrant`, `Collections` and `Points` services with the server traits that
//! qdrant-client ships, on `127.0.0.1:PORT`, from its own thread and tokio runtime. Each
//! collection's points live in a Qdrant Edge shard (`qdrant-edge`) in a temporary folder, so
//! vectors are stored, normalised (cosine) and searched as Qdrant does.
//!
//! Include it with `#[path = "support/qdrant_server.rs"] mod qdrant_server;`; it needs nothing
//! from `tests/common`.
//!
//! ```text
//! TestServer::start() -> TestServer                   no API key, version "1.16.0"
//! TestServer::builder() -> TestServerBuilder
//!     .api_key(impl Into<String>)                     reject a missing or wrong `api-key` (Unauthenticated)
//!     .version(impl Into<String>)                     what health_check reports
//!     .max_request_bytes(usize)                       default 32 MiB; usize::MAX: no limit
//!     .start() -> TestServer
//! server.url() -> String                              "http://127.0.0.1:PORT"
//! server.addr() -> SocketAddr
//! server.faults() -> &Faults                          shared, thread-safe
//! server.api_keys_seen() -> Vec<Option<String>>       `api-key` metadata of every RPC, in order
//! server.calls() -> Vec<String>                       every RPC, in order: "Points/Upsert", "Collections/Get", ...
//! server.upsert_calls() -> usize                      upsert RPCs answered OK
//! server.upserts() -> Vec<UpsertRecord>               every upsert applied (batch sizes, wait), in order
//! server.in_flight() -> usize                         RPCs being handled now (a delayed one included)
//! server.wait_idle(Duration) -> bool                  until in_flight() is 0; false on timeout
//! server.points(collection) -> Vec<StoredPoint>       what the Edge shard holds, in scroll (ID) order
//! server.collection(name) -> Option<CollectionSnapshot>
//! server.collection_names() -> Vec<String>
//! server.is_running() -> bool
//! server.stop()                                       the server goes down: port closed, connections dropped
//! server.restart()                                    back up on the same port with the same data
//! drop(server)                                        stops the server and its thread, removes the data
//!
//! faults.fail_next(n, Code)                           the next n RPCs (any) answer this status
//! faults.fail_next_upserts(n, Code)                   the next n upserts answer this status, unapplied
//! faults.rate_limit_upserts(n, retry_after_secs)      the next n upserts answer ResourceExhausted + `retry-after`
//! faults.delay(Duration)                              every RPC sleeps this long first (Duration::ZERO: off)
//! faults.close_next_connections(n)                    the next n accepted TCP connections are closed at once
//! faults.fail_upsert_after_apply(n)                   the next n upserts are applied, then answer Unavailable
//! faults.clear()                                      no more faults
//! faults.injected() -> usize                          faults fired so far
//! ```
//!
//! RPCs that work: `Qdrant/HealthCheck`; `Collections/` `CollectionExists`, `Get`, `List`,
//! `Create`, `Update` (HNSW and optimizer diffs), `Delete`; `Points/` `Upsert`, `Delete` (by
//! IDs), `Get`, `Scroll`, `Count`, `Search`, `Query` (nearest to a dense vector). Only dense
//! vectors, unnamed or named, are stored. Filters, prefetch, sparse or multi vectors, and every
//! other RPC answer `Unimplemented`, so a test never gets a silently wrong answer.
//!
//! Requests over 32 MiB are refused (`OutOfRange`, "decoded message length too large"), as
//! Qdrant's REST API refuses them (its gRPC server, in Qdrant's source, sets no limit). Like
//! Qdrant, errors read "Wrong input: Vector dimension error: expected dim: 64, got 32",
//! "Wrong input: Not existing vector name error: NAME", "Not found: Collection `NAME` doesn't
//! exist!". Unlike Qdrant: an upsert is applied before it is answered even with `wait: false`
//! (the answer then says Acknowledged instead of Completed), and a delayed request that the
//! client abandons is dropped unapplied.
//!
//! Mind the client: qdrant-client retries a `Points` or `HealthCheck` call once, on a new
//! connection, when it fails with Internal, Unavailable, Cancelled (its own deadline) or
//! Unknown. One injected Unavailable upsert is therefore invisible to its caller, and
//! `fail_upsert_after_apply(1)` applies the batch twice. Building a client with its default
//! compatibility check sends a health check, which takes a `fail_next` fault.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{
    CountRequest, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard, EdgeVectorParams, HnswIndexConfig, NamedQuery,
    OperationError, Payload, PointId, PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, Record,
    ScoredPoint, ScrollRequest, SearchRequest, UpdateOperation, VectorInternal, VectorPersisted, VectorStructInternal,
    VectorStructPersisted, WalOptions, WithPayloadInterface, WithVector,
};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status};

/// The default limit on a request: Qdrant's `service.max_request_size_mb` (32). Qdrant enforces
/// it on its REST API; its gRPC server is built with no limit (`usize::MAX`).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// What `health_check` reports unless the builder says otherwise.
pub const DEFAULT_VERSION: &str = "1.16.0";
const TITLE: &str = "qdrant - vector search engine";

// ---------------------------------------------------------------------------------------------
// The public handle
// ---------------------------------------------------------------------------------------------

/// A running (or stopped) loopback server. Dropping it stops the server and removes its data.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Option<Running>,
}

#[derive(Debug, Clone, Default)]
pub struct TestServerBuilder {
    api_key: Option<String>,
    version: Option<String>,
    max_request_bytes: Option<usize>,
}

impl TestServerBuilder {
    /// Every RPC must carry this `api-key` (or `authorization: Bearer KEY`), else Unauthenticated.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The version that `health_check` reports (default [`DEFAULT_VERSION`]).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The largest request accepted (default [`MAX_REQUEST_BYTES`]); `usize::MAX` for none.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = Some(bytes);
        self
    }

    pub fn start(self) -> TestServer {
        let dir = tempfile::Builder::new().prefix("qdrant-test-server-").tempdir().expect("create a temporary folder");
        let shared = Arc::new(Shared {
            api_key: self.api_key,
            version: self.version.unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
            max_request_bytes: self.max_request_bytes.unwrap_or(MAX_REQUEST_BYTES),
            faults: Faults::default(),
            log: Mutex::default(),
            upserts: Mutex::default(),
            upsert_calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            collections: Mutex::default(),
            next_dir: AtomicUsize::new(0),
            dir,
        });
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let running = Running::spawn(shared.clone(), listener);
        TestServer { shared, addr, running: Some(running) }
    }
}

impl TestServer {
    /// A server without an API key, reporting version [`DEFAULT_VERSION`].
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, for `Qdrant::from_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The `api-key` metadata of every RPC received, in order (None: not sent).
    pub fn api_keys_seen(&self) -> Vec<Option<String>> {
        lock(&self.shared.log).iter().map(|call| call.api_key.clone()).collect()
    }

    /// Every RPC received, in order, as "Service/Method" ("Points/Upsert").
    pub fn calls(&self) -> Vec<String> {
        lock(&self.shared.log).iter().map(|call| call.method.to_owned()).collect()
    }

    /// Upsert RPCs that were applied and answered OK.
    pub fn upsert_calls(&self) -> usize {
        self.shared.upsert_calls.load(Ordering::SeqCst)
    }

    /// Every upsert that was applied (answered OK or not), in order.
    pub fn upserts(&self) -> Vec<UpsertRecord> {
        lock(&self.shared.upserts).clone()
    }

    /// RPCs being handled now (sleeping in a delay included).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no RPC is being handled; false if that takes longer than `timeout`. It blocks
    /// the thread: from a current-thread tokio runtime, whose client then cannot send its
    /// cancellations, poll [`TestServer::in_flight`] with an async sleep instead.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// The points of a collection as its Edge shard holds them (empty if there is no such
    /// collection). Cosine vectors come back normalised, as from Qdrant.
    pub fn points(&self, collection: &str) -> Vec<StoredPoint> {
        let Some(collection) = self.shared.find(collection) else {
            return Vec::new();
        };
        let collection = lock(&collection);
        let Some(shard) = collection.shard.as_ref() else {
            return Vec::new();
        };
        let mut points = Vec::new();
        let mut offset = None;
        loop {
            let request = ScrollRequest {
                offset,
                limit: Some(1000),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            };
            let (records, next) = shard.scroll(request).expect("scroll the Edge shard");
            points.extend(records.into_iter().map(|record| StoredPoint {
                id: format_id(&record.id),
                vectors: record.vector.map(dense_vectors).unwrap_or_default(),
                payload: serde_json::Value::Object(record.payload.map(|payload| payload.0).unwrap_or_default()),
            }));
            match next {
                Some(next) => offset = Some(next),
                None => return points,
            }
        }
    }

    /// How a collection was created and updated, and how many points it holds.
    pub fn collection(&self, name: &str) -> Option<CollectionSnapshot> {
        let collection = self.shared.find(name)?;
        let collection = lock(&collection);
        collection.shard.as_ref()?;
        Some(collection.snapshot())
    }

    pub fn collection_names(&self) -> Vec<String> {
        lock(&self.shared.collections).keys().cloned().collect()
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Takes the server down as a crash would: the port closes, open connections are dropped
    /// and requests in flight are abandoned. The data stays; see [`TestServer::restart`].
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }

    /// Brings the server back up on the same port with the same data (stops it first if needed).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match StdTcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Err(error) => panic!("cannot bind {} again: {error}", self.addr),
            }
        };
        self.running = Some(Running::spawn(self.shared.clone(), listener));
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
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

impl StoredPoint {
    /// The unnamed vector, or the only vector. Panics if there is none or several.
    pub fn vector(&self) -> &[f32] {
        match (self.vectors.get(""), self.vectors.len()) {
            (Some(vector), _) => vector,
            (None, 1) => self.vectors.values().next().expect("one vector"),
            _ => panic!("point {} has vectors {:?}, not one", self.id, self.vectors.keys().collect::<Vec<_>>()),
        }
    }
}

/// A collection's configuration as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSnapshot {
    pub name: String,
    /// Dense vectors by name; a collection created with a single `VectorParams` has one named "".
    pub vectors: BTreeMap<String, VectorSnapshot>,
    /// Created with a `ParamsMap` (named vectors).
    pub named_vectors: bool,
    pub shard_number: u32,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
    pub on_disk_payload: bool,
    /// Qdrant's defaults, then the create request's diff, then every update's diff.
    pub hnsw_config: pb::HnswConfigDiff,
    /// Qdrant's defaults, then the create request's diff, then every update's diff.
    pub optimizers_config: pb::OptimizersConfigDiff,
    /// Exact.
    pub points_count: u64,
}

impl CollectionSnapshot {
    /// The unnamed vector, or the only vector. Panics if there is none or several.
    pub fn vector(&self) -> &VectorSnapshot {
        match (self.vectors.get(""), self.vectors.len()) {
            (Some(vector), _) => vector,
            (None, 1) => self.vectors.values().next().expect("one vector"),
            _ => panic!("collection {} has vectors {:?}, not one", self.name, self.vectors.keys().collect::<Vec<_>>()),
        }
    }

    pub fn hnsw_m(&self) -> Option<u64> {
        self.hnsw_config.m
    }

    pub fn indexing_threshold(&self) -> Option<u64> {
        self.optimizers_config.indexing_threshold
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorSnapshot {
    pub size: u64,
    pub distance: pb::Distance,
    pub on_disk: Option<bool>,
    pub hnsw_config: Option<pb::HnswConfigDiff>,
}

/// An upsert that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertRecord {
    pub collection: String,
    pub points: usize,
    pub wait: bool,
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
    fail_any: Option<Failure>,
    fail_upserts: Option<Failure>,
    delay: Duration,
    close_connections: usize,
    fail_after_apply: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    remaining: usize,
    code: Code,
    retry_after_secs: Option<u64>,
}

impl Failure {
    fn take(slot: &mut Option<Failure>) -> Option<Status> {
        let failure = slot.as_mut()?;
        failure.remaining -= 1;
        let failure = *failure;
        if failure.remaining == 0 {
            *slot = None;
        }
        let status = match failure.retry_after_secs {
            None => Status::new(failure.code, format!("injected fault: {}", failure.code.description())),
            Some(seconds) => {
                let mut status = Status::resource_exhausted(format!(
                    "Rate limiting exceeded: Write rate limit exceeded, retry after {seconds}s (injected fault)"
                ));
                status.metadata_mut().insert("retry-after", seconds.to_string().parse().expect("a number"));
                status
            }
        };
        Some(status)
    }
}

impl Faults {
    /// The next `n` RPCs, of any kind, answer `code` without doing anything.
    pub fn fail_next(&self, n: usize, code: Code) {
        lock(&self.state).fail_any = (n > 0).then_some(Failure { remaining: n, code, retry_after_secs: None });
    }

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

    /// Every RPC sleeps this long before it is handled (`Duration::ZERO` turns it off).
    pub fn delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// The next `n` accepted TCP connections are closed at once: a transport error for the client.
    pub fn close_next_connections(&self, n: usize) {
        lock(&self.state).close_connections = n;
    }

    /// The next `n` upserts are applied, then answered with Unavailable: a lost acknowledgement.
    pub fn fail_upsert_after_apply(&self, n: usize) {
        lock(&self.state).fail_after_apply = n;
    }

    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    /// How many faults have fired: failed RPCs, closed connections, lost acknowledgements.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    fn current_delay(&self) -> Duration {
        lock(&self.state).delay
    }

    fn take_failure(&self, is_upsert: bool) -> Option<Status> {
        let mut state = lock(&self.state);
        let status = match is_upsert {
            true => Failure::take(&mut state.fail_upserts).or_else(|| Failure::take(&mut state.fail_any)),
            false => Failure::take(&mut state.fail_any),
        };
        self.fired(status.is_some());
        status
    }

    fn take_close(&self) -> bool {
        let close = take_one(&mut lock(&self.state).close_connections);
        self.fired(close)
    }

    fn take_after_apply(&self) -> bool {
        let fail = take_one(&mut lock(&self.state).fail_after_apply);
        self.fired(fail)
    }

    fn fired(&self, fired: bool) -> bool {
        if fired {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fired
    }
}

fn take_one(remaining: &mut usize) -> bool {
    let take = *remaining > 0;
    if take {
        *remaining -= 1;
    }
    take
}

// ---------------------------------------------------------------------------------------------
// Server state and thread
// ---------------------------------------------------------------------------------------------

struct Shared {
    api_key: Option<String>,
    version: String,
    max_request_bytes: usize,
    faults: Faults,
    log: Mutex<Vec<Call>>,
    upserts: Mutex<Vec<UpsertRecord>>,
    upsert_calls: AtomicUsize,
    in_flight: AtomicUsize,
    /// Declared before `dir`: the shards close before their folder is removed.
    collections: Mutex<BTreeMap<String, Arc<Mutex<Collection>>>>,
    next_dir: AtomicUsize,
    dir: tempfile::TempDir,
}

struct Call {
    method: &'static str,
    api_key: Option<String>,
}

impl Shared {
    fn find(&self, name: &str) -> Option<Arc<Mutex<Collection>>> {
        lock(&self.collections).get(name).cloned()
    }

    fn collection(&self, name: &str) -> Result<Arc<Mutex<Collection>>, Status> {
        self.find(name).ok_or_else(|| not_found(name))
    }
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
                    .thread_name("qdrant-test-server-worker")
                    .enable_all()
                    .build()
                    .expect("build the server's runtime");
                runtime.block_on(serve(shared, listener, stopped));
                // Abandons the connections and the requests in flight, as a crash would.
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
    let faults = shared.clone();
    let incoming = TcpListenerStream::new(listener).filter_map(move |connection| match connection {
        // Dropped before a byte is read or written: the client's handshake fails.
        Ok(stream) if faults.faults.take_close() => {
            drop(stream);
            None
        }
        Ok(stream) => {
            // As Qdrant's server does: without it, small answers wait on Nagle and delayed ACKs.
            let _ = stream.set_nodelay(true);
            Some(Ok(stream))
        }
        other => Some(other),
    });
    let limit = shared.max_request_bytes;
    let service = Service(shared);
    let router = Server::builder()
        .add_service(
            QdrantServer::new(service.clone())
                .max_decoding_message_size(limit)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            CollectionsServer::new(service.clone())
                .max_decoding_message_size(limit)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            PointsServer::new(service)
                .max_decoding_message_size(limit)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        );
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
// Collections
// ---------------------------------------------------------------------------------------------

struct Collection {
    name: String,
    dir: PathBuf,
    /// None once the collection is deleted.
    shard: Option<EdgeShard>,
    vectors_config: pb::VectorsConfig,
    vectors: BTreeMap<String, VectorSnapshot>,
    named: bool,
    shard_number: u32,
    replication_factor: u32,
    write_consistency_factor: u32,
    on_disk_payload: bool,
    hnsw: pb::HnswConfigDiff,
    optimizers: pb::OptimizersConfigDiff,
    operations: u64,
}

impl Drop for Collection {
    fn drop(&mut self) {
        self.close();
    }
}

impl Collection {
    /// Flushes and closes the shard; its Drop panics when flushing fails.
    fn close(&mut self) {
        if let Some(shard) = self.shard.take() {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(shard))).is_err() {
                eprintln!("closing the Edge shard of collection {} failed", self.name);
            }
        }
    }

    fn shard(&self) -> Result<&EdgeShard, Status> {
        self.shard.as_ref().ok_or_else(|| not_found(&self.name))
    }

    fn count(&self) -> Result<u64, Status> {
        let count = self.shard()?.count(CountRequest { filter: None, exact: true }).map_err(edge_error)?;
        Ok(count as u64)
    }

    fn check_vector(&self, name: &str, len: usize) -> Result<(), Status> {
        match self.vectors.get(name) {
            None => Err(Status::invalid_argument(format!("Wrong input: Not existing vector name error: {name}"))),
            Some(params) if params.size != len as u64 => Err(Status::invalid_argument(format!(
                "Wrong input: Vector dimension error: expected dim: {}, got {len}",
                params.size
            ))),
            Some(_) => Ok(()),
        }
    }

    fn snapshot(&self) -> CollectionSnapshot {
        CollectionSnapshot {
            name: self.name.clone(),
            vectors: self.vectors.clone(),
            named_vectors: self.named,
            shard_number: self.shard_number,
            replication_factor: self.replication_factor,
            write_consistency_factor: self.write_consistency_factor,
            on_disk_payload: self.on_disk_payload,
            hnsw_config: self.hnsw,
            optimizers_config: self.optimizers,
            points_count: self.count().unwrap_or(0),
        }
    }

    #[allow(deprecated)]
    fn info(&self) -> Result<pb::CollectionInfo, Status> {
        let points = self.count()?;
        let segments = self.shard()?.info().segments_count as u64;
        Ok(pb::CollectionInfo {
            status: pb::CollectionStatus::Green as i32,
            optimizer_status: Some(pb::OptimizerStatus { ok: true, error: String::new() }),
            segments_count: segments,
            config: Some(pb::CollectionConfig {
                params: Some(pb::CollectionParams {
                    shard_number: self.shard_number,
                    on_disk_payload: self.on_disk_payload,
                    vectors_config: Some(self.vectors_config.clone()),
                    replication_factor: Some(self.replication_factor),
                    write_consistency_factor: Some(self.write_consistency_factor),
                    ..Default::default()
                }),
                hnsw_config: Some(self.hnsw),
                optimizer_config: Some(self.optimizers),
                wal_config: Some(pb::WalConfigDiff {
                    wal_capacity_mb: Some(32),
                    wal_segments_ahead: Some(0),
                    wal_retain_closed: Some(1),
                }),
                ..Default::default()
            }),
            points_count: Some(points),
            indexed_vectors_count: Some(0),
            ..Default::default()
        })
    }

    fn scored(&self, hits: Vec<ScoredPoint>, payload: &PayloadSelection) -> Vec<pb::ScoredPoint> {
        hits.into_iter()
            .map(|hit| pb::ScoredPoint {
                id: Some(pb_id(&hit.id)),
                payload: payload.apply(hit.payload),
                score: hit.score,
                version: hit.version,
                vectors: self.vectors_output(hit.vector),
                shard_key: None,
                order_value: None,
            })
            .collect()
    }

    fn retrieved(&self, records: Vec<Record>, payload: &PayloadSelection) -> Vec<pb::RetrievedPoint> {
        records
            .into_iter()
            .map(|record| pb::RetrievedPoint {
                id: Some(pb_id(&record.id)),
                payload: payload.apply(record.payload),
                vectors: self.vectors_output(record.vector),
                shard_key: None,
                order_value: None,
            })
            .collect()
    }

    fn vectors_output(&self, vector: Option<VectorStructInternal>) -> Option<pb::VectorsOutput> {
        let mut vectors = dense_vectors(vector?);
        let options = if self.named {
            pb::vectors_output::VectorsOptions::Vectors(pb::NamedVectorsOutput {
                vectors: vectors.into_iter().map(|(name, vector)| (name, vector_output(vector))).collect(),
            })
        } else {
            pb::vectors_output::VectorsOptions::Vector(vector_output(vectors.remove("")?))
        };
        Some(pb::VectorsOutput { vectors_options: Some(options) })
    }

    /// The query's vector name, checked against the collection, as Edge expects it.
    fn using(&self, name: Option<String>, len: usize) -> Result<Option<String>, Status> {
        let name = name.unwrap_or_default();
        self.check_vector(&name, len)?;
        Ok((!name.is_empty()).then_some(name))
    }
}

fn default_hnsw() -> pb::HnswConfigDiff {
    pb::HnswConfigDiff {
        m: Some(16),
        ef_construct: Some(100),
        full_scan_threshold: Some(10_000),
        max_indexing_threads: Some(0),
        #[allow(deprecated)]
        on_disk: Some(false),
        payload_m: None,
        inline_storage: None,
        memory: None,
    }
}

fn default_optimizers() -> pb::OptimizersConfigDiff {
    pb::OptimizersConfigDiff {
        deleted_threshold: Some(0.2),
        vacuum_min_vector_number: Some(1000),
        default_segment_number: Some(0),
        max_segment_size: None,
        memmap_threshold: None,
        indexing_threshold: Some(10_000),
        flush_interval_sec: Some(5),
        deprecated_max_optimization_threads: None,
        max_optimization_threads: None,
        prevent_unoptimized: None,
    }
}

#[allow(deprecated)]
fn merge_hnsw(base: &mut pb::HnswConfigDiff, diff: &pb::HnswConfigDiff) {
    base.m = diff.m.or(base.m);
    base.ef_construct = diff.ef_construct.or(base.ef_construct);
    base.full_scan_threshold = diff.full_scan_threshold.or(base.full_scan_threshold);
    base.max_indexing_threads = diff.max_indexing_threads.or(base.max_indexing_threads);
    base.on_disk = diff.on_disk.or(base.on_disk);
    base.payload_m = diff.payload_m.or(base.payload_m);
    base.inline_storage = diff.inline_storage.or(base.inline_storage);
    base.memory = diff.memory.or(base.memory);
}

fn merge_optimizers(base: &mut pb::OptimizersConfigDiff, diff: &pb::OptimizersConfigDiff) {
    base.deleted_threshold = diff.deleted_threshold.or(base.deleted_threshold);
    base.vacuum_min_vector_number = diff.vacuum_min_vector_number.or(base.vacuum_min_vector_number);
    base.default_segment_number = diff.default_segment_number.or(base.default_segment_number);
    base.max_segment_size = diff.max_segment_size.or(base.max_segment_size);
    base.memmap_threshold = diff.memmap_threshold.or(base.memmap_threshold);
    base.indexing_threshold = diff.indexing_threshold.or(base.indexing_threshold);
    base.flush_interval_sec = diff.flush_interval_sec.or(base.flush_interval_sec);
    base.deprecated_max_optimization_threads =
        diff.deprecated_max_optimization_threads.or(base.deprecated_max_optimization_threads);
    base.max_optimization_threads = diff.max_optimization_threads.or(base.max_optimization_threads);
    base.prevent_unoptimized = diff.prevent_unoptimized.or(base.prevent_unoptimized);
}

#[allow(deprecated)]
fn edge_hnsw(hnsw: &pb::HnswConfigDiff) -> HnswIndexConfig {
    let defaults = HnswIndexConfig::default();
    HnswIndexConfig {
        m: hnsw.m.map_or(defaults.m, |m| m as usize),
        ef_construct: hnsw.ef_construct.map_or(defaults.ef_construct, |ef| ef as usize),
        full_scan_threshold: hnsw.full_scan_threshold.map_or(defaults.full_scan_threshold, |t| t as usize),
        max_indexing_threads: hnsw.max_indexing_threads.map_or(defaults.max_indexing_threads, |t| t as usize),
        on_disk: hnsw.on_disk,
        payload_m: hnsw.payload_m.map(|m| m as usize),
        inline_storage: hnsw.inline_storage,
    }
}

/// Edge optimises only when asked, so these only travel with the shard's config. Deferring
/// points (`prevent_unoptimized`) would hide them from reads here, so it is left out.
fn edge_optimizers(optimizers: &pb::OptimizersConfigDiff) -> EdgeOptimizersConfig {
    EdgeOptimizersConfig {
        deleted_threshold: optimizers.deleted_threshold,
        vacuum_min_vector_number: optimizers.vacuum_min_vector_number.map(|n| n as usize),
        default_segment_number: optimizers.default_segment_number.map(|n| n as usize),
        max_segment_size: optimizers.max_segment_size.map(|n| n as usize),
        indexing_threshold: optimizers.indexing_threshold.map(|n| n as usize),
        prevent_unoptimized: None,
    }
}

fn edge_distance(distance: i32) -> Result<(pb::Distance, Distance), Status> {
    match pb::Distance::try_from(distance) {
        Ok(pb::Distance::Cosine) => Ok((pb::Distance::Cosine, Distance::Cosine)),
        Ok(pb::Distance::Euclid) => Ok((pb::Distance::Euclid, Distance::Euclid)),
        Ok(pb::Distance::Dot) => Ok((pb::Distance::Dot, Distance::Dot)),
        Ok(pb::Distance::Manhattan) => Ok((pb::Distance::Manhattan, Distance::Manhattan)),
        _ => Err(Status::invalid_argument(format!("Wrong input: unknown distance {distance}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(collection: &str) -> Status {
    Status::not_found(format!("Not found: Collection `{collection}` doesn't exist!"))
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented by the test server"))
}

fn edge_error(error: OperationError) -> Status {
    match error {
        OperationError::WrongVectorDimension { .. }
        | OperationError::VectorNameNotExists { .. }
        | OperationError::ValidationError { .. }
        | OperationError::TypeError { .. }
        | OperationError::WrongSparse
        | OperationError::WrongMulti => Status::invalid_argument(format!("Wrong input: {error}")),
        OperationError::PointIdError { .. } => Status::not_found(format!("Not found: {error}")),
        error => Status::internal(format!("Service internal error: {error}")),
    }
}

fn format_id(id: &PointId) -> String {
    match id {
        PointId::NumId(number) => number.to_string(),
        PointId::Uuid(uuid) => uuid.to_string(),
    }
}

fn pb_id(id: &PointId) -> pb::PointId {
    let options = match id {
        PointId::NumId(number) => pb::point_id::PointIdOptions::Num(*number),
        PointId::Uuid(uuid) => pb::point_id::PointIdOptions::Uuid(uuid.to_string()),
    };
    pb::PointId { point_id_options: Some(options) }
}

fn edge_id(id: Option<pb::PointId>) -> Result<PointId, Status> {
    match id.and_then(|id| id.point_id_options) {
        Some(pb::point_id::PointIdOptions::Num(number)) => Ok(PointId::NumId(number)),
        Some(pb::point_id::PointIdOptions::Uuid(text)) => Uuid::parse_str(&text)
            .map(PointId::Uuid)
            .map_err(|_| Status::invalid_argument(format!("Unable to parse UUID: {text}"))),
        None => Err(Status::invalid_argument("Wrong input: a point ID is missing")),
    }
}

fn edge_ids(ids: Vec<pb::PointId>) -> Result<Vec<PointId>, Status> {
    ids.into_iter().map(|id| edge_id(Some(id))).collect()
}

#[allow(deprecated)]
fn dense(vector: pb::Vector) -> Result<Vec<f32>, Status> {
    match vector.vector {
        Some(pb::vector::Vector::Dense(dense)) => Ok(dense.data),
        None if vector.indices.is_none() && vector.vectors_count.is_none() => Ok(vector.data),
        _ => Err(unimplemented("a vector other than dense")),
    }
}

#[allow(deprecated)]
fn vector_output(vector: Vec<f32>) -> pb::VectorOutput {
    // Both fields: qdrant-client 1.16+ reads `vector`, older clients read `data`.
    pb::VectorOutput {
        data: vector.clone(),
        indices: None,
        vectors_count: None,
        vector: Some(pb::vector_output::Vector::Dense(pb::DenseVector { data: vector })),
    }
}

fn dense_vectors(vector: VectorStructInternal) -> BTreeMap<String, Vec<f32>> {
    match vector {
        VectorStructInternal::Single(vector) => BTreeMap::from([(String::new(), vector)]),
        VectorStructInternal::MultiDense(_) => BTreeMap::new(),
        VectorStructInternal::Named(vectors) => vectors
            .into_iter()
            .filter_map(|(name, vector)| match vector {
                VectorInternal::Dense(vector) => Some((name, vector)),
                _ => None,
            })
            .collect(),
    }
}

fn edge_payload(payload: HashMap<String, pb::Value>) -> Payload {
    Payload(payload.into_iter().map(|(key, value)| (key, serde_json::Value::from(value))).collect())
}

/// Which payload keys to return; Edge is always asked for all of it.
enum PayloadSelection {
    All,
    Nothing,
    Include(Vec<String>),
    Exclude(Vec<String>),
}

impl PayloadSelection {
    fn new(selector: Option<pb::WithPayloadSelector>, default: bool) -> Self {
        use pb::with_payload_selector::SelectorOptions;
        match selector.and_then(|selector| selector.selector_options) {
            None if default => Self::All,
            None => Self::Nothing,
            Some(SelectorOptions::Enable(true)) => Self::All,
            Some(SelectorOptions::Enable(false)) => Self::Nothing,
            Some(SelectorOptions::Include(include)) => Self::Include(include.fields),
            Some(SelectorOptions::Exclude(exclude)) => Self::Exclude(exclude.fields),
        }
    }

    fn edge(&self) -> WithPayloadInterface {
        WithPayloadInterface::Bool(!matches!(self, Self::Nothing))
    }

    /// Top-level keys only.
    fn apply(&self, payload: Option<Payload>) -> HashMap<String, pb::Value> {
        let Some(payload) = payload else {
            return HashMap::new();
        };
        payload
            .0
            .into_iter()
            .filter(|(key, _)| match self {
                Self::All => true,
                Self::Nothing => false,
                Self::Include(keys) => keys.contains(key),
                Self::Exclude(keys) => !keys.contains(key),
            })
            .map(|(key, value)| (key, pb::Value::from(value)))
            .collect()
    }
}

fn with_vector(selector: Option<pb::WithVectorsSelector>) -> WithVector {
    match selector.and_then(|selector| selector.selector_options) {
        None => WithVector::Bool(false),
        Some(pb::with_vectors_selector::SelectorOptions::Enable(enable)) => WithVector::Bool(enable),
        Some(pb::with_vectors_selector::SelectorOptions::Include(include)) => WithVector::Selector(include.names),
    }
}

fn reject_filter(filter: &Option<pb::Filter>) -> Result<(), Status> {
    match filter {
        Some(_) => Err(unimplemented("a filter")),
        None => Ok(()),
    }
}

fn seconds(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// The services
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Service(Arc<Shared>);

struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Service {
    /// Every RPC starts here: log it, check the API key, then the faults. The RPC counts as in
    /// flight until the returned guard drops (answered, or abandoned by the client).
    async fn enter(&self, method: &'static str, metadata: &MetadataMap) -> Result<InFlight, Status> {
        let shared = &self.0;
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let call = InFlight(shared.clone());
        let api_key = metadata.get("api-key").and_then(|value| value.to_str().ok()).map(str::to_owned);
        lock(&shared.log).push(Call { method, api_key: api_key.clone() });
        if let Some(expected) = &shared.api_key {
            let bearer = metadata
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            match api_key.as_deref().or(bearer) {
                None => {
                    return Err(Status::unauthenticated("Must provide an API key or an Authorization bearer token"))
                }
                Some(key) if key != expected => return Err(Status::unauthenticated("Invalid API key or JWT")),
                Some(_) => {}
            }
        }
        let delay = shared.faults.current_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match shared.faults.take_failure(method == "Points/Upsert") {
            Some(status) => Err(status),
            None => Ok(call),
        }
    }

    fn create_collection(&self, request: pb::CreateCollection) -> Result<bool, Status> {
        let shared = &self.0;
        let name = request.collection_name;
        let valid = !name.is_empty() && name.len() <= 255 && !name.contains(['/', '\\', '\0']);
        if !valid {
            return Err(Status::invalid_argument(format!("Wrong input: invalid collection name `{name}`")));
        }
        if request.sparse_vectors_config.is_some() || request.quantization_config.is_some() {
            return Err(unimplemented("sparse vectors and quantization"));
        }
        let vectors_config =
            request.vectors_config.ok_or_else(|| Status::invalid_argument("Wrong input: vectors_config is missing"))?;
        let (named, params): (bool, Vec<(String, pb::VectorParams)>) = match vectors_config.config.clone() {
            Some(pb::vectors_config::Config::Params(params)) => (false, vec![(String::new(), params)]),
            Some(pb::vectors_config::Config::ParamsMap(map)) => (true, map.map.into_iter().collect()),
            None => return Err(Status::invalid_argument("Wrong input: vectors_config is empty")),
        };
        let mut hnsw = default_hnsw();
        merge_hnsw(&mut hnsw, &request.hnsw_config.unwrap_or_default());
        let mut optimizers = default_optimizers();
        merge_optimizers(&mut optimizers, &request.optimizers_config.unwrap_or_default());
        #[allow(deprecated)]
        let on_disk_payload = request.on_disk_payload.unwrap_or(true);

        let mut vectors = BTreeMap::new();
        let mut config = EdgeConfig::builder()
            .hnsw_config(edge_hnsw(&hnsw))
            .optimizers(edge_optimizers(&optimizers))
            .on_disk_payload(on_disk_payload)
            // Small WAL segments: a test makes many collections (they grow for big entries).
            .wal_options(WalOptions { segment_capacity: 1 << 20, ..WalOptions::default() });
        for (vector_name, params) in params {
            if params.size == 0 {
                return Err(Status::invalid_argument("Wrong input: vector size must be at least 1"));
            }
            if params.multivector_config.is_some() || params.quantization_config.is_some() {
                return Err(unimplemented("multivectors and quantization"));
            }
            let (distance, edge_distance) = edge_distance(params.distance)?;
            #[allow(deprecated)]
            let on_disk = params.on_disk;
            let mut edge_params = EdgeVectorParams::builder(params.size as usize, edge_distance);
            if let Some(on_disk) = on_disk {
                edge_params = edge_params.on_disk(on_disk);
            }
            config = config.vector(vector_name.clone(), edge_params.build());
            vectors.insert(
                vector_name,
                VectorSnapshot { size: params.size, distance, on_disk, hnsw_config: params.hnsw_config },
            );
        }

        let mut collections = lock(&shared.collections);
        if collections.contains_key(&name) {
            return Err(Status::already_exists(format!("Wrong input: Collection `{name}` already exists!")));
        }
        let dir = shared.dir.path().join(format!("collection-{}", shared.next_dir.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).map_err(|error| Status::internal(format!("Service internal error: {error}")))?;
        let shard = EdgeShard::new(&dir, config.build()).map_err(edge_error)?;
        let collection = Collection {
            name: name.clone(),
            dir,
            shard: Some(shard),
            vectors_config,
            vectors,
            named,
            shard_number: request.shard_number.unwrap_or(1),
            replication_factor: request.replication_factor.unwrap_or(1),
            write_consistency_factor: request.write_consistency_factor.unwrap_or(1),
            on_disk_payload,
            hnsw,
            optimizers,
            operations: 0,
        };
        collections.insert(name, Arc::new(Mutex::new(collection)));
        Ok(true)
    }

    fn update_collection(&self, request: pb::UpdateCollection) -> Result<bool, Status> {
        if request.params.is_some()
            || request.vectors_config.is_some()
            || request.quantization_config.is_some()
            || request.sparse_vectors_config.is_some()
            || request.strict_mode_config.is_some()
            || !request.metadata.is_empty()
        {
            return Err(unimplemented("an update other than hnsw_config and optimizers_config"));
        }
        let collection = self.0.collection(&request.collection_name)?;
        let mut collection = lock(&collection);
        if let Some(diff) = &request.hnsw_config {
            let mut hnsw = collection.hnsw;
            merge_hnsw(&mut hnsw, diff);
            collection.shard()?.set_hnsw_config(edge_hnsw(&hnsw)).map_err(edge_error)?;
            collection.hnsw = hnsw;
        }
        if let Some(diff) = &request.optimizers_config {
            let mut optimizers = collection.optimizers;
            merge_optimizers(&mut optimizers, diff);
            collection.shard()?.set_optimizers_config(edge_optimizers(&optimizers)).map_err(edge_error)?;
            collection.optimizers = optimizers;
        }
        Ok(true)
    }

    fn delete_collection(&self, name: &str) -> bool {
        let Some(collection) = lock(&self.0.collections).remove(name) else {
            return false;
        };
        let mut collection = lock(&collection);
        collection.close();
        let _ = std::fs::remove_dir_all(&collection.dir);
        true
    }

    fn upsert_points(&self, request: pb::UpsertPoints) -> Result<pb::PointsOperationResponse, Status> {
        let start = Instant::now();
        if request.update_filter.is_some() || request.shard_key_selector.is_some() {
            return Err(unimplemented("a conditional or sharded upsert"));
        }
        let collection = self.0.collection(&request.collection_name)?;
        let mut collection = lock(&collection);
        let count = request.points.len();
        // Checked before anything is written: a bad point fails the whole batch, as in Qdrant.
        let mut points = Vec::with_capacity(count);
        for point in request.points {
            let id = edge_id(point.id)?;
            let vector = match point.vectors.and_then(|vectors| vectors.vectors_options) {
                Some(pb::vectors::VectorsOptions::Vector(vector)) => {
                    let vector = dense(vector)?;
                    collection.check_vector("", vector.len())?;
                    VectorStructPersisted::Single(vector)
                }
                Some(pb::vectors::VectorsOptions::Vectors(named)) => {
                    let mut vectors = HashMap::new();
                    for (name, vector) in named.vectors {
                        let vector = dense(vector)?;
                        collection.check_vector(&name, vector.len())?;
                        vectors.insert(name, VectorPersisted::Dense(vector));
                    }
                    VectorStructPersisted::Named(vectors)
                }
                None => return Err(Status::invalid_argument("Wrong input: a point has no vectors")),
            };
            points.push(PointStructPersisted { id, vector, payload: Some(edge_payload(point.payload)) });
        }
        if !points.is_empty() {
            let operation = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(points),
            ));
            collection.shard()?.update(operation).map_err(edge_error)?;
        }
        collection.operations += 1;
        let operation_id = collection.operations;
        drop(collection);

        let wait = request.wait.unwrap_or(false);
        lock(&self.0.upserts).push(UpsertRecord { collection: request.collection_name, points: count, wait });
        if self.0.faults.take_after_apply() {
            return Err(Status::unavailable("injected fault: applied, then the answer was lost"));
        }
        self.0.upsert_calls.fetch_add(1, Ordering::SeqCst);
        Ok(operation_response(operation_id, wait, start))
    }

    fn delete_points(&self, request: pb::DeletePoints) -> Result<pb::PointsOperationResponse, Status> {
        let start = Instant::now();
        let ids = match request.points.and_then(|selector| selector.points_selector_one_of) {
            Some(pb::points_selector::PointsSelectorOneOf::Points(list)) => edge_ids(list.ids)?,
            Some(pb::points_selector::PointsSelectorOneOf::Filter(_)) => return Err(unimplemented("delete by filter")),
            None => return Err(Status::invalid_argument("Wrong input: no points to delete")),
        };
        let collection = self.0.collection(&request.collection_name)?;
        let mut collection = lock(&collection);
        let operation = UpdateOperation::PointOperation(PointOperations::DeletePoints { ids });
        collection.shard()?.update(operation).map_err(edge_error)?;
        collection.operations += 1;
        Ok(operation_response(collection.operations, request.wait.unwrap_or(false), start))
    }

    fn nearest(&self, query: Nearest) -> Result<Vec<pb::ScoredPoint>, Status> {
        let collection = self.0.collection(&query.collection)?;
        let collection = lock(&collection);
        let using = collection.using(query.using, query.vector.len())?;
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery { query: VectorInternal::Dense(query.vector), using }),
            filter: None,
            params: None,
            limit: query.limit,
            offset: query.offset,
            with_payload: Some(query.payload.edge()),
            with_vector: Some(query.with_vectors),
            score_threshold: query.score_threshold,
        };
        let hits = collection.shard()?.search(request).map_err(edge_error)?;
        Ok(collection.scored(hits, &query.payload))
    }
}

/// A search or a query for the points nearest to a dense vector.
struct Nearest {
    collection: String,
    vector: Vec<f32>,
    using: Option<String>,
    limit: usize,
    offset: usize,
    score_threshold: Option<f32>,
    payload: PayloadSelection,
    with_vectors: WithVector,
}

fn operation_response(operation_id: u64, wait: bool, start: Instant) -> pb::PointsOperationResponse {
    let status = if wait { pb::UpdateStatus::Completed } else { pb::UpdateStatus::Acknowledged };
    pb::PointsOperationResponse {
        result: Some(pb::UpdateResult { operation_id: Some(operation_id), status: status as i32 }),
        time: seconds(start),
        usage: None,
    }
}

/// Trait methods that answer Unimplemented, written as `#[tonic::async_trait]` expands them.
macro_rules! unimplemented_rpcs {
    ($($method:ident($request:ty) -> $response:ty = $path:literal;)*) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            request: Request<$request>,
        ) -> Pin<Box<dyn Future<Output = Result<Response<$response>, Status>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let _call = self.enter($path, request.metadata()).await?;
                Err(unimplemented($path))
            })
        }
    )*};
}

#[tonic::async_trait]
impl Qdrant for Service {
    async fn health_check(
        &self,
        request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckReply>, Status> {
        let _call = self.enter("Qdrant/HealthCheck", request.metadata()).await?;
        Ok(Response::new(pb::HealthCheckReply {
            title: TITLE.to_owned(),
            version: self.0.version.clone(),
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
        let _call = self.enter("Collections/Get", request.metadata()).await?;
        let collection = self.0.collection(&request.get_ref().collection_name)?;
        let info = lock(&collection).info()?;
        Ok(Response::new(pb::GetCollectionInfoResponse { result: Some(info), time: seconds(start) }))
    }

    async fn list(
        &self,
        request: Request<pb::ListCollectionsRequest>,
    ) -> Result<Response<pb::ListCollectionsResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Collections/List", request.metadata()).await?;
        let collections =
            lock(&self.0.collections).keys().map(|name| pb::CollectionDescription { name: name.clone() }).collect();
        Ok(Response::new(pb::ListCollectionsResponse { collections, time: seconds(start) }))
    }

    async fn create(
        &self,
        request: Request<pb::CreateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Collections/Create", request.metadata()).await?;
        let result = self.create_collection(request.into_inner())?;
        Ok(Response::new(pb::CollectionOperationResponse { result, time: seconds(start) }))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Collections/Update", request.metadata()).await?;
        let result = self.update_collection(request.into_inner())?;
        Ok(Response::new(pb::CollectionOperationResponse { result, time: seconds(start) }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Collections/Delete", request.metadata()).await?;
        let result = self.delete_collection(&request.get_ref().collection_name);
        Ok(Response::new(pb::CollectionOperationResponse { result, time: seconds(start) }))
    }

    async fn collection_exists(
        &self,
        request: Request<pb::CollectionExistsRequest>,
    ) -> Result<Response<pb::CollectionExistsResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Collections/CollectionExists", request.metadata()).await?;
        let exists = self.0.find(&request.get_ref().collection_name).is_some();
        Ok(Response::new(pb::CollectionExistsResponse {
            result: Some(pb::CollectionExists { exists }),
            time: seconds(start),
        }))
    }

    unimplemented_rpcs! {
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
        let _call = self.enter("Points/Upsert", request.metadata()).await?;
        self.upsert_points(request.into_inner()).map(Response::new)
    }

    async fn delete(
        &self,
        request: Request<pb::DeletePoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        let _call = self.enter("Points/Delete", request.metadata()).await?;
        self.delete_points(request.into_inner()).map(Response::new)
    }

    async fn get(&self, request: Request<pb::GetPoints>) -> Result<Response<pb::GetResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Points/Get", request.metadata()).await?;
        let request = request.into_inner();
        let ids = edge_ids(request.ids)?;
        let payload = PayloadSelection::new(request.with_payload, true);
        let collection = self.0.collection(&request.collection_name)?;
        let collection = lock(&collection);
        let records = collection
            .shard()?
            .retrieve(&ids, Some(payload.edge()), Some(with_vector(request.with_vectors)))
            .map_err(edge_error)?;
        let result = collection.retrieved(records, &payload);
        Ok(Response::new(pb::GetResponse { result, time: seconds(start), usage: None }))
    }

    async fn scroll(&self, request: Request<pb::ScrollPoints>) -> Result<Response<pb::ScrollResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Points/Scroll", request.metadata()).await?;
        let request = request.into_inner();
        reject_filter(&request.filter)?;
        if request.order_by.is_some() {
            return Err(unimplemented("scroll with order_by"));
        }
        let payload = PayloadSelection::new(request.with_payload, true);
        let collection = self.0.collection(&request.collection_name)?;
        let collection = lock(&collection);
        let scroll = ScrollRequest {
            offset: request.offset.map(|id| edge_id(Some(id))).transpose()?,
            limit: Some(request.limit.unwrap_or(10).max(1) as usize),
            filter: None,
            with_payload: Some(payload.edge()),
            with_vector: with_vector(request.with_vectors),
            order_by: None,
        };
        let (records, next) = collection.shard()?.scroll(scroll).map_err(edge_error)?;
        Ok(Response::new(pb::ScrollResponse {
            next_page_offset: next.as_ref().map(pb_id),
            result: collection.retrieved(records, &payload),
            time: seconds(start),
            usage: None,
        }))
    }

    async fn count(&self, request: Request<pb::CountPoints>) -> Result<Response<pb::CountResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Points/Count", request.metadata()).await?;
        let request = request.into_inner();
        reject_filter(&request.filter)?;
        let collection = self.0.collection(&request.collection_name)?;
        let count = lock(&collection).count()?;
        Ok(Response::new(pb::CountResponse {
            result: Some(pb::CountResult { count }),
            time: seconds(start),
            usage: None,
        }))
    }

    async fn search(&self, request: Request<pb::SearchPoints>) -> Result<Response<pb::SearchResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Points/Search", request.metadata()).await?;
        let request = request.into_inner();
        reject_filter(&request.filter)?;
        if request.sparse_indices.is_some() {
            return Err(unimplemented("sparse search"));
        }
        let result = self.nearest(Nearest {
            collection: request.collection_name,
            vector: request.vector,
            using: request.vector_name,
            limit: request.limit as usize,
            offset: request.offset.unwrap_or(0) as usize,
            score_threshold: request.score_threshold,
            payload: PayloadSelection::new(request.with_payload, false),
            with_vectors: with_vector(request.with_vectors),
        })?;
        Ok(Response::new(pb::SearchResponse { result, time: seconds(start), usage: None }))
    }

    async fn query(&self, request: Request<pb::QueryPoints>) -> Result<Response<pb::QueryResponse>, Status> {
        let start = Instant::now();
        let _call = self.enter("Points/Query", request.metadata()).await?;
        let request = request.into_inner();
        reject_filter(&request.filter)?;
        if !request.prefetch.is_empty() || request.lookup_from.is_some() {
            return Err(unimplemented("prefetch and lookup_from"));
        }
        let vector = match request.query.and_then(|query| query.variant) {
            Some(pb::query::Variant::Nearest(pb::VectorInput {
                variant: Some(pb::vector_input::Variant::Dense(dense)),
            })) => dense.data,
            _ => return Err(unimplemented("a query other than nearest to a dense vector")),
        };
        let result = self.nearest(Nearest {
            collection: request.collection_name,
            vector,
            using: request.using,
            limit: request.limit.unwrap_or(10) as usize,
            offset: request.offset.unwrap_or(0) as usize,
            score_threshold: request.score_threshold,
            payload: PayloadSelection::new(request.with_payload, false),
            with_vectors: with_vector(request.with_vectors),
        })?;
        Ok(Response::new(pb::QueryResponse { result, time: seconds(start), usage: None }))
    }

    unimplemented_rpcs! {
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
