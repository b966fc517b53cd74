//! What flows through the pipeline: items to embed, and the failures of single items.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::locator::{Location, ObjectFacts};

/// One image to embed.
#[derive(Debug, Clone)]
pub struct Item {
    /// Identity of the item: the manifest's `id`, or else the path as given.
    pub key: String,
    /// Where the image bytes are.
    pub path: PathBuf,
    /// Fields from the manifest line, copied into the point's payload.
    pub fields: Map<String, Value>,
    /// For a remote object: what its listing, a HEAD or its download said of it.
    pub object: Option<ObjectFacts>,
}

impl Item {
    /// An item with no facts known yet of a remote object.
    pub fn new(key: String, path: PathBuf, fields: Map<String, Value>) -> Self {
        Self { key, path, fields, object: None }
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
            Some(path) => write!(f, "{} [{}]: {}", shown_path(path), self.class, self.message),
            None => write!(f, "{} [{}]: {}", self.key, self.class, self.message),
        }
    }
}

/// A path as people see it: a URL without its query string (which may hold a signature),
/// else [`path_text`].
pub fn shown_path(path: &Path) -> Cow<'_, str> {
    match Location::of_path(path) {
        Some(location) => Cow::Owned(location.display()),
        None => path_text(path),
    }
}

/// A path as text, for keys and payloads. The text is one-to-one with the path's bytes, since
/// it is the item's key and the point ID derives from the key:
///
/// - a byte that is not part of valid UTF-8 is written `\xNN` (two upper-case hex digits);
/// - a backslash that is followed, in the text, by `x` or by another backslash is doubled
///   (`\\`), so that a name which spells an escape (`caf\xE9.jpg` in UTF-8) is not read as one;
/// - everything else is written as it is.
///
/// Reading it back is therefore unambiguous: `\\` is a backslash, `\xNN` is the byte NN, and a
/// backslash before anything else is itself. A UTF-8 path in which no backslash is followed by
/// `x` or a backslash, which is nearly every path, is its own text. Unlike a lossy conversion
/// (every bad byte becomes U+FFFD), two names that differ only in such bytes stay distinct, and
/// so do their keys and point IDs.
pub fn path_text(path: &Path) -> Cow<'_, str> {
    if let Some(text) = path.to_str() {
        if !text.contains("\\x") && !text.contains("\\\\") {
            return Cow::Borrowed(text);
        }
    }
    let bytes = path.as_os_str().as_bytes();
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            text.push(c);
            // After the valid part come the invalid bytes' escapes, which start with a backslash.
            let next = chars.peek().copied().or_else(|| (!chunk.invalid().is_empty()).then_some('\\'));
            if c == '\\' && matches!(next, Some('x' | '\\')) {
                text.push('\\');
            }
        }
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

    /// The inverse of `path_text`, as its doc comment reads it.
    fn path_bytes(text: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut rest = text.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            rest = tail;
            if first != b'\\' {
                bytes.push(first);
            } else if let Some(tail) = rest.strip_prefix(b"\\") {
                bytes.push(b'\\');
                rest = tail;
            } else if let Some(hex) = rest.strip_prefix(b"x").and_then(|tail| tail.get(..2)) {
                let hex = std::str::from_utf8(hex).expect("ASCII hex digits");
                bytes.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                rest = &rest[3..];
            } else {
                bytes.push(b'\\');
            }
        }
        bytes
    }

    fn text(bytes: &[u8]) -> String {
        path_text(Path::new(OsStr::from_bytes(bytes))).into_owned()
    }

    #[test]
    fn names_that_spell_escapes_and_the_names_they_spell_get_distinct_texts() {
        let pairs: [(&[u8], &[u8]); 6] = [
            (b"caf\\xE9.jpg", b"caf\xe9.jpg"),
            (b"caf\\\\xE9.jpg", b"caf\\\xe9.jpg"),
            (b"a\\\\b", b"a\\b"),
            (b"\\x", b"\\\\x"),
            (b"a\\", b"a\\\\"),
            (b"\\\xff", b"\\\\xFF"),
        ];
        for (one, other) in pairs {
            assert_ne!(text(one), text(other), "{:?} and {:?}", OsStr::from_bytes(one), OsStr::from_bytes(other));
            assert_eq!(path_bytes(&text(one)), one);
            assert_eq!(path_bytes(&text(other)), other);
        }
        assert_eq!(text(b"caf\\xE9.jpg"), "caf\\\\xE9.jpg");
        assert_eq!(text(b"caf\xe9.jpg"), "caf\\xE9.jpg");
        assert_eq!(text(b"\\\xff"), "\\\\\\xFF");
    }

    #[test]
    fn ordinary_names_are_their_own_text() {
        for name in ["photos/café.jpg", "C:\\photos\\a.jpg", "a\\", "\\", "x\\y", "dir\\X.jpg", ""] {
            assert!(matches!(path_text(Path::new(name)), Cow::Borrowed(text) if text == name), "{name}");
        }
    }

    /// Every name of up to five symbols from an alphabet of backslashes, `x`, hex digits, a
    /// Latin-1 byte and both halves of a UTF-8 `é` reads back as itself, so no two share a text.
    #[test]
    fn path_text_reads_back_as_the_path_it_came_from() {
        let alphabet: [&[u8]; 7] = [b"\\", b"x", b"E", b"9", b"\xe9", b"\xc3", b"\xa9"];
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        let mut texts = std::collections::HashSet::new();
        for _ in 0..5 {
            names = names
                .iter()
                .flat_map(|name| alphabet.iter().map(move |symbol| [name.as_slice(), symbol].concat()))
                .collect();
            for name in &names {
                let text = text(name);
                assert_eq!(path_bytes(&text), *name, "{text}");
                assert!(texts.insert(text), "{:?}", OsStr::from_bytes(name));
            }
        }
    }
}
