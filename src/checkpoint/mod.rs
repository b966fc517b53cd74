//! The durable journal of a run: its configuration and every item's state, in one SQLite file
//! (WAL mode, synchronous=FULL), so that a run killed at any moment resumes exactly.
//!
//! An item is marked done only after the sink has made its point durable. Writes go in
//! batched transactions: one per discovered chunk and one per committed batch.
//!
//! `schema` opens and migrates the file, `config` holds the run's configuration, `discover`
//! records new items, `items` the state of every item, `summary` the counts and error classes
//! that `stats` shows, and `lock` keeps a second process off the checkpoint.

mod config;
mod discover;
mod items;
mod lock;
mod repair;
mod schema;
mod summary;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub(crate) use items::fields_json;
pub use items::{ContentHashes, FileStamp, ItemState, Known, Outcome};
pub use lock::{is_running, CheckpointLock};
pub use repair::{META_INDEX_CREATED_AT, META_INDEX_ID};
use schema::FORMAT_VERSION;
pub use summary::{ErrorSummary, Totals};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path} is damaged ({source}); move it aside and index again: stored points are overwritten, not duplicated")]
    Damaged { path: PathBuf, source: rusqlite::Error },
    #[error("cannot use checkpoint {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("{}", busy_message(.path, .pid.as_deref()))]
    Busy { path: PathBuf, pid: Option<String> },
    #[error("checkpoint {path} was written by another version of imbed (format {found}, expected {FORMAT_VERSION})")]
    Format { path: PathBuf, found: i64 },
    #[error("checkpoint {path} holds no run configuration")]
    NoConfig { path: PathBuf },
    #[error("the run configuration in checkpoint {path} cannot be read ({source}); was it written by a newer imbed?")]
    Config { path: PathBuf, source: serde_json::Error },
    #[error("cannot record the run configuration in checkpoint {path}: {source}")]
    ConfigWrite { path: PathBuf, source: serde_json::Error },
    #[error("checkpoint {path} holds items in state {code}, which this version of imbed does not know")]
    UnknownState { path: PathBuf, code: i64 },
    #[error("checkpoint {path}: the manifest fields of item {key} cannot be read")]
    Fields {
        path: PathBuf,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("checkpoint {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot make checkpoint {path} readable by its owner only: {source}")]
    Mode { path: PathBuf, source: std::io::Error },
}

pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;

pub struct Checkpoint {
    connection: Connection,
    path: PathBuf,
}

impl Checkpoint {
    /// Opens (creating if needed) for writing, readable by its owner alone, since it holds the
    /// signed URLs a resume needs. The caller holds the [`CheckpointLock`].
    pub fn open(path: &Path) -> Result<Self> {
        owner_only(path, true).map_err(|source| CheckpointError::Mode { path: path.to_path_buf(), source })?;
        let connection = Connection::open(path).map_err(|source| classify(path, source))?;
        // Absolute, so that `reopen` finds the same file after a change of folder.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let checkpoint = Self { connection, path };
        checkpoint.configure(false)?;
        // SQLite gives its -wal and -shm files the main file's mode; ones left by an older
        // imbed keep theirs until changed here.
        for suffix in ["-wal", "-shm"] {
            let companion = companion_path(&checkpoint.path, suffix);
            owner_only(&companion, false).map_err(|source| CheckpointError::Mode { path: companion, source })?;
        }
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
}

/// The checkpoint's file beside it: `-wal`, `-shm`, `.lock`.
pub fn companion_path(checkpoint: &Path, suffix: &str) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes `path` readable and writable by its owner alone (0600) whatever the umask, creating
/// it empty first when `create` and it is missing. A missing file that is not to be created
/// is left alone.
pub fn owner_only(path: &Path, create: bool) -> std::io::Result<()> {
    if create {
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
    }
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !create => Ok(()),
        Err(error) => Err(error),
    }
}

/// The checkpoint's files that others than its owner may read: what `doctor` warns of.
pub fn readable_by_others(checkpoint: &Path) -> Vec<PathBuf> {
    let files = [String::new(), "-wal".into(), "-shm".into(), ".lock".into()];
    files
        .iter()
        .map(|suffix| companion_path(checkpoint, suffix))
        .filter(|file| std::fs::metadata(file).is_ok_and(|metadata| metadata.permissions().mode() & 0o077 != 0))
        .collect()
}

pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A lock that outlasted the wait: its holder is mid-write and not going on, most likely stopped.
fn busy_message(path: &Path, pid: Option<&str>) -> String {
    let (holder, resume) = match pid {
        Some(pid) => (format!("imbed process {pid}"), format!("kill -CONT {pid}")),
        None => ("another process".to_string(), "kill -CONT PID".to_string()),
    };
    format!(
        "checkpoint {} is locked mid-write by {holder}, which has not finished the write; if it is stopped \
         (Ctrl-Z, SIGSTOP), continue it (`fg`, or `{resume}`) and try again",
        path.display()
    )
}

fn classify(path: &Path, source: rusqlite::Error) -> CheckpointError {
    use rusqlite::ErrorCode;
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            CheckpointError::Damaged { path: path.to_path_buf(), source }
        }
        Some(ErrorCode::DatabaseBusy) => CheckpointError::Busy { path: path.to_path_buf(), pid: lock::holder(path) },
        _ => CheckpointError::Sqlite { path: path.to_path_buf(), source },
    }
}
