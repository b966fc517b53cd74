//! The collection as a run and `verify` see it: its identity, and its points read by ID.

use qdrant_client::qdrant::{
    point_id::PointIdOptions, GetPointsBuilder, PayloadIncludeSelector, PointId, ScrollPointsBuilder,
};
use uuid::Uuid;

use super::{format_id, payload_to_json, QdrantSink};
use crate::sink::identity::{payload_key, Index, IndexId};
use crate::sink::SinkError;

impl Index for QdrantSink {
    fn identity(&self) -> Option<&IndexId> {
        self.identity.as_ref()
    }

    fn created_now(&self) -> bool {
        self.created_now
    }

    fn keeps_identity(&self) -> bool {
        keeps_metadata(self.server_version())
    }

    fn set_identity(&mut self, identity: IndexId) -> Result<(), SinkError> {
        self.write_identity(&identity).map_err(|error| SinkError::Write(format!("{error:#}")))
    }

    fn keys_of(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<String>)>, SinkError> {
        let ids: Vec<PointId> = ids.iter().map(|&id| PointId::from(id.to_string())).collect();
        let request = GetPointsBuilder::new(self.collection.clone(), ids)
            .with_payload(PayloadIncludeSelector { fields: vec!["key".into()] })
            .build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.get_points(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        let mut found = Vec::with_capacity(response.result.len());
        for point in response.result {
            let Some(id) = point.id.as_ref().and_then(uuid_of) else { continue };
            let payload = payload_to_json(point.payload);
            found.push((id, payload_key(Some(&payload))));
        }
        Ok(found)
    }

    fn ids_from(&self, start: Option<Uuid>, limit: usize) -> Result<(Vec<Uuid>, Option<Uuid>), SinkError> {
        let mut request = ScrollPointsBuilder::new(self.collection.clone())
            .limit(limit.min(u32::MAX as usize) as u32)
            .with_payload(false)
            .with_vectors(false);
        if let Some(start) = start {
            request = request.offset(start.to_string());
        }
        let request = request.build();
        let response = self
            .call(|client, _| {
                let request = request.clone();
                async move { client.scroll(request).await }
            })
            .map_err(|error| SinkError::Read(format!("{error:#}")))?;
        let uuid = |id: &PointId| {
            uuid_of(id).ok_or_else(|| {
                SinkError::Read(format!(
                    "collection `{}` holds point {}, which imbed did not write",
                    self.collection,
                    format_id(id)
                ))
            })
        };
        let ids = response.result.iter().filter_map(|point| point.id.as_ref()).map(uuid).collect::<Result<_, _>>()?;
        let next = response.next_page_offset.as_ref().map(uuid).transpose()?;
        Ok((ids, next))
    }
}

fn uuid_of(id: &PointId) -> Option<Uuid> {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(text)) => text.parse().ok(),
        _ => None,
    }
}

/// Collection metadata came with Qdrant 1.16; an older server drops it without a word.
fn keeps_metadata(server_version: &str) -> bool {
    let mut parts = server_version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn servers_from_1_16_keep_metadata() {
        assert!(super::keeps_metadata("1.16.3") && super::keeps_metadata("1.20.0") && super::keeps_metadata("2.0"));
        assert!(!super::keeps_metadata("1.15.9") && !super::keeps_metadata("dev"));
    }
}
