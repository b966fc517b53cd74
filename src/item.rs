//! What flows through the pipeline: items to embed, and the failures of single items.

use std::fmt;

use serde_json::{Map, Value};

use crate::locator::{Locator, ObjectFacts};
/// Re-exported where keys are made from paths; it lives in `util` so that `locator` can use
/// it without importing this module.
pub use crate::util::path_text;

/// One image to embed.
#[derive(Debug, Clone)]
pub struct Item {
    /// Identity of the item: the manifest's `id`, or else the path as given.
    pub key: String,
    /// Where the image bytes are: shown only through [`Locator::shown`].
    pub path: Locator,
    /// Fields from the manifest line, copied into the point's payload.
    pub fields: Map<String, Value>,
    /// For a remote object: what its listing, a HEAD or its download said of it.
    pub object: Option<ObjectFacts>,
    /// Done and unchanged, sent again only to rewrite its payload (`--refresh-payload`).
    pub refresh_payload: bool,
}

impl Item {
    /// An item with no facts known yet of a remote object.
    pub fn new(key: String, path: Locator, fields: Map<String, Value>) -> Self {
        Self { key, path, fields, object: None, refresh_payload: false }
    }
}

/// Why a single item could not be embedded. The run goes on without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    NotFound,
    Permission,
    Io,
    Empty,
    Unsupported,
    Corrupt,
    Truncated,
    TooLarge,
    Manifest,
    Walk,
    Model,
    Sink,
    /// A remote server refused the credentials or the request (401, 403).
    Denied,
    /// A remote server kept failing (5xx, 429) after the retries, or answered oddly.
    Remote,
    /// A download stalled, or ran past its whole-object time-out, on every try.
    Timeout,
    /// A connection could not be made or was reset, on every try.
    Network,
    /// Not tried: its host did not answer `--host-failure-limit` tries in a row.
    HostDown,
}

impl ErrorClass {
    /// Every class, in the order `--help` lists them.
    pub const ALL: [ErrorClass; 17] = [
        Self::NotFound,
        Self::Permission,
        Self::Io,
        Self::Empty,
        Self::Unsupported,
        Self::Corrupt,
        Self::Truncated,
        Self::TooLarge,
        Self::Manifest,
        Self::Walk,
        Self::Model,
        Self::Sink,
        Self::Denied,
        Self::Remote,
        Self::Timeout,
        Self::Network,
        Self::HostDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Permission => "permission",
            Self::Io => "io",
            Self::Empty => "empty",
            Self::Unsupported => "unsupported",
            Self::Corrupt => "corrupt",
            Self::Truncated => "truncated",
            Self::TooLarge => "too_large",
            Self::Manifest => "manifest",
            Self::Walk => "walk",
            Self::Model => "model",
            Self::Sink => "sink",
            Self::Denied => "denied",
            Self::Remote => "remote",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::HostDown => "host_down",
        }
    }

    pub fn from_io(error: &std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound,
            std::io::ErrorKind::PermissionDenied => Self::Permission,
            std::io::ErrorKind::UnexpectedEof => Self::Truncated,
            _ => Self::Io,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed item: its key, its path when known, a class and a message naming the cause.
#[derive(Debug, Clone)]
pub struct Failure {
    pub key: String,
    pub path: Option<Locator>,
    pub class: ErrorClass,
    pub message: String,
}

impl Failure {
    pub fn of(item: &Item, class: ErrorClass, message: impl Into<String>) -> Self {
        Self { key: item.key.clone(), path: Some(item.path.clone()), class, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{} [{}]: {}", path.shown(), self.class, self.message),
            None => write!(f, "{} [{}]: {}", self.key, self.class, self.message),
        }
    }
}
