//! Stage wiring: source -> decode (rayon) -> embed (session owner) -> sink, joined by bounded
//! channels so that memory stays flat and a slow stage slows the ones before it.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::decode::{decode_file, DecodeError, DecodedImage};
use crate::embed::Encoder;
use crate::item::{ErrorClass, Failure, Item};
use crate::preprocess::{Layout, Preprocessor};
use crate::progress::Reporter;
use crate::sink::{point_id, Point, Sink};
use crate::source::SourceSpec;

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub batch_size: usize,
    pub decode_threads: usize,
    pub max_pixels: u64,
    /// Flush the sink at least this often, so a crash loses little.
    pub flush_interval: Duration,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub discovered: u64,
    pub done: u64,
    pub failed: u64,
    pub failures_by_class: BTreeMap<ErrorClass, u64>,
    pub elapsed: Duration,
    pub interrupted: bool,
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
    Points {
        keys: Vec<String>,
        points: Vec<Point>,
    },
    Failed(Failure),
}

/// Runs every item of `source` through decode, embed and the sink until done or `stop` is set.
pub fn run(
    source: &SourceSpec,
    preprocessor: &Preprocessor,
    encoder: &mut Encoder,
    sink: &mut dyn Sink,
    settings: &PipelineSettings,
    reporter: &dyn Reporter,
    stop: &AtomicBool,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let batch_size = encoder.batch_size(settings.batch_size);
    let decode_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.decode_threads)
        .thread_name(|i| format!("imbed-decode-{i}"))
        .build()
        .context("cannot start the decode threads")?;

    // Capacities bound memory: a few batches of tensors in flight, whatever the corpus size.
    let (item_tx, item_rx) = bounded::<Result<Item, Failure>>(batch_size * 2);
    let (decoded_tx, decoded_rx) = bounded::<Decoded>(batch_size * 2);
    let (embedded_tx, embedded_rx) = bounded::<Embedded>(2);

    let layout = encoder.layout();
    let mut summary = RunSummary::default();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let walker = scope.spawn(|| walk_stage(source, item_tx, reporter, stop));
        scope.spawn(|| {
            decode_pool.install(|| {
                decode_stage(
                    item_rx,
                    decoded_tx,
                    preprocessor,
                    layout,
                    settings.max_pixels,
                    stop,
                )
            })
        });
        scope.spawn(|| embed_stage(decoded_rx, embedded_tx, encoder, batch_size, stop));
        let sunk = sink_stage(
            embedded_rx,
            sink,
            settings.flush_interval,
            reporter,
            &mut summary,
        );
        summary.discovered = walker
            .join()
            .map_err(|_| anyhow::anyhow!("the walker thread panicked"))??;
        sunk
    })?;
    summary.interrupted = stop.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    reporter.finish();
    Ok(summary)
}

fn walk_stage(
    source: &SourceSpec,
    items: Sender<Result<Item, Failure>>,
    reporter: &dyn Reporter,
    stop: &AtomicBool,
) -> anyhow::Result<u64> {
    let mut discovered = 0;
    source.for_each(|item| {
        if stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        discovered += 1;
        reporter.discovered(discovered);
        match items.send(item) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    })?;
    Ok(discovered)
}

fn decode_stage(
    items: Receiver<Result<Item, Failure>>,
    decoded: Sender<Decoded>,
    preprocessor: &Preprocessor,
    layout: Layout,
    max_pixels: u64,
    stop: &AtomicBool,
) {
    items.into_iter().par_bridge().for_each(|item| {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let outcome = match item {
            Ok(item) => prepare(item, preprocessor, layout, max_pixels),
            Err(failure) => Decoded::Failed(failure),
        };
        // A closed channel means a later stage has stopped; the run is ending.
        let _ = decoded.send(outcome);
    });
}

fn prepare(item: Item, preprocessor: &Preprocessor, layout: Layout, max_pixels: u64) -> Decoded {
    match load_tensor(&item.path, preprocessor, layout, max_pixels) {
        Ok((image, slot)) => {
            let payload = payload_for(&item, &image);
            Decoded::Ready(Prepared {
                item,
                slot,
                payload,
            })
        }
        Err(error) => Decoded::Failed(Failure::of(&item, error.class, error.message)),
    }
}

/// Decodes one image file and preprocesses it into a new tensor slot.
pub fn load_tensor(
    path: &Path,
    preprocessor: &Preprocessor,
    layout: Layout,
    max_pixels: u64,
) -> Result<(DecodedImage, Vec<f32>), DecodeError> {
    let image = decode_file(path, max_pixels)?;
    let (height, width) = preprocessor.output_size();
    let mut slot = vec![0.0; 3 * height as usize * width as usize];
    preprocessor
        .apply(&image.rgb, layout, &mut slot)
        .map_err(|error| DecodeError {
            class: ErrorClass::Corrupt,
            message: format!("{error:#}"),
        })?;
    Ok((image, slot))
}

/// The point's payload: every manifest field, then the file's facts (which win on a clash).
fn payload_for(item: &Item, image: &DecodedImage) -> Map<String, Value> {
    let mut payload = item.fields.clone();
    payload.insert("path".into(), json!(item.path.to_string_lossy()));
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
    stop: &AtomicBool,
) {
    let mut batch: Vec<Prepared> = Vec::with_capacity(batch_size);
    let mut flush = |batch: &mut Vec<Prepared>| -> Result<(), ()> {
        if batch.is_empty() || stop.load(Ordering::Relaxed) {
            batch.clear();
            return Ok(());
        }
        for message in embed_batch(encoder, std::mem::take(batch)) {
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

/// Runs one batch; a model error fails the batch's items, not the run.
fn embed_batch(encoder: &mut Encoder, batch: Vec<Prepared>) -> Vec<Embedded> {
    let slots: Vec<&[f32]> = batch
        .iter()
        .map(|prepared| prepared.slot.as_slice())
        .collect();
    match encoder.embed(&slots) {
        Ok(vectors) => {
            let mut keys = Vec::with_capacity(batch.len());
            let points = batch
                .into_iter()
                .zip(vectors)
                .map(|(prepared, vector)| {
                    keys.push(prepared.item.key.clone());
                    Point {
                        id: point_id(&prepared.item.key),
                        vector,
                        payload: prepared.payload,
                    }
                })
                .collect();
            vec![Embedded::Points { keys, points }]
        }
        Err(error) => batch
            .iter()
            .map(|prepared| {
                Embedded::Failed(Failure::of(
                    &prepared.item,
                    ErrorClass::Model,
                    format!("{error:#}"),
                ))
            })
            .collect(),
    }
}

fn sink_stage(
    embedded: Receiver<Embedded>,
    sink: &mut dyn Sink,
    flush_interval: Duration,
    reporter: &dyn Reporter,
    summary: &mut RunSummary,
) -> anyhow::Result<()> {
    let mut last_flush = Instant::now();
    for message in embedded {
        match message {
            Embedded::Points { keys, points } => match sink.upsert(points) {
                Ok(()) => summary.done += keys.len() as u64,
                Err(error) => {
                    for key in keys {
                        record_failure(
                            summary,
                            reporter,
                            Failure {
                                key,
                                path: None,
                                class: ErrorClass::Sink,
                                message: error.to_string(),
                            },
                        );
                    }
                }
            },
            Embedded::Failed(failure) => record_failure(summary, reporter, failure),
        }
        if last_flush.elapsed() >= flush_interval {
            sink.flush()?;
            last_flush = Instant::now();
        }
        reporter.progressed(summary.done, summary.failed);
    }
    sink.flush()?;
    Ok(())
}

fn record_failure(summary: &mut RunSummary, reporter: &dyn Reporter, failure: Failure) {
    summary.failed += 1;
    *summary.failures_by_class.entry(failure.class).or_default() += 1;
    reporter.failed(&failure);
}
