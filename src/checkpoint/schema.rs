//! The tables of a checkpoint, and what opening one sets up: WAL, the schema, the columns
//! that older files lack, and the format check.

use std::time::Duration;

use super::{classify, Checkpoint, CheckpointError, Result};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    path BLOB,
    fields TEXT,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_class TEXT,
    error_message TEXT,
    discovered_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    content_hash BLOB
);
CREATE INDEX IF NOT EXISTS items_by_state ON items (state, id);
";

/// Columns added after format 1 was first written: older files get them on open.
/// `content_hash` is the stamp's (a file's with `--verify-content`, an object's ETag);
/// `bytes_hash` is always the bytes', and `duplicate_of` names the original of a duplicate.
const ADDED_COLUMNS: &[&str] =
    &["size INTEGER", "mtime_ns INTEGER", "content_hash BLOB", "bytes_hash BLOB", "phash INTEGER", "duplicate_of TEXT"];

/// How long a read-only open waits for a writer's lock (see `configure`).
pub(super) const READER_PATIENCE: Duration = Duration::from_secs(5);

/// Bumped when the schema changes incompatibly.
pub(super) const FORMAT_VERSION: i64 = 1;

impl Checkpoint {
    pub(super) fn configure(&self, read_only: bool) -> Result<()> {
        let run = |sql: &str| self.connection.execute_batch(sql).map_err(|source| classify(&self.path, source));
        // A reader waits only on a writer caught mid-commit, which takes milliseconds unless it
        // is stopped (Ctrl-Z): `stats` then says so after a few seconds instead of hanging.
        let patience = if read_only { READER_PATIENCE } else { Duration::from_secs(30) };
        self.connection.busy_timeout(patience).map_err(|source| classify(&self.path, source))?;
        if !read_only {
            run("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
            run(SCHEMA)?;
            self.add_missing_columns()?;
            // After the columns: an older file gains `duplicate_of` only just above.
            run(
                "CREATE INDEX IF NOT EXISTS items_by_original ON items (duplicate_of) WHERE duplicate_of IS NOT NULL;",
            )?;
            match self.meta("format")? {
                None => self.set_meta("format", &FORMAT_VERSION.to_string())?,
                Some(found) if found.parse::<i64>().ok() == Some(FORMAT_VERSION) => {}
                Some(found) => {
                    return Err(CheckpointError::Format { path: self.path.clone(), found: found.parse().unwrap_or(-1) })
                }
            }
        }
        // Reading one page finds most damage at open rather than mid-run.
        self.connection
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|source| classify(&self.path, source))
    }

    fn add_missing_columns(&self) -> Result<()> {
        let mut statement = self.sql(self.connection.prepare("SELECT name FROM pragma_table_info('items')"))?;
        let present: Vec<String> = self
            .sql(statement.query_map([], |row| row.get(0)))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|source| classify(&self.path, source))?;
        for column in ADDED_COLUMNS {
            let name = column.split(' ').next().unwrap_or(column);
            if !present.iter().any(|p| p == name) {
                self.sql(self.connection.execute_batch(&format!("ALTER TABLE items ADD COLUMN {column}")))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use serde_json::Map;

    use super::*;
    use crate::checkpoint::{FileStamp, ItemState, Totals};
    use crate::item::Item;

    fn item(key: &str) -> Item {
        Item::new(key.into(), crate::locator::Locator::new(key), Map::new())
    }

    #[test]
    fn a_checkpoint_from_before_stamps_gets_the_columns_and_keeps_its_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old");
        let old_schema = SCHEMA.replace(",\n    size INTEGER,\n    mtime_ns INTEGER,\n    content_hash BLOB", "");
        assert!(!old_schema.contains("mtime_ns"));
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(&old_schema).unwrap();
        connection
            .execute("INSERT INTO items (key, path, state, discovered_at, updated_at) VALUES ('a', X'61', 1, 0, 0)", [])
            .unwrap();
        drop(connection);
        let mut checkpoint = Checkpoint::open(&path).unwrap();
        let known = checkpoint.known(&["a", "b"]).unwrap();
        let a = known[0].as_ref().unwrap();
        assert_eq!((a.state, a.stamp), (ItemState::Done, None));
        assert!(known[1].is_none());
        let stamp = FileStamp { size: 3, mtime_ns: 7, hash: Some(u128::MAX - 1) };
        checkpoint.restamp(&[(a.id, &item("a"), Some(stamp), false)]).unwrap();
        assert_eq!(checkpoint.known(&["a"]).unwrap()[0].as_ref().unwrap().stamp, Some(stamp));
        checkpoint.mark_deleted(&[a.id]).unwrap();
        assert_eq!(checkpoint.totals().unwrap(), Totals { deleted: 1, ..Totals::default() });
    }
}
