//! A Qdrant server: how to reach it (every command that talks to one), how to write to it
//! (index, resume, retry-failed, push), and how to create its collection.

use std::time::Duration;

use clap::Args;

/// How to reach a Qdrant server. Never stored in a checkpoint, so resume and retry-failed take
/// them too: the key is a secret, and the time-outs are this machine's.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Qdrant server")]
pub struct ConnectionArgs {
    /// API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY.
    /// Never printed, never stored.
    #[arg(long, alias = "api-key", value_name = "KEY", env = "IMBED_QDRANT_API_KEY", hide_env_values = true)]
    pub qdrant_api_key: Option<String>,

    /// Seconds to wait for a connection to the server [default: 10].
    #[arg(long, alias = "connect-timeout", value_name = "SECS", env = "IMBED_QDRANT_CONNECT_TIMEOUT",
          value_parser = super::parse::seconds)]
    pub qdrant_connect_timeout: Option<Duration>,

    /// Seconds to wait for each request's answer [default: 60].
    #[arg(long, alias = "timeout", value_name = "SECS", env = "IMBED_QDRANT_TIMEOUT", value_parser = super::parse::seconds)]
    pub qdrant_timeout: Option<Duration>,

    /// Tries of one request, the first included, when it fails for a reason that may pass
    /// (unavailable, time-out, overloaded, connection lost), with exponential backoff and
    /// jitter [default: 6].
    #[arg(long, value_name = "N", env = "IMBED_QDRANT_MAX_ATTEMPTS",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub qdrant_max_attempts: Option<u32>,

    /// Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one
    /// more and wins when both are given.
    #[arg(long, hide = true, value_name = "N", env = "IMBED_MAX_RETRIES",
          value_parser = clap::value_parser!(u32).range(0..=99))]
    pub max_retries: Option<u32>,
}

/// How points are written to a server.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Qdrant server")]
pub struct WriteArgs {
    /// Points per upsert request (requests are also kept under the server's 32 MB limit) [default: 128].
    #[arg(long, value_name = "N", env = "IMBED_UPSERT_BATCH", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub upsert_batch: Option<u32>,

    /// Upsert requests in flight at once [default: 4].
    #[arg(long, value_name = "N", env = "IMBED_UPSERT_PARALLEL", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub upsert_parallel: Option<u32>,
}

/// How imbed creates a server collection that does not exist yet.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "New collection")]
pub struct CollectionSetupArgs {
    /// Keep vectors and payloads on disk in a collection imbed creates.
    #[arg(long, alias = "on-disk", env = "IMBED_COLLECTION_ON_DISK")]
    pub collection_on_disk: bool,

    /// Shards of a collection imbed creates (Qdrant's shards; --shard I/N splits the corpus).
    #[arg(long, alias = "shards", value_name = "N", env = "IMBED_COLLECTION_SHARDS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub collection_shards: Option<u32>,

    /// Replication factor of a collection imbed creates.
    #[arg(long, alias = "replication-factor", value_name = "N", env = "IMBED_COLLECTION_REPLICAS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub collection_replicas: Option<u32>,

    /// Bulk load: build the HNSW index only at the end. imbed sets m=0 on a collection it
    /// created, and restores m=16 when the run (or its resume) finishes.
    #[arg(long, env = "IMBED_BULK")]
    pub bulk: bool,
}
