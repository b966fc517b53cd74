//! The embedded store: one Qdrant Edge shard per collection, under `STORE/COLLECTION/`.
//!
//! qdrant-edge 0.7.0 does not replay its WAL on load, so a write is durable only after
//! `EdgeShard::flush()`. `flush()` panics if another thread holds the shard's locks, so this
//! type is the only writer and every call goes through `&mut self`.

use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use qdrant_edge::{
    CountRequest, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, Filter, NamedQuery, Payload, PayloadOps, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, ScrollRequest, SearchRequest,
    SetPayloadOp, UpdateOperation, VectorInternal, VectorStructInternal, VectorStructPersisted, WithPayloadInterface,
    WithVector, DEFAULT_VECTOR_NAME,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::identity::IndexId;
use super::{Point, ScoredPoint, SearchParams, Sink, SinkError};

mod stored;

pub struct EdgeStore {
    /// Dropped by hand: EdgeShard's own Drop flushes, and panics if flushing fails.
    shard: ManuallyDrop<EdgeShard>,
    dir: PathBuf,
    dimension: usize,
    /// Free bytes to keep on the store's file system; writes stop below it.
    min_free_space: u64,
    /// A flush failed: what was not flushed stays pending in the checkpoint, and the shard
    /// must not be flushed again on drop.
    flush_failed: bool,
    /// `STORE/COLLECTION.imbed.json`, which holds the identity.
    info_path: PathBuf,
    identity: Option<IndexId>,
    created_now: bool,
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        if self.flush_failed {
            return;
        }
        // SAFETY: `drop` runs once, and nothing touches `self.shard` after this take, so the
        // shard is neither used nor dropped twice.
        let shard = unsafe { ManuallyDrop::take(&mut self.shard) };
        if crate::util::catch_panic("", move || drop(shard)).is_err() {
            tracing::warn!("closing the store at {} failed", self.dir.display());
        }
    }
}

/// Default of `--min-free-space`, in MiB.
pub const DEFAULT_MIN_FREE_SPACE_MIB: u64 = 128;

/// What imbed keeps beside a collection, so `search` can embed queries the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CollectionInfo {
    pub dimension: usize,
    #[serde(with = "crate::util::path_serde")]
    pub model: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub normalize: bool,
    /// The text tower for `search --text`, recorded by `index --text-model` and never used there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_model: Option<crate::embed::TextModelConfig>,
    /// Given when imbed created the collection; absent in stores of imbed before 0.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexId>,
}

impl EdgeStore {
    pub fn collection_dir(store: &Path, collection: &str) -> PathBuf {
        store.join(collection)
    }

    fn info_path(store: &Path, collection: &str) -> PathBuf {
        store.join(format!("{collection}.imbed.json"))
    }

    /// Reads the collection's vector size without opening (or locking) the shard.
    pub fn stored_dimension(store: &Path, collection: &str) -> anyhow::Result<Option<usize>> {
        let dir = Self::collection_dir(store, collection);
        match EdgeConfig::load(&dir) {
            None => Ok(None),
            Some(Ok(config)) => Ok(config.vectors.get(DEFAULT_VECTOR_NAME).map(|params| params.size)),
            Some(Err(error)) => {
                Err(anyhow!("{error}")).with_context(|| format!("cannot read the store at {}", dir.display()))
            }
        }
    }

    pub fn read_info(store: &Path, collection: &str) -> anyhow::Result<Option<CollectionInfo>> {
        read_info_file(&Self::info_path(store, collection))
    }

    /// Opens the collection, creating it with `info.dimension` and cosine distance on first use.
    /// A collection created now gets a new identity; an existing one keeps its own.
    pub fn open_or_create(store: &Path, collection: &str, info: &CollectionInfo) -> anyhow::Result<Self> {
        validate_collection_name(collection)?;
        let dir = Self::collection_dir(store, collection);
        let created_now = match Self::stored_dimension(store, collection)? {
            Some(dimension) if dimension != info.dimension => bail!(
                "collection `{collection}` in {} holds {dimension}-dimensional vectors, but the model gives {}; \
                 use another --collection or --store",
                store.display(),
                info.dimension
            ),
            Some(_) => false,
            None => {
                // An info file left from a store deleted since names an index that is gone.
                match std::fs::remove_file(Self::info_path(store, collection)) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(error).with_context(|| format!("cannot replace the info of {}", dir.display()))
                    }
                    _ => {}
                }
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create the store at {}", dir.display()))?;
                let config = EdgeConfig::builder()
                    .vector(DEFAULT_VECTOR_NAME, EdgeVectorParams::builder(info.dimension, Distance::Cosine).build())
                    .build();
                let shard = EdgeShard::new(&dir, config).map_err(|e| open_error(&dir, &e.to_string()))?;
                drop(shard);
                true
            }
        };
        // Opened first: the shard's lock keeps a second process from rewriting this file.
        let mut opened = Self::open(store, collection)?;
        // A shard created now is a new index, whatever an info file left beside it says.
        let identity = if created_now { Some(IndexId::generate()) } else { opened.identity.clone() };
        write_info(&opened.info_path, &CollectionInfo { index: identity.clone(), ..info.clone() })?;
        opened.identity = identity;
        opened.created_now = created_now;
        Ok(opened)
    }

    /// Opens an existing collection.
    pub fn open(store: &Path, collection: &str) -> anyhow::Result<Self> {
        validate_collection_name(collection)?;
        let dir = Self::collection_dir(store, collection);
        let Some(dimension) = Self::stored_dimension(store, collection)? else {
            bail!("no collection `{collection}` in the store at {} (run `imbed index` first)", store.display());
        };
        let shard = EdgeShard::load(&dir, None).map_err(|e| open_error(&dir, &e.to_string()))?;
        let identity = Self::read_info(store, collection)?.and_then(|info| info.index);
        Ok(Self {
            shard: ManuallyDrop::new(shard),
            dir,
            dimension,
            min_free_space: DEFAULT_MIN_FREE_SPACE_MIB << 20,
            flush_failed: false,
            info_path: Self::info_path(store, collection),
            identity,
            created_now: false,
        })
    }

    /// Up to `limit` points with their vectors, from `start` on in ID order, and the ID where
    /// the next page starts.
    pub fn read_points(&self, start: Option<Uuid>, limit: usize) -> anyhow::Result<(Vec<Point>, Option<Uuid>)> {
        let (records, next) = self.scroll(start.map(PointId::Uuid), limit, true)?;
        let mut points = Vec::with_capacity(records.len());
        for record in records {
            let id = imbed_id(record.id)?;
            let vector = match record.vector {
                Some(VectorStructInternal::Single(vector)) => vector,
                Some(VectorStructInternal::Named(mut named)) => match named.remove(DEFAULT_VECTOR_NAME) {
                    Some(VectorInternal::Dense(vector)) => vector,
                    _ => bail!("point {id} has no dense vector"),
                },
                _ => bail!("point {id} has no dense vector"),
            };
            points.push(Point { id, vector, payload: record.payload.map(|payload| payload.0).unwrap_or_default() });
        }
        Ok((points, next.map(imbed_id).transpose()?))
    }

    /// One page of points in ID order, with payloads and vectors (`with_points`) or IDs alone.
    fn scroll(
        &self,
        offset: Option<PointId>,
        limit: usize,
        with_points: bool,
    ) -> anyhow::Result<(Vec<qdrant_edge::Record>, Option<PointId>)> {
        let request = ScrollRequest {
            offset,
            limit: Some(limit),
            filter: None,
            with_payload: Some(WithPayloadInterface::Bool(with_points)),
            with_vector: WithVector::Bool(with_points),
            order_by: None,
        };
        self.shard.scroll(request).map_err(|error| anyhow!("cannot read the store at {}: {error}", self.dir.display()))
    }

    pub fn with_min_free_space(mut self, bytes: u64) -> Self {
        self.min_free_space = bytes;
        self
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn read_info_file(path: &Path) -> anyhow::Result<Option<CollectionInfo>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).with_context(|| format!("cannot parse {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The UUID of a point imbed wrote; any other ID is not imbed's.
fn imbed_id(id: PointId) -> anyhow::Result<Uuid> {
    match id {
        PointId::Uuid(id) => Ok(id),
        other => bail!("the store holds point {}, which imbed did not write", format_id(&other)),
    }
}

/// Replaces the info file whole (written beside it, then renamed), so a kill leaves the old one
/// or the new one.
fn write_info(path: &Path, info: &CollectionInfo) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(info)? + "\n";
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn open_error(dir: &Path, message: &str) -> anyhow::Error {
    if message.contains("WAL") || message.contains("lock") {
        anyhow!("the store at {} is in use by another imbed process ({message})", dir.display())
    } else {
        anyhow!("cannot open the store at {}: {message}", dir.display())
    }
}

/// Fails when the file system holding `path` (or its nearest existing parent) has less than
/// `minimum` bytes free. Checked before the store is opened too: creating a shard on a full
/// disk already faults in its memory maps.
pub fn ensure_free_space(path: &Path, minimum: u64) -> Result<(), SinkError> {
    let existing = path.ancestors().find(|dir| dir.exists()).unwrap_or(Path::new("."));
    let free = fs4::available_space(existing).map_err(|error| {
        SinkError::Read(format!("cannot tell the free space under {}: {error}", existing.display()))
    })?;
    if free < minimum {
        return Err(SinkError::NoSpace(format!(
            "the disk holding {} has {} MiB free, under the {} MiB that imbed keeps free (--min-free-space); \
             free some space, then resume",
            path.display(),
            free >> 20,
            minimum >> 20
        )));
    }
    Ok(())
}

fn format_id(id: &PointId) -> String {
    match id {
        PointId::Uuid(uuid) => uuid.to_string(),
        PointId::NumId(number) => number.to_string(),
    }
}

fn validate_collection_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !valid {
        bail!("invalid collection name `{name}`: use letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

impl Sink for EdgeStore {
    fn upsert(&mut self, points: Vec<Point>) -> Result<(), SinkError> {
        super::check_dimensions(&points, self.dimension)?;
        let points = points
            .into_iter()
            .map(|point| PointStructPersisted {
                id: PointId::Uuid(point.id),
                vector: VectorStructPersisted::Single(point.vector),
                payload: Some(Payload(point.payload)),
            })
            .collect();
        let operation =
            UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)));
        self.shard.update(operation).map_err(|error| SinkError::Write(error.to_string()))
    }

    fn delete(&mut self, ids: &[Uuid]) -> Result<(), SinkError> {
        let ids = ids.iter().map(|&id| PointId::Uuid(id)).collect();
        let operation = UpdateOperation::PointOperation(PointOperations::DeletePoints { ids });
        self.shard.update(operation).map_err(|error| SinkError::Write(error.to_string()))
    }

    fn overwrite_payloads(
        &mut self,
        payloads: Vec<(Uuid, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<(), SinkError> {
        for (id, payload) in payloads {
            let operation = UpdateOperation::PayloadOperation(PayloadOps::OverwritePayload(SetPayloadOp {
                payload: Payload(payload),
                points: Some(vec![PointId::Uuid(id)]),
                filter: None,
                key: None,
            }));
            self.shard.update(operation).map_err(|error| SinkError::Write(error.to_string()))?;
        }
        Ok(())
    }

    fn ensure_space(&self) -> Result<(), SinkError> {
        ensure_free_space(&self.dir, self.min_free_space)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // flush() panics on I/O errors (a full disk, say); turn that into an error for the run.
        let shard = &self.shard;
        crate::util::catch_panic("unknown reason", || shard.flush()).map_err(|reason| {
            self.flush_failed = true;
            SinkError::Flush(format!("{}: {reason}", self.dir.display()))
        })
    }

    fn count(&self) -> Result<u64, SinkError> {
        let count = self
            .shard
            .count(CountRequest { filter: None, exact: true })
            .map_err(|error| SinkError::Read(error.to_string()))?;
        Ok(count as u64)
    }

    fn search(&self, vector: &[f32], params: SearchParams<'_>) -> Result<Vec<ScoredPoint>, SinkError> {
        let filter = if params.filter.is_empty() {
            None
        } else {
            let filter = super::filter::to_json(params.filter);
            Some(serde_json::from_value::<Filter>(filter).map_err(|error| SinkError::Read(error.to_string()))?)
        };
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery { query: VectorInternal::Dense(vector.to_vec()), using: None }),
            filter,
            params: None,
            limit: params.top,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: Some(WithVector::Bool(false)),
            score_threshold: params.min_score,
        };
        let hits = self.shard.search(request).map_err(|error| SinkError::Read(error.to_string()))?;
        Ok(hits
            .into_iter()
            .map(|hit| ScoredPoint {
                id: format_id(&hit.id),
                score: hit.score,
                payload: hit.payload.map(|payload| payload.0).unwrap_or_default(),
            })
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"store": crate::item::path_text(&self.dir)})
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}
