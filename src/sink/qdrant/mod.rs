//! A Qdrant server or cluster over gRPC, through `qdrant-client`.
//!
//! Writes wait for the server's acknowledgement (`wait=true`), so a batch that returns is
//! durable as far as Qdrant promises, and `flush` has nothing left to do. Each upsert is split
//! into requests of at most `upsert_batch` points and under the server's 32 MB message limit,
//! sent `upsert_parallel` at a time, each retried with exponential backoff and jitter.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use qdrant_client::{Qdrant, QdrantError};
use serde::{Deserialize, Serialize};
use tonic::Code;

mod admin;
mod pages;
mod stored;
mod write;

pub use admin::BulkLoad;
pub use write::{format_id, payload_to_json};

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
    /// How to create the collection, so that a resume creates it as the first run would have.
    #[serde(flatten)]
    pub setup: CollectionSetup,
}

/// How imbed creates a collection that does not exist yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSetup {
    #[serde(default)]
    pub on_disk: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_factor: Option<u32>,
    /// Create it with HNSW indexing off (`m = 0`), as Qdrant's bulk-upload guide advises.
    #[serde(default)]
    pub bulk: bool,
}

/// The collection's state on the server, for `stats` and the end of a bulk load.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionState {
    pub status: String,
    pub points: u64,
    pub indexed_vectors: u64,
    pub hnsw_m: Option<u64>,
    /// The identity imbed gave the collection, from its metadata.
    pub identity: Option<crate::sink::IndexId>,
}

pub struct QdrantSink {
    runtime: tokio::runtime::Runtime,
    client: Arc<Qdrant>,
    connection: Connection,
    collection: String,
    vector_name: Option<String>,
    dimension: usize,
    server_version: String,
    /// What the collection's metadata says imbed gave it, once opened.
    identity: Option<crate::sink::IndexId>,
    created_now: bool,
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
            identity: None,
            created_now: false,
        };
        // Retried like writes: a cron run should survive a server that restarts as it starts.
        let retries = sink.connection.max_retries;
        let health = sink
            .runtime
            .block_on(with_retries("health check", retries, || sink.client.health_check()))
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
            .block_on(with_retries("request", retries, || request(self.client.clone(), self.collection.clone())))
            .map_err(|error| anyhow!(describe(&error)))
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
    [
        "transport error",
        "Failed to connect",
        "connection closed",
        "broken pipe",
        "Connection reset",
        "Connection refused",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// Delay before retry `attempt` (1-based): what the server asked for, or the shared backoff.
fn backoff(attempt: u32, error: &QdrantError) -> Duration {
    if let QdrantError::ResourceExhaustedError { retry_after_seconds, .. } = error {
        return Duration::from_secs(*retry_after_seconds);
    }
    crate::retry::backoff(attempt)
}

/// Runs `request` until it succeeds, fails for good, or has been retried `max_retries` times;
/// each retry is one warning line: what failed, why, which retry, and the wait.
async fn with_retries<T, F, Fut>(what: &str, max_retries: u32, request: F) -> Result<T, QdrantError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QdrantError>>,
{
    let pause = |attempt: u32, error: &QdrantError| {
        (attempt <= max_retries && is_retryable(error)).then(|| {
            let delay = backoff(attempt, error);
            tracing::warn!(
                "Qdrant {what} failed ({}); retry {attempt} of {max_retries} in {delay:.1?}",
                describe(error)
            );
            delay
        })
    };
    crate::retry::retrying(request, pause).await.map_err(|(error, _)| error)
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
                _ if is_connection_error(message) => connection_failure(message).to_string(),
                Code::Unavailable => format!("server unavailable: {}", first_line(message)),
                Code::DeadlineExceeded | Code::Cancelled => {
                    format!("timed out: {} (see --timeout)", first_line(message))
                }
                code => format!("{code:?}: {}", first_line(message)),
            }
        }
        other => first_line(&other.to_string()).to_string(),
    }
}

/// What went wrong with the connection, in words: the client's message nests the `Debug`
/// output of tonic's and hyper's errors, which is no line for a log.
fn connection_failure(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    [
        ("connection refused", "connection refused"),
        ("connection reset", "connection reset by the server"),
        ("broken pipe", "connection broken"),
        ("connection closed", "connection closed by the server"),
        ("timed out", "connection timed out (see --connect-timeout)"),
        ("dns error", "cannot resolve the host name"),
        ("certificate", "TLS certificate not accepted"),
        ("invalid peer certificate", "TLS certificate not accepted"),
    ]
    .iter()
    .find(|(needle, _)| message.contains(needle))
    .map_or("connection failed", |(_, words)| words)
}

/// A message up to where a nested `Debug` dump of the cause begins.
fn first_line(message: &str) -> &str {
    let end = [": tonic::", " tonic::", "\n"].iter().filter_map(|cut| message.find(cut)).min();
    end.map_or(message, |end| &message[..end]).trim_end_matches([':', ' '])
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

    #[test]
    fn versions_within_one_minor_are_compatible() {
        assert!(compatible("1.20.3"));
        assert!(compatible("1.19.0"));
        assert!(!compatible("1.16.0"));
        assert!(!compatible("2.0.0"));
        assert!(!compatible("dev"));
    }
}
