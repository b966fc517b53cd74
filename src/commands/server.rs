//! What the commands that write to a Qdrant server share: the bulk-load bookkeeping kept in a
//! checkpoint.

use crate::checkpoint::Checkpoint;
use crate::sink::qdrant::BulkLoad;
use crate::sink::{CollectionSetup, QdrantSink};

/// Checkpoint meta keys of a bulk load: whether imbed created the server collection, and the
/// HNSW `m` to restore once every item is done (empty once restored).
const META_CREATED: &str = "qdrant_collection_created";
const META_BULK_RESTORE_M: &str = "qdrant_bulk_restore_m";

/// The bulk-load bookkeeping that `checkpoint` holds.
pub(super) fn bulk_load(checkpoint: &Checkpoint) -> anyhow::Result<BulkLoad> {
    let restore_m = match checkpoint.meta(META_BULK_RESTORE_M)?.filter(|m| !m.is_empty()) {
        Some(m) => Some(m.parse::<u64>().map_err(|_| {
            anyhow::anyhow!("checkpoint {} holds a bad {META_BULK_RESTORE_M} `{m}`", checkpoint.path().display())
        })?),
        None => None,
    };
    Ok(BulkLoad { created: checkpoint.meta(META_CREATED)?.as_deref() == Some("1"), restore_m })
}

pub(super) fn save_bulk_load(checkpoint: &Checkpoint, bulk: &BulkLoad) -> anyhow::Result<()> {
    if bulk.created {
        checkpoint.set_meta(META_CREATED, "1")?;
    }
    checkpoint.set_meta(META_BULK_RESTORE_M, &bulk.restore_m.map(|m| m.to_string()).unwrap_or_default())?;
    Ok(())
}

/// Opens or creates the collection for a load, keeping the bulk bookkeeping in `checkpoint`.
pub(super) fn open_for_load(
    server: &mut QdrantSink,
    checkpoint: &Checkpoint,
    dimension: usize,
    setup: &CollectionSetup,
) -> anyhow::Result<()> {
    let mut bulk = bulk_load(checkpoint)?;
    let opened = server.open_for_load(dimension, setup, &mut bulk);
    // What changed on the server is recorded even when a later step failed.
    save_bulk_load(checkpoint, &bulk)?;
    opened
}

/// After a bulk load, turns indexing back on once nothing is left pending.
pub(super) fn finish_bulk(server: &QdrantSink, checkpoint: &Checkpoint) -> anyhow::Result<Option<u64>> {
    let mut bulk = bulk_load(checkpoint)?;
    if bulk.restore_m.is_none() || checkpoint.totals()?.pending > 0 {
        return Ok(None);
    }
    let restored = server.finish_bulk(&mut bulk)?;
    save_bulk_load(checkpoint, &bulk)?;
    Ok(restored)
}
