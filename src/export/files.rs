//! Output files that appear whole or not at all: written under a temporary name beside the
//! final one, synced, then renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A file being written at `temporary`, renamed to `path` by [`Atomic::commit`].
pub struct Atomic {
    pub path: PathBuf,
    temporary: PathBuf,
}

impl Atomic {
    /// Creates `path`'s temporary sibling (and its folder) and returns the open file.
    pub fn create(path: PathBuf) -> anyhow::Result<(Self, File)> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A hidden name, which readers of the folder as a dataset (pyarrow, globs) skip.
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = path.with_file_name(format!(".{name}.tmp"));
        let file = File::create(&temporary).with_context(|| format!("cannot create {}", temporary.display()))?;
        Ok((Self { path, temporary }, file))
    }

    /// Syncs `file` (already flushed by its writer) and renames it to its final name.
    pub fn commit(self, file: &File) -> anyhow::Result<PathBuf> {
        file.sync_all().with_context(|| format!("cannot write {}", self.temporary.display()))?;
        std::fs::rename(&self.temporary, &self.path)
            .with_context(|| format!("cannot rename {} to {}", self.temporary.display(), self.path.display()))?;
        Ok(self.path)
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let (atomic, file) = Atomic::create(path.to_path_buf())?;
    let mut writer = BufWriter::new(file);
    writer.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    let file = writer.into_inner().map_err(|error| error.into_error())?;
    atomic.commit(&file)
}
