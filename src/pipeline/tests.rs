//! The stages with fakes of the model and the sink: backpressure, failure limits and stops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::*;
use crate::decode::DecodeOptions;
use crate::preprocess::{Layout, Preprocessor, Step};
use crate::sink::{Point, ScoredPoint, SearchParams, SinkError};
use crate::source::SourceSpec;

/// A folder of `count` small PNGs and a checkpoint beside it.
struct Corpus {
    dir: tempfile::TempDir,
    source: SourceSpec,
}

impl Corpus {
    fn new(count: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir(&images).unwrap();
        for i in 0..count {
            let image = image::RgbImage::from_pixel(8, 8, image::Rgb([i as u8, 0, 0]));
            image.save(images.join(format!("{i:04}.png"))).unwrap();
        }
        let source = SourceSpec { paths: vec![images], ..SourceSpec::default() };
        Self { dir, source }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::open(&self.dir.path().join("checkpoint")).unwrap()
    }
}

fn preprocessor() -> Preprocessor {
    Preprocessor::new(vec![Step::CenterCrop { height: 4, width: 4 }, Step::Rescale(1.0 / 255.0)]).unwrap()
}

fn settings(batch_size: usize) -> PipelineSettings {
    PipelineSettings {
        batch_size,
        decode_threads: 2,
        decode_memory: 64 << 20,
        commit_interval: Duration::from_millis(50),
        max_failures: None,
        max_failure_rate: None,
        embed_log: None,
    }
}

/// A model that gives every image the vector `[1, 0]`, or fails every batch.
struct FakeModel {
    fail: bool,
    embedded: AtomicU64,
}

impl Embed for FakeModel {
    fn batch_size(&self, requested: usize) -> usize {
        requested
    }

    fn embed(&mut self, slots: &[&[f32]]) -> anyhow::Result<Vec<Vec<f32>>> {
        if self.fail {
            anyhow::bail!("the fake model fails");
        }
        self.embedded.fetch_add(slots.len() as u64, Ordering::SeqCst);
        Ok(slots.iter().map(|_| vec![1.0, 0.0]).collect())
    }
}

/// A sink that can hold its first write until released, or raise the stop flag once it has
/// taken a write; it counts the points it acknowledged.
#[derive(Default)]
struct FakeSink {
    stalled: Mutex<bool>,
    released: Condvar,
    stop_after_first: Option<&'static AtomicBool>,
    acknowledged: AtomicU64,
}

impl FakeSink {
    fn release(&self) {
        *self.stalled.lock().unwrap() = false;
        self.released.notify_all();
    }
}

impl Sink for &FakeSink {
    fn upsert(&mut self, points: Vec<Point>) -> Result<(), SinkError> {
        let mut stalled = self.stalled.lock().unwrap();
        while *stalled {
            stalled = self.released.wait(stalled).unwrap();
        }
        self.acknowledged.fetch_add(points.len() as u64, Ordering::SeqCst);
        if let Some(stop) = self.stop_after_first {
            stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
    fn delete(&mut self, _: &[uuid::Uuid]) -> Result<(), SinkError> {
        Ok(())
    }
    fn overwrite_payloads(
        &mut self,
        _: Vec<(uuid::Uuid, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<(), SinkError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn count(&self) -> Result<u64, SinkError> {
        Ok(self.acknowledged.load(Ordering::SeqCst))
    }
    fn search(&self, _: &[f32], _: SearchParams<'_>) -> Result<Vec<ScoredPoint>, SinkError> {
        Ok(Vec::new())
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"fake": true})
    }
    fn location(&self) -> String {
        "fake".into()
    }
}

/// Counts the items the planner sent on.
#[derive(Default)]
struct Counter {
    discovered: AtomicU64,
}

impl Reporter for Counter {
    fn discovered(&self, total: u64) {
        self.discovered.fetch_max(total, Ordering::SeqCst);
    }
    fn progressed(&self, _: u64, _: u64) {}
    fn failed(&self, _: &Failure) {}
    fn finish(&self) {}
}

fn run_with(
    corpus: &Corpus,
    model: &mut FakeModel,
    mut sink: &FakeSink,
    reporter: &Counter,
    settings: &PipelineSettings,
    interrupted: &AtomicBool,
) -> (RunSummary, crate::checkpoint::Totals) {
    let mut checkpoint = corpus.checkpoint();
    let plan = Plan {
        pending: true,
        discover: Some(&corpus.source),
        shard: None,
        verify_content: false,
        refresh_payload: false,
    };
    let preprocessor = preprocessor();
    let loader = TensorLoader {
        preprocessor: &preprocessor,
        layout: Layout::Nchw,
        decode: DecodeOptions::default(),
        budget: MemoryBudget::unlimited(),
    };
    let remote = crate::fetch::Remote::new(Default::default(), Default::default()).unwrap();
    let stages = Stages {
        plan: &plan,
        checkpoint: &mut checkpoint,
        loader,
        embedder: model,
        sink: &mut sink,
        reporter,
        remote: &remote,
        claims: None,
    };
    let summary = run(stages, settings, interrupted).unwrap();
    let totals = checkpoint.totals().unwrap();
    (summary, totals)
}

#[test]
fn a_stalled_sink_stops_decoding_after_a_bounded_number_of_items() {
    let corpus = Corpus::new(400);
    let sink = FakeSink { stalled: Mutex::new(true), ..FakeSink::default() };
    let reporter = Counter::default();
    let mut model = FakeModel { fail: false, embedded: AtomicU64::new(0) };
    let batch = 4;
    let interrupted = AtomicBool::new(false);
    let (summary, totals) = std::thread::scope(|scope| {
        let running = scope.spawn(|| run_with(&corpus, &mut model, &sink, &reporter, &settings(batch), &interrupted));
        std::thread::sleep(Duration::from_millis(1500));
        let in_flight = reporter.discovered.load(Ordering::SeqCst);
        // Two channels of 2 batches, the batch being filled, a decoder each, two embedded
        // batches queued, one being sent and one in the sink: about ten batches.
        assert!(in_flight > 0, "the planner started");
        assert!(in_flight <= 12 * batch as u64, "{in_flight} of 400 items left the planner while the sink stalled");
        sink.release();
        running.join().unwrap()
    });
    assert_eq!((summary.done, summary.failed, totals.done, totals.pending), (400, 0, 400, 0));
    assert_eq!(sink.acknowledged.load(Ordering::SeqCst), 400);
    assert_eq!(model.embedded.load(Ordering::SeqCst), 400);
}

#[test]
fn max_failures_stops_the_run_and_leaves_the_rest_pending() {
    let corpus = Corpus::new(200);
    let sink = FakeSink::default();
    let mut model = FakeModel { fail: true, embedded: AtomicU64::new(0) };
    let settings = PipelineSettings { max_failures: Some(5), ..settings(4) };
    let interrupted = AtomicBool::new(false);
    let (summary, totals) = run_with(&corpus, &mut model, &sink, &Counter::default(), &settings, &interrupted);
    assert!(summary.failure_limit_hit);
    assert!(summary.failed > 5 && summary.failed < 200, "{summary:?}");
    assert_eq!(totals.failed, summary.failed);
    assert_eq!(totals.pending, 200 - summary.failed, "the rest stays pending for a resume");
}

#[test]
fn a_stop_request_commits_every_batch_the_sink_took() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let corpus = Corpus::new(300);
    let sink = FakeSink { stop_after_first: Some(&STOP), ..FakeSink::default() };
    let mut model = FakeModel { fail: false, embedded: AtomicU64::new(0) };
    let (summary, totals) = run_with(&corpus, &mut model, &sink, &Counter::default(), &settings(4), &STOP);
    assert!(summary.interrupted);
    let acknowledged = sink.acknowledged.load(Ordering::SeqCst);
    assert!((4..300).contains(&acknowledged), "{acknowledged}");
    assert_eq!(totals.done, acknowledged, "every point the sink acknowledged is marked done");
    assert_eq!((totals.failed, totals.pending), (0, 300 - acknowledged), "nothing is lost or failed");
}
