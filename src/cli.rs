//! Command-line definitions: the one source for `--help`, completions and man pages.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "imbed",
    version,
    about = "Turn folders and manifests of images into a Qdrant vector index",
    long_about = "Turn folders and manifests of images into a Qdrant vector index.\n\n\
        imbed walks folders or reads manifests, decodes images in parallel, embeds them in \
        batches with an ONNX image encoder (CLIP, SigLIP, ...) and writes one point per image \
        into an embedded Qdrant Edge store, or into a Qdrant server or cluster with --qdrant.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and the final result.
    #[arg(short, long, global = true, env = "IMBED_QUIET", help_heading = "Output")]
    pub quiet: bool,

    /// Log more detail (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// ONNX Runtime shared library (libonnxruntime.so) to load.
    ///
    /// Without it imbed looks at ORT_DYLIB_PATH, the project's .venv, the onnxruntime
    /// package of python3, then the system library paths.
    #[arg(long, global = true, value_name = "FILE", env = "IMBED_ORT_LIB", help_heading = "Model")]
    pub ort_lib: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Embed every image of folders and manifests into the store.
    Index(IndexArgs),
    /// Finish an interrupted run; everything else comes from the checkpoint.
    Resume(ResumeArgs),
    /// Process failed items again (all, or those of some error classes).
    RetryFailed(RetryFailedArgs),
    /// Show a checkpoint's progress, errors, rate and ETA; safe beside a running index.
    Stats(StatsArgs),
    /// Embed query images and print the nearest points of the store.
    Search(SearchArgs),
    /// Embed images and print their vectors as JSON lines.
    Embed(EmbedArgs),
    /// Check the ONNX Runtime library, the model and the store.
    Doctor(DoctorArgs),
    /// Copy a collection of the embedded store into a Qdrant server collection.
    Push(PushArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Folders (walked recursively) or image files to index.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// JSONL or CSV manifest with a `path` (or `file`) column, an optional `id`, and payload fields.
    #[arg(long, value_name = "FILE", env = "IMBED_MANIFEST", help_heading = "Sources")]
    pub manifest: Vec<PathBuf>,

    /// Refuse the run (exit 2) when a manifest line is bad, instead of failing that line alone.
    #[arg(long, env = "IMBED_STRICT_MANIFEST", help_heading = "Sources")]
    pub strict_manifest: bool,

    #[command(flatten)]
    pub walk: WalkArgs,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub setup: CollectionSetupArgs,

    #[command(flatten)]
    pub changes: ChangeArgs,

    #[command(flatten)]
    pub shard: ShardArgs,

    /// Images per inference batch (a model with a static batch size imposes its own).
    #[arg(short, long, value_name = "N", default_value_t = 32, env = "IMBED_BATCH_SIZE", help_heading = "Model",
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

    /// Embed every item again, into the same collection, even with a changed model.
    #[arg(long)]
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
    pub server: ServerArgs,

    /// Resume even though model.onnx or the preprocessing changed since the run started.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RetryFailedArgs {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    /// Retry only items that failed with this error class (repeatable), such as sink or io.
    #[arg(long = "class", value_name = "CLASS")]
    pub classes: Vec<String>,

    /// Retry even though model.onnx or the preprocessing changed since the run started.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Checkpoint files; several are added up into one total.
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,

    /// Checkpoint file [default: imbed.checkpoint].
    #[arg(long = "checkpoint", value_name = "FILE", env = "IMBED_CHECKPOINT")]
    pub checkpoint: Option<PathBuf>,

    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// Settings of a run that index, resume and retry-failed share.
#[derive(Debug, Args)]
#[command(next_help_heading = "Run control")]
pub struct RunArgs {
    /// Checkpoint file recording every item's state.
    #[arg(long, value_name = "FILE", default_value = "imbed.checkpoint", env = "IMBED_CHECKPOINT")]
    pub checkpoint: PathBuf,

    /// Tries of a transient failure (a sink write) before the item fails.
    #[arg(long, value_name = "N", default_value_t = 3, env = "IMBED_MAX_ATTEMPTS",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// Stop early (exit 1) once more than N items have failed.
    #[arg(long, value_name = "N", env = "IMBED_MAX_FAILURES")]
    pub max_failures: Option<u64>,

    /// Stop early (exit 1) once more than this fraction of items failed (checked after 100).
    #[arg(long, value_name = "RATE", env = "IMBED_MAX_FAILURE_RATE", value_parser = parse_rate)]
    pub max_failure_rate: Option<f64>,

    /// Decoding threads [default: automatic split with ONNX Runtime].
    #[arg(long, value_name = "N", env = "IMBED_DECODE_THREADS")]
    pub decode_threads: Option<usize>,

    /// MiB of decoded pixels the decoding threads may hold at once; large images wait their turn.
    #[arg(long, value_name = "MIB", default_value_t = 1024, env = "IMBED_DECODE_MEMORY",
          value_parser = clap::value_parser!(u64).range(16..))]
    pub decode_memory: u64,

    /// Seconds between plain progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECS", default_value_t = 10, env = "IMBED_LOG_INTERVAL")]
    pub log_interval: u64,

    /// MiB to keep free on the store's disk; the run stops cleanly (exit 2, resumable) below it.
    #[arg(long, value_name = "MIB", default_value_t = crate::sink::edge::DEFAULT_MIN_FREE_SPACE_MIB, env = "IMBED_MIN_FREE_SPACE")]
    pub min_free_space: u64,

    /// Print the final summary as one JSON object on stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("`{text}` is not a fraction between 0 and 1")),
    }
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

/// How image files are read: size limits, and the colour under transparent pixels.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct DecodeArgs {
    /// Images with more pixels fail as too_large, from their header, before decoding (100M = 100 MP).
    #[arg(long, value_name = "N", default_value = "100M", env = "IMBED_MAX_PIXELS", value_parser = parse_count)]
    pub max_pixels: u64,

    /// Files larger than this many MiB fail as too_large without being read.
    #[arg(long, value_name = "MIB", default_value_t = crate::decode::DEFAULT_MAX_FILE_SIZE >> 20,
          env = "IMBED_MAX_FILE_SIZE", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_size: u64,

    /// Colour that transparent pixels are composited over: white, black or #RRGGBB.
    #[arg(long, value_name = "COLOUR", default_value = "white", env = "IMBED_BACKGROUND")]
    pub background: crate::preprocess::Background,

    /// Decode JPEGs at full size, not at the reduced DCT scale (1/2, 1/4, 1/8) that still
    /// leaves twice the model's input size; slower, and embeddings differ by about 1e-3 in cosine.
    #[arg(long, env = "IMBED_FULL_DECODE")]
    pub full_decode: bool,
}

/// A positive count, with an optional k, M or G suffix (thousands, millions, billions).
fn parse_count(text: &str) -> Result<u64, String> {
    let (number, scale) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1e3),
        Some((at, 'm' | 'M')) => (&text[..at], 1e6),
        Some((at, 'g' | 'G')) => (&text[..at], 1e9),
        _ => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(value) if value * scale >= 1.0 && (value * scale) < u64::MAX as f64 => Ok((value * scale).round() as u64),
        _ => Err(format!("`{text}` is not a positive count such as 50000000 or 50M")),
    }
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file.
    #[arg(short, long, value_name = "PATH", env = "IMBED_MODEL")]
    pub model: Option<PathBuf>,

    /// Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides
    /// preprocessor_config.json.
    ///
    /// clip: bicubic resize of the short side to 224, centre crop, CLIP mean/std.
    /// siglip: bicubic resize to 224x224, mean/std 0.5.
    /// imagenet: bilinear resize of the short side to 256, centre crop 224, ImageNet mean/std.
    #[arg(long, value_name = "PRESET", env = "IMBED_PREPROCESS")]
    pub preprocess: Option<crate::preprocess::Preset>,

    /// Model output holding the embedding [default: image_embeds, or the only 2-D output].
    #[arg(long, value_name = "NAME", env = "IMBED_OUTPUT")]
    pub output: Option<String>,

    /// Store vectors as the model gives them, without L2 normalisation.
    #[arg(long, env = "IMBED_NO_NORMALIZE")]
    pub no_normalize: bool,

    /// Execution device: cpu, cuda or cuda:N.
    #[arg(long, value_name = "DEVICE", default_value = "cpu", env = "IMBED_DEVICE")]
    pub device: crate::embed::Device,

    /// ONNX Runtime intra-op threads [default: automatic split with the decoders].
    #[arg(long, value_name = "N", env = "IMBED_INTRA_THREADS")]
    pub intra_threads: Option<usize>,
}

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
    #[arg(long, value_name = "SECS", default_value = "10", env = "IMBED_CONNECT_TIMEOUT", value_parser = parse_seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for each request's answer.
    #[arg(long = "timeout", value_name = "SECS", default_value = "60", env = "IMBED_TIMEOUT", value_parser = parse_seconds)]
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

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Embedded store folder to read.
    #[arg(long, value_name = "DIR", default_value = "imbed-store", env = "IMBED_STORE")]
    pub store: PathBuf,

    /// Collection to copy, in the store and (unless --to-collection) on the server.
    #[arg(long, value_name = "NAME", default_value = "images", env = "IMBED_COLLECTION")]
    pub collection: String,

    /// Qdrant server gRPC URL to copy to.
    #[arg(long, value_name = "URL", env = "IMBED_QDRANT_URL", required = true)]
    pub qdrant: String,

    /// Name of the collection on the server [default: the same as --collection].
    #[arg(long, value_name = "NAME")]
    pub to_collection: Option<String>,

    /// Named vector to write on the server.
    #[arg(long, value_name = "NAME", env = "IMBED_VECTOR_NAME")]
    pub vector_name: Option<String>,

    /// Records how far the copy got, so an interrupted push resumes where it stopped.
    #[arg(long, value_name = "FILE", default_value = "imbed-push.checkpoint")]
    pub checkpoint: PathBuf,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub setup: CollectionSetupArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query images; with several, one block (or JSON line) per image.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    /// Number of results.
    #[arg(short = 'k', long, value_name = "K", default_value_t = 10)]
    pub top: usize,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Print results as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Images to embed.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn counts_take_suffixes() {
        assert_eq!(parse_count("100M"), Ok(100_000_000));
        assert_eq!(parse_count("2.5k"), Ok(2_500));
        assert_eq!(parse_count("12345"), Ok(12_345));
        assert!(parse_count("0").is_err() && parse_count("M").is_err() && parse_count("-3").is_err());
    }
}
