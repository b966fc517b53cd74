//! The gRPC services: what works, and Unimplemented for every other RPC.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_server::Collections;
use qdrant_client::qdrant::points_server::Points;
use qdrant_client::qdrant::qdrant_server::Qdrant;
use tonic::{Request, Response, Status};

use super::{lock, not_found, seconds, unimplemented, Collection, Shared, VERSION};

#[derive(Clone)]
pub(super) struct Service(pub(super) Arc<Shared>);

/// Trait methods that answer Unimplemented, written as `#[tonic::async_trait]` expands them.
macro_rules! unimplemented_rpcs {
    ($($method:ident($request:ty) -> $response:ty = $path:literal;)*) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            _request: Request<$request>,
        ) -> Pin<Box<dyn Future<Output = Result<Response<$response>, Status>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move { Err(unimplemented($path)) })
        }
    )*};
}

#[tonic::async_trait]
impl Qdrant for Service {
    async fn health_check(
        &self,
        _request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckReply>, Status> {
        Ok(Response::new(pb::HealthCheckReply {
            title: "qdrant - vector search engine".to_owned(),
            version: VERSION.to_owned(),
            commit: None,
        }))
    }
}

#[tonic::async_trait]
impl Collections for Service {
    async fn get(
        &self,
        request: Request<pb::GetCollectionInfoRequest>,
    ) -> Result<Response<pb::GetCollectionInfoResponse>, Status> {
        let start = Instant::now();
        let name = &request.get_ref().collection_name;
        let info = lock(&self.0.collections).get(name).map(Collection::info).ok_or_else(|| not_found(name))?;
        Ok(Response::new(pb::GetCollectionInfoResponse { result: Some(info), time: seconds(start) }))
    }

    async fn create(
        &self,
        request: Request<pb::CreateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let result = self.create_collection(request.into_inner())?;
        Ok(Response::new(pb::CollectionOperationResponse { result, time: seconds(start) }))
    }

    /// Only what imbed updates besides `--bulk`'s HNSW switch: the metadata, merged.
    async fn update(
        &self,
        request: Request<pb::UpdateCollection>,
    ) -> Result<Response<pb::CollectionOperationResponse>, Status> {
        let start = Instant::now();
        let request = request.into_inner();
        let only_metadata = pb::UpdateCollection {
            collection_name: request.collection_name.clone(),
            metadata: request.metadata.clone(),
            ..Default::default()
        };
        if request != only_metadata {
            return Err(unimplemented("Collections/Update of anything but metadata"));
        }
        let mut collections = lock(&self.0.collections);
        let name = &request.collection_name;
        let collection = collections.get_mut(name).ok_or_else(|| not_found(name))?;
        collection.metadata.extend(request.metadata);
        Ok(Response::new(pb::CollectionOperationResponse { result: true, time: seconds(start) }))
    }

    async fn collection_exists(
        &self,
        request: Request<pb::CollectionExistsRequest>,
    ) -> Result<Response<pb::CollectionExistsResponse>, Status> {
        let start = Instant::now();
        let exists = lock(&self.0.collections).contains_key(&request.get_ref().collection_name);
        Ok(Response::new(pb::CollectionExistsResponse {
            result: Some(pb::CollectionExists { exists }),
            time: seconds(start),
        }))
    }

    unimplemented_rpcs! {
        list(pb::ListCollectionsRequest) -> pb::ListCollectionsResponse = "Collections/List";
        delete(pb::DeleteCollection) -> pb::CollectionOperationResponse = "Collections/Delete";
        update_aliases(pb::ChangeAliases) -> pb::CollectionOperationResponse = "Collections/UpdateAliases";
        list_collection_aliases(pb::ListCollectionAliasesRequest) -> pb::ListAliasesResponse =
            "Collections/ListCollectionAliases";
        list_aliases(pb::ListAliasesRequest) -> pb::ListAliasesResponse = "Collections/ListAliases";
        collection_cluster_info(pb::CollectionClusterInfoRequest) -> pb::CollectionClusterInfoResponse =
            "Collections/CollectionClusterInfo";
        update_collection_cluster_setup(pb::UpdateCollectionClusterSetupRequest)
            -> pb::UpdateCollectionClusterSetupResponse = "Collections/UpdateCollectionClusterSetup";
        create_shard_key(pb::CreateShardKeyRequest) -> pb::CreateShardKeyResponse = "Collections/CreateShardKey";
        delete_shard_key(pb::DeleteShardKeyRequest) -> pb::DeleteShardKeyResponse = "Collections/DeleteShardKey";
        list_shard_keys(pb::ListShardKeysRequest) -> pb::ListShardKeysResponse = "Collections/ListShardKeys";
    }
}

#[tonic::async_trait]
impl Points for Service {
    async fn upsert(
        &self,
        request: Request<pb::UpsertPoints>,
    ) -> Result<Response<pb::PointsOperationResponse>, Status> {
        self.upsert_points(request.into_inner()).map(Response::new)
    }

    async fn count(&self, request: Request<pb::CountPoints>) -> Result<Response<pb::CountResponse>, Status> {
        let start = Instant::now();
        let request = request.into_inner();
        if request.filter.is_some() {
            return Err(unimplemented("a filter"));
        }
        let name = &request.collection_name;
        let count = lock(&self.0.collections)
            .get(name)
            .map(|collection| collection.points.len())
            .ok_or_else(|| not_found(name))?;
        Ok(Response::new(pb::CountResponse {
            result: Some(pb::CountResult { count: count as u64 }),
            time: seconds(start),
            usage: None,
        }))
    }

    unimplemented_rpcs! {
        delete(pb::DeletePoints) -> pb::PointsOperationResponse = "Points/Delete";
        get(pb::GetPoints) -> pb::GetResponse = "Points/Get";
        scroll(pb::ScrollPoints) -> pb::ScrollResponse = "Points/Scroll";
        search(pb::SearchPoints) -> pb::SearchResponse = "Points/Search";
        query(pb::QueryPoints) -> pb::QueryResponse = "Points/Query";
        update_vectors(pb::UpdatePointVectors) -> pb::PointsOperationResponse = "Points/UpdateVectors";
        delete_vectors(pb::DeletePointVectors) -> pb::PointsOperationResponse = "Points/DeleteVectors";
        set_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/SetPayload";
        overwrite_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/OverwritePayload";
        delete_payload(pb::DeletePayloadPoints) -> pb::PointsOperationResponse = "Points/DeletePayload";
        clear_payload(pb::ClearPayloadPoints) -> pb::PointsOperationResponse = "Points/ClearPayload";
        create_field_index(pb::CreateFieldIndexCollection) -> pb::PointsOperationResponse = "Points/CreateFieldIndex";
        delete_field_index(pb::DeleteFieldIndexCollection) -> pb::PointsOperationResponse = "Points/DeleteFieldIndex";
        create_vector_name(pb::CreateVectorNameRequest) -> pb::PointsOperationResponse = "Points/CreateVectorName";
        delete_vector_name(pb::DeleteVectorNameRequest) -> pb::PointsOperationResponse = "Points/DeleteVectorName";
        search_batch(pb::SearchBatchPoints) -> pb::SearchBatchResponse = "Points/SearchBatch";
        search_groups(pb::SearchPointGroups) -> pb::SearchGroupsResponse = "Points/SearchGroups";
        recommend(pb::RecommendPoints) -> pb::RecommendResponse = "Points/Recommend";
        recommend_batch(pb::RecommendBatchPoints) -> pb::RecommendBatchResponse = "Points/RecommendBatch";
        recommend_groups(pb::RecommendPointGroups) -> pb::RecommendGroupsResponse = "Points/RecommendGroups";
        discover(pb::DiscoverPoints) -> pb::DiscoverResponse = "Points/Discover";
        discover_batch(pb::DiscoverBatchPoints) -> pb::DiscoverBatchResponse = "Points/DiscoverBatch";
        update_batch(pb::UpdateBatchPoints) -> pb::UpdateBatchResponse = "Points/UpdateBatch";
        query_batch(pb::QueryBatchPoints) -> pb::QueryBatchResponse = "Points/QueryBatch";
        query_groups(pb::QueryPointGroups) -> pb::QueryGroupsResponse = "Points/QueryGroups";
        facet(pb::FacetCounts) -> pb::FacetResponse = "Points/Facet";
        search_matrix_pairs(pb::SearchMatrixPoints) -> pb::SearchMatrixPairsResponse = "Points/SearchMatrixPairs";
        search_matrix_offsets(pb::SearchMatrixPoints) -> pb::SearchMatrixOffsetsResponse = "Points/SearchMatrixOffsets";
    }
}
