use std::ffi::OsStr;
use std::ops::ControlFlow;
use std::path::Path;

use serde_json::Map;
use walkdir::WalkDir;

use crate::item::{ErrorClass, Failure, Item};

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| IMAGE_EXTENSIONS.iter().any(|known| ext.eq_ignore_ascii_case(known)))
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Walks `root` in a stable (sorted) order. A file given directly is taken whatever its extension.
pub fn walk(
    root: &Path,
    hidden: bool,
    follow_links: bool,
    visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let entries = WalkDir::new(root)
        .follow_links(follow_links)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| hidden || entry.depth() == 0 || !is_hidden(entry.file_name()));
    for entry in entries {
        let outcome = match entry {
            Ok(entry) if entry.file_type().is_dir() => continue,
            // A folder named on the command line may be a symlink; walkdir descends into it.
            Ok(entry) if entry.depth() == 0 && entry.path().is_dir() => continue,
            Ok(entry) if entry.depth() > 0 && !is_image_path(entry.path()) => continue,
            // Without --follow-links a symlink is skipped, as fd and ripgrep do.
            Ok(entry) if entry.path_is_symlink() && !follow_links && entry.depth() > 0 => continue,
            Ok(entry) => Ok(Item {
                key: entry.path().to_string_lossy().into_owned(),
                path: entry.into_path(),
                fields: Map::new(),
            }),
            Err(error) => Err(walk_failure(root, &error)),
        };
        visit(outcome)?;
    }
    ControlFlow::Continue(())
}

fn walk_failure(root: &Path, error: &walkdir::Error) -> Failure {
    let path = error.path().unwrap_or(root).to_path_buf();
    let class = match error.io_error() {
        _ if error.loop_ancestor().is_some() => ErrorClass::Walk,
        Some(io) => ErrorClass::from_io(io),
        None => ErrorClass::Walk,
    };
    let message = match error.io_error() {
        Some(io) => io.to_string(),
        None => error.to_string(),
    };
    Failure { key: path.to_string_lossy().into_owned(), path: Some(path), class, message }
}
