//! The load stage: decode and preprocess items in parallel, each into a recycled tensor slot,
//! with the payload facts of its file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use base64::prelude::{Engine, BASE64_STANDARD};
use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::download::Fetched;
use super::tensor::{ImageSource, TensorLoader};
use super::Stop;
use crate::decode::DecodedImage;
use crate::fetch::Download;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::Location;

/// An image ready for the model: its preprocessed tensor slot and payload facts.
pub(super) struct Prepared {
    pub item: Item,
    pub slot: Vec<f32>,
    pub payload: Map<String, Value>,
}

pub(super) enum Loaded {
    Ready(Prepared),
    Failed(Failure),
}

/// Tensor slots handed back by the embed stage once their batch has run, so that decoding
/// does not allocate (and zero) 600 kB per image. It keeps at most `capacity` slots and drops
/// the rest, so memory stays where the channels bound it; it never waits.
pub(super) struct SlotPool {
    free: (Sender<Vec<f32>>, Receiver<Vec<f32>>),
    len: usize,
}

impl SlotPool {
    pub fn new(capacity: usize, len: usize) -> Self {
        Self { free: bounded(capacity), len }
    }

    fn take(&self) -> Vec<f32> {
        self.free.1.try_recv().unwrap_or_else(|_| vec![0.0; self.len])
    }

    pub fn give(&self, slot: Vec<f32>) {
        let _ = self.free.0.try_send(slot);
    }
}

pub(super) fn stage(
    mut items: mpsc::Receiver<Fetched>,
    loaded: Sender<Loaded>,
    loader: &TensorLoader<'_>,
    slots: &SlotPool,
    stop: &Stop<'_>,
) {
    let downstream_closed = AtomicBool::new(false);
    std::iter::from_fn(move || items.blocking_recv()).par_bridge().for_each(|item| {
        if stop.is_set() || downstream_closed.load(Ordering::Relaxed) {
            return;
        }
        let outcome = match item {
            Fetched::Local(item) => prepare(item, None, loader, slots),
            Fetched::Remote(item, location, download) => prepare(item, Some((location, download)), loader, slots),
            Fetched::Failed(failure) => Loaded::Failed(failure),
        };
        // A closed channel means a later stage has ended: decoding on would be wasted.
        if loaded.send(outcome).is_err() {
            downstream_closed.store(true, Ordering::Relaxed);
        }
    });
}

/// Decodes a local file, or a download (whose bytes go back to the budget once decoded).
fn prepare(
    mut item: Item,
    download: Option<(Location, Download)>,
    loader: &TensorLoader<'_>,
    slots: &SlotPool,
) -> Loaded {
    let source = match (&download, item.path.local()) {
        (Some((_, download)), _) => ImageSource::Bytes(&download.bytes),
        (None, Some(path)) => ImageSource::File(path),
        (None, None) => {
            return Loaded::Failed(Failure::of(
                &item,
                ErrorClass::Io,
                "a remote item reached the decoder without its bytes",
            ))
        }
    };
    let mut slot = slots.take();
    match loader.load_into(source, &mut slot) {
        Ok(image) => {
            let payload = match download {
                Some((location, download)) => {
                    item.object = Some(download.facts);
                    remote_payload(&item, &location, &image)
                }
                None => payload_for(&item, &image),
            };
            let payload = with_photo_facts(payload, &image, loader.decode.payload_gps);
            Loaded::Ready(Prepared { item, slot, payload })
        }
        Err(error) => {
            slots.give(slot);
            Loaded::Failed(Failure::of(&item, error.class, error.message))
        }
    }
}

/// The EXIF facts, which the file's other facts do not hold: `gps` only when asked for.
fn with_photo_facts(mut payload: Map<String, Value>, image: &DecodedImage, gps: bool) -> Map<String, Value> {
    let facts = image.photo.clone();
    for (name, value) in [("taken_at", facts.taken_at), ("camera", facts.camera), ("lens", facts.lens)] {
        if let Some(value) = value {
            payload.insert(name.into(), json!(value));
        }
    }
    if let Some((lat, lon)) = facts.gps.filter(|_| gps) {
        payload.insert("gps".into(), json!({"lat": lat, "lon": lon}));
    }
    payload
}

/// The point's payload: every manifest field, then the file's facts (which win on a clash).
fn payload_for(item: &Item, image: &DecodedImage) -> Map<String, Value> {
    let mut payload = item.fields.clone();
    let path = item.path.identity();
    // A name that is not its own text (not UTF-8, or with escapes doubled) also goes in as its
    // raw bytes, so that it can be opened again.
    let escaped = matches!(path, std::borrow::Cow::Owned(_));
    payload.insert("path".into(), json!(path));
    if escaped {
        let bytes = item.path.as_bytes();
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

/// The point's payload for a remote object: the manifest's fields, then its URL (without
/// signature) or URI, ETag, size and Last-Modified, and the image's facts.
fn remote_payload(item: &Item, location: &Location, image: &DecodedImage) -> Map<String, Value> {
    let mut payload = item.fields.clone();
    let shown = location.identity();
    payload.insert("path".into(), json!(shown));
    match location {
        Location::Http(_) => payload.insert("url".into(), json!(shown)),
        Location::Object { .. } => payload.insert("uri".into(), json!(shown)),
    };
    payload.insert("key".into(), json!(item.key));
    payload.insert("size_bytes".into(), json!(image.size_bytes));
    let facts = item.object.clone().unwrap_or_default();
    if let Some(etag) = facts.etag {
        payload.insert("etag".into(), json!(etag));
    }
    if let Some(nanos) = facts.last_modified_ns.and_then(|nanos| u64::try_from(nanos).ok()) {
        let time = rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos));
        payload.insert("last_modified".into(), json!(time));
        payload.insert("mtime".into(), json!(time));
    }
    payload.insert("width".into(), json!(image.width));
    payload.insert("height".into(), json!(image.height));
    payload.insert("format".into(), json!(image.format));
    payload
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
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
