//! Helpers that several layers share: content hashes, paths as text, point IDs and caught panics. It sits at
//! the bottom of the module graph and imports nothing of imbed's.

use std::borrow::Cow;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use uuid::Uuid;

/// xxh3-128 of a file's bytes: a fast hash (tens of GB/s) that notices any change of content.
/// Nothing here needs a cryptographic hash, which would be several times slower.
pub fn content_hash(path: &Path) -> std::io::Result<u128> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = match std::io::Read::read(&mut file, &mut buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if read == 0 {
            return Ok(hasher.digest128());
        }
        hasher.update(&buffer[..read]);
    }
}

/// A content hash as payloads and messages show it: 32 hex digits.
pub fn hash_hex(hash: u128) -> String {
    format!("{hash:032x}")
}

/// `xxh3:` and the xxh3-128 of `bytes` in hex: the form of every fingerprint in a checkpoint.
pub fn fingerprint(bytes: &[u8]) -> String {
    format!("xxh3:{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Namespace of imbed's point IDs: UUIDv5(namespace, key).
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c2a_9b4e_4d7f_8a21_5c0e_b7d9_1e42);

/// The ID of an item's point: a UUIDv5 of its key, so a re-run overwrites instead of duplicating.
pub fn point_id(key: &str) -> Uuid {
    Uuid::new_v5(&POINT_NAMESPACE, key.as_bytes())
}

/// The message of a caught panic, when it carries one.
pub fn panic_reason(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Runs `work`, turning a panic into `Err` with its message (or `fallback`). Used wherever a
/// dependency may panic on one bad input (a decoder, a store flush) and the run must go on
/// or end with a clear error instead of aborting.
pub fn catch_panic<T>(fallback: &str, work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .map_err(|panic| panic_reason(panic.as_ref()).unwrap_or(fallback).to_string())
}

/// Paths in JSON records (checkpoints, `.imbed.json`): the string itself when it is UTF-8, so
/// that records written before this existed read unchanged, and otherwise
/// `{"unix_bytes": BASE64}` (standard alphabet, padded) of its raw bytes, since JSON strings
/// cannot hold bytes that are not UTF-8.
pub mod path_serde {
    use std::ffi::OsString;
    use std::fmt;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use base64::prelude::{Engine, BASE64_STANDARD};
    use serde::de::{self, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    const BYTES: &str = "unix_bytes";

    pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => serializer.serialize_str(text),
            None => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BYTES, &BASE64_STANDARD.encode(path.as_os_str().as_bytes()))?;
                map.end()
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
        deserializer.deserialize_any(PathVisitor)
    }

    struct PathVisitor;

    impl<'de> Visitor<'de> for PathVisitor {
        type Value = PathBuf;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a path: a string, or {{\"{BYTES}\": base64}}")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<PathBuf, E> {
            Ok(PathBuf::from(text))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathBuf, A::Error> {
            let mut bytes = None;
            while let Some(key) = map.next_key::<String>()? {
                if key != BYTES {
                    return Err(de::Error::unknown_field(&key, &[BYTES]));
                }
                if bytes.is_some() {
                    return Err(de::Error::duplicate_field(BYTES));
                }
                let text: String = map.next_value()?;
                let decoded = BASE64_STANDARD
                    .decode(&text)
                    .map_err(|error| de::Error::custom(format!("{BYTES} is not base64 ({error})")))?;
                bytes = Some(decoded);
            }
            let bytes = bytes.ok_or_else(|| de::Error::missing_field(BYTES))?;
            Ok(PathBuf::from(OsString::from_vec(bytes)))
        }
    }

    /// A list of paths, each as above.
    pub mod list {
        use std::path::{Path, PathBuf};

        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize)]
        struct Borrowed<'a>(#[serde(with = "super")] &'a Path);

        #[derive(Deserialize)]
        struct Owned(#[serde(with = "super")] PathBuf);

        pub fn serialize<S: Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(paths.iter().map(|path| Borrowed(path)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PathBuf>, D::Error> {
            let paths = Vec::<Owned>::deserialize(deserializer)?;
            Ok(paths.into_iter().map(|Owned(path)| path).collect())
        }
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

    #[test]
    fn point_ids_are_stable_and_distinct() {
        assert_ne!(point_id("photos/a.jpg"), point_id("photos/b.jpg"));
        // Pinned: changing the rule would duplicate every point of existing stores.
        assert_eq!(point_id("photos/a.jpg").to_string(), "6ecb2478-9911-516f-91bc-eadf1e5fdee7");
    }

    #[test]
    fn paths_that_are_not_utf8_round_trip_through_json() {
        use std::os::unix::ffi::OsStringExt;
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Record {
            #[serde(with = "path_serde")]
            one: std::path::PathBuf,
            #[serde(with = "path_serde::list")]
            many: Vec<std::path::PathBuf>,
        }
        let latin1 = std::path::PathBuf::from(std::ffi::OsString::from_vec(b"caf\xe9".to_vec()));
        let record = Record { one: latin1.clone(), many: vec!["plain/path".into(), latin1] };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(text, r#"{"one":{"unix_bytes":"Y2Fm6Q=="},"many":["plain/path",{"unix_bytes":"Y2Fm6Q=="}]}"#);
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
    }

    #[test]
    fn a_caught_panic_keeps_its_message() {
        assert_eq!(catch_panic("none", || 7), Ok(7));
        assert_eq!(catch_panic("none", || panic!("boom {}", 1)), Err::<(), _>("boom 1".to_string()));
        assert_eq!(catch_panic("none", || std::panic::panic_any(3_u8)), Err::<(), _>("none".to_string()));
    }
}

#[cfg(test)]
mod path_text_tests {
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
