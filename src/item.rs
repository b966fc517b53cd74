//! What flows through the pipeline: items to embed, and the failures of single items.

use std::fmt;
use std::path::PathBuf;

use serde_json::{Map, Value};

/// One image to embed.
#[derive(Debug, Clone)]
pub struct Item {
    /// Identity of the item: the manifest's `id`, or else the path as given.
    pub key: String,
    /// Where the image bytes are.
    pub path: PathBuf,
    /// Fields from the manifest line, copied into the point's payload.
    pub fields: Map<String, Value>,
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
}

impl ErrorClass {
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
    pub path: Option<PathBuf>,
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
            Some(path) => write!(f, "{} [{}]: {}", path.display(), self.class, self.message),
            None => write!(f, "{} [{}]: {}", self.key, self.class, self.message),
        }
    }
}
