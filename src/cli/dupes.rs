//! `imbed dupes`: groups of exact, perceptual and semantic near copies in a collection.

use clap::Args;

use super::StoreArgs;
use crate::dupes::{Keep, Method};

#[derive(Debug, Args)]
pub struct DupesArgs {
    /// Methods to use: exact (same content_hash), near (phash within --max-distance),
    /// semantic (cosine at least --min-score).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "exact,near,semantic")]
    pub method: Vec<Method>,

    /// Largest Hamming distance between the 64-bit perceptual hashes of near copies.
    #[arg(long, value_name = "BITS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub max_distance: u32,

    /// Smallest cosine similarity of semantic near copies.
    #[arg(long, value_name = "SCORE", default_value_t = 0.97)]
    pub min_score: f32,

    /// Neighbours asked of the store per point for semantic near copies.
    #[arg(long, value_name = "K", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub neighbours: u32,

    /// Which member of each group to keep.
    #[arg(long, value_enum, default_value = "largest")]
    pub keep: Keep,

    /// Print CSV rows (group, id, key, role, reason, score) instead of JSON lines.
    #[arg(long)]
    pub csv: bool,

    /// Write `dup_of` (the kept point's ID) into each member's payload, so that
    /// `search --filter` can leave them out.
    #[arg(long)]
    pub mark: bool,

    /// Points per request to the store or server.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page: u32,

    #[command(flatten)]
    pub collection: StoreArgs,
}
