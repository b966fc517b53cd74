//! Sources of items: folders walked recursively, object-store prefixes listed, and manifest
//! files (local or remote), streamed one by one.

mod bucket;
mod manifest;
mod walk;

use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::fetch::{Remote, RemoteOptions};
use crate::item::{Failure, Item};
use crate::locator::{Location, Locator};

pub use manifest::read_manifest;
pub use walk::{is_image_path, walk};

/// Where the items of a run come from: the sources part of a run description, stored in
/// checkpoints under the names they have always had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Folders walked recursively, and image files.
    #[serde(with = "crate::util::path_serde::list")]
    pub paths: Vec<PathBuf>,
    /// Local files or remote objects and URLs, presigned ones as given (the checkpoint keeps them).
    pub manifests: Vec<Locator>,
    pub hidden: bool,
    pub follow_links: bool,
    /// A bad manifest line is an error for the whole run, not a failed item.
    #[serde(default)]
    pub strict_manifest: bool,
    /// How object stores are reached.
    #[serde(default)]
    pub remote: RemoteOptions,
    /// Query parameters that identities leave out besides the signing ones (`--ignore-query-param`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_query_params: Vec<String>,
}

/// Where a listing of a prefix starts again, by the source path as given.
pub type ListingOffsets<'a> = &'a dyn Fn(&std::path::Path) -> Option<String>;

impl SourceSpec {
    /// Fails up front on what no item could fix: no source at all, a source that is missing,
    /// or a remote one that cannot be read (no bucket, refused credentials, no endpoint).
    pub fn validate(&self, remote: &Remote) -> anyhow::Result<()> {
        if self.paths.is_empty() && self.manifests.is_empty() {
            bail!("nothing to index: give one or more folders, or --manifest FILE");
        }
        self.check_remote(remote)?;
        let local_paths = self.paths.iter().filter(|path| Location::of_path(path).is_none());
        for path in local_paths.map(PathBuf::as_path).chain(self.manifests.iter().filter_map(Locator::local)) {
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        }
        // Strict manifests are read through once first, so that a bad line refuses the run
        // before anything is indexed.
        if self.strict_manifest {
            for manifest in &self.manifests {
                let _ = read_manifest(manifest, true, remote, &mut |_| ControlFlow::Continue(()))?;
            }
        }
        Ok(())
    }

    /// Checks that every remote source can be read, before a model loads.
    pub fn check_remote(&self, remote: &Remote) -> anyhow::Result<()> {
        for path in &self.paths {
            if let Some(parsed) = path.to_str().and_then(Location::parse) {
                let location = parsed.map_err(anyhow::Error::msg)?;
                if matches!(location, Location::Http(_)) {
                    bail!("{location} is a URL: give URLs in a --manifest, and prefixes as s3://, gs:// or az://");
                }
                remote.check(&location)?;
            }
        }
        for manifest in &self.manifests {
            if let Some(location) = manifest.location() {
                remote.check(&location)?;
            }
        }
        Ok(())
    }

    /// Whether a source is a remote prefix, which a listing resumes from a recorded key.
    pub fn is_listed_prefix(path: &std::path::Path) -> bool {
        matches!(Location::of_path(path), Some(Location::Object { .. }))
    }

    /// Calls `visit` with each item (or per-item failure), folders and prefixes first, then
    /// manifests. Nothing is collected: a tree of any size streams through in constant
    /// memory. A prefix is listed after the key `offsets` gives for it.
    pub fn for_each(
        &self,
        remote: &Remote,
        offsets: ListingOffsets<'_>,
        mut visit: impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<()> {
        for root in &self.paths {
            let flow = match Location::of_path(root) {
                Some(prefix) => {
                    bucket::list_prefix(remote, root, &prefix, offsets(root).as_deref(), self.hidden, &mut visit)
                }
                None => walk(root, self.hidden, self.follow_links, &mut visit),
            };
            if flow.is_break() {
                return Ok(());
            }
        }
        for manifest in &self.manifests {
            if read_manifest(manifest, self.strict_manifest, remote, &mut visit)?.is_break() {
                return Ok(());
            }
        }
        Ok(())
    }
}
