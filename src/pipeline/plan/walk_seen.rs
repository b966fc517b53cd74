//! What a finished walk met, so that what it did not meet can be deleted.

use std::path::PathBuf;

use crate::locator::Locator;

/// The items a finished walk found, so that the ones it did not find can be deleted.
#[derive(Debug)]
pub struct WalkSeen {
    /// One bit per item id known before the walk: set when the walk found the item.
    seen: Vec<u64>,
    last_known: i64,
    /// Folders (or links) that could not be read: what is under them may still exist.
    pub(super) unreadable: Vec<Locator>,
    /// Source folders in which the walk found nothing at all (an unmounted volume?).
    pub(super) empty_roots: Vec<Locator>,
    /// Items the walk found in each source folder, in this shard.
    pub(super) found_per_root: Vec<u64>,
    /// Items the walk found, in this shard.
    pub found: u64,
}

impl WalkSeen {
    pub(super) fn new(last_known: i64, roots: usize) -> Self {
        Self {
            seen: vec![0; last_known as usize / 64 + 1],
            last_known,
            unreadable: Vec::new(),
            empty_roots: Vec::new(),
            found_per_root: vec![0; roots],
            found: 0,
        }
    }

    pub(super) fn found(&mut self, path: &Locator, roots: &[PathBuf]) {
        self.found += 1;
        if let Some(root) = roots.iter().position(|root| path.starts_with(root)) {
            self.found_per_root[root] += 1;
        }
    }

    pub(super) fn mark(&mut self, id: i64) {
        if (0..=self.last_known).contains(&id) {
            self.seen[id as usize / 64] |= 1 << (id % 64);
        }
    }

    /// Whether this walk has met the item with this id already: found it, or discovered it.
    pub(super) fn met(&self, id: i64) -> bool {
        id > self.last_known || (id >= 0 && self.seen[id as usize / 64] & (1 << (id % 64)) != 0)
    }

    /// Whether the item with this id and path is gone: known before the walk, not found by it,
    /// and not under a folder that could not be read.
    pub fn is_missing(&self, id: i64, path: Option<&Locator>) -> bool {
        let seen = (0..=self.last_known).contains(&id) && self.seen[id as usize / 64] & (1 << (id % 64)) != 0;
        let hidden = path.is_some_and(|path| self.kept_folders().any(|(folder, _)| path.is_under(folder)));
        id <= self.last_known && !seen && !hidden
    }

    /// Folders whose items are kept although the walk did not find them, and why.
    pub fn kept_folders(&self) -> impl Iterator<Item = (&Locator, &'static str)> {
        let unreadable = self.unreadable.iter().map(|folder| (folder, "could not be read"));
        unreadable.chain(self.empty_roots.iter().map(|root| (root, "holds no images now (unmounted?)")))
    }
}
