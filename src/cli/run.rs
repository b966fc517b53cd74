//! The options of a run: `index`, `resume` and `retry-failed`, with their sources and run control.

use std::path::PathBuf;

use clap::Args;

use super::{CollectionSetupArgs, ConnectionArgs, DecodeArgs, ModelArgs, StoreArgs, TextModelArgs, WriteArgs};

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Folders (walked recursively), image files, or object-store prefixes (s3://BUCKET/PREFIX/,
    /// gs://, az://) listed like folders.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// JSONL or CSV manifest with a `path` (or `url`, `file`) column, an optional `id`, and payload
    /// fields; a path may be an http(s) URL (presigned too) or an s3://, gs:// or az:// URI, and
    /// the manifest itself may be a remote object.
    #[arg(long, value_name = "FILE", env = "IMBED_MANIFEST", hide_env_values = true, help_heading = "Sources")]
    pub manifest: Vec<PathBuf>,

    /// Endpoint of an S3-compatible store (MinIO, SeaweedFS, Ceph, R2) [default: AWS_ENDPOINT_URL, or AWS].
    #[arg(long, value_name = "URL", env = "IMBED_S3_ENDPOINT", help_heading = "Remote sources")]
    pub s3_endpoint: Option<String>,

    /// Base URL of Google Cloud Storage's API, for an emulator such as fake-gcs-server
    /// [default: STORAGE_EMULATOR_HOST, or Google]; without GOOGLE_* credentials it is read unsigned.
    #[arg(long, value_name = "URL", env = "IMBED_GCS_ENDPOINT", help_heading = "Remote sources")]
    pub gcs_endpoint: Option<String>,

    /// Blob service URL of an Azure storage account (Azurite: http://127.0.0.1:10000/devstoreaccount1)
    /// [default: AZURITE_BLOB_STORAGE_URL with AZURE_STORAGE_USE_EMULATOR=true, or Azure].
    #[arg(long, value_name = "URL", env = "IMBED_AZURE_ENDPOINT", help_heading = "Remote sources")]
    pub azure_endpoint: Option<String>,

    /// Leave this query parameter (a CDN's `token`, say) out of item keys and payloads, as the
    /// signatures of S3, GCS, Azure and CloudFront are; repeatable. Messages show no query at all.
    #[arg(
        long,
        value_name = "NAME",
        env = "IMBED_IGNORE_QUERY_PARAM",
        value_delimiter = ',',
        help_heading = "Remote sources"
    )]
    pub ignore_query_param: Vec<String>,

    /// Read public buckets without signing requests (no credentials needed).
    #[arg(long, env = "IMBED_NO_SIGN", help_heading = "Remote sources")]
    pub no_sign: bool,

    /// Put the photo's EXIF GPS position in the payload as `gps` (a geo point for
    /// `--filter gps~LAT,LON,KM`); without it, the position is never stored.
    #[arg(long, env = "IMBED_PAYLOAD_GPS", help_heading = "Images")]
    pub payload_gps: bool,

    /// Refuse the run (exit 2) when a manifest line is bad, instead of failing that line alone.
    #[arg(long, env = "IMBED_STRICT_MANIFEST", help_heading = "Sources")]
    pub strict_manifest: bool,

    #[command(flatten)]
    pub walk: WalkArgs,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub text_model: TextModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub setup: CollectionSetupArgs,

    #[command(flatten)]
    pub changes: ChangeArgs,

    #[command(flatten)]
    pub shard: ShardArgs,

    /// Images per inference batch (a model with a static batch size imposes its own).
    #[arg(short, long, value_name = "N", default_value_t = 32, env = "IMBED_BATCH_SIZE", help_heading = "Performance",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,

    #[command(flatten)]
    pub run: RunArgs,
}

/// How a run over a finished checkpoint finds what changed.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sources")]
pub struct ChangeArgs {
    /// Tell changed files by a hash of their content, not only by size and modification time.
    ///
    /// Reads every file on every run; a file touched without being changed is not embedded again.
    #[arg(long, env = "IMBED_VERIFY_CONTENT")]
    pub verify_content: bool,

    /// Delete the points of items whose files are gone, once the walk has finished.
    ///
    /// Items under a folder that could not be read, or in a source folder where no image is
    /// left (an unmounted volume?), are kept. Deleted items are counted by `stats`.
    #[arg(long, env = "IMBED_DELETE_MISSING")]
    pub delete_missing: bool,

    /// Record an item whose bytes equal an item already done as a `duplicate` of it, with no
    /// decode and no model call.
    ///
    /// The first item with some bytes is embedded; the others point to it (`stats` counts
    /// them). Items done by earlier runs of this checkpoint, and points that imbed wrote to the
    /// collection, count as first. Resume and retry-failed keep the rule. A duplicate whose
    /// original changes or goes is embedded by the next run.
    #[arg(long, env = "IMBED_SKIP_DUPLICATES")]
    pub skip_duplicates: bool,

    /// Write the payloads of done, unchanged items again from their files, keeping their
    /// vectors: no model call.
    ///
    /// For fields an older imbed did not store (EXIF, `content_hash`, `phash`), or a manifest's
    /// fields after a change of `--payload-gps`. Items that are new or changed are embedded as usual.
    #[arg(long, env = "IMBED_REFRESH_PAYLOAD", conflicts_with = "reindex")]
    pub refresh_payload: bool,

    /// Embed every item again, into the same collection, even with a changed model.
    #[arg(long, env = "IMBED_REINDEX")]
    pub reindex: bool,
}

/// Which part of the corpus this machine takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sources")]
pub struct ShardArgs {
    /// Take only shard I of N (0-based), split by a hash of each item's key.
    ///
    /// Run the same command on N machines with I = 0..N-1, each with its own checkpoint: together
    /// they take every item exactly once. Without it, a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX with --shard-count) or a Slurm array job (SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT) picks the shard.
    #[arg(long, value_name = "I/N", env = "IMBED_SHARD")]
    pub shard: Option<crate::shard::Shard>,

    /// Number of shards, with JOB_COMPLETION_INDEX (a Kubernetes Job's completions).
    #[arg(long, value_name = "N", env = "IMBED_SHARD_COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    /// Resume even though model.onnx or the preprocessing changed since the run started.
    #[arg(long, env = "IMBED_FORCE")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RetryFailedArgs {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    /// Retry only items that failed with this error class (repeatable, or comma-separated).
    #[arg(long = "class", value_name = "CLASS", value_delimiter = ',', value_parser = super::parse::error_class())]
    pub classes: Vec<crate::item::ErrorClass>,

    /// Retry even though model.onnx or the preprocessing changed since the run started.
    #[arg(long, env = "IMBED_FORCE")]
    pub force: bool,
}

/// Settings of a run that index, resume and retry-failed share. The numbers without a
/// default here take, on resume and retry-failed, what the run was started with.
#[derive(Debug, Args)]
#[command(next_help_heading = "Run control")]
pub struct RunArgs {
    /// Checkpoint file recording every item's state.
    #[arg(long, value_name = "FILE", default_value = "imbed.checkpoint", env = "IMBED_CHECKPOINT")]
    pub checkpoint: PathBuf,

    /// Tries of an item that fails for a reason that may pass (a sink write, a download), the
    /// first included, before the item fails [default: 3].
    #[arg(long, value_name = "N", env = "IMBED_MAX_ATTEMPTS", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,

    /// Stop early (exit 1) once more than N items have failed.
    #[arg(long, value_name = "N", env = "IMBED_MAX_FAILURES")]
    pub max_failures: Option<u64>,

    /// Stop early (exit 1) once more than this fraction of items failed (checked after 100).
    #[arg(long, value_name = "RATE", env = "IMBED_MAX_FAILURE_RATE", value_parser = super::parse::rate)]
    pub max_failure_rate: Option<f64>,

    /// Refuse the run (exit 2) when the index is not the one the checkpoint wrote (lost,
    /// dropped or replaced), instead of sending its done items again.
    #[arg(long, env = "IMBED_NO_REPAIR")]
    pub no_repair: bool,

    /// Decoding threads [default: every core].
    #[arg(long, value_name = "N", env = "IMBED_DECODE_THREADS", help_heading = "Performance",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub decode_threads: Option<u32>,

    /// MiB of decoded pixels the decoding threads may hold at once; large images wait their
    /// turn [default: 1024].
    #[arg(long, value_name = "MIB", env = "IMBED_DECODE_MEMORY", help_heading = "Performance",
          value_parser = clap::value_parser!(u64).range(16..=super::parse::MAX_MIB))]
    pub decode_memory: Option<u64>,

    /// MiB to keep free on the store's disk; the run stops cleanly (exit 2, resumable) below
    /// it [default: 128].
    #[arg(long, value_name = "MIB", env = "IMBED_MIN_FREE_SPACE", help_heading = "Store",
          value_parser = clap::value_parser!(u64).range(0..=super::parse::MAX_MIB))]
    pub min_free_space: Option<u64>,

    /// Seconds between plain progress lines when stderr is not a terminal [default: 10].
    #[arg(long, value_name = "SECS", env = "IMBED_LOG_INTERVAL", help_heading = "Output",
          value_parser = clap::value_parser!(u64).range(1..=super::parse::MAX_SECONDS))]
    pub log_interval: Option<u64>,

    /// Print the final summary as one JSON object on stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Append one line per model call (its batch's keys) to FILE: how the tests count embeddings.
    #[arg(long, hide = true, value_name = "FILE", env = "IMBED_DEBUG_EMBED_LOG")]
    pub debug_embed_log: Option<PathBuf>,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// How remote images are downloaded. Tries are --max-attempts, the same as every item's.
#[derive(Debug, Args)]
#[command(next_help_heading = "Downloads")]
pub struct FetchArgs {
    /// Downloads in flight at once [default: 32].
    #[arg(long, value_name = "N", env = "IMBED_FETCH_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub fetch_concurrency: Option<u32>,

    /// MiB of downloaded images held at once until decoded; large objects wait their turn [default: 512].
    #[arg(long, value_name = "MIB", env = "IMBED_FETCH_MEMORY",
          value_parser = clap::value_parser!(u64).range(1..=super::parse::MAX_MIB))]
    pub fetch_memory: Option<u64>,

    /// Seconds to wait for a connection to a server of images [default: 10].
    #[arg(long, value_name = "SECS", env = "IMBED_FETCH_CONNECT_TIMEOUT", value_parser = super::parse::seconds)]
    pub fetch_connect_timeout: Option<std::time::Duration>,

    /// Seconds without a byte (before or during a body) after which a download is tried again [default: 30].
    #[arg(long, alias = "stall-timeout", value_name = "SECS", env = "IMBED_FETCH_STALL_TIMEOUT",
          value_parser = super::parse::seconds)]
    pub fetch_stall_timeout: Option<std::time::Duration>,

    /// Seconds one try of a download may take from request to last byte, however steady [default: 300].
    #[arg(long, alias = "object-timeout", value_name = "SECS", env = "IMBED_FETCH_OBJECT_TIMEOUT",
          value_parser = super::parse::seconds)]
    pub fetch_object_timeout: Option<std::time::Duration>,

    /// Tries in a row to one host that time out or cannot connect before its other items
    /// fail at once as host_down (retry-failed --class host_down takes them later) [default: 5].
    #[arg(long, alias = "host-failure-limit", value_name = "N", env = "IMBED_FETCH_HOST_FAILURE_LIMIT",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub fetch_host_failure_limit: Option<u32>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Sources")]
pub struct WalkArgs {
    /// Include hidden files and folders (names starting with a dot).
    #[arg(long, env = "IMBED_HIDDEN")]
    pub hidden: bool,

    /// Follow symbolic links while walking.
    #[arg(short = 'L', long, env = "IMBED_FOLLOW_LINKS")]
    pub follow_links: bool,
}
