//! Counts by state and error classes, for progress and `stats`.

use rusqlite::params;
use serde::Serialize;

use super::items::ItemState;
use super::{classify, Checkpoint, Result};
use crate::locator::{redacted, Locator};

/// Counts by state, for progress and `stats`. `total` counts the items still present;
/// deleted ones are counted apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub pending: u64,
    pub deleted: u64,
    /// Items whose bytes equal a done item's (`--skip-duplicates`), counted in `total`.
    pub duplicate: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Self) {
        self.total += other.total;
        self.done += other.done;
        self.failed += other.failed;
        self.pending += other.pending;
        self.deleted += other.deleted;
        self.duplicate += other.duplicate;
    }
}

/// An error class with its count and a few example paths.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    pub class: String,
    pub count: u64,
    pub examples: Vec<String>,
}

impl Checkpoint {
    pub fn totals(&self) -> Result<Totals> {
        let mut statement =
            self.sql(self.connection.prepare_cached("SELECT state, count(*) FROM items GROUP BY state"))?;
        let rows =
            self.sql(statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64))))?;
        let mut totals = Totals::default();
        for row in rows {
            let (state, count) = self.sql(row)?;
            match self.state(state)? {
                ItemState::Pending => totals.pending += count,
                ItemState::Done => totals.done += count,
                ItemState::Failed => totals.failed += count,
                ItemState::Duplicate => totals.duplicate += count,
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
                Some(bytes) => Locator::from_bytes(bytes).shown().into_owned(),
                None => redacted(&row.get::<_, String>(1)?),
            };
            // Messages are written without secrets; one recorded by an older imbed may hold them.
            Ok(format!("{name}: {}", redacted(&row.get::<_, String>(2)?)))
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

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

    use super::*;
    use crate::checkpoint::Outcome;
    use crate::item::{path_text, ErrorClass, Failure};

    #[test]
    fn error_examples_show_paths_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::open(&dir.path().join("c")).unwrap();
        let path = PathBuf::from(std::ffi::OsString::from_vec(b"caf\xe9.jpg".to_vec()));
        let failure = Failure {
            key: path_text(&path).into(),
            path: Some(Locator::new(path)),
            class: ErrorClass::Empty,
            message: "empty".into(),
        };
        checkpoint.commit(&[Outcome::Failed(&failure)]).unwrap();
        let errors = checkpoint.errors(3).unwrap();
        assert_eq!(errors[0].examples, ["caf\\xE9.jpg: empty"]);
    }
}
