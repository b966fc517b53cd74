//! The load stage: decode and preprocess items in parallel, each into a recycled tensor slot,
//! with the payload facts of its file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use base64::prelude::{Engine, BASE64_STANDARD};
use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::claims::HashClaims;
use super::download::Fetched;
use super::tensor::{ImageSource, TensorLoader};
use super::Stop;
use crate::checkpoint::ContentHashes;
use crate::decode::{perceptual_hash, DecodedImage};
use crate::fetch::Download;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::Location;

/// An image ready for the model: its preprocessed tensor slot and payload facts.
pub(super) struct Prepared {
    pub item: Item,
    pub slot: Vec<f32>,
    pub payload: Map<String, Value>,
    pub hashes: ContentHashes,
}

/// An item whose bytes another item holds: recorded without a decode or a model call.
pub(super) struct Duplicate {
    pub item: Item,
    /// The key of the item that holds these bytes.
    pub of: String,
    pub bytes_hash: u128,
}

/// A done item's new payload (`--refresh-payload`): its point keeps its vector.
pub(super) struct Refreshed {
    pub item: Item,
    pub payload: Map<String, Value>,
    pub hashes: ContentHashes,
}

pub(super) enum Loaded {
    Ready(Prepared),
    Duplicate(Duplicate),
    Refresh(Refreshed),
    Failed(Failure),
    /// A done item whose payload could not be made again: it stays done, with its point.
    NotRefreshed(Failure),
}

/// What the load stage works with besides its channels.
pub(super) struct LoadContext<'a> {
    pub loader: &'a TensorLoader<'a>,
    pub slots: &'a SlotPool,
    /// With `--skip-duplicates`: who holds which bytes.
    pub claims: Option<&'a HashClaims>,
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
    context: &LoadContext<'_>,
    stop: &Stop<'_>,
) {
    let downstream_closed = AtomicBool::new(false);
    std::iter::from_fn(move || items.blocking_recv()).par_bridge().for_each(|item| {
        if stop.is_set() || downstream_closed.load(Ordering::Relaxed) {
            return;
        }
        let outcome = match item {
            Fetched::Local(item) => prepare(item, None, context),
            Fetched::Remote(item, location, download) => prepare(item, Some((location, download)), context),
            Fetched::Failed(failure) => Loaded::Failed(failure),
        };
        // A closed channel means a later stage has ended: decoding on would be wasted.
        if loaded.send(outcome).is_err() {
            downstream_closed.store(true, Ordering::Relaxed);
        }
    });
}

/// Hashes the bytes of a local file or a download, then (unless another item holds them)
/// decodes them, into a tensor slot or, for a payload alone, into nothing but the payload;
/// the download's bytes go back to the budget once decoded.
fn prepare(mut item: Item, download: Option<(Location, Download)>, context: &LoadContext<'_>) -> Loaded {
    let LoadContext { loader, slots, claims } = *context;
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
    let bytes_hash = bytes_hash(source, loader.decode.max_file_size);
    let duplicate_of = bytes_hash.and_then(|hash| Some((hash, claims?.claim(hash, &item.key)?)));
    if let (Some((bytes_hash, of)), false) = (duplicate_of, item.refresh_payload) {
        if let Some((_, download)) = download {
            item.object = Some(download.facts);
        }
        return Loaded::Duplicate(Duplicate { item, of, bytes_hash });
    }
    // A payload alone needs no tensor.
    let mut slot = (!item.refresh_payload).then(|| slots.take());
    let decoded = match slot.as_mut() {
        Some(slot) => loader.load_into(source, slot),
        None => loader.decode(source),
    };
    let image = match decoded {
        Ok(image) => image,
        Err(error) => {
            let failure = Failure::of(&item, error.class, error.message);
            return match slot {
                Some(slot) => {
                    slots.give(slot);
                    Loaded::Failed(failure)
                }
                None => Loaded::NotRefreshed(failure),
            };
        }
    };
    let payload = match download {
        Some((location, download)) => {
            item.object = Some(download.facts);
            remote_payload(&item, &location, &image)
        }
        None => payload_for(&item, &image),
    };
    let mut payload = with_photo_facts(payload, &image, loader.decode.payload_gps);
    let hashes = ContentHashes { bytes: bytes_hash, phash: perceptual_hash(&image.pixels) };
    if let Some(hash) = hashes.bytes {
        payload.insert("content_hash".into(), json!(crate::util::hash_hex(hash)));
    }
    payload.insert("phash".into(), json!(format!("{:016x}", hashes.phash)));
    match slot {
        Some(slot) => Loaded::Ready(Prepared { item, slot, payload, hashes }),
        None => Loaded::Refresh(Refreshed { item, payload, hashes }),
    }
}

/// xxh3-128 of the image's bytes. A local file is read once more for it: the decoder streams
/// it, and the second read comes from the page cache the first one filled. What the decoder
/// refuses unread (a folder, a FIFO, an empty file or one over `max_file_size`), or cannot
/// read, is not hashed (`None`), so that the decoder says why.
fn bytes_hash(source: ImageSource<'_>, max_file_size: u64) -> Option<u128> {
    match source {
        ImageSource::Bytes(bytes) => Some(xxhash_rust::xxh3::xxh3_128(bytes)),
        ImageSource::File(path) => {
            let file = std::fs::metadata(path).ok()?;
            let decodable = file.is_file() && file.len() > 0 && file.len() <= max_file_size;
            decodable.then(|| crate::util::content_hash(path).ok()).flatten()
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
