//! A collection's points written to files that other tools read: JSON lines, one parquet
//! table, or clip-retrieval's `.npy` embeddings beside parquet metadata; and read back by
//! `import`. Points are scrolled in pages and written as they come, so memory holds a page
//! (and, for parquet, one row group) whatever the size of the collection.

mod files;
pub mod npy;
pub mod read;
pub mod schema;
mod write;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use read::{read_export, ExportReader};
pub use write::{export, Options};

/// The file layouts `export` writes and `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `points_N.jsonl`: one `{"id", "vector", "payload"}` object a line.
    Jsonl,
    /// `points_N.parquet`: `id`, `vector` (fixed-size list of float32) and one typed column
    /// per payload field.
    Parquet,
    /// `img_emb/img_emb_N.npy` and `metadata/metadata_N.parquet`, row for row, as
    /// clip-retrieval's inference writes them (autofaiss and `clip back` read them).
    ClipRetrieval,
}

/// `_imbed-export.json`, written last: what the folder holds, so that a folder without it is
/// known to be an export that did not finish.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: Format,
    pub dimension: usize,
    pub rows: u64,
    /// Relative to the folder, in row order; for clip-retrieval the `.npy` files, each with
    /// the metadata file of the same number.
    pub files: Vec<PathBuf>,
    #[serde(default)]
    pub half: bool,
    /// What the embedded store kept beside the collection (model, preprocessing), so that an
    /// import into a new store can search it the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_info: Option<crate::sink::CollectionInfo>,
}

// Leading `_`: pyarrow and Spark skip it when they read the folder as one dataset.
pub const MANIFEST: &str = "_imbed-export.json";

impl Manifest {
    pub fn read(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes)
                    .map_err(|error| anyhow::anyhow!("cannot parse {}: {error}", path.display()))?,
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(anyhow::anyhow!("cannot read {}: {error}", path.display())),
        }
    }
}

/// File `number` of `count`, numbered as clip-retrieval does: zero-padded to the width of the
/// count, so that sorting the names keeps the row order.
fn numbered(stem: &str, number: usize, count: usize, extension: &str) -> String {
    let width = count.max(1).to_string().len();
    format!("{stem}_{number:0width$}.{extension}")
}
