//! Where points go: the embedded store, or a Qdrant server and how to create its collection.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
#[command(next_help_heading = "Store")]
pub struct StoreArgs {
    /// Embedded Qdrant Edge store folder.
    #[arg(long, value_name = "DIR", default_value = "imbed-store", env = "IMBED_STORE")]
    pub store: PathBuf,

    /// Collection name inside the store or on the server.
    #[arg(long, value_name = "NAME", default_value = "images", env = "IMBED_COLLECTION")]
    pub collection: String,

    /// Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the
    /// embedded store, such as http://localhost:6334 or https://host:6334.
    #[arg(long, value_name = "URL", env = "IMBED_QDRANT_URL", help_heading = "Store")]
    pub qdrant: Option<String>,

    /// Named vector to write and search, for collections that hold several vectors.
    #[arg(long, value_name = "NAME", env = "IMBED_VECTOR_NAME", help_heading = "Store")]
    pub vector_name: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// How to talk to a Qdrant server; also given to resume and retry-failed, since the API key
/// and the time-outs are never stored in a checkpoint.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Store")]
pub struct ServerArgs {
    /// API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY.
    /// Never printed, never stored.
    #[arg(long, value_name = "KEY", env = "IMBED_QDRANT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Seconds to wait for a connection to the server.
    #[arg(long, value_name = "SECS", default_value = "10", env = "IMBED_CONNECT_TIMEOUT", value_parser = super::parse::seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for each request's answer.
    #[arg(long = "timeout", value_name = "SECS", default_value = "60", env = "IMBED_TIMEOUT", value_parser = super::parse::seconds)]
    pub request_timeout: Duration,

    /// Retries of a request that failed for a reason that may pass (unavailable, time-out,
    /// overloaded, connection lost), with exponential backoff and jitter.
    #[arg(long, value_name = "N", default_value_t = 5, env = "IMBED_MAX_RETRIES")]
    pub max_retries: u32,

    /// Points per upsert request (requests are also kept under the server's 32 MB limit).
    #[arg(long, value_name = "N", default_value_t = 128, env = "IMBED_UPSERT_BATCH",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub upsert_batch: u32,

    /// Upsert requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, env = "IMBED_UPSERT_PARALLEL",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub upsert_parallel: u32,
}

impl ServerArgs {
    /// The API key from --api-key, IMBED_QDRANT_API_KEY or QDRANT_API_KEY.
    pub fn api_key(&self) -> Option<String> {
        self.api_key.clone().or_else(|| std::env::var("QDRANT_API_KEY").ok()).filter(|key| !key.is_empty())
    }
}

/// How imbed creates a server collection that does not exist yet.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Store")]
pub struct CollectionSetupArgs {
    /// Keep vectors and payloads on disk in a collection imbed creates.
    #[arg(long, env = "IMBED_ON_DISK")]
    pub on_disk: bool,

    /// Shards of a collection imbed creates.
    #[arg(long, value_name = "N", env = "IMBED_SHARDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,

    /// Replication factor of a collection imbed creates.
    #[arg(long, value_name = "N", env = "IMBED_REPLICATION_FACTOR", value_parser = clap::value_parser!(u32).range(1..))]
    pub replication_factor: Option<u32>,

    /// Bulk load: build the HNSW index only at the end. imbed sets m=0 on a collection it
    /// created, and restores m=16 when the run (or its resume) finishes.
    #[arg(long, env = "IMBED_BULK")]
    pub bulk: bool,
}
