//! `imbed verify`: the checkpoint against the index, item by item.

use std::path::PathBuf;

use clap::Args;

use super::ConnectionArgs;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Checkpoint files; the checkpoints of the shards that share a collection are verified
    /// together.
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoints: Vec<PathBuf>,

    /// Checkpoint file [default: imbed.checkpoint].
    #[arg(long = "checkpoint", value_name = "FILE", env = "IMBED_CHECKPOINT")]
    pub checkpoint: Option<PathBuf>,

    /// Mark the done items whose points are missing (or hold another key) pending again;
    /// `imbed resume` then sends them.
    #[arg(long)]
    pub repair: bool,

    /// Delete the points that no checkpoint knows (written by another run), after listing them.
    #[arg(long)]
    pub delete_unknown: bool,

    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}
