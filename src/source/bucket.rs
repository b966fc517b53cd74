//! A prefix of an object store, listed like a folder: page by page, in key order, never
//! held whole; the images are chosen by name as in a local walk.

use std::ops::ControlFlow;
use std::path::Path;

use serde_json::Map;

use crate::fetch::Remote;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::{Location, Locator};

use super::walk::is_image_path;

/// Lists `prefix` after `offset` (a key), calling `visit` with each image. A listing that
/// fails part-way fails as one item of class `walk`, so that `--delete-missing` keeps what
/// the listing did not reach.
pub fn list_prefix(
    remote: &Remote,
    root: &Path,
    prefix: &Location,
    offset: Option<&str>,
    hidden: bool,
    visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let listed = remote.list(prefix, offset, |listed| {
        let Location::Object { key, .. } = &listed.location else { return ControlFlow::Continue(()) };
        let name = Path::new(key.as_str());
        let hidden_part = name.components().any(|part| part.as_os_str().as_encoded_bytes().first() == Some(&b'.'));
        if !is_image_path(name) || (hidden_part && !hidden) {
            return ControlFlow::Continue(());
        }
        let uri = listed.location.identity();
        let mut item = Item::new(uri.clone(), Locator::new(uri), Map::new());
        item.object = Some(listed.facts);
        visit(Ok(item))
    });
    match listed {
        Ok(flow) => flow,
        Err(error) => visit(Err(Failure {
            key: prefix.identity(),
            path: Some(Locator::from(root)),
            class: ErrorClass::Walk,
            message: format!("cannot list {prefix}: {error}"),
        })),
    }
}
