//! Writes a checkpoint of N pending items for benchmarks (scripts/bench_checkpoint.sh):
//!
//!     cargo run --example synthetic-checkpoint -- [--done-into URL] FILE N MODEL_DIR STORE IMAGE...
//!
//! Items cycle over the given image files under distinct keys; a run resumed from the file
//! embeds them like any other. With `--done-into URL` (scripts/bench_verify.sh) the items are
//! done instead, and their points (random vectors of 64 dimensions, the payload `key`) are in
//! collection `images` on the Qdrant server at URL, which the run records as its sink.

use std::path::PathBuf;

use anyhow::Context;
use std::time::Duration;

use imbed::checkpoint::{Checkpoint, Outcome};
use imbed::embed::{Device, ModelConfig};
use imbed::item::Item;
use imbed::pipeline::{Fingerprints, ImageOptions, RunRecord, RunSpec};
use imbed::sink::qdrant::Connection;
use imbed::sink::{CollectionSetup, Point, QdrantSink, ServerTarget, Sink, SinkTarget};
use imbed::source::SourceSpec;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let usage = "usage: synthetic-checkpoint [--done-into URL] FILE N MODEL_DIR STORE IMAGE...";
    let done_into = match args.peek().map(String::as_str) {
        Some("--done-into") => Some(args.nth(1).context(usage)?),
        _ => None,
    };
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
        sink: SinkTarget {
            store,
            collection: "images".into(),
            qdrant: done_into.as_ref().map(|url| server_target(url)),
        },
        decode: ImageOptions::default(),
        batch_size: 32,
        shard: None,
        verify_content: false,
        delete_missing: false,
        skip_duplicates: false,
        working_dir: std::env::current_dir()?,
    };
    let resolved = spec.model.resolve(spec.decode.background)?;
    let fingerprints = Fingerprints::of(&resolved, &spec.decode)?;
    let mut checkpoint = Checkpoint::open(&file)?;
    let mut sink = done_into.as_deref().map(connect).transpose()?;
    checkpoint.set_config(&RunRecord { spec, fingerprints, control: Default::default() })?;
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
        let items = checkpoint.discover(chunk)?;
        if let Some(sink) = sink.as_mut() {
            let keys: Vec<String> = items.into_iter().filter_map(Result::ok).map(|item| item.key).collect();
            let points = keys.iter().map(|key| Point {
                id: imbed::util::point_id(key),
                vector: (0..DIMENSION).map(|_| fastrand::f32() - 0.5).collect(),
                payload: serde_json::json!({"key": key}).as_object().cloned().unwrap_or_default(),
            });
            sink.upsert(points.collect())?;
            let outcomes: Vec<Outcome<'_>> = keys.iter().map(|key| Outcome::Done(key, None, None)).collect();
            checkpoint.commit(&outcomes)?;
        }
    }
    let state = if sink.is_some() { "done" } else { "pending" };
    println!("{}: {count} {state} items", file.display());
    Ok(())
}

const DIMENSION: usize = 64;

fn server_target(url: &str) -> ServerTarget {
    ServerTarget { url: url.to_string(), vector_name: None, api_key_used: false, setup: CollectionSetup::default() }
}

fn connect(url: &str) -> anyhow::Result<QdrantSink> {
    let connection = Connection {
        url: url.to_string(),
        api_key: None,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(60),
        max_retries: 3,
        upsert_batch: 256,
        upsert_parallel: 4,
    };
    let mut sink = QdrantSink::connect(connection, "images", None)?;
    sink.open_or_create(DIMENSION, &CollectionSetup::default())?;
    Ok(sink)
}
