//! The durable journal of a run: its configuration and every item's state, in one SQLite file
//! (WAL mode, synchronous=FULL), so that a run killed at any moment resumes exactly.
//!
//! An item is marked done only after the sink has made its point durable. Writes go in
//! batched transactions: one per discovered chunk and one per committed batch.

mod lock;

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::item::{path_text, Failure, Item};

pub use lock::{is_running, CheckpointLock};

const SCHEMA: &str = "
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
const ADDED_COLUMNS: &[&str] = &["size INTEGER", "mtime_ns INTEGER", "content_hash BLOB"];

/// Bumped when the schema changes incompatibly.
const FORMAT_VERSION: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Pending = 0,
    Done = 1,
    Failed = 2,
    /// The file disappeared and `--delete-missing` removed its point.
    Deleted = 3,
}

impl ItemState {
    fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Pending,
            1 => Self::Done,
            3 => Self::Deleted,
            _ => Self::Failed,
        }
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

/// What the checkpoint holds for a key, for an incremental run to compare with.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: i64,
    pub state: ItemState,
    pub stamp: Option<FileStamp>,
    pub path: Option<PathBuf>,
    pub fields: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path} is damaged ({source}); move it aside and index again: stored points are overwritten, not duplicated")]
    Damaged { path: PathBuf, source: rusqlite::Error },
    #[error("cannot use checkpoint {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("checkpoint {path} was written by another version of imbed (format {found}, expected {FORMAT_VERSION})")]
    Format { path: PathBuf, found: i64 },
    #[error("the run configuration in checkpoint {path} cannot be read or written: {source}")]
    Config { path: PathBuf, source: serde_json::Error },
    #[error("checkpoint {path} holds no run configuration")]
    NoConfig { path: PathBuf },
    #[error("checkpoint {0} does not exist")]
    Missing(PathBuf),
}

pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;

pub struct Checkpoint {
    connection: Connection,
    path: PathBuf,
}

/// Counts by state, for progress and `stats`. `total` counts the items still present;
/// deleted ones are counted apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub pending: u64,
    pub deleted: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Self) {
        self.total += other.total;
        self.done += other.done;
        self.failed += other.failed;
        self.pending += other.pending;
        self.deleted += other.deleted;
    }
}

/// An error class with its count and a few example paths.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    pub class: String,
    pub count: u64,
    pub examples: Vec<String>,
}

/// The outcome of one committed batch.
pub enum Outcome<'a> {
    Done(&'a str),
    Failed(&'a Failure),
}

impl Checkpoint {
    /// Opens (creating if needed) for writing. The caller holds the [`CheckpointLock`].
    pub fn open(path: &Path) -> Result<Self> {
        let connection = Connection::open(path).map_err(|source| classify(path, source))?;
        // Absolute, so that `reopen` finds the same file after a change of folder.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let checkpoint = Self { connection, path };
        checkpoint.configure(false)?;
        Ok(checkpoint)
    }

    /// Opens an existing checkpoint without writing to it, beside a process that may be indexing.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(CheckpointError::Missing(path.to_path_buf()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|source| classify(path, source))?;
        let checkpoint = Self { connection, path: path.to_path_buf() };
        checkpoint.configure(true)?;
        Ok(checkpoint)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second connection to the same file, for another thread.
    pub fn reopen(&self) -> Result<Self> {
        Self::open(&self.path)
    }

    fn configure(&self, read_only: bool) -> Result<()> {
        let run = |sql: &str| self.connection.execute_batch(sql).map_err(|source| classify(&self.path, source));
        self.connection.busy_timeout(Duration::from_secs(30)).map_err(|source| classify(&self.path, source))?;
        if !read_only {
            run("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
            run(SCHEMA)?;
            self.add_missing_columns()?;
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

    /// Runs `work` in one transaction, committed when it succeeds and rolled back otherwise.
    fn in_transaction<T>(&mut self, work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let transaction = self.connection.transaction().map_err(|source| classify(&self.path, source))?;
        let value = work(&transaction).map_err(|source| classify(&self.path, source))?;
        transaction.commit().map_err(|source| classify(&self.path, source))?;
        Ok(value)
    }

    fn sql<T>(&self, result: rusqlite::Result<T>) -> Result<T> {
        result.map_err(|source| classify(&self.path, source))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        let value =
            self.connection.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).optional();
        match value {
            // A read-only open of a file that was never initialised has no tables.
            Err(rusqlite::Error::SqliteFailure(_, Some(message))) if message.contains("no such table") => Ok(None),
            other => self.sql(other),
        }
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.sql(self.connection.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        ))
        .map(drop)
    }

    /// The run's description, as [`Self::set_config`] recorded it.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let text = self.meta("config")?.ok_or_else(|| CheckpointError::NoConfig { path: self.path.clone() })?;
        serde_json::from_str(&text).map_err(|source| CheckpointError::Config { path: self.path.clone(), source })
    }

    pub fn set_config<T: Serialize>(&self, config: &T) -> Result<()> {
        let text = serde_json::to_string(config)
            .map_err(|source| CheckpointError::Config { path: self.path.clone(), source })?;
        self.set_meta("config", &text)?;
        if self.meta("created_at")?.is_none() {
            self.set_meta("created_at", &now_millis().to_string())?;
        }
        Ok(())
    }

    /// Marks the start of a run (index, resume or retry-failed), for throughput and ETA.
    pub fn start_run(&self, command: &str) -> Result<()> {
        self.set_meta("run_started_at", &now_millis().to_string())?;
        self.set_meta("run_command", command)?;
        self.set_meta("run_done_at_start", &self.totals()?.done.to_string())?;
        self.set_meta("run_ended_at", "")?;
        self.set_meta("run_outcome", "")
    }

    /// Records how the run ended: `finished`, `interrupted` or `stopped` (failure limit).
    /// A run killed outright records nothing, which `stats` reports as killed.
    pub fn end_run(&self, outcome: &str) -> Result<()> {
        self.set_meta("run_ended_at", &now_millis().to_string())?;
        self.set_meta("run_outcome", outcome)
    }

    /// Adds newly discovered items as pending (with the stamp of their file), and source
    /// failures as failed, in one transaction. Returns the items that were not known before, in order.
    pub fn discover(
        &mut self,
        batch: Vec<(Result<Item, Failure>, Option<FileStamp>)>,
    ) -> Result<Vec<Result<Item, Failure>>> {
        let now = now_millis();
        self.in_transaction(|transaction| {
        let mut new_items = Vec::with_capacity(batch.len());
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO items (key, path, fields, state, attempts, error_class, error_message, discovered_at, updated_at,
                         size, mtime_ns, content_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11) ON CONFLICT (key) DO NOTHING",
                )
                ?;
            for (entry, stamp) in batch {
                let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                let inserted = match &entry {
                    Ok(item) => insert.execute(params![
                        item.key,
                        item.path.as_os_str().as_bytes(),
                        fields_json(&item.fields),
                        ItemState::Pending as i64,
                        0,
                        None::<String>,
                        None::<String>,
                        now,
                        size,
                        mtime_ns,
                        hash
                    ]),
                    Err(failure) => insert.execute(params![
                        failure.key,
                        failure.path.as_ref().map(|p| p.as_os_str().as_bytes()),
                        None::<String>,
                        ItemState::Failed as i64,
                        // The commit stage records the attempt, as for any failure.
                        0,
                        failure.class.as_str(),
                        failure.message,
                        now,
                        size,
                        mtime_ns,
                        hash
                    ]),
                }
                ?;
                if inserted == 1 {
                    new_items.push(entry);
                }
            }
        Ok(new_items)
        })
    }

    /// What the checkpoint holds for each key (`None` for a key it has never seen), read in
    /// one transaction.
    pub fn known(&mut self, keys: &[&str]) -> Result<Vec<Option<Known>>> {
        self.in_transaction(|transaction| {
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
                    Ok(Known {
                        id: row.get(0)?,
                        state: ItemState::from_code(row.get(1)?),
                        stamp,
                        path: path.map(path_from_bytes),
                        fields: row.get(6)?,
                    })
                });
                found.push(row.optional()?);
            }
            Ok(found)
        })
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
            for (id, item, stamp, requeued) in updates {
                let (size, mtime_ns, hash) = stamp_columns(stamp.as_ref());
                if *requeued {
                    let fields = fields_json(&item.fields);
                    requeue.execute(params![id, item.path.as_os_str().as_bytes(), fields, size, mtime_ns, hash, now])
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
    pub fn present_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String, Option<PathBuf>)>> {
        let mut statement = self.sql(
            self.connection
                .prepare_cached("SELECT id, key, path FROM items WHERE state != 3 AND id > ?1 ORDER BY id LIMIT ?2"),
        )?;
        let rows = statement.query_map(params![after, limit as i64], |row| {
            let path: Option<Vec<u8>> = row.get(2)?;
            Ok((row.get(0)?, row.get(1)?, path.map(path_from_bytes)))
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
            for id in ids {
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
            let path = path_from_bytes(path.unwrap_or_default());
            let fields =
                fields.and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok()).unwrap_or_default();
            items.push((id, Item { key, path, fields }));
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
                    "UPDATE items SET state = 1, attempts = attempts + 1, error_class = NULL, error_message = NULL, updated_at = ?2 WHERE key = ?1",
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
                    Outcome::Done(key) => done.execute(params![key, now]),
                    Outcome::Failed(failure) => failed.execute(params![
                        failure.key,
                        failure.path.as_ref().map(|p| p.as_os_str().as_bytes()),
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
    pub fn requeue_failed(&self, classes: &[String]) -> Result<u64> {
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

    pub fn totals(&self) -> Result<Totals> {
        let mut statement =
            self.sql(self.connection.prepare_cached("SELECT state, count(*) FROM items GROUP BY state"))?;
        let rows =
            self.sql(statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64))))?;
        let mut totals = Totals::default();
        for row in rows {
            let (state, count) = self.sql(row)?;
            match ItemState::from_code(state) {
                ItemState::Pending => totals.pending += count,
                ItemState::Done => totals.done += count,
                ItemState::Failed => totals.failed += count,
                ItemState::Deleted => {
                    totals.deleted += count;
                    continue;
                }
            }
            totals.total += count;
        }
        Ok(totals)
    }

    /// Error classes of failed items, most frequent first, with up to `examples` paths each.
    pub fn errors(&self, examples: usize) -> Result<Vec<ErrorSummary>> {
        let mut classes = self.sql(self.connection.prepare_cached(
            "SELECT coalesce(error_class, 'unknown'), count(*) FROM items WHERE state = 2 GROUP BY 1 ORDER BY 2 DESC, 1",
        ))?;
        let counts: Vec<(String, u64)> = self
            .sql(classes.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64))))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|source| classify(&self.path, source))?;
        let mut sample = self.sql(self.connection.prepare_cached(
            "SELECT path, key, coalesce(error_message, '') FROM items
             WHERE state = 2 AND coalesce(error_class, 'unknown') = ?1 ORDER BY id LIMIT ?2",
        ))?;
        // Paths are raw bytes, which need not be UTF-8.
        let example = |row: &rusqlite::Row<'_>| -> rusqlite::Result<String> {
            let path: Option<Vec<u8>> = row.get(0)?;
            let name = match path {
                Some(bytes) => path_text(Path::new(std::ffi::OsStr::from_bytes(&bytes))).into_owned(),
                None => row.get(1)?,
            };
            Ok(format!("{name}: {}", row.get::<_, String>(2)?))
        };
        let mut summaries = Vec::new();
        for (class, count) in counts {
            let examples: Vec<String> = self
                .sql(sample.query_map(params![class, examples as i64], example))?
                .collect::<rusqlite::Result<_>>()
                .map_err(|source| classify(&self.path, source))?;
            summaries.push(ErrorSummary { class, count, examples });
        }
        Ok(summaries)
    }
}

/// Failed items that name an image to retry: walk and manifest failures name a folder or a
/// manifest line instead.
const RETRYABLE: &str = "state = 2 AND path IS NOT NULL AND coalesce(error_class, '') NOT IN ('walk', 'manifest')";

/// Paths are stored as their raw bytes, which need not be UTF-8.
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

fn stamp_columns(stamp: Option<&FileStamp>) -> (Option<i64>, Option<i64>, Option<[u8; 16]>) {
    match stamp {
        Some(stamp) => (Some(stamp.size as i64), Some(stamp.mtime_ns), stamp.hash.map(u128::to_be_bytes)),
        None => (None, None, None),
    }
}

pub(crate) fn fields_json(fields: &Map<String, Value>) -> Option<String> {
    (!fields.is_empty()).then(|| Value::Object(fields.clone()).to_string())
}

pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn classify(path: &Path, source: rusqlite::Error) -> CheckpointError {
    use rusqlite::ErrorCode;
    let damaged = matches!(source.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase));
    if damaged {
        CheckpointError::Damaged { path: path.to_path_buf(), source }
    } else {
        CheckpointError::Sqlite { path: path.to_path_buf(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ErrorClass;

    fn item(key: &str) -> Item {
        Item { key: key.into(), path: PathBuf::from(key), fields: Map::new() }
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
        checkpoint.commit(&[Outcome::Done("a"), Outcome::Failed(&failure)]).unwrap();
        assert_eq!(checkpoint.totals().unwrap(), Totals { total: 3, done: 1, failed: 1, pending: 1, deleted: 0 });
        let pending = checkpoint.pending_after(0, 10).unwrap();
        assert_eq!(pending.iter().map(|(_, i)| i.key.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(checkpoint.requeue_failed(&["corrupt".into()]).unwrap(), 1);
        assert_eq!(checkpoint.totals().unwrap().pending, 2);
        let errors = checkpoint.errors(3).unwrap();
        assert!(errors.is_empty());
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

    #[test]
    fn error_examples_show_paths_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let path = PathBuf::from(std::ffi::OsString::from_vec(b"caf\xe9.jpg".to_vec()));
        let failure = Failure {
            key: path_text(&path).into(),
            path: Some(path),
            class: ErrorClass::Empty,
            message: "empty".into(),
        };
        checkpoint.commit(&[Outcome::Failed(&failure)]).unwrap();
        let errors = checkpoint.errors(3).unwrap();
        assert_eq!(errors[0].examples, ["caf\\xE9.jpg: empty"]);
    }
}
