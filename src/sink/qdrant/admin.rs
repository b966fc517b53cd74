//! Collection administration: open or create with the run's setup, check an existing one,
//! read its state, and the HNSW switch of a bulk load.

use anyhow::{anyhow, bail, Context};
use qdrant_client::qdrant::{
    vectors_config::Config as VectorsConfigKind, CollectionStatus, CreateCollectionBuilder, Distance,
    HnswConfigDiffBuilder, UpdateCollectionBuilder, VectorParams, VectorParamsBuilder, VectorsConfig,
    VectorsConfigBuilder,
};

use super::{CollectionSetup, CollectionState, QdrantSink, DEFAULT_HNSW_M};
use crate::sink::identity::{IndexId, METADATA_CREATED_AT, METADATA_ID};

/// What a bulk load must remember from one run to the next: whether imbed created the
/// collection, and the HNSW `m` to restore once every item is stored. The caller keeps it
/// (imbed keeps it in the checkpoint) and hands it back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkLoad {
    pub created: bool,
    pub restore_m: Option<u64>,
}

impl QdrantSink {
    /// Uses the collection, creating it with `dimension` and cosine distance if it is missing,
    /// with a new identity in its metadata. Returns whether imbed created it. A mismatched
    /// existing collection is an error.
    pub fn open_or_create(&mut self, dimension: usize, setup: &CollectionSetup) -> anyhow::Result<bool> {
        self.dimension = dimension;
        if self.exists()? {
            self.check_existing(dimension)?;
            return Ok(false);
        }
        let identity = IndexId::generate();
        let mut params = VectorParamsBuilder::new(dimension as u64, Distance::Cosine);
        if setup.on_disk {
            params = params.on_disk(true);
        }
        let vectors: VectorsConfig = match &self.vector_name {
            Some(name) => {
                let mut config = VectorsConfigBuilder::default();
                config.add_named_vector_params(name, params);
                config.into()
            }
            None => params.into(),
        };
        let mut create = CreateCollectionBuilder::new(&self.collection).vectors_config(vectors);
        if let Some(shards) = setup.shards {
            create = create.shard_number(shards);
        }
        if let Some(factor) = setup.replication_factor {
            create = create.replication_factor(factor);
        }
        if setup.on_disk {
            create = create.on_disk_payload(true);
        }
        if setup.bulk {
            create = create.hnsw_config(HnswConfigDiffBuilder::default().m(0));
        }
        create = create.metadata(identity_metadata(&identity));
        let request = create.build();
        let created = self.call(|client, _| {
            let request = request.clone();
            async move { client.create_collection(request).await }
        });
        match created {
            Ok(_) => {
                self.identity = Some(identity);
                self.created_now = true;
                Ok(true)
            }
            // Another shard's process created it first: use it like any existing one.
            Err(error) if error.to_string().contains("already exists") => {
                self.check_existing(dimension)?;
                Ok(false)
            }
            Err(error) => Err(error.context(format!("cannot create collection `{}`", self.collection))),
        }
    }

    pub fn exists(&self) -> anyhow::Result<bool> {
        self.call(|client, name| async move { client.collection_exists(name).await })
    }

    /// Opens an existing collection for search, reading its dimension.
    pub fn open_existing(&mut self) -> anyhow::Result<usize> {
        if !self.exists()? {
            bail!("no collection `{}` on the Qdrant server at {}", self.collection, self.connection.url);
        }
        let params = self.vector_params()?;
        self.dimension = params.size as usize;
        Ok(self.dimension)
    }

    fn check_existing(&mut self, dimension: usize) -> anyhow::Result<()> {
        let params = self.vector_params()?;
        let distance = Distance::try_from(params.distance).unwrap_or(Distance::UnknownDistance);
        if params.size as usize != dimension || distance != Distance::Cosine {
            bail!(
                "collection `{}` on {} holds {}-dimensional vectors with {} distance, but the model gives \
                 {dimension}-dimensional vectors compared by cosine; use another --collection",
                self.collection,
                self.connection.url,
                params.size,
                distance.as_str_name().to_ascii_lowercase()
            );
        }
        Ok(())
    }

    /// The parameters of the vector imbed writes (the unnamed one, or `--vector-name`); notes
    /// the identity the collection's metadata holds.
    fn vector_params(&mut self) -> anyhow::Result<VectorParams> {
        let info = self.call(|client, name| async move { client.collection_info(name).await })?;
        let config = info.result.and_then(|info| info.config);
        self.identity = config.as_ref().and_then(|config| identity_of(&config.metadata));
        let config = config
            .and_then(|config| config.params)
            .and_then(|params| params.vectors_config)
            .and_then(|vectors| vectors.config);
        let collection = &self.collection;
        match (config, &self.vector_name) {
            (Some(VectorsConfigKind::Params(params)), None) => Ok(params),
            (Some(VectorsConfigKind::ParamsMap(map)), Some(name)) => map.map.get(name).cloned().ok_or_else(|| {
                let names: Vec<&String> = map.map.keys().collect();
                anyhow!("collection `{collection}` has no vector named `{name}` (it has {names:?})")
            }),
            (Some(VectorsConfigKind::ParamsMap(map)), None) => {
                let names: Vec<&String> = map.map.keys().collect();
                bail!("collection `{collection}` holds named vectors {names:?}; pick one with --vector-name")
            }
            (Some(VectorsConfigKind::Params(_)), Some(name)) => {
                bail!("collection `{collection}` holds one unnamed vector; drop --vector-name {name}")
            }
            (None, _) => bail!("the server did not describe the vectors of collection `{collection}`"),
        }
    }

    /// Gives the collection this identity in its metadata (merged with what it holds), then
    /// reads back what it holds: another process may have written its own at the same time.
    pub(super) fn write_identity(&mut self, identity: &IndexId) -> anyhow::Result<()> {
        let request = UpdateCollectionBuilder::new(&self.collection).metadata(identity_metadata(identity)).build();
        self.call(|client, _| {
            let request = request.clone();
            async move { client.update_collection(request).await }
        })
        .with_context(|| format!("cannot record imbed's identity in collection `{}`", self.collection))?;
        self.vector_params()?;
        Ok(())
    }

    /// Status, size and HNSW `m` of the collection.
    pub fn state(&self) -> anyhow::Result<CollectionState> {
        let info = self.call(|client, name| async move { client.collection_info(name).await })?;
        let info = info.result.context("the server returned no collection info")?;
        let status = CollectionStatus::try_from(info.status).unwrap_or(CollectionStatus::UnknownCollectionStatus);
        Ok(CollectionState {
            status: status.as_str_name().to_ascii_lowercase(),
            points: info.points_count.unwrap_or(0),
            indexed_vectors: info.indexed_vectors_count.unwrap_or(0),
            identity: info.config.as_ref().and_then(|config| identity_of(&config.metadata)),
            hnsw_m: info.config.and_then(|config| config.hnsw_config).and_then(|hnsw| hnsw.m),
        })
    }

    /// Sets the collection's HNSW `m`: 0 turns indexing off for a bulk load.
    pub fn set_hnsw_m(&self, m: u64) -> anyhow::Result<()> {
        let request = UpdateCollectionBuilder::new(&self.collection).hnsw_config(HnswConfigDiffBuilder::default().m(m));
        let request = request.build();
        self.call(|client, _| {
            let request = request.clone();
            async move { client.update_collection(request).await }
        })
        .with_context(|| format!("cannot set HNSW m={m} on collection `{}`", self.collection))?;
        Ok(())
    }

    /// Opens or creates the collection for a run or a push and, with `setup.bulk`, turns its
    /// indexing off, noting in `bulk` what to restore.
    pub fn open_for_load(
        &mut self,
        dimension: usize,
        setup: &CollectionSetup,
        bulk: &mut BulkLoad,
    ) -> anyhow::Result<()> {
        let created = self.open_or_create(dimension, setup)?;
        bulk.created |= created;
        if !setup.bulk || bulk.restore_m.is_some() {
            return Ok(());
        }
        if created {
            // Created with m=0 already.
            bulk.restore_m = Some(DEFAULT_HNSW_M);
        } else if bulk.created {
            let m = self.state()?.hnsw_m.filter(|&m| m > 0).unwrap_or(DEFAULT_HNSW_M);
            self.set_hnsw_m(0)?;
            bulk.restore_m = Some(m);
        } else {
            tracing::warn!(
                "--bulk: collection `{}` existed before imbed wrote to it, so its index settings stay",
                self.collection
            );
        }
        Ok(())
    }

    /// Turns HNSW indexing back on after a bulk load. Returns the `m` restored, if any.
    pub fn finish_bulk(&self, bulk: &mut BulkLoad) -> anyhow::Result<Option<u64>> {
        let Some(m) = bulk.restore_m else { return Ok(None) };
        self.set_hnsw_m(m)?;
        bulk.restore_m = None;
        Ok(Some(m))
    }
}

fn identity_metadata(identity: &IndexId) -> std::collections::HashMap<String, serde_json::Value> {
    [
        (METADATA_ID.to_string(), serde_json::Value::from(identity.id.to_string())),
        (METADATA_CREATED_AT.to_string(), serde_json::Value::from(identity.created_at.clone())),
    ]
    .into_iter()
    .collect()
}

fn identity_of(metadata: &std::collections::HashMap<String, qdrant_client::qdrant::Value>) -> Option<IndexId> {
    let text = |key: &str| match metadata.get(key).and_then(|value| value.kind.as_ref()) {
        Some(qdrant_client::qdrant::value::Kind::StringValue(text)) => Some(text.as_str()),
        _ => None,
    };
    IndexId::from_metadata(text(METADATA_ID), text(METADATA_CREATED_AT))
}
