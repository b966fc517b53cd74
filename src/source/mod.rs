//! Sources of items: folders walked recursively and manifest files, streamed one by one.

mod manifest;
mod walk;

use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::item::{Failure, Item};

pub use manifest::read_manifest;
pub use walk::{is_image_path, walk};

/// Where the items of a run come from: the sources part of a run description, stored in
/// checkpoints under the names they have always had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Folders walked recursively, and image files.
    #[serde(with = "crate::util::path_serde::list")]
    pub paths: Vec<PathBuf>,
    #[serde(with = "crate::util::path_serde::list")]
    pub manifests: Vec<PathBuf>,
    pub hidden: bool,
    pub follow_links: bool,
    /// A bad manifest line is an error for the whole run, not a failed item.
    #[serde(default)]
    pub strict_manifest: bool,
}

impl SourceSpec {
    /// Fails up front on what no item could fix: no source at all, or a source that is missing.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.paths.is_empty() && self.manifests.is_empty() {
            bail!("nothing to index: give one or more folders, or --manifest FILE");
        }
        for path in self.paths.iter().chain(&self.manifests) {
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        }
        // Strict manifests are read through once first, so that a bad line refuses the run
        // before anything is indexed.
        if self.strict_manifest {
            for manifest in &self.manifests {
                let _ = read_manifest(manifest, true, &mut |_| ControlFlow::Continue(()))?;
            }
        }
        Ok(())
    }

    /// Calls `visit` with each item (or per-item failure), folders first, then manifests.
    /// Nothing is collected: a tree of any size streams through in constant memory.
    pub fn for_each(&self, mut visit: impl FnMut(Result<Item, Failure>) -> ControlFlow<()>) -> anyhow::Result<()> {
        for root in &self.paths {
            if walk(root, self.hidden, self.follow_links, &mut visit).is_break() {
                return Ok(());
            }
        }
        for manifest in &self.manifests {
            if read_manifest(manifest, self.strict_manifest, &mut visit)?.is_break() {
                return Ok(());
            }
        }
        Ok(())
    }
}
