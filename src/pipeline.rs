//! Stage wiring: source -> decode (rayon) -> embed (session owner) -> sink, joined by bounded
//! channels so that memory stays flat and a slow stage slows the ones before it.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use base64::prelude::{Engine, BASE64_STANDARD};
use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::checkpoint::{Checkpoint, Outcome};
use crate::decode::{decode_file_for, panic_reason, DecodeError, DecodeOptions, DecodedImage, MemoryBudget};
use crate::embed::Encoder;
use crate::item::{path_text, ErrorClass, Failure, Item};
use crate::plan::{Plan, PlanOutcome, WalkSeen};
use crate::preprocess::{Layout, Preprocessor};
use crate::progress::Reporter;
use crate::sink::{point_id, Point, Sink, SinkError};

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub batch_size: usize,
    pub decode_threads: usize,
    pub decode: DecodeOptions,
    /// Bytes of decoded pixels that the decode threads may hold at once.
    pub decode_memory: u64,
    /// Commit at least this often even while batches keep coming, so a crash loses little.
    pub commit_interval: Duration,
    /// Tries of a sink write before its items fail with class `sink`.
    pub max_attempts: u32,
    /// Stop early once more items than this have failed.
    pub max_failures: Option<u64>,
    /// Stop early once this fraction of finished items has failed (after 100 items).
    pub max_failure_rate: Option<f64>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Items this run set out to process.
    pub planned: u64,
    /// Known items skipped because their files had not changed.
    pub unchanged: u64,
    /// Known items embedded again because their files changed.
    pub changed: u64,
    /// What the walk found, when it went to the end.
    pub walk: Option<WalkSeen>,
    /// Items whose points were deleted because their files are gone.
    pub deleted: u64,
    /// ONNX Runtime's intra-op threads and the decode threads, as the run split the cores.
    pub threads: (usize, usize),
    pub done: u64,
    pub failed: u64,
    pub failures_by_class: BTreeMap<ErrorClass, u64>,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Stopped by --max-failures or --max-failure-rate.
    pub failure_limit_hit: bool,
    /// Time spent recording outcomes in the checkpoint.
    pub checkpoint_time: Duration,
    /// Time spent making sink writes durable.
    pub flush_time: Duration,
}

/// Why the stages should wind down early: Ctrl-C/SIGTERM from outside, or the last stage
/// (a failure limit, or an error that ends the run).
struct Stop<'a> {
    interrupted: &'a AtomicBool,
    halted: AtomicBool,
}

impl Stop<'_> {
    fn is_set(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed) || self.halted.load(Ordering::Relaxed)
    }
}

/// An image ready for the model: its preprocessed tensor slot and payload facts.
struct Prepared {
    item: Item,
    slot: Vec<f32>,
    payload: Map<String, Value>,
}

enum Decoded {
    Ready(Prepared),
    Failed(Failure),
}

enum Embedded {
    Points { keys: Vec<String>, points: Vec<Point> },
    Failed(Failure),
}

/// Runs every item of `plan` through decode, embed and the sink, recording each outcome in
/// `checkpoint`, until done or `interrupted` is set.
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan<'_>,
    checkpoint: &mut Checkpoint,
    preprocessor: &Preprocessor,
    encoder: &mut Encoder,
    sink: &mut dyn Sink,
    settings: &PipelineSettings,
    reporter: &dyn Reporter,
    interrupted: &AtomicBool,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let batch_size = encoder.batch_size(settings.batch_size);
    let decode_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.decode_threads)
        .thread_name(|i| format!("imbed-decode-{i}"))
        .build()
        .context("cannot start the decode threads")?;
    let mut planner_checkpoint = checkpoint.reopen()?;
    let embed_log = EmbedLog::from_env()?;

    // Capacities bound memory: a few batches of tensors in flight, whatever the corpus size.
    let (item_tx, item_rx) = bounded::<Result<Item, Failure>>(batch_size * 2);
    let (decoded_tx, decoded_rx) = bounded::<Decoded>(batch_size * 2);
    let (embedded_tx, embedded_rx) = bounded::<Embedded>(2);

    let stop = Stop { interrupted, halted: AtomicBool::new(false) };
    let loader = TensorLoader {
        preprocessor,
        layout: encoder.layout(),
        decode: settings.decode,
        budget: MemoryBudget::new(settings.decode_memory),
    };
    // As many slots as the decoded channel, the batch being filled and the decoders hold.
    let slots = SlotPool::new(batch_size * 3 + settings.decode_threads, loader.slot_len());
    let mut summary = RunSummary::default();
    let mut committer = Committer { checkpoint, sink, settings, reporter, stop: &stop, summary: &mut summary };
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let planner = scope.spawn(|| plan_stage(plan, &mut planner_checkpoint, item_tx, reporter, &stop));
        scope.spawn(|| decode_pool.install(|| decode_stage(item_rx, decoded_tx, &loader, &slots, &stop)));
        scope.spawn(|| embed_stage(decoded_rx, embedded_tx, encoder, batch_size, &slots, embed_log, &stop));
        let committed = committer.run(embedded_rx);
        let planned = planner.join().map_err(|_| anyhow::anyhow!("the planner thread panicked"))?;
        committed?;
        let PlanOutcome { emitted, unchanged, changed, walk } = planned?;
        let summary = &mut committer.summary;
        (summary.planned, summary.unchanged, summary.changed, summary.walk) = (emitted, unchanged, changed, walk);
        Ok(())
    })?;
    summary.interrupted = interrupted.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    reporter.finish();
    Ok(summary)
}

fn plan_stage(
    plan: &Plan<'_>,
    checkpoint: &mut Checkpoint,
    items: Sender<Result<Item, Failure>>,
    reporter: &dyn Reporter,
    stop: &Stop<'_>,
) -> anyhow::Result<PlanOutcome> {
    let mut planned = 0;
    plan.run(checkpoint, &|| stop.is_set(), |item| {
        if stop.is_set() {
            return ControlFlow::Break(());
        }
        planned += 1;
        reporter.discovered(planned);
        match items.send(item) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    })
}

/// Tensor slots handed back by the embed stage once their batch has run, so that decoding
/// does not allocate (and zero) 600 kB per image. It keeps at most `capacity` slots and drops
/// the rest, so memory stays where the channels bound it; it never waits.
struct SlotPool {
    free: (Sender<Vec<f32>>, Receiver<Vec<f32>>),
    len: usize,
}

impl SlotPool {
    fn new(capacity: usize, len: usize) -> Self {
        Self { free: bounded(capacity), len }
    }

    fn take(&self) -> Vec<f32> {
        self.free.1.try_recv().unwrap_or_else(|_| vec![0.0; self.len])
    }

    fn give(&self, slot: Vec<f32>) {
        let _ = self.free.0.try_send(slot);
    }
}

fn decode_stage(
    items: Receiver<Result<Item, Failure>>,
    decoded: Sender<Decoded>,
    loader: &TensorLoader<'_>,
    slots: &SlotPool,
    stop: &Stop<'_>,
) {
    let downstream_closed = AtomicBool::new(false);
    items.into_iter().par_bridge().for_each(|item| {
        if stop.is_set() || downstream_closed.load(Ordering::Relaxed) {
            return;
        }
        let outcome = match item {
            Ok(item) => prepare(item, loader, slots),
            Err(failure) => Decoded::Failed(failure),
        };
        // A closed channel means a later stage has ended: decoding on would be wasted.
        if decoded.send(outcome).is_err() {
            downstream_closed.store(true, Ordering::Relaxed);
        }
    });
}

fn prepare(item: Item, loader: &TensorLoader<'_>, slots: &SlotPool) -> Decoded {
    let mut slot = slots.take();
    match loader.load_into(&item.path, &mut slot) {
        Ok(image) => {
            let payload = payload_for(&item, &image);
            Decoded::Ready(Prepared { item, slot, payload })
        }
        Err(error) => {
            slots.give(slot);
            Decoded::Failed(Failure::of(&item, error.class, error.message))
        }
    }
}

/// How an image file becomes a tensor slot: decoding limits, the shared memory budget, and
/// the model's preprocessing.
pub struct TensorLoader<'a> {
    pub preprocessor: &'a Preprocessor,
    pub layout: Layout,
    pub decode: DecodeOptions,
    pub budget: MemoryBudget,
}

impl TensorLoader<'_> {
    /// Floats in one image's tensor slot.
    pub fn slot_len(&self) -> usize {
        let (height, width) = self.preprocessor.output_size();
        3 * height as usize * width as usize
    }

    /// Decodes one image file and preprocesses it into a new tensor slot.
    pub fn load(&self, path: &Path) -> Result<(DecodedImage, Vec<f32>), DecodeError> {
        let mut slot = vec![0.0; self.slot_len()];
        self.load_into(path, &mut slot).map(|image| (image, slot))
    }

    /// Decodes one image file and preprocesses it into `slot`, every value of which it
    /// writes. A decoder that panics fails this image alone instead of ending the run (and
    /// every resume).
    pub fn load_into(&self, path: &Path, slot: &mut [f32]) -> Result<DecodedImage, DecodeError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.load_unguarded(path, slot))).unwrap_or_else(
            |panic| {
                let reason = panic_reason(panic.as_ref()).unwrap_or("no reason given");
                Err(DecodeError::new(ErrorClass::Corrupt, format!("the decoder crashed on this file: {reason}")))
            },
        )
    }

    fn load_unguarded(&self, path: &Path, slot: &mut [f32]) -> Result<DecodedImage, DecodeError> {
        let preprocessor = self.preprocessor;
        let image = decode_file_for(path, preprocessor.decode_target(), &self.decode, &self.budget)?;
        preprocessor
            .check_size(image.width, image.height)
            .map_err(|message| DecodeError::new(ErrorClass::TooLarge, message))?;
        preprocessor
            .apply_region(&image.rgb, image.region, (image.width, image.height), self.layout, slot)
            .map_err(|error| DecodeError::new(ErrorClass::Corrupt, format!("{error:#}")))?;
        Ok(image)
    }
}

/// The point's payload: every manifest field, then the file's facts (which win on a clash).
fn payload_for(item: &Item, image: &DecodedImage) -> Map<String, Value> {
    let mut payload = item.fields.clone();
    let path = path_text(&item.path);
    // A name that is not its own text (not UTF-8, or with escapes doubled) also goes in as its
    // raw bytes, so that it can be opened again.
    let escaped = matches!(path, std::borrow::Cow::Owned(_));
    payload.insert("path".into(), json!(path));
    if escaped {
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(item.path.as_os_str());
        payload.insert("path_bytes".into(), json!(BASE64_STANDARD.encode(bytes)));
    }
    payload.insert("key".into(), json!(item.key));
    payload.insert("size_bytes".into(), json!(image.size_bytes));
    if let Some(mtime) = image.modified {
        payload.insert("mtime".into(), json!(rfc3339(mtime)));
    }
    payload.insert("width".into(), json!(image.width));
    payload.insert("height".into(), json!(image.height));
    payload.insert("format".into(), json!(image.format));
    payload
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn embed_stage(
    decoded: Receiver<Decoded>,
    embedded: Sender<Embedded>,
    encoder: &mut Encoder,
    batch_size: usize,
    slots: &SlotPool,
    mut embed_log: Option<EmbedLog>,
    stop: &Stop<'_>,
) {
    let mut batch: Vec<Prepared> = Vec::with_capacity(batch_size);
    let mut flush = |batch: &mut Vec<Prepared>| -> Result<(), ()> {
        // Once stopping, batches not yet embedded stay pending in the checkpoint.
        if batch.is_empty() || stop.is_set() {
            batch.clear();
            return Ok(());
        }
        for message in embed_batch(encoder, batch, slots) {
            if let (Some(log), Embedded::Points { keys, .. }) = (&mut embed_log, &message) {
                log.record(keys);
            }
            embedded.send(message).map_err(drop)?;
        }
        Ok(())
    };
    for message in decoded {
        let result = match message {
            Decoded::Failed(failure) => embedded.send(Embedded::Failed(failure)).map_err(drop),
            Decoded::Ready(prepared) => {
                batch.push(prepared);
                if batch.len() == batch_size {
                    flush(&mut batch)
                } else {
                    Ok(())
                }
            }
        };
        if result.is_err() {
            return;
        }
    }
    let _ = flush(&mut batch);
}

/// Runs one batch and empties it, handing its slots back to the pool; a model error fails
/// the batch's items, not the run.
fn embed_batch(encoder: &mut Encoder, batch: &mut Vec<Prepared>, slots: &SlotPool) -> Vec<Embedded> {
    let views: Vec<&[f32]> = batch.iter().map(|prepared| prepared.slot.as_slice()).collect();
    let embedded = encoder.embed(&views);
    let parts: Vec<(Item, Map<String, Value>)> = batch
        .drain(..)
        .map(|Prepared { item, slot, payload }| {
            slots.give(slot);
            (item, payload)
        })
        .collect();
    match embedded {
        Ok(vectors) => {
            let keys = parts.iter().map(|(item, _)| item.key.clone()).collect();
            let points = parts
                .into_iter()
                .zip(vectors)
                .map(|((item, payload), vector)| Point { id: point_id(&item.key), vector, payload })
                .collect();
            vec![Embedded::Points { keys, points }]
        }
        Err(error) => parts
            .iter()
            .map(|(item, _)| Embedded::Failed(Failure::of(item, ErrorClass::Model, format!("{error:#}"))))
            .collect(),
    }
}

/// Batches written to the sink before a commit makes them durable and marks them done.
const MAX_UNCOMMITTED_BATCHES: usize = 2;

/// The last stage: writes points, makes them durable, then records outcomes in the checkpoint.
struct Committer<'a> {
    checkpoint: &'a mut Checkpoint,
    sink: &'a mut dyn Sink,
    settings: &'a PipelineSettings,
    reporter: &'a dyn Reporter,
    stop: &'a Stop<'a>,
    summary: &'a mut RunSummary,
}

impl Committer<'_> {
    fn run(&mut self, embedded: Receiver<Embedded>) -> anyhow::Result<()> {
        let result = self.commit_all(embedded);
        if result.is_err() {
            // Nothing more can be recorded: stop the other stages instead of decoding on.
            self.stop.halted.store(true, Ordering::Relaxed);
        }
        result
    }

    fn commit_all(&mut self, embedded: Receiver<Embedded>) -> anyhow::Result<()> {
        let mut written: Vec<String> = Vec::new();
        let mut failures: Vec<Failure> = Vec::new();
        let mut written_batches = 0;
        let mut last_commit = Instant::now();
        loop {
            // Group commit: write what is ready (at most MAX_UNCOMMITTED_BATCHES), then make it
            // durable once. The cap bounds what a kill can cost in re-embedding.
            let message = match embedded.try_recv() {
                Ok(message) => Some(message),
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    self.commit(&mut written, &mut failures)?;
                    written_batches = 0;
                    last_commit = Instant::now();
                    embedded.recv().ok()
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => None,
            };
            let Some(message) = message else { break };
            match message {
                Embedded::Points { keys, points } => {
                    // A full disk ends the run; these items stay pending for the resume.
                    self.sink.ensure_space()?;
                    match self.write(points) {
                        Ok(()) => {
                            written.extend(keys);
                            written_batches += 1;
                        }
                        // While stopping, a failed write leaves its items pending for the resume.
                        Err(_) if self.stop.is_set() => {}
                        Err(error) => failures.extend(keys.into_iter().map(|key| Failure {
                            key,
                            path: None,
                            class: ErrorClass::Sink,
                            message: error.to_string(),
                        })),
                    }
                }
                Embedded::Failed(failure) => failures.push(failure),
            }
            if written_batches >= MAX_UNCOMMITTED_BATCHES || last_commit.elapsed() >= self.settings.commit_interval {
                self.commit(&mut written, &mut failures)?;
                written_batches = 0;
                last_commit = Instant::now();
            }
        }
        self.commit(&mut written, &mut failures)
    }

    /// Upserts with retries and exponential backoff; the sink may be briefly unavailable.
    fn write(&mut self, points: Vec<Point>) -> Result<(), SinkError> {
        let mut attempt = 1;
        loop {
            match self.sink.upsert(points.clone()) {
                Ok(()) => return Ok(()),
                Err(error) if !error.is_retryable() || attempt >= self.settings.max_attempts || self.stop.is_set() => {
                    return Err(error)
                }
                Err(error) => {
                    tracing::warn!("sink write failed (attempt {attempt}): {error}; retrying");
                    std::thread::sleep(Duration::from_millis(100 << attempt.min(6)));
                    attempt += 1;
                }
            }
        }
    }

    /// Flushes the sink, then marks its points done and records failures, in one transaction.
    fn commit(&mut self, written: &mut Vec<String>, failures: &mut Vec<Failure>) -> anyhow::Result<()> {
        if written.is_empty() && failures.is_empty() {
            return Ok(());
        }
        if !written.is_empty() {
            let flushing = Instant::now();
            self.sink.flush()?;
            self.summary.flush_time += flushing.elapsed();
        }
        let outcomes: Vec<Outcome<'_>> =
            written.iter().map(|key| Outcome::Done(key)).chain(failures.iter().map(Outcome::Failed)).collect();
        let recording = Instant::now();
        self.checkpoint.commit(&outcomes)?;
        self.summary.checkpoint_time += recording.elapsed();
        self.summary.done += written.len() as u64;
        for failure in failures.drain(..) {
            self.summary.failed += 1;
            *self.summary.failures_by_class.entry(failure.class).or_default() += 1;
            self.reporter.failed(&failure);
        }
        written.clear();
        self.reporter.progressed(self.summary.done, self.summary.failed);
        self.check_failure_limits();
        Ok(())
    }

    fn check_failure_limits(&mut self) {
        let failed = self.summary.failed;
        let finished = failed + self.summary.done;
        let over_count = self.settings.max_failures.is_some_and(|limit| failed > limit);
        let over_rate = self
            .settings
            .max_failure_rate
            .is_some_and(|rate| finished >= 100 && failed as f64 / finished as f64 > rate);
        if over_count || over_rate {
            self.summary.failure_limit_hit = true;
            self.stop.halted.store(true, Ordering::Relaxed);
        }
    }
}

/// A debugging aid: with `IMBED_DEBUG_EMBED_LOG=FILE`, the key of every embedded item is
/// appended to FILE, so tests can count how many items were embedded more than once.
struct EmbedLog {
    file: std::fs::File,
}

impl EmbedLog {
    fn from_env() -> anyhow::Result<Option<Self>> {
        let Some(path) = std::env::var_os("IMBED_DEBUG_EMBED_LOG") else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open IMBED_DEBUG_EMBED_LOG {}", Path::new(&path).display()))?;
        Ok(Some(Self { file }))
    }

    fn record(&mut self, keys: &[String]) {
        use std::io::Write;
        let mut text = keys.join("\n");
        text.push('\n');
        // One append per batch; the kernel keeps it even if the process is killed next.
        let _ = self.file.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_pool_recycles_up_to_its_capacity() {
        let pool = SlotPool::new(1, 4);
        let (first, second) = (pool.take(), pool.take());
        assert_eq!((first.len(), second.len()), (4, 4));
        let kept = first.as_ptr();
        pool.give(first);
        pool.give(second);
        let reused = pool.take();
        assert_eq!(reused.as_ptr(), kept, "the first slot handed back is reused");
        assert_eq!(pool.take().len(), 4, "the second was dropped: a new one is allocated");
    }
}
