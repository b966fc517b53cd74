//! The commands that read a run or a store: `stats`, `search`, `embed`, `doctor` and `push`.

use std::path::PathBuf;

use clap::Args;

use super::{
    CollectionSetupArgs, ConnectionArgs, DecodeArgs, ModelArgs, StoreArgs, TextModelArgs, Weighted, WriteArgs,
};
use crate::sink::Condition;

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
    pub connection: ConnectionArgs,
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
    #[arg(long, value_name = "URL", env = "IMBED_QDRANT", required = true)]
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

    /// Refuse (exit 2) to go on with a push whose server collection is not the one it
    /// wrote to (dropped or replaced), instead of starting the copy over.
    #[arg(long, env = "IMBED_NO_REPAIR")]
    pub no_repair: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub setup: CollectionSetupArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("query").multiple(true).required(true)
    .args(["images", "text", "image", "not", "not_image"]))]
pub struct SearchArgs {
    /// Query images; with several, one block (or JSON line) per image.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// A text to search for, as [WEIGHT:]TEXT. --text, --image, --not and --not-image
    /// together make one query: the weighted sum of their normalised vectors, normalised.
    #[arg(long, value_name = "[WEIGHT:]TEXT", value_parser = super::parse::weighted, help_heading = "Query")]
    pub text: Vec<Weighted>,

    /// A query image to add to the combined query, as [WEIGHT:]IMAGE.
    #[arg(long, value_name = "[WEIGHT:]IMAGE", value_parser = super::parse::weighted, help_heading = "Query")]
    pub image: Vec<Weighted>,

    /// A text to subtract from the combined query, as [WEIGHT:]TEXT.
    #[arg(long, value_name = "[WEIGHT:]TEXT", value_parser = super::parse::weighted, help_heading = "Query")]
    pub not: Vec<Weighted>,

    /// An image to subtract from the combined query, as [WEIGHT:]IMAGE.
    #[arg(long, value_name = "[WEIGHT:]IMAGE", value_parser = super::parse::weighted, help_heading = "Query")]
    pub not_image: Vec<Weighted>,

    /// Only points whose payload passes: FIELD=VALUE, FIELD>=NUMBER or FIELD<=NUMBER (or a
    /// date), FIELD~LAT,LON,KM, or !FIELD (absent); repeated, all must pass (format=jpeg,
    /// width>=1024, !dup_of).
    #[arg(long, value_name = "CONDITION", help_heading = "Query")]
    pub filter: Vec<Condition>,

    /// Drop hits scoring below this cosine similarity.
    #[arg(long, value_name = "SCORE", allow_negative_numbers = true, help_heading = "Query")]
    pub min_score: Option<f32>,

    /// Number of results.
    #[arg(short = 'k', long, value_name = "K", default_value_t = 10, help_heading = "Query",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub top: u32,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub text_model: TextModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Print results as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").multiple(true).required(true).args(["images", "text"]))]
pub struct EmbedArgs {
    /// Images to embed.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// Texts to embed with the text model, one JSON line each.
    #[arg(long, value_name = "TEXT")]
    pub text: Vec<String>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub text_model: TextModelArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Checkpoint whose file modes are checked: it holds signed URLs, so only its owner may read it.
    #[arg(long, value_name = "FILE", default_value = "imbed.checkpoint", env = "IMBED_CHECKPOINT")]
    pub checkpoint: std::path::PathBuf,

    #[command(flatten)]
    pub text: TextModelArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}
