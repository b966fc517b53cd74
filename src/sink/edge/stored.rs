//! The collection as a run and `verify` see it: its identity, and its points read by ID.

use anyhow::Context;
use qdrant_edge::{PointId, WithPayloadInterface, WithVector};
use uuid::Uuid;

use super::{imbed_id, read_info_file, write_info, CollectionInfo, EdgeStore};
use crate::sink::identity::{payload_key, Index, IndexId};
use crate::sink::SinkError;

impl Index for EdgeStore {
    fn identity(&self) -> Option<&IndexId> {
        self.identity.as_ref()
    }

    fn created_now(&self) -> bool {
        self.created_now
    }

    fn set_identity(&mut self, identity: IndexId) -> Result<(), SinkError> {
        let unwritable = |error: anyhow::Error| SinkError::Write(format!("{error:#}"));
        let info = read_info_file(&self.info_path)
            .and_then(|info| info.with_context(|| format!("{} is missing", self.info_path.display())))
            .map_err(unwritable)?;
        write_info(&self.info_path, &CollectionInfo { index: Some(identity.clone()), ..info }).map_err(unwritable)?;
        self.identity = Some(identity);
        Ok(())
    }

    fn keys_of(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<String>)>, SinkError> {
        let ids: Vec<PointId> = ids.iter().map(|&id| PointId::Uuid(id)).collect();
        let key = "key".parse().map_err(|_| SinkError::Read("bad payload path".into()))?;
        let records = self
            .shard
            .retrieve(&ids, Some(WithPayloadInterface::Fields(vec![key])), Some(WithVector::Bool(false)))
            .map_err(|error| SinkError::Read(error.to_string()))?;
        Ok(records
            .into_iter()
            .filter_map(|record| match record.id {
                PointId::Uuid(id) => Some((id, payload_key(record.payload.as_ref().map(|payload| &payload.0)))),
                PointId::NumId(_) => None,
            })
            .collect())
    }

    fn ids_from(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Uuid>, Option<Uuid>), SinkError> {
        let unreadable = |error: anyhow::Error| SinkError::Read(format!("{error:#}"));
        let (records, next) = self.scroll(start.map(PointId::Uuid), limit, false).map_err(unreadable)?;
        let ids = records.into_iter().map(|record| imbed_id(record.id)).collect::<anyhow::Result<_>>();
        Ok((ids.map_err(unreadable)?, next.map(imbed_id).transpose().map_err(unreadable)?))
    }
}
