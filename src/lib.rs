//! imbed: bulk, offline image-embedding indexing into Qdrant.
//!
//! Modules in the order of the data flow, each using only those listed after it:

/// The durable journal of a run: its description and every item's state.
pub mod checkpoint;
/// Command-line definitions: the one source for `--help`, completions and man pages.
pub mod cli;
/// One function per subcommand, and the printer that shows their results.
pub mod commands;
/// Bytes to upright pixels, within size and memory limits.
pub mod decode;
/// Man pages and completions generated from `cli`.
pub mod docs;
/// Duplicates in a collection: exact, perceptual and semantic near copies, in groups.
pub mod dupes;
/// The ONNX model: runtime discovery, sessions, batches to vectors.
pub mod embed;
/// Collections to files other tools read (JSON lines, parquet, clip-retrieval) and back.
pub mod export;
/// Bytes of remote items: object stores and HTTP(S), with time-outs and retries.
pub mod fetch;
/// What flows through every stage: items and failures.
pub mod item;
/// What an item's path names: a local file, an object URI or a URL.
pub mod locator;
/// The stages of a run wired together, and the run description a checkpoint records.
pub mod pipeline;
/// Pixels to a model's input tensor, as a list of steps.
pub mod preprocess;
/// The reporter trait through which the pipeline tells of progress.
pub mod progress;
/// Tries again with exponential backoff and jitter, for the stores and the server.
pub mod retry;
/// Which part of the corpus a machine takes when several split it.
pub mod shard;
/// Where vectors go: the embedded Qdrant Edge store or a Qdrant server.
pub mod sink;
/// Folders and manifests to items.
pub mod source;
/// Helpers every layer shares: hashes, point IDs, caught panics, paths in JSON.
pub mod util;
