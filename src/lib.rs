//! imbed: bulk, offline image-embedding indexing into Qdrant.
//!
//! Modules from the top down: each uses only modules listed after it (`farm-studio look` draws
//! the same floors). A run's data flows source → fetch → decode → preprocess → embed → sink,
//! with the checkpoint beside it; `pipeline` wires those stages, `commands` runs them.

/// One function per subcommand, the one place where settings are resolved, and the printer.
pub mod commands;

/// Man pages and completions generated from `cli`.
pub mod docs;

/// Command-line definitions: the one source for `--help`, completions and man pages.
pub mod cli;

/// Duplicates in a collection: exact, perceptual and semantic near copies, in groups.
pub mod dupes;

/// Collections to files other tools read (JSON lines, parquet, clip-retrieval) and back.
pub mod export;

/// The stages of a run wired together, and the run description a checkpoint records.
pub mod pipeline;

/// Where vectors go: the embedded Qdrant Edge store or a Qdrant server.
pub mod sink;

/// Folders, buckets and manifests to items.
pub mod source;

/// The ONNX model: runtime discovery, sessions, batches to vectors; the text tower.
pub mod embed;

/// Pixels to a model's input tensor, as a list of steps.
pub mod preprocess;

/// Bytes of remote items: object stores and HTTP(S), with time-outs and retries.
pub mod fetch;

/// Bytes to upright pixels, within size and memory limits.
pub mod decode;

/// The durable journal of a run: its description and every item's state.
pub mod checkpoint;
/// The reporter trait through which the pipeline tells of progress.
pub mod progress;

/// What flows through every stage: items and failures.
pub mod item;

/// Which part of the corpus a machine takes when several split it.
pub mod shard;

/// What an item's path names: a local file, an object URI or a URL.
pub mod locator;

/// Helpers every layer shares: hashes, point IDs, caught panics, paths in JSON.
pub mod util;

/// Tries again with exponential backoff and jitter, for the stores and the server.
pub mod retry;
