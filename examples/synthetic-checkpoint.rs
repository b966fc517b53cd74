//! Writes a checkpoint of N pending items for benchmarks (scripts/bench_checkpoint.sh):
//!
//!     cargo run --example synthetic-checkpoint -- FILE N MODEL_DIR STORE IMAGE...
//!
//! Items cycle over the given image files under distinct keys; a run resumed from the file
//! embeds them like any other.

use std::path::PathBuf;

use anyhow::Context;
use imbed::checkpoint::{Checkpoint, RunConfig};
use imbed::embed::ModelSpec;
use imbed::item::Item;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: synthetic-checkpoint FILE N MODEL_DIR STORE IMAGE...";
    let file = PathBuf::from(args.next().context(usage)?);
    let count: usize = args.next().context(usage)?.parse().context("N must be a number")?;
    let model = std::path::absolute(args.next().context(usage)?)?;
    let store = PathBuf::from(args.next().context(usage)?);
    let images: Vec<PathBuf> = args.map(std::path::absolute).collect::<Result<_, _>>()?;
    anyhow::ensure!(!images.is_empty(), "{usage}");

    let spec = ModelSpec::resolve(&model, None)?;
    let mut checkpoint = Checkpoint::open(&file)?;
    checkpoint.set_config(&RunConfig {
        paths: Vec::new(),
        manifests: Vec::new(),
        hidden: false,
        follow_links: false,
        strict_manifest: false,
        model,
        preprocess: None,
        output: None,
        normalize: true,
        model_fingerprint: spec.model_fingerprint()?,
        preprocess_fingerprint: spec.preprocess_fingerprint(&Default::default()),
        decode: Default::default(),
        store,
        collection: "images".into(),
        qdrant: None,
        shard: None,
        verify_content: false,
        delete_missing: false,
        batch_size: 32,
        device: "cpu".into(),
        working_dir: std::env::current_dir()?,
    })?;
    for start in (0..count).step_by(10_000) {
        let chunk = (start..(start + 10_000).min(count))
            .map(|i| {
                let path = images[i % images.len()].clone();
                (Ok(Item { key: format!("synthetic/{i:08}"), path, fields: Default::default() }), None)
            })
            .collect();
        checkpoint.discover(chunk)?;
    }
    println!("{}: {count} pending items", file.display());
    Ok(())
}
