//! What a lost or incomplete index needs of the journal: the done items page by page, and
//! done items back to pending so the next run sends them again.

use rusqlite::params;

use super::{classify, now_millis, Checkpoint, Result};

/// Meta keys of the index this checkpoint writes to: its identity and when it was given.
pub const META_INDEX_ID: &str = "index_id";
pub const META_INDEX_CREATED_AT: &str = "index_created_at";

impl Checkpoint {
    /// Up to `limit` done items with an id above `after`: (id, key).
    pub fn done_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String)>> {
        let mut statement = self.sql(
            self.connection
                .prepare_cached("SELECT id, key FROM items WHERE state = 1 AND id > ?1 ORDER BY id LIMIT ?2"),
        )?;
        let rows = statement.query_map(params![after, limit as i64], |row| Ok((row.get(0)?, row.get(1)?)));
        let items = self.sql(rows)?.collect::<rusqlite::Result<_>>();
        items.map_err(|source| classify(&self.path, source))
    }

    /// Every done item back to pending, its attempts reset: its point is not in the index.
    pub fn requeue_done(&self) -> Result<u64> {
        let changed = self
            .connection
            .execute("UPDATE items SET state = 0, attempts = 0, updated_at = ?1 WHERE state = 1", [now_millis()]);
        self.sql(changed).map(|n| n as u64)
    }

    /// These done items back to pending, in one transaction; others are left as they are.
    pub fn requeue_items(&mut self, ids: &[i64]) -> Result<u64> {
        let now = now_millis();
        self.in_transaction(|transaction| {
            let mut update = transaction.prepare_cached(
                "UPDATE items SET state = 0, attempts = 0, updated_at = ?2 WHERE id = ?1 AND state = 1",
            )?;
            let mut changed = 0;
            for id in ids {
                changed += update.execute(params![id, now])? as u64;
            }
            Ok(changed)
        })
    }
}
