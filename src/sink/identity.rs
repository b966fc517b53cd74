//! The identity imbed gives an index (an embedded collection or a server collection) when it
//! creates it, so that a run can tell the index its checkpoint wrote from one that replaced it.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Sink, SinkError};

/// Keys of the identity in a server collection's metadata.
pub const METADATA_ID: &str = "imbed_index_id";
pub const METADATA_CREATED_AT: &str = "imbed_index_created_at";

/// A run-independent identity: a random UUID and when it was given, as RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexId {
    pub id: Uuid,
    pub created_at: String,
}

impl IndexId {
    /// A new identity, for an index created now.
    pub fn generate() -> Self {
        Self { id: Uuid::new_v4(), created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string() }
    }

    /// The identity that a server collection's metadata or a checkpoint holds as text.
    pub fn from_metadata(id: Option<&str>, created_at: Option<&str>) -> Option<Self> {
        Some(Self { id: id?.parse().ok()?, created_at: created_at.unwrap_or_default().to_string() })
    }
}

/// An index as a run and `verify` see it: its identity, and its points read by ID.
pub trait Index: Sink {
    /// The identity imbed gave the index; `None` for one that an older imbed (or someone
    /// else) created.
    fn identity(&self) -> Option<&IndexId>;
    /// Whether opening it created it just now.
    fn created_now(&self) -> bool;
    /// Whether it can keep an identity at all (a server older than collection metadata cannot).
    fn keeps_identity(&self) -> bool {
        true
    }
    /// Gives an index without one this identity.
    fn set_identity(&mut self, identity: IndexId) -> Result<(), SinkError>;
    /// The payload `key` of each of these points that exists, in no particular order.
    fn keys_of(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<String>)>, SinkError>;
    /// Up to `limit` point IDs in ID order, from `start` on, and the ID where the next page starts.
    fn ids_from(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Uuid>, Option<Uuid>), SinkError>;
}

/// The `key` field of a payload, when it is a string.
pub(super) fn payload_key(payload: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<String> {
    payload?.get("key")?.as_str().map(str::to_string)
}
