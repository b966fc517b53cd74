//! Fills an embedded collection with N points of random unit vectors and an imbed-like payload,
//! for the export and dupes benchmarks (scripts/bench_export.sh):
//!
//!     cargo run --release --example synthetic-store -- STORE COLLECTION N [DIMENSION]

use std::path::PathBuf;

use anyhow::Context;
use imbed::sink::{CollectionInfo, EdgeStore, Point, Sink};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: synthetic-store STORE COLLECTION N [DIMENSION]";
    let store = PathBuf::from(args.next().context(usage)?);
    let collection = args.next().context(usage)?;
    let count: u64 = args.next().context(usage)?.parse().context("N must be a number")?;
    let dimension: usize = args.next().map_or(Ok(512), |d| d.parse()).context("DIMENSION must be a number")?;
    let info = CollectionInfo {
        dimension,
        model: PathBuf::from("synthetic"),
        preprocess: None,
        output: None,
        normalize: true,
        text_model: None,
        index: None,
    };
    let mut sink = EdgeStore::open_or_create(&store, &collection, &info)?;
    let mut rng = fastrand::Rng::with_seed(25);
    let mut batch = Vec::with_capacity(1000);
    for number in 0..count {
        let mut vector: Vec<f32> = (0..dimension).map(|_| rng.f32() - 0.5).collect();
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        vector.iter_mut().for_each(|x| *x /= norm);
        let key = format!("photos/{:03}/img_{number:08}.jpg", number % 1000);
        let payload = json!({
            "key": key, "path": key, "size_bytes": 100_000 + number % 5_000_000, "mtime": 1_700_000_000 + number,
            "width": 1024 + number % 3000, "height": 768 + number % 2000, "format": "jpeg",
            "phash": format!("{:016x}", rng.u64(..)), "content_hash": format!("{:032x}", rng.u128(..)),
        });
        let payload = payload.as_object().cloned().unwrap_or_default();
        batch.push(Point { id: imbed::util::point_id(&key), vector, payload });
        if batch.len() == 1000 {
            sink.upsert(std::mem::take(&mut batch))?;
        }
    }
    sink.upsert(batch)?;
    sink.flush()?;
    println!("{} points in collection `{collection}` of {}", sink.count()?, store.display());
    Ok(())
}
