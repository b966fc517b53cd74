//! The inference stage (the pipeline side of `embed`): fills batches of tensor slots and runs them through the model, the only
//! thread that touches it.

use std::path::Path;

use anyhow::Context;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde_json::{Map, Value};

use super::load::{Duplicate, Loaded, Prepared, Refreshed, SlotPool};
use super::Stop;
use crate::checkpoint::{ContentHashes, FileStamp};
use crate::embed::Embed;
use crate::item::{ErrorClass, Failure, Item};
use crate::sink::Point;
use crate::util::point_id;

/// How long a partial batch waits for more items before it runs.
const IDLE_FLUSH: std::time::Duration = std::time::Duration::from_millis(500);

pub(super) enum Embedded {
    /// Points, with their items' keys, the stamps of the remote objects they came from, and
    /// their hashes.
    Points {
        keys: Vec<String>,
        stamps: Vec<Option<FileStamp>>,
        hashes: Vec<ContentHashes>,
        points: Vec<Point>,
    },
    /// An item whose bytes another item holds: it goes by without a model call.
    Duplicate(Duplicate),
    /// A done item's new payload, which needs no model call either.
    Refreshed(Refreshed),
    Failed(Failure),
    NotRefreshed(Failure),
}

pub(super) fn stage(
    loaded: Receiver<Loaded>,
    embedded: Sender<Embedded>,
    embedder: &mut dyn Embed,
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
        for message in embed_batch(embedder, batch, slots) {
            if let (Some(log), Embedded::Points { keys, .. }) = (&mut embed_log, &message) {
                log.record(keys);
            }
            embedded.send(message).map_err(drop)?;
        }
        Ok(())
    };
    loop {
        // A partial batch runs once nothing has come for a while: items behind a slow download
        // (a stalled host) do not hold up those decoded before them.
        let message = match loaded.recv_timeout(IDLE_FLUSH) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                if flush(&mut batch).is_err() {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let result = match message {
            Loaded::Failed(failure) => embedded.send(Embedded::Failed(failure)).map_err(drop),
            Loaded::Duplicate(duplicate) => embedded.send(Embedded::Duplicate(duplicate)).map_err(drop),
            Loaded::Refresh(refreshed) => embedded.send(Embedded::Refreshed(refreshed)).map_err(drop),
            Loaded::NotRefreshed(failure) => embedded.send(Embedded::NotRefreshed(failure)).map_err(drop),
            Loaded::Ready(prepared) => {
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
fn embed_batch(embedder: &mut dyn Embed, batch: &mut Vec<Prepared>, slots: &SlotPool) -> Vec<Embedded> {
    let views: Vec<&[f32]> = batch.iter().map(|prepared| prepared.slot.as_slice()).collect();
    let embedded = embedder.embed(&views);
    let parts: Vec<(Item, Map<String, Value>, ContentHashes)> = batch
        .drain(..)
        .map(|Prepared { item, slot, payload, hashes }| {
            slots.give(slot);
            (item, payload, hashes)
        })
        .collect();
    match embedded {
        Ok(vectors) => {
            let keys = parts.iter().map(|(item, ..)| item.key.clone()).collect();
            let stamps = parts.iter().map(|(item, ..)| item.object.as_ref().and_then(FileStamp::of_object)).collect();
            let hashes = parts.iter().map(|(_, _, hashes)| *hashes).collect();
            let points = parts
                .into_iter()
                .zip(vectors)
                .map(|((item, payload, _), vector)| Point { id: point_id(&item.key), vector, payload })
                .collect();
            vec![Embedded::Points { keys, stamps, hashes, points }]
        }
        Err(error) => parts
            .iter()
            .map(|(item, ..)| Embedded::Failed(Failure::of(item, ErrorClass::Model, format!("{error:#}"))))
            .collect(),
    }
}

/// A debugging aid: with `--debug-embed-log FILE` (`IMBED_DEBUG_EMBED_LOG`), the key of every
/// embedded item is appended to FILE, so tests can count how many items were embedded more than once.
pub(super) struct EmbedLog {
    file: std::fs::File,
}

impl EmbedLog {
    pub fn open(path: Option<&Path>) -> anyhow::Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the embed log {}", path.display()))?;
        Ok(Some(Self { file }))
    }

    fn record(&mut self, keys: &[String]) {
        use std::io::Write;
        let mut text = keys.join("\n");
        text.push('\n');
        // One append per batch; the kernel keeps it even if the process is killed next.
        if let Err(error) = self.file.write_all(text.as_bytes()) {
            tracing::warn!("cannot append to the embed log: {error}");
        }
    }
}
