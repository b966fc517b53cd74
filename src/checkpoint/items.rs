//! The items of a run: their states, what is known of them, and their outcomes.

use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

use super::{classify, now_millis, Checkpoint, CheckpointError, Result};
use crate::item::{Failure, Item};
use crate::locator::{Locator, ObjectFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Pending = 0,
    Done = 1,
    Failed = 2,
    /// The file disappeared and `--delete-missing` removed its point.
    Deleted = 3,
    /// Its bytes equal those of a done item (`--skip-duplicates`): it has no point of its own.
    Duplicate = 4,
}

impl ItemState {
    /// The state stored as `code`, or `None` for a code this version does not know.
    pub(super) fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Pending),
            1 => Some(Self::Done),
            2 => Some(Self::Failed),
            3 => Some(Self::Deleted),
            4 => Some(Self::Duplicate),
            _ => None,
        }
    }
}

impl Checkpoint {
    /// The state stored as `code`; an unknown one is an error, not a guess.
    pub(super) fn state(&self, code: i64) -> Result<ItemState> {
        ItemState::from_code(code).ok_or_else(|| CheckpointError::UnknownState { path: self.path.clone(), code })
    }
}

/// What an item's file looked like when it was last planned: an incremental run compares it
/// with the file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// xxh3-128 of the content, with `--verify-content`.
    pub hash: Option<u128>,
}

impl FileStamp {
    /// The stamp of a remote object: its size, its Last-Modified time, and a hash of its
    /// ETag (quotes and a weak marker aside); `None` when nothing is known of it.
    pub fn of_object(facts: &ObjectFacts) -> Option<Self> {
        if !facts.is_known() {
            return None;
        }
        let etag = facts.etag.as_deref().map(|etag| etag.trim_start_matches("W/").trim_matches('"'));
        Some(Self {
            size: facts.size.unwrap_or(0),
            mtime_ns: facts.last_modified_ns.unwrap_or(0),
            hash: etag.map(|etag| xxhash_rust::xxh3::xxh3_128(etag.as_bytes())),
        })
    }
}

/// What the checkpoint holds for a key, for an incremental run to compare with.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: i64,
    pub state: ItemState,
    pub stamp: Option<FileStamp>,
    pub path: Option<Locator>,
    pub fields: Option<String>,
}

/// What an item's bytes and pixels hash to, kept for `--skip-duplicates` and `dupes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHashes {
    /// xxh3-128 of the file's bytes (`None` when they could not be read apart from the decode).
    pub bytes: Option<u128>,
    /// The perceptual hash of its decoded pixels.
    pub phash: u64,
}

/// The outcome of one committed batch.
pub enum Outcome<'a> {
    /// Stored; with the stamp of the remote object as it was downloaded.
    Done(&'a str, Option<FileStamp>, Option<ContentHashes>),
    /// Not stored: its bytes (hashed to `bytes_hash`) are those of the done item `of`.
    Duplicate {
        key: &'a str,
        of: &'a str,
        bytes_hash: u128,
        stamp: Option<FileStamp>,
    },
    Failed(&'a Failure),
}

impl Checkpoint {
    /// What the checkpoint holds for each key (`None` for a key it has never seen), read in
    /// one transaction.
    pub fn known(&mut self, keys: &[&str]) -> Result<Vec<Option<Known>>> {
        let rows = self.in_transaction(|transaction| {
            let mut found = Vec::with_capacity(keys.len());
            let mut lookup = transaction.prepare_cached(
                "SELECT id, state, size, mtime_ns, content_hash, path, fields FROM items WHERE key = ?1",
            )?;
            for key in keys {
                let row = lookup.query_row([key], |row| {
                    let size: Option<i64> = row.get(2)?;
                    let mtime_ns: Option<i64> = row.get(3)?;
                    let hash: Option<Vec<u8>> = row.get(4)?;
                    let stamp = size.zip(mtime_ns).map(|(size, mtime_ns)| FileStamp {
                        size: size as u64,
                        mtime_ns,
                        hash: hash.and_then(|bytes| bytes.try_into().ok()).map(u128::from_be_bytes),
                    });
                    let path: Option<Vec<u8>> = row.get(5)?;
                    let state: i64 = row.get(1)?;
                    let known = Known {
                        id: row.get(0)?,
                        state: ItemState::Pending,
                        stamp,
                        path: path.map(Locator::from_bytes),
                        fields: row.get(6)?,
                    };
                    Ok((state, known))
                });
                found.push(row.optional()?);
            }
            Ok(found)
        })?;
        let state = |(code, known): (i64, Known)| Ok(Known { state: self.state(code)?, ..known });
        rows.into_iter().map(|row| row.map(state).transpose()).collect()
    }

    /// Records new stamps of known items in one transaction. `requeue` items changed and go
    /// back to pending, with the path and payload fields they have now.
    pub fn restamp(&mut self, updates: &[(i64, &Item, Option<FileStamp>, bool)]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        self.in_transaction(|transaction| {
            let mut requeue = transaction.prepare_cached(
                "UPDATE items SET state = 0, attempts = 0, path = ?2, fields = ?3, size = ?4, mtime_ns = ?5,
                         content_hash = ?6, updated_at = ?7 WHERE id = ?1",
            )?;
            let mut restamp = transaction
                .prepare_cached("UPDATE items SET size = ?2, mtime_ns = ?3, content_hash = ?4 WHERE id = ?1")?;
            let mut copies = transaction.prepare_cached(REQUEUE_COPIES)?;
            for (id, item, stamp, requeued) in updates {
                let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                if *requeued {
                    let fields = fields_json(&item.fields);
                    // Its copies no longer have its bytes' point to stand on.
                    copies.execute([id])?;
                    requeue.execute(params![id, item.path.as_bytes(), fields, size, mtime_ns, hash, now])
                } else {
                    restamp.execute(params![id, size, mtime_ns, hash])
                }?;
            }
            Ok(())
        })
    }

    /// Puts every item that was embedded or failed back to pending, for `--reindex`.
    pub fn requeue_all(&self) -> Result<u64> {
        let changed = self
            .connection
            .execute(&format!("UPDATE items SET state = 0, attempts = 0 WHERE state = 1 OR ({RETRYABLE})"), []);
        self.sql(changed).map(|n| n as u64)
    }

    /// Up to `limit` items that are not deleted, with an id above `after`: (id, key, path).
    pub fn present_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String, Option<Locator>)>> {
        let mut statement = self.sql(
            self.connection
                .prepare_cached("SELECT id, key, path FROM items WHERE state != 3 AND id > ?1 ORDER BY id LIMIT ?2"),
        )?;
        let rows = statement.query_map(params![after, limit as i64], |row| {
            let path: Option<Vec<u8>> = row.get(2)?;
            Ok((row.get(0)?, row.get(1)?, path.map(Locator::from_bytes)))
        });
        let items = self.sql(rows)?.collect::<rusqlite::Result<_>>();
        items.map_err(|source| classify(&self.path, source))
    }

    /// Marks items deleted, in one transaction.
    pub fn mark_deleted(&mut self, ids: &[i64]) -> Result<()> {
        let now = now_millis();
        self.in_transaction(|transaction| {
            let mut delete = transaction.prepare_cached(
                "UPDATE items SET state = 3, error_class = NULL, error_message = NULL, updated_at = ?2 WHERE id = ?1",
            )?;
            let mut copies = transaction.prepare_cached(REQUEUE_COPIES)?;
            for id in ids {
                copies.execute([id])?;
                delete.execute(params![id, now])?;
            }
            Ok(())
        })
    }

    /// Up to `limit` pending items with an id above `after`, with their ids, in id order.
    pub fn pending_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, Item)>> {
        let mut statement = self.sql(self.connection.prepare_cached(
            "SELECT id, key, path, fields FROM items WHERE state = 0 AND id > ?1 ORDER BY id LIMIT ?2",
        ))?;
        let rows = statement.query_map(params![after, limit as i64], |row| {
            let id: i64 = row.get(0)?;
            let key: String = row.get(1)?;
            let path: Option<Vec<u8>> = row.get(2)?;
            let fields: Option<String> = row.get(3)?;
            Ok((id, key, path, fields))
        });
        let rows = self.sql(rows)?;
        let mut items = Vec::new();
        for row in rows {
            let (id, key, path, fields) = self.sql(row)?;
            let path = Locator::from_bytes(path.unwrap_or_default());
            let fields = match fields {
                Some(text) => serde_json::from_str::<Map<String, Value>>(&text)
                    .map_err(|source| CheckpointError::Fields { path: self.path.clone(), key: key.clone(), source })?,
                None => Map::new(),
            };
            items.push((id, Item::new(key, path, fields)));
        }
        Ok(items)
    }

    /// The highest item id so far (0 when empty).
    pub fn max_id(&self) -> Result<i64> {
        self.sql(self.connection.query_row("SELECT coalesce(max(id), 0) FROM items", [], |row| row.get(0)))
    }

    /// Records the outcomes of one committed batch in one transaction.
    pub fn commit(&mut self, outcomes: &[Outcome<'_>]) -> Result<()> {
        let now = now_millis();
        self.in_transaction(|transaction| {
            let mut done = transaction
                .prepare_cached(
                    "UPDATE items SET state = 1, attempts = attempts + 1, error_class = NULL, error_message = NULL, updated_at = ?2,
                         size = coalesce(?3, size), mtime_ns = coalesce(?4, mtime_ns), content_hash = coalesce(?5, content_hash),
                         bytes_hash = ?6, phash = ?7, duplicate_of = NULL
                     WHERE key = ?1",
                )
                ?;
            let mut duplicate = transaction
                .prepare_cached(
                    "UPDATE items SET state = 4, attempts = attempts + 1, error_class = NULL, error_message = NULL, updated_at = ?2,
                         size = coalesce(?3, size), mtime_ns = coalesce(?4, mtime_ns), content_hash = coalesce(?5, content_hash),
                         bytes_hash = ?6, phash = NULL, duplicate_of = ?7
                     WHERE key = ?1",
                )
                ?;
            let mut failed = transaction
                .prepare_cached(
                    "INSERT INTO items (key, path, state, attempts, error_class, error_message, discovered_at, updated_at)
                     VALUES (?1, ?2, 2, 1, ?3, ?4, ?5, ?5)
                     ON CONFLICT (key) DO UPDATE SET state = 2, attempts = attempts + 1,
                         error_class = excluded.error_class, error_message = excluded.error_message, updated_at = excluded.updated_at",
                )
                ?;
            for outcome in outcomes {
                match outcome {
                    Outcome::Done(key, stamp, hashes) => {
                        let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                        let bytes_hash = hashes.and_then(|hashes| hashes.bytes).map(u128::to_be_bytes);
                        // SQLite integers are signed: the 64 bits are kept as they are.
                        let phash = hashes.map(|hashes| hashes.phash as i64);
                        done.execute(params![key, now, size, mtime_ns, hash, bytes_hash, phash])
                    }
                    Outcome::Duplicate { key, of, bytes_hash, stamp } => {
                        let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                        duplicate.execute(params![key, now, size, mtime_ns, hash, bytes_hash.to_be_bytes(), of])
                    }
                    Outcome::Failed(failure) => failed.execute(params![
                        failure.key,
                        failure.path.as_ref().map(Locator::as_bytes),
                        failure.class.as_str(),
                        failure.message,
                        now
                    ]),
                }
                ?;
            }
        Ok(())
        })
    }

    /// Puts failed items (all, or those of `classes`) back to pending. Returns how many.
    pub fn requeue_failed(&self, classes: &[&str]) -> Result<u64> {
        let changed = if classes.is_empty() {
            self.connection.execute(&format!("UPDATE items SET state = 0 WHERE {RETRYABLE}"), [])
        } else {
            let placeholders = vec!["?"; classes.len()].join(", ");
            let sql = format!("UPDATE items SET state = 0 WHERE {RETRYABLE} AND error_class IN ({placeholders})");
            self.connection.execute(&sql, rusqlite::params_from_iter(classes))
        };
        self.sql(changed).map(|n| n as u64)
    }

    /// Puts items that failed transiently (sink or model errors) back to pending while they
    /// have attempts left; decode errors are not retried automatically.
    pub fn requeue_transient(&self, max_attempts: u32) -> Result<u64> {
        let changed = self.connection.execute(
            "UPDATE items SET state = 0 WHERE state = 2 AND error_class IN ('sink', 'model') AND attempts < ?1",
            [i64::from(max_attempts)],
        );
        self.sql(changed).map(|n| n as u64)
    }

    /// Puts duplicates whose original here is no longer done (it failed, or was deleted or
    /// requeued) back to pending, so that they are embedded themselves. An original that this
    /// checkpoint does not hold (a point imbed wrote from elsewhere) is trusted. Returns how many.
    pub fn requeue_orphaned_duplicates(&self) -> Result<u64> {
        let changed = self.connection.execute(
            "UPDATE items SET state = 0, attempts = 0, duplicate_of = NULL WHERE state = 4
                 AND EXISTS (SELECT 1 FROM items AS original WHERE original.key = items.duplicate_of AND original.state != 1)",
            [],
        );
        self.sql(changed).map(|n| n as u64)
    }

    /// The bytes hash and key of every done item that has one, for `--skip-duplicates`.
    pub fn done_hashes(&self, mut visit: impl FnMut(u128, String)) -> Result<()> {
        let mut statement = self.sql(
            self.connection.prepare("SELECT bytes_hash, key FROM items WHERE state = 1 AND bytes_hash IS NOT NULL"),
        )?;
        let rows =
            self.sql(statement.query_map([], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))))?;
        for row in rows {
            let (hash, key) = self.sql(row)?;
            if let Ok(hash) = <[u8; 16]>::try_from(hash) {
                visit(u128::from_be_bytes(hash), key);
            }
        }
        Ok(())
    }

    /// The key of the item that `key` is a duplicate of, if it is one.
    pub fn duplicate_of(&self, key: &str) -> Result<Option<String>> {
        let found = self
            .connection
            .query_row("SELECT duplicate_of FROM items WHERE key = ?1 AND state = 4", [key], |row| row.get(0))
            .optional();
        self.sql(found).map(Option::flatten)
    }
}

/// Puts the duplicates of item `?1` back to pending: it changed or is gone.
const REQUEUE_COPIES: &str = "UPDATE items SET state = 0, attempts = 0, duplicate_of = NULL
     WHERE state = 4 AND duplicate_of = (SELECT key FROM items WHERE id = ?1)";

/// Failed items that name an image to retry: walk and manifest failures name a folder or a
/// manifest line instead.
const RETRYABLE: &str = "state = 2 AND path IS NOT NULL AND coalesce(error_class, '') NOT IN ('walk', 'manifest')";

pub(super) fn stamp_columns(stamp: Option<&FileStamp>) -> (Option<i64>, Option<i64>, Option<[u8; 16]>) {
    match stamp {
        Some(stamp) => (Some(stamp.size as i64), Some(stamp.mtime_ns), stamp.hash.map(u128::to_be_bytes)),
        None => (None, None, None),
    }
}

pub(crate) fn fields_json(fields: &Map<String, Value>) -> Option<String> {
    (!fields.is_empty()).then(|| Value::Object(fields.clone()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{CheckpointError, Totals};
    use crate::item::ErrorClass;

    fn item(key: &str) -> Item {
        Item::new(key.into(), Locator::new(key), Map::new())
    }

    #[test]
    fn discovers_once_and_commits_states() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let new = checkpoint.discover(vec![(Ok(item("a")), None), (Ok(item("b")), None)]).unwrap();
        assert_eq!(new.len(), 2);
        let again = checkpoint.discover(vec![(Ok(item("a")), None), (Ok(item("c")), None)]).unwrap();
        assert_eq!(again.len(), 1, "only c is new");
        let failure = Failure { key: "b".into(), path: None, class: ErrorClass::Corrupt, message: "bad".into() };
        checkpoint.commit(&[Outcome::Done("a", None, None), Outcome::Failed(&failure)]).unwrap();
        assert_eq!(
            checkpoint.totals().unwrap(),
            Totals { total: 3, done: 1, failed: 1, pending: 1, ..Totals::default() }
        );
        let pending = checkpoint.pending_after(0, 10).unwrap();
        assert_eq!(pending.iter().map(|(_, i)| i.key.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(checkpoint.requeue_failed(&["corrupt"]).unwrap(), 1);
        assert_eq!(checkpoint.totals().unwrap().pending, 2);
        let errors = checkpoint.errors(3).unwrap();
        assert!(errors.is_empty());
    }

    #[test]
    fn a_duplicate_is_counted_and_goes_back_to_pending_when_its_original_changes_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let keys = ["a", "b", "c"];
        checkpoint.discover(keys.iter().map(|key| (Ok(item(key)), None)).collect()).unwrap();
        let hashes = ContentHashes { bytes: Some(42), phash: u64::MAX };
        let copy = |key| Outcome::Duplicate { key, of: "a", bytes_hash: 42, stamp: None };
        checkpoint.commit(&[Outcome::Done("a", None, Some(hashes)), copy("b"), copy("c")]).unwrap();
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 3, done: 1, duplicate: 2, ..Totals::default() });
        let mut seen = Vec::new();
        checkpoint.done_hashes(|hash, key| seen.push((hash, key))).unwrap();
        assert_eq!(seen, [(42, "a".to_string())], "only done items claim their bytes");
        assert_eq!(checkpoint.duplicate_of("b").unwrap().as_deref(), Some("a"));
        assert_eq!(checkpoint.requeue_orphaned_duplicates().unwrap(), 0, "a is done");
        let a = checkpoint.known(&["a"]).unwrap()[0].clone().unwrap();
        checkpoint.restamp(&[(a.id, &item("a"), None, true)]).unwrap();
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 3, pending: 3, ..Totals::default() }, "a changed");
        checkpoint.commit(&[Outcome::Done("a", None, Some(hashes)), copy("b")]).unwrap();
        checkpoint.mark_deleted(&[a.id]).unwrap();
        assert_eq!(checkpoint.totals().unwrap().pending, 2, "a is gone: b is embedded itself");
        checkpoint.commit(&[copy("c")]).unwrap();
        assert_eq!(checkpoint.requeue_orphaned_duplicates().unwrap(), 1, "c's original is not done");
    }

    #[test]
    fn an_unknown_item_state_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        checkpoint.discover(vec![(Ok(item("a")), None)]).unwrap();
        checkpoint.connection.execute("UPDATE items SET state = 7", []).unwrap();
        for error in [checkpoint.totals().unwrap_err(), checkpoint.known(&["a"]).unwrap_err()] {
            assert!(matches!(error, CheckpointError::UnknownState { code: 7, .. }), "{error:?}");
            assert!(error.to_string().contains("state 7"), "{error}");
        }
    }

    #[test]
    fn manifest_fields_that_cannot_be_read_are_an_error_naming_the_item() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        checkpoint.discover(vec![(Ok(item("a")), None)]).unwrap();
        for broken in [r#"{"caption": "#, "[1, 2]"] {
            checkpoint.connection.execute("UPDATE items SET fields = ?1", [broken]).unwrap();
            let error = checkpoint.pending_after(0, 10).unwrap_err();
            assert!(matches!(&error, CheckpointError::Fields { key, .. } if key == "a"), "{error:?}");
            assert!(error.to_string().contains("fields of item a"), "{error}");
        }
    }
}
