//! The commands that read a run or a store: `stats`, `search`, `embed`, `doctor` and `push`.

use std::path::PathBuf;

use clap::Args;

use super::{CollectionSetupArgs, DecodeArgs, ModelArgs, ServerArgs, StoreArgs};

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
