//! What an item's path names: a local file, an object in a store (`s3://`, `gs://`, `az://`)
//! or an HTTP(S) URL; and the facts an object store or server gives about an object.
//!
//! A remote item keeps its locator, as given, in the `path` that every stage carries. A
//! presigned URL's signature expires and changes, so it is never part of what identifies the
//! item ([`Location::identity`]) nor of what any message or payload shows
//! ([`Location::display`]).

use std::fmt;
use std::path::Path;

use url::Url;

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
    Http(Url),
}

/// Query parameters of presigned URLs: AWS SigV4 and GCS V4 (`X-Amz-*`, `X-Goog-*`, matched
/// case-insensitively), and Azure SAS tokens.
fn is_signature_parameter(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-amz-")
        || lower.starts_with("x-goog-")
        || matches!(lower.as_str(), "sig" | "se" | "sp" | "sv" | "st" | "spr" | "sr" | "srt" | "ss" | "skoid" | "sktid")
        // AWS SigV2 and GCS V2 presigned URLs.
        || matches!(lower.as_str(), "awsaccesskeyid" | "signature" | "expires" | "googleaccessid")
}

impl Location {
    /// The remote location that `text` names, `None` for a local path, or an error for a
    /// URL that names no bucket.
    pub fn parse(text: &str) -> Option<Result<Self, String>> {
        let (scheme, rest) = text.split_once("://")?;
        let store = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Store::S3,
            "gs" | "gcs" => Store::Gcs,
            "az" | "azure" | "abfs" => Store::Azure,
            "http" | "https" => {
                return Some(
                    Url::parse(text).map(Location::Http).map_err(|error| format!("invalid URL {text}: {error}")),
                )
            }
            _ => return None,
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(format!("{text} names no bucket")));
        }
        Some(Ok(Location::Object { store, bucket: bucket.to_string(), key: key.to_string() }))
    }

    /// The remote location of an item's path, if it names one.
    pub fn of_path(path: &Path) -> Option<Self> {
        path.to_str().and_then(Self::parse).and_then(Result::ok)
    }

    /// What identifies the item: the canonical object URI, or the URL without its signature.
    pub fn identity(&self) -> String {
        match self {
            Location::Object { store, bucket, key } => format!("{}://{bucket}/{key}", store.scheme()),
            Location::Http(url) => {
                let mut unsigned = url.clone();
                unsigned.set_fragment(None);
                let kept: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(name, _)| !is_signature_parameter(name))
                    .map(|(n, v)| (n.into(), v.into()))
                    .collect();
                if kept.is_empty() {
                    unsigned.set_query(None);
                } else {
                    unsigned.query_pairs_mut().clear().extend_pairs(kept);
                }
                unsigned.to_string()
            }
        }
    }

    /// The location for messages: a URL with its whole query string cut off.
    pub fn display(&self) -> String {
        match self {
            Location::Object { .. } => self.identity(),
            Location::Http(url) => {
                let mut shown = url.clone();
                shown.set_query(None);
                shown.set_fragment(None);
                shown.to_string()
            }
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
            Location::Http(url) => url.join(relative).ok().map(Location::Http),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Whether two item paths name the same image: equal, or the same URL signed twice.
pub fn same_location(one: &Path, other: &Path) -> bool {
    one == other
        || match (Location::of_path(one), Location::of_path(other)) {
            (Some(one), Some(other)) => one.identity() == other.identity(),
            _ => false,
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
        assert!(same_location(Path::new(monday), Path::new(tuesday)));
        let google = "https://storage.googleapis.com/b/a.jpg?X-Goog-Signature=1&X-Goog-Date=2";
        assert_eq!(parse(google).identity(), "https://storage.googleapis.com/b/a.jpg");
        let azure = "https://acct.blob.core.windows.net/c/a.jpg?sv=2024&se=2026&sp=r&sig=abc%3D";
        assert_eq!(parse(azure).identity(), "https://acct.blob.core.windows.net/c/a.jpg");
        assert_eq!(parse(monday).display(), "https://h.example/p/a.jpg");
        assert!(!same_location(Path::new(monday), Path::new("https://h.example/p/b.jpg")));
    }
}
