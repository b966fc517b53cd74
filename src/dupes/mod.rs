//! Duplicates in a collection: exact copies (same `content_hash`), near copies (perceptual
//! hashes `phash` within a Hamming distance, through multi-index hashing) and semantic near copies
//! (cosine at least a score, through the store's own search). Pairs found by any method are
//! joined into groups; each group names the item to keep.

mod groups;
pub mod mih;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

pub use groups::{group, Group, Member};

/// What `dupes` knows of a point, read from its payload.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Uuid,
    pub key: String,
    pub size_bytes: u64,
    pub mtime: f64,
    pub pixels: u64,
    pub content_hash: Option<String>,
    pub phash: Option<u64>,
}

impl Entry {
    pub fn from_payload(id: Uuid, payload: &Map<String, Value>) -> Self {
        let number = |name: &str| payload.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_string);
        Self {
            id,
            key: text("key").or_else(|| text("path")).unwrap_or_else(|| id.to_string()),
            size_bytes: number("size_bytes") as u64,
            mtime: payload.get("mtime").and_then(mtime_seconds).unwrap_or(f64::MAX),
            pixels: (number("width") * number("height")) as u64,
            content_hash: text("content_hash"),
            phash: text("phash").and_then(|hash| u64::from_str_radix(&hash, 16).ok()),
        }
    }
}

/// `mtime` as seconds: a number, or RFC 3339 text.
fn mtime_seconds(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => humantime::parse_rfc3339_weak(text)
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|since| since.as_secs_f64()),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Exact,
    Near,
    Semantic,
}

/// Which member of a group is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Keep {
    /// Most pixels, then most bytes.
    Largest,
    /// Earliest `mtime`.
    Oldest,
    /// First key in sort order.
    First,
}

/// Two entries found alike: by which method, and how alike (1 for exact copies, the Hamming
/// distance for near copies, the cosine for semantic ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub method: Method,
    pub score: f64,
}

/// Pairs of entries with the same content hash: each joined to the first of its hash.
pub fn exact_pairs(entries: &[Entry]) -> Vec<Pair> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut pairs = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(hash) = entry.content_hash.as_deref() else { continue };
        match first.get(hash) {
            Some(&a) => pairs.push(Pair { a, b: index, method: Method::Exact, score: 1.0 }),
            None => {
                first.insert(hash, index);
            }
        }
    }
    pairs
}

/// Pairs of entries whose perceptual hashes are within `max_distance` bits, found through
/// a multi-index over the hashes; `progressed` hears how many entries were looked up.
pub fn near_pairs(entries: &[Entry], max_distance: u32, progressed: &(dyn Fn(usize) + Sync)) -> Vec<Pair> {
    let (positions, hashes): (Vec<usize>, Vec<u64>) =
        entries.iter().enumerate().filter_map(|(index, entry)| Some((index, entry.phash?))).unzip();
    mih::MultiIndex::new(&hashes)
        .pairs_within(max_distance, progressed)
        .into_iter()
        .map(|(a, b, distance)| Pair {
            a: positions[a],
            b: positions[b],
            method: Method::Near,
            score: f64::from(distance),
        })
        .collect()
}
