//! Points per second that imbed's Qdrant sink writes, into the loopback stand-in
//! (tests/support/qdrant_server.rs, points kept in memory) and, given its gRPC URL, into a real
//! Qdrant server, without and with `--bulk` (HNSW off during the load, on again at the end).
//!
//!     cargo run --release --example qdrant-upload-bench [POINTS] [DIMENSIONS] [QDRANT_GRPC_URL]
//!
//! scripts/bench_qdrant_upload.sh starts a real server and runs this. A benchmark, not a test:
//! it prints rates and asserts nothing about them.

#[path = "../tests/support/qdrant_server.rs"]
mod qdrant_server;

use std::time::{Duration, Instant};

use imbed::sink::qdrant::{BulkLoad, CollectionSetup, Connection, QdrantSink};
use imbed::sink::{Point, Sink};
use imbed::util::point_id;

/// Runs per setting; the median is reported, since a shared machine is noisy.
const RUNS: usize = 5;

/// Where the points go.
#[derive(Clone, Copy)]
enum Target<'a> {
    StandIn,
    Real { url: &'a str, bulk: bool },
}

impl Target<'_> {
    fn label(&self) -> &'static str {
        match self {
            Target::StandIn => "stand-in",
            Target::Real { bulk: false, .. } => "real",
            Target::Real { bulk: true, .. } => "real --bulk",
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let dimension: usize = args.next().map_or(Ok(512), |n| n.parse())?;
    let real_url = args.next();
    let points = random_points(count, dimension);
    let mut targets = vec![Target::StandIn];
    if let Some(url) = real_url.as_deref() {
        targets.extend([Target::Real { url, bulk: false }, Target::Real { url, bulk: true }]);
    }
    println!("{count} points of {dimension} dimensions, payload of 4 fields, sent in calls of 1024 points");
    println!(
        "{:>12} {:>12} {:>9} {:>16} {:>14}",
        "target", "upsert-batch", "parallel", "median points/s", "best points/s"
    );
    let mut run = 0;
    for (batch, parallel) in [(64, 1), (128, 1), (256, 1), (64, 4), (128, 4), (256, 4)] {
        // Interleaved, so that a noisy moment falls on every target alike.
        let mut rates = vec![Vec::with_capacity(RUNS); targets.len()];
        for _ in 0..RUNS {
            for (target, rates) in targets.iter().zip(&mut rates) {
                run += 1;
                rates.push(upload(&points, dimension, batch, parallel, *target, run)?);
            }
        }
        for (target, mut rates) in targets.iter().zip(rates) {
            rates.sort_by(f64::total_cmp);
            println!(
                "{:>12} {batch:>12} {parallel:>9} {:>16.0} {:>14.0}",
                target.label(),
                rates[RUNS / 2],
                rates[RUNS - 1]
            );
        }
    }
    Ok(())
}

fn random_points(count: usize, dimension: usize) -> Vec<Point> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..count)
        .map(|i| {
            let key = format!("photos/{:03}/img_{i:06}.jpg", i / 1000);
            let mut vector: Vec<f32> = (0..dimension).map(|_| rng.f32() - 0.5).collect();
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            vector.iter_mut().for_each(|x| *x /= norm);
            let payload = serde_json::json!({"path": key, "width": 4000, "height": 3000, "bytes": 2_400_000});
            let serde_json::Value::Object(payload) = payload else { unreachable!() };
            Point { id: point_id(&key), vector, payload }
        })
        .collect()
}

/// Writes `points` into a fresh collection; returns points per second, the end of a bulk load
/// (indexing on again) included.
fn upload(
    points: &[Point],
    dimension: usize,
    batch: usize,
    parallel: usize,
    target: Target,
    run: usize,
) -> anyhow::Result<f64> {
    let stand_in = matches!(target, Target::StandIn).then(qdrant_server::TestServer::start);
    let (url, bulk) = match target {
        Target::StandIn => (stand_in.as_ref().map(|server| server.url()).unwrap_or_default(), false),
        Target::Real { url, bulk } => (url.to_string(), bulk),
    };
    let connection = Connection {
        url,
        api_key: None,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(60),
        max_retries: 3,
        upsert_batch: batch,
        upsert_parallel: parallel,
    };
    let collection = format!("bench-{run}");
    let mut sink = QdrantSink::connect(connection, &collection, None)?;
    let setup = CollectionSetup { bulk, ..CollectionSetup::default() };
    let mut load = BulkLoad::default();
    sink.open_for_load(dimension, &setup, &mut load)?;
    let started = Instant::now();
    // As the committer does: a few embedding batches per call.
    for chunk in points.chunks(1024) {
        sink.upsert(chunk.to_vec())?;
    }
    sink.finish_bulk(&mut load)?;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(sink.count()? as usize, points.len(), "every point landed");
    if let Target::Real { url, .. } = target {
        drop_collection(url, &collection)?;
    }
    Ok(points.len() as f64 / seconds)
}

/// Keeps the real server's disk from filling up over the runs.
fn drop_collection(url: &str, collection: &str) -> anyhow::Result<()> {
    let client = qdrant_client::Qdrant::from_url(url).skip_compatibility_check().build()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(client.delete_collection(collection))?;
    Ok(())
}
