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

#[path = "qdrant_server/faults.rs"]
mod faults;
#[path = "qdrant_server/rpcs.rs"]
mod rpcs;
#[path = "qdrant_server/running.rs"]
mod running;
#[path = "qdrant_server/store.rs"]
mod store;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use qdrant_client::qdrant as pb;
use tonic::Status;

pub use faults::Faults;
use running::Running;

/// The default limit on a request: Qdrant's REST `service.max_request_size_mb` (32).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// What `health_check` reports: older than imbed's client, as the real test server is.
pub const VERSION: &str = "1.16.0";

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
