//! Discovering items: recording what a walk or a manifest found, once, and never dropping one.

use rusqlite::params;

use super::items::{fields_json, stamp_columns, FileStamp, ItemState};
use super::{now_millis, Checkpoint, Result};
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::Locator;

impl Checkpoint {
    /// Adds newly discovered items as pending (with the stamp of their file), and source
    /// failures as failed, in one transaction. Returns the entries that were not known before,
    /// in order.
    ///
    /// An entry whose key is already recorded with the same path is that item again (a file
    /// under two source folders, a manifest line repeated) and is skipped. One whose key is
    /// recorded with another path is a collision (two manifest lines with one `id`, or an `id`
    /// that is also a walked file's path): it can have no point of its own, since the point ID
    /// derives from the key, so it is recorded as failed, class `manifest`, under the key
    /// `KEY#duplicate:PATH` (the path's identity: no signature, no userinfo), and returned as
    /// that failure, so that the run reports it.
    pub fn discover(
        &mut self,
        batch: Vec<(Result<Item, Failure>, Option<FileStamp>)>,
    ) -> Result<Vec<Result<Item, Failure>>> {
        let now = now_millis();
        self.in_transaction(|transaction| {
            let mut new_items = Vec::with_capacity(batch.len());
            let mut insert = transaction.prepare_cached(
                "INSERT INTO items (key, path, fields, state, attempts, error_class, error_message, discovered_at,
                         updated_at, size, mtime_ns, content_hash)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?7, ?8, ?9, ?10) ON CONFLICT (key) DO NOTHING",
            )?;
            let mut holder = transaction.prepare_cached("SELECT path FROM items WHERE key = ?1")?;
            for (entry, stamp) in batch {
                let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                let mut record = |entry: &Result<Item, Failure>| match entry {
                    Ok(item) => insert.execute(params![
                        item.key,
                        item.path.as_bytes(),
                        fields_json(&item.fields),
                        ItemState::Pending as i64,
                        None::<String>,
                        None::<String>,
                        now,
                        size,
                        mtime_ns,
                        hash
                    ]),
                    // The commit stage records the attempt, as for any failure.
                    Err(failure) => insert.execute(params![
                        failure.key,
                        failure.path.as_ref().map(Locator::as_bytes),
                        None::<String>,
                        ItemState::Failed as i64,
                        failure.class.as_str(),
                        failure.message,
                        now,
                        size,
                        mtime_ns,
                        hash
                    ]),
                };
                let (key, path) = match &entry {
                    Ok(item) => (item.key.clone(), Some(item.path.clone())),
                    Err(failure) => (failure.key.clone(), failure.path.clone()),
                };
                let bytes = path.as_ref().map(|p| p.as_bytes().to_vec());
                let mut entry = entry;
                for attempt in 0.. {
                    if record(&entry)? == 1 {
                        new_items.push(entry);
                        break;
                    }
                    let taken_by: Option<Vec<u8>> = holder.query_row([entry_key(&entry)], |row| row.get(0))?;
                    // The same URL signed again is the same item.
                    let same = match (&taken_by, &path) {
                        (Some(taken), Some(path)) => Locator::from_bytes(taken.clone()).same_item(path),
                        _ => taken_by == bytes,
                    };
                    if same {
                        break;
                    }
                    // The first try found the key taken by another path, any later one the
                    // derived key (by a name that spells it, if ever): the next one is tried.
                    let derived = match attempt {
                        0 => format!("{key}#duplicate:"),
                        n => format!("{key}#duplicate{}:", n + 1),
                    } + &path.as_ref().map_or_else(String::new, |p| p.identity().into_owned());
                    let other = taken_by.map(Locator::from_bytes);
                    entry = Err(collision(entry, &key, derived, other.as_ref()));
                }
            }
            Ok(new_items)
        })
    }
}

fn entry_key(entry: &Result<Item, Failure>) -> &str {
    match entry {
        Ok(item) => &item.key,
        Err(failure) => &failure.key,
    }
}

/// The failure, under `derived`, of an entry whose key another path holds: a failure keeps
/// its own class and message, an item fails for the collision.
fn collision(entry: Result<Item, Failure>, key: &str, derived: String, other: Option<&Locator>) -> Failure {
    match entry {
        Err(failure) => Failure { key: derived, ..failure },
        Ok(item) => {
            let other = other.map_or_else(|| key.to_string(), |path| path.shown().into_owned());
            let message = format!("its key {key} is already the key of {other}; give each item its own id");
            Failure { key: derived, path: Some(item.path), class: ErrorClass::Manifest, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::checkpoint::Totals;

    fn at(key: &str, path: &str) -> (Result<Item, Failure>, Option<FileStamp>) {
        (Ok(Item::new(key.into(), Locator::new(path), Map::new())), None)
    }

    #[test]
    fn the_same_item_twice_is_discovered_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let new = checkpoint.discover(vec![at("a", "photos/a.jpg"), at("a", "photos/a.jpg")]).unwrap();
        assert_eq!(new.len(), 1);
        assert!(checkpoint.discover(vec![at("a", "photos/a.jpg")]).unwrap().is_empty());
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 1, pending: 1, ..Totals::default() });
    }

    #[test]
    fn a_key_that_another_path_holds_fails_instead_of_vanishing() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let new = checkpoint.discover(vec![at("id-1", "a.jpg"), at("id-1", "b.jpg")]).unwrap();
        assert_eq!(new.len(), 2, "{new:?}");
        let failure = new[1].as_ref().unwrap_err();
        assert_eq!(failure.key, "id-1#duplicate:b.jpg");
        assert_eq!(failure.path, Some(Locator::new("b.jpg")));
        assert_eq!(failure.class, ErrorClass::Manifest);
        assert_eq!(failure.message, "its key id-1 is already the key of a.jpg; give each item its own id");
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 2, pending: 1, failed: 1, ..Totals::default() });

        // In a later chunk, and in a later run, the same collision is already recorded.
        assert!(checkpoint.discover(vec![at("id-1", "b.jpg")]).unwrap().is_empty());
        // A third path with that key gets its own failure.
        let new = checkpoint.discover(vec![at("id-1", "c.jpg")]).unwrap();
        assert_eq!(new[0].as_ref().unwrap_err().key, "id-1#duplicate:c.jpg");
        // Even where a name spells the derived key, nothing is dropped.
        let new = checkpoint.discover(vec![at("id-2#duplicate:e.jpg", "d.jpg"), at("id-2", "x.jpg")]).unwrap();
        assert_eq!(new.len(), 2);
        let new = checkpoint.discover(vec![at("id-2", "e.jpg")]).unwrap();
        assert_eq!(new[0].as_ref().unwrap_err().key, "id-2#duplicate2:e.jpg");
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 6, pending: 3, failed: 3, ..Totals::default() });
        let errors = checkpoint.errors(5).unwrap();
        assert_eq!(errors[0].class, "manifest");
        assert_eq!(errors[0].examples[0], "b.jpg: its key id-1 is already the key of a.jpg; give each item its own id");
    }

    #[test]
    fn a_failure_whose_key_another_path_holds_keeps_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let walk = Failure {
            key: "k".into(),
            path: Some(Locator::new("broken-link")),
            class: ErrorClass::Walk,
            message: "a link loop".into(),
        };
        let new = checkpoint.discover(vec![at("k", "k.jpg"), (Err(walk), None)]).unwrap();
        let failure = new[1].as_ref().unwrap_err();
        assert_eq!((failure.key.as_str(), failure.class), ("k#duplicate:broken-link", ErrorClass::Walk));
        assert_eq!(failure.message, "a link loop");
    }
}
