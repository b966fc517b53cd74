//! `imbed export` and `imbed import`: a collection to files that other tools read, and back.

use std::path::PathBuf;

use clap::Args;

use super::{StoreArgs, WriteArgs};
use crate::export::Format;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder to write the files into (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// File layout.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,

    /// Rows per file; each file is written under a temporary name, then renamed.
    #[arg(long, value_name = "N", default_value = "1M", value_parser = super::parse::count)]
    pub rows_per_file: u64,

    /// Write clip-retrieval's embeddings as float16 instead of float32.
    #[arg(long)]
    pub half: bool,

    /// Points per request to the store or server.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page: u32,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub collection: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An export folder (or one .jsonl or .parquet file) of `imbed export`, or clip-retrieval's
    /// output folder (img_emb/ and metadata/).
    #[arg(value_name = "PATH")]
    pub input: PathBuf,

    /// File layout, where the export's manifest or the file names do not tell it.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Points per write.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page: u32,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub collection: StoreArgs,

    #[command(flatten)]
    pub write: WriteArgs,
}
