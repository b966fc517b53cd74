//! What an item's path names: a local file, an object in a store (`s3://`, `gs://`, `az://`)
//! or an HTTP(S) URL; and the facts an object store or server gives about an object.
//!
//! A remote item keeps its locator, as given, in the `path` that every stage carries. A
//! presigned URL's signature expires and changes, so it is never part of what identifies the
//! item ([`Location::identity`]) nor of what any message or payload shows
//! ([`Location::display`]).

mod secrets;

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use url::Url;

pub use secrets::{ignore_query_parameters, is_signing_parameter, redacted, SecretUrl};

/// An object store that `object_store` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Store {
    S3,
    Gcs,
    Azure,
}

impl Store {
    /// The scheme of the canonical URI (`az://` also stands for `azure://`).
    pub fn scheme(self) -> &'static str {
        match self {
            Store::S3 => "s3",
            Store::Gcs => "gs",
            Store::Azure => "az",
        }
    }
}

/// A remote image, or a remote prefix or manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An object, or a prefix when `key` is empty or ends with `/`.
    Object {
        store: Store,
        bucket: String,
        key: String,
    },
    Http(SecretUrl),
}

impl Location {
    /// The remote location that `text` names, `None` for a local path, or an error for a
    /// URL that names no bucket. The error shows `text` as [`redacted`] makes it.
    pub fn parse(text: &str) -> Option<Result<Self, String>> {
        let (scheme, rest) = text.split_once("://")?;
        let store = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Store::S3,
            "gs" | "gcs" => Store::Gcs,
            "az" | "azure" | "abfs" => Store::Azure,
            "http" | "https" => {
                return Some(
                    Url::parse(text)
                        .map(|url| Location::Http(SecretUrl(url)))
                        .map_err(|error| format!("invalid URL {}: {error}", redacted(text))),
                )
            }
            _ => return None,
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(format!("{} names no bucket", redacted(text))));
        }
        Some(Ok(Location::Object { store, bucket: bucket.to_string(), key: key.to_string() }))
    }

    /// The remote location of an item's path, if it names one.
    pub fn of_path(path: &Path) -> Option<Self> {
        path.to_str().and_then(Self::parse).and_then(Result::ok)
    }

    /// What identifies the item: the canonical object URI, or the URL without userinfo and
    /// signing parameters.
    pub fn identity(&self) -> String {
        match self {
            Location::Object { store, bucket, key } => format!("{}://{bucket}/{key}", store.scheme()),
            Location::Http(url) => url.identity(),
        }
    }

    /// The location for messages: a URL without userinfo and without its query string.
    pub fn display(&self) -> String {
        match self {
            Location::Object { .. } => self.identity(),
            Location::Http(url) => url.shown(),
        }
    }

    /// `host:port` of a URL, or the bucket: what one slow server holds up.
    pub fn host(&self) -> String {
        match self {
            Location::Object { store, bucket, .. } => format!("{}://{bucket}", store.scheme()),
            Location::Http(url) => {
                format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
            }
        }
    }

    /// The location `relative` names beside this one (a manifest's line next to the manifest).
    pub fn join(&self, relative: &str) -> Option<Self> {
        match self {
            Location::Object { store, bucket, key } => {
                let folder = key.rfind('/').map_or("", |end| &key[..=end]);
                let key = match relative.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("{folder}{relative}"),
                };
                Some(Location::Object { store: *store, bucket: bucket.clone(), key })
            }
            Location::Http(url) => url.expose().join(relative).ok().map(|url| Location::Http(SecretUrl(url))),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Where an item's bytes are, as given: a local path, an object URI, or a URL that may carry
/// secrets. The checkpoint keeps it whole ([`Self::as_bytes`]), since a resume must fetch the
/// signed URL; everything else sees [`Self::shown`] (messages) or [`Self::identity`] (keys,
/// payloads). It has no `Display`, and its `Debug` is the shown form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Locator(PathBuf);

impl Locator {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// As the checkpoint stores it: the raw bytes, secrets included.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(PathBuf::from(OsString::from_vec(bytes)))
    }

    /// The raw bytes, secrets included: for the checkpoint alone.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_os_str().as_bytes()
    }

    /// The remote location, if it names one.
    pub fn location(&self) -> Option<Location> {
        Location::of_path(&self.0)
    }

    pub fn is_remote(&self) -> bool {
        self.location().is_some()
    }

    /// The local file or folder, if it is not remote.
    pub fn local(&self) -> Option<&Path> {
        (!self.is_remote()).then_some(self.0.as_path())
    }

    /// Whether it lies under `root`, a source folder or an object-store prefix (neither of
    /// which holds a secret).
    pub fn starts_with(&self, root: &Path) -> bool {
        self.0.starts_with(root)
    }

    /// For messages: a URL without userinfo or query string, else the path's text (which
    /// [`redacted`] cleans too when it looks like a URL that did not parse).
    pub fn shown(&self) -> Cow<'_, str> {
        match self.location() {
            Some(location) => Cow::Owned(location.display()),
            None => match crate::util::path_text(&self.0) {
                text if text.contains("://") => Cow::Owned(redacted(&text)),
                text => text,
            },
        }
    }

    /// For keys and payloads: a URL's [`Location::identity`], else the path's text.
    pub fn identity(&self) -> Cow<'_, str> {
        match self.location() {
            Some(location) => Cow::Owned(location.identity()),
            None => crate::util::path_text(&self.0),
        }
    }

    /// Whether it lies under `root` (a folder that could not be read, say).
    pub fn is_under(&self, root: &Locator) -> bool {
        self.0.starts_with(&root.0)
    }

    /// Whether both name the same image: equal, or the same URL signed twice.
    pub fn same_item(&self, other: &Locator) -> bool {
        self == other
            || match (self.location(), other.location()) {
                (Some(one), Some(other)) => one.identity() == other.identity(),
                _ => false,
            }
    }
}

impl From<&Path> for Locator {
    fn from(path: &Path) -> Self {
        Self(path.to_path_buf())
    }
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Locator").field(&self.shown()).finish()
    }
}

impl Serialize for Locator {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::util::path_serde::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Locator {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::util::path_serde::deserialize(deserializer).map(Locator)
    }
}

/// What a listing, a HEAD or a GET said of an object: enough to tell tomorrow whether it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectFacts {
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// Nanoseconds since the epoch.
    pub last_modified_ns: Option<i64>,
}

impl ObjectFacts {
    /// Whether anything is known at all.
    pub fn is_known(&self) -> bool {
        self.etag.is_some() || self.last_modified_ns.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Location {
        Location::parse(text).unwrap().unwrap()
    }

    #[test]
    fn local_paths_are_not_locations() {
        for text in ["photos/a.jpg", "/abs/a.jpg", "C:\\a.jpg", "file.jpg", "weird://x"] {
            assert!(Location::parse(text).is_none(), "{text}");
        }
        assert!(Location::parse("s3:///key").unwrap().is_err());
    }

    #[test]
    fn object_uris_have_one_canonical_form() {
        assert_eq!(parse("s3://b/photos/a.jpg").identity(), "s3://b/photos/a.jpg");
        assert_eq!(parse("azure://c/a.jpg").identity(), "az://c/a.jpg");
        assert_eq!(parse("gs://b").identity(), "gs://b/");
        assert_eq!(parse("s3://b/dir/list.jsonl").join("x/a.jpg").unwrap().identity(), "s3://b/dir/x/a.jpg");
        assert_eq!(parse("s3://b/dir/list.jsonl").join("/top.jpg").unwrap().identity(), "s3://b/top.jpg");
    }

    #[test]
    fn a_url_signed_again_is_the_same_item() {
        let monday = "https://h.example/p/a.jpg?X-Amz-Algorithm=AWS4&X-Amz-Signature=aa&X-Amz-Date=1&v=2";
        let tuesday = "https://h.example/p/a.jpg?v=2&X-Amz-Signature=bb&X-Amz-Date=2&x-amz-expires=9";
        assert_eq!(parse(monday).identity(), "https://h.example/p/a.jpg?v=2");
        assert_eq!(parse(monday).identity(), parse(tuesday).identity());
        assert!(Locator::new(monday).same_item(&Locator::new(tuesday)));
        let google = "https://storage.googleapis.com/b/a.jpg?X-Goog-Signature=1&X-Goog-Date=2";
        assert_eq!(parse(google).identity(), "https://storage.googleapis.com/b/a.jpg");
        let azure = "https://acct.blob.core.windows.net/c/a.jpg?sv=2024&se=2026&sp=r&sig=abc%3D";
        assert_eq!(parse(azure).identity(), "https://acct.blob.core.windows.net/c/a.jpg");
        assert_eq!(parse(monday).display(), "https://h.example/p/a.jpg");
        assert!(!Locator::new(monday).same_item(&Locator::new("https://h.example/p/b.jpg")));
    }

    #[test]
    fn userinfo_is_neither_shown_nor_part_of_the_identity() {
        let url = "http://user:hunter2@h.example:8080/a.jpg?v=1&X-Amz-Signature=s";
        assert_eq!(parse(url).identity(), "http://h.example:8080/a.jpg?v=1");
        assert_eq!(parse(url).display(), "http://h.example:8080/a.jpg");
        let debug = format!("{:?} {:?}", parse(url), Locator::new(url));
        assert!(!debug.contains("hunter2") && !debug.contains("X-Amz"), "{debug}");
        assert_eq!(parse("http://u@h/a.jpg").identity(), "http://h/a.jpg");
    }

    #[test]
    fn cloudfront_and_named_parameters_are_left_out_of_the_identity() {
        let cloudfront = "https://d1.cloudfront.net/a.jpg?Policy=eyJ&Signature=abc~&Key-Pair-Id=K2&w=640";
        assert_eq!(parse(cloudfront).identity(), "https://d1.cloudfront.net/a.jpg?w=640");
        let cdn = "https://cdn.example/a.jpg?token=canary-cdn-token&id=7";
        assert!(parse(cdn).identity().contains("token="), "not ignored until named");
        ignore_query_parameters(&["Token".to_string()]);
        assert_eq!(parse(cdn).identity(), "https://cdn.example/a.jpg?id=7");
    }

    #[test]
    fn redacted_text_keeps_no_query_and_no_userinfo() {
        let text = "error for url (https://u:p@h.example/a.jpg?sig=x): reset; see http://h2/b?c and s3://b/k";
        assert_eq!(redacted(text), "error for url (https://h.example/a.jpg): reset; see http://h2/b and s3://b/k");
        assert_eq!(redacted("no url here"), "no url here");
        assert_eq!(redacted("http://user:pa@ss@host/x"), "http://host/x");
    }
}
