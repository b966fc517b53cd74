//! What the two hashes of issue 25 cost against the decode they ride on, per image on one
//! core: the pipeline's decode (reduced-scale JPEG for CLIP's 224 pixels), the xxh3-128 of the
//! file's bytes (`util::content_hash`, a second read from the page cache) and the perceptual
//! hash of the decoded pixels.
//!
//!     cargo run --release --example hash-cost -- [--rounds 3] DIR...
//!
//! Each image is timed the three ways one after the other, so a change in the machine's load
//! hits them alike. A benchmark, not a test: it prints ratios and asserts nothing.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use imbed::decode::{decode_file_for, perceptual_hash, DecodeOptions, MemoryBudget};
use imbed::preprocess::{Preprocessor, Preset};

#[derive(Parser)]
struct Args {
    /// Folders of images (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Passes over the images; each sum is the smallest of the passes.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = Preprocessor::from_preset(Preset::Clip).decode_target();
    let (options, budget) = (DecodeOptions::default(), MemoryBudget::unlimited());
    let files: Vec<PathBuf> = args
        .paths
        .iter()
        .flat_map(|path| walkdir::WalkDir::new(path).sort_by_file_name())
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect();
    let mut best = [f64::MAX; 3];
    let mut decoded = 0;
    for _ in 0..args.rounds.max(1) {
        let mut sums = [0.0; 3];
        decoded = 0;
        for path in &files {
            let started = Instant::now();
            let Ok(image) = decode_file_for(path, target, &options, &budget) else { continue };
            let decode = started.elapsed().as_secs_f64();
            let started = Instant::now();
            std::hint::black_box(imbed::util::content_hash(path)?);
            let bytes = started.elapsed().as_secs_f64();
            let started = Instant::now();
            std::hint::black_box(perceptual_hash(&image.pixels));
            let phash = started.elapsed().as_secs_f64();
            for (sum, seconds) in sums.iter_mut().zip([decode, bytes, phash]) {
                *sum += seconds;
            }
            decoded += 1;
        }
        for (best, sum) in best.iter_mut().zip(sums) {
            *best = best.min(sum);
        }
    }
    let [decode, bytes, phash] = best;
    println!("{decoded} images: decode {decode:.3}s, bytes hash {bytes:.4}s, perceptual hash {phash:.4}s");
    println!(
        "bytes hash / decode = {:.2}%, perceptual hash / decode = {:.2}%",
        100.0 * bytes / decode,
        100.0 * phash / decode
    );
    Ok(())
}
