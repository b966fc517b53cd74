//! Points per second that imbed's Qdrant sink writes to the loopback test server
//! (tests/support/qdrant_server.rs, which stores them in a Qdrant Edge shard).
//!
//!     cargo run --release --example qdrant-upload-bench [POINTS] [DIMENSIONS]
//!
//! A benchmark, not a test: it prints rates and asserts nothing about them.

#[path = "../tests/support/qdrant_server.rs"]
mod qdrant_server;

use std::time::{Duration, Instant};

use imbed::sink::qdrant::{CollectionSetup, Connection, QdrantSink};
use imbed::sink::{Point, Sink};
use imbed::util::point_id;

/// Runs per setting; the median is reported, since a shared machine is noisy.
const RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let dimension: usize = args.next().map_or(Ok(512), |n| n.parse())?;
    let mut rng = fastrand::Rng::with_seed(7);
    let points: Vec<Point> = (0..count)
        .map(|i| {
            let key = format!("photos/{:03}/img_{i:06}.jpg", i / 1000);
            let mut vector: Vec<f32> = (0..dimension).map(|_| rng.f32() - 0.5).collect();
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            vector.iter_mut().for_each(|x| *x /= norm);
            let payload = serde_json::json!({"path": key, "width": 4000, "height": 3000, "bytes": 2_400_000});
            let serde_json::Value::Object(payload) = payload else { unreachable!() };
            Point { id: point_id(&key), vector, payload }
        })
        .collect();
    println!("{count} points of {dimension} dimensions, payload of 4 fields, sent in calls of 1024 points");
    println!("{:>12} {:>9} {:>16} {:>14}", "upsert-batch", "parallel", "median points/s", "best points/s");
    for (batch, parallel) in [(64, 1), (128, 1), (128, 4), (256, 4), (256, 8)] {
        let mut rates: Vec<f64> =
            (0..RUNS).map(|_| upload(&points, dimension, batch, parallel)).collect::<anyhow::Result<_>>()?;
        rates.sort_by(f64::total_cmp);
        println!("{batch:>12} {parallel:>9} {:>16.0} {:>14.0}", rates[RUNS / 2], rates[RUNS - 1]);
    }
    Ok(())
}

/// Writes `points` to a fresh server; returns points per second.
fn upload(points: &[Point], dimension: usize, batch: usize, parallel: usize) -> anyhow::Result<f64> {
    let server = qdrant_server::TestServer::start();
    let connection = Connection {
        url: server.url(),
        api_key: None,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(60),
        max_retries: 3,
        upsert_batch: batch,
        upsert_parallel: parallel,
    };
    let mut sink = QdrantSink::connect(connection, "bench", None)?;
    sink.open_or_create(dimension, &CollectionSetup::default())?;
    let started = Instant::now();
    // As the committer does: a few embedding batches per call.
    for chunk in points.chunks(1024) {
        sink.upsert(chunk.to_vec())?;
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(sink.count()? as usize, points.len(), "every point landed");
    Ok(points.len() as f64 / seconds)
}
