//! Writes a checkpoint of N pending items for benchmarks (scripts/bench_checkpoint.sh):
//!
//!     cargo run --example synthetic-checkpoint -- FILE N MODEL_DIR STORE IMAGE...
//!
//! Items cycle over the given image files under distinct keys; a run resumed from the file
//! embeds them like any other.

use std::path::PathBuf;

use anyhow::Context;
use imbed::checkpoint::Checkpoint;
use imbed::embed::{Device, ModelConfig};
use imbed::item::Item;
use imbed::pipeline::{Fingerprints, ImageOptions, RunRecord, RunSpec};
use imbed::sink::SinkTarget;
use imbed::source::SourceSpec;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: synthetic-checkpoint FILE N MODEL_DIR STORE IMAGE...";
    let file = PathBuf::from(args.next().context(usage)?);
    let count: usize = args.next().context(usage)?.parse().context("N must be a number")?;
    let model = std::path::absolute(args.next().context(usage)?)?;
    let store = PathBuf::from(args.next().context(usage)?);
    let images: Vec<PathBuf> = args.map(std::path::absolute).collect::<Result<_, _>>()?;
    anyhow::ensure!(!images.is_empty(), "{usage}");

    let spec = RunSpec {
        sources: SourceSpec::default(),
        model: ModelConfig { path: model, preset: None, output: None, normalize: true, device: Device::Cpu },
        text_model: None,
        sink: SinkTarget { store, collection: "images".into(), qdrant: None },
        decode: ImageOptions::default(),
        batch_size: 32,
        shard: None,
        verify_content: false,
        delete_missing: false,
        working_dir: std::env::current_dir()?,
    };
    let resolved = spec.model.resolve(spec.decode.background)?;
    let fingerprints = Fingerprints::of(&resolved, &spec.decode)?;
    let mut checkpoint = Checkpoint::open(&file)?;
    checkpoint.set_config(&RunRecord { spec, fingerprints })?;
    for start in (0..count).step_by(10_000) {
        let chunk = (start..(start + 10_000).min(count))
            .map(|i| {
                let path = images[i % images.len()].clone();
                (
                    Ok(Item::new(format!("synthetic/{i:08}"), imbed::locator::Locator::new(path), Default::default())),
                    None,
                )
            })
            .collect();
        checkpoint.discover(chunk)?;
    }
    println!("{}: {count} pending items", file.display());
    Ok(())
}
