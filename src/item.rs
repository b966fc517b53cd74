//! What flows through the pipeline: items to embed, and the failures of single items.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
            Some(path) => write!(f, "{} [{}]: {}", path_text(path), self.class, self.message),
            None => write!(f, "{} [{}]: {}", self.key, self.class, self.message),
        }
    }
}

/// A path as text, for keys and payloads: the path itself when it is UTF-8; otherwise each
/// byte that is not part of valid UTF-8 is written as `\xNN`. Unlike a lossy conversion
/// (every bad byte becomes U+FFFD), two names that differ only in such bytes stay distinct,
/// and so do their keys and point IDs.
pub fn path_text(path: &Path) -> Cow<'_, str> {
    if let Some(text) = path.to_str() {
        return Cow::Borrowed(text);
    }
    let mut text = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02X}");
        }
    }
    Cow::Owned(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn paths_that_are_not_utf8_keep_distinct_texts() {
        assert_eq!(path_text(Path::new("photos/café.jpg")), "photos/café.jpg");
        let latin1 = path_text(Path::new(OsStr::from_bytes(b"photos/caf\xe9.jpg")));
        let other = path_text(Path::new(OsStr::from_bytes(b"photos/caf\xe8.jpg")));
        assert_eq!(latin1, "photos/caf\\xE9.jpg");
        assert_ne!(latin1, other);
    }
}
