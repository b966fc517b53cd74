//! The loopback Qdrant server (tests/support/qdrant_server.rs), driven by the official client:
//! it must behave like Qdrant before imbed's server sink is tested against it.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use qdrant_client::config::CompressionEncoding;
use qdrant_client::qdrant::{
    point_id::PointIdOptions, vectors_output::VectorsOptions, CountPointsBuilder, CreateCollectionBuilder,
    DeletePointsBuilder, Distance, FacetCountsBuilder, GetPointsBuilder, HnswConfigDiffBuilder,
    OptimizersConfigDiffBuilder, PointId, PointStruct, PointsIdsList, Query, QueryPointsBuilder, ScrollPointsBuilder,
    SearchPointsBuilder, UpdateCollectionBuilder, UpdateStatus, UpsertPointsBuilder, VectorParamsBuilder,
    VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use qdrant_server::TestServer;
use serde_json::json;
use tonic::Code;

const A: &str = "0b7a6c5e-3f2d-4e1a-9c8b-7d6e5f4a3b2c";
const B: &str = "1c8b7d6f-4a3e-4f2b-8d9c-8e7f6a5b4c3d";

fn client(server: &TestServer) -> Qdrant {
    client_with(server, |builder| builder)
}

fn client_with(
    server: &TestServer,
    configure: impl FnOnce(qdrant_client::QdrantBuilder) -> qdrant_client::QdrantBuilder,
) -> Qdrant {
    configure(Qdrant::from_url(&server.url()).skip_compatibility_check()).build().expect("build the client")
}

fn code(error: &QdrantError) -> Code {
    match error {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => status.code(),
        other => panic!("not an error from the server: {other}"),
    }
}

fn message(error: &QdrantError) -> String {
    match error {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => {
            status.message().to_owned()
        }
        other => panic!("not an error from the server: {other}"),
    }
}

fn payload(value: serde_json::Value) -> Payload {
    Payload::try_from(value).expect("a JSON object")
}

fn point(id: &str, vector: Vec<f32>, body: serde_json::Value) -> PointStruct {
    PointStruct::new(id.to_owned(), vector, payload(body))
}

fn id_text(id: &Option<PointId>) -> String {
    match id.as_ref().and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Uuid(uuid)) => uuid.clone(),
        Some(PointIdOptions::Num(number)) => number.to_string(),
        None => panic!("no ID"),
    }
}

async fn create(client: &Qdrant, name: &str, size: u64) {
    client
        .create_collection(
            CreateCollectionBuilder::new(name).vectors_config(VectorParamsBuilder::new(size, Distance::Cosine)),
        )
        .await
        .expect("create the collection");
}

async fn upsert(client: &Qdrant, collection: &str, points: Vec<PointStruct>) -> Result<(), QdrantError> {
    client.upsert_points(UpsertPointsBuilder::new(collection, points).wait(true)).await.map(drop)
}

async fn count(client: &Qdrant, collection: &str) -> u64 {
    let response = client.count(CountPointsBuilder::new(collection).exact(true)).await.expect("count");
    response.result.expect("a count").count
}

#[tokio::test]
async fn health_check_reports_qdrant_and_the_configured_version() {
    let server = TestServer::start();
    let reply = client(&server).health_check().await.expect("health check");
    assert_eq!(reply.title, "qdrant - vector search engine");
    assert_eq!(reply.version, "1.16.0");

    let newer = TestServer::builder().version("1.20.3").start();
    assert_eq!(client(&newer).health_check().await.expect("health check").version, "1.20.3");
    assert_eq!(newer.calls(), ["Qdrant/HealthCheck"]);
}

#[tokio::test]
async fn building_a_client_checks_the_version_with_a_health_check() {
    // Against 1.16 the 1.20 client prints an incompatibility notice to stdout, and builds anyway.
    let server = TestServer::builder().api_key("secret").start();
    let client = Qdrant::from_url(&server.url()).api_key("secret").build().expect("build");
    assert_eq!(server.calls(), ["Qdrant/HealthCheck"]);
    assert_eq!(server.api_keys_seen(), [Some("secret".to_owned())]);
    client.list_collections().await.expect("list");
}

#[tokio::test]
async fn collections_are_created_described_updated_listed_and_deleted() {
    let server = TestServer::start();
    let client = client(&server);
    assert!(!client.collection_exists("images").await.unwrap());

    client
        .create_collection(
            CreateCollectionBuilder::new("images")
                .vectors_config(VectorParamsBuilder::new(64, Distance::Dot).on_disk(true))
                .shard_number(2)
                .replication_factor(3)
                .hnsw_config(HnswConfigDiffBuilder::default().m(0))
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(0)),
        )
        .await
        .expect("create");
    assert!(client.collection_exists("images").await.unwrap());

    let again = client
        .create_collection(
            CreateCollectionBuilder::new("images").vectors_config(VectorParamsBuilder::new(64, Distance::Dot)),
        )
        .await
        .expect_err("a second create fails");
    assert_eq!(code(&again), Code::AlreadyExists);
    assert!(message(&again).contains("already exists"), "{again}");

    let info = client.collection_info("images").await.expect("info").result.expect("a collection");
    assert_eq!(info.status, qdrant_client::qdrant::CollectionStatus::Green as i32);
    assert_eq!(info.points_count, Some(0));
    let config = info.config.expect("a config");
    let params = config.params.expect("params");
    assert_eq!(params.shard_number, 2);
    assert_eq!(params.replication_factor, Some(3));
    match params.vectors_config.and_then(|config| config.config) {
        Some(qdrant_client::qdrant::vectors_config::Config::Params(vector)) => {
            assert_eq!(vector.size, 64);
            assert_eq!(vector.distance, Distance::Dot as i32);
            #[allow(deprecated)]
            let on_disk = vector.on_disk;
            assert_eq!(on_disk, Some(true));
        }
        other => panic!("expected a single vector, got {other:?}"),
    }
    assert_eq!(config.hnsw_config.and_then(|hnsw| hnsw.m), Some(0));
    assert_eq!(config.hnsw_config.and_then(|hnsw| hnsw.ef_construct), Some(100), "defaults are filled in");
    assert_eq!(config.optimizer_config.and_then(|optimizers| optimizers.indexing_threshold), Some(0));

    client
        .update_collection(
            UpdateCollectionBuilder::new("images")
                .hnsw_config(HnswConfigDiffBuilder::default().m(16))
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(20_000)),
        )
        .await
        .expect("update");
    let config = client.collection_info("images").await.unwrap().result.unwrap().config.unwrap();
    assert_eq!(config.hnsw_config.and_then(|hnsw| hnsw.m), Some(16));
    assert_eq!(config.optimizer_config.and_then(|optimizers| optimizers.indexing_threshold), Some(20_000));

    let snapshot = server.collection("images").expect("a snapshot");
    assert_eq!((snapshot.vector().size, snapshot.vector().distance), (64, Distance::Dot));
    assert_eq!(snapshot.vector().on_disk, Some(true));
    assert!(!snapshot.named_vectors);
    assert_eq!((snapshot.shard_number, snapshot.replication_factor), (2, 3));
    assert_eq!((snapshot.hnsw_m(), snapshot.indexing_threshold()), (Some(16), Some(20_000)));

    create(&client, "other", 8).await;
    let names: Vec<_> = client.list_collections().await.unwrap().collections.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["images", "other"]);
    assert_eq!(server.collection_names(), ["images", "other"]);

    assert!(client.delete_collection("images").await.unwrap().result);
    assert!(!client.collection_exists("images").await.unwrap());
    assert!(server.collection("images").is_none());
    let missing = client.collection_info("images").await.expect_err("a deleted collection is gone");
    assert_eq!(code(&missing), Code::NotFound);
    assert_eq!(message(&missing), "Not found: Collection `images` doesn't exist!");
}

#[tokio::test]
async fn points_are_stored_in_edge_and_read_back_every_way() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;
    let points = vec![
        point(
            A,
            vec![1.0, 0.0, 0.0, 0.0],
            json!({"path": "a.jpg", "width": 640, "tags": ["x", "y"], "exif": {"iso": 100}}),
        ),
        point(B, vec![0.0, 1.0, 0.0, 0.0], json!({"path": "b.jpg", "width": 320})),
        PointStruct::new(7, vec![0.0, 0.0, 2.0, 0.0], payload(json!({"path": "c.jpg"}))),
    ];
    upsert(&client, "images", points).await.expect("upsert");
    assert_eq!(server.upsert_calls(), 1);
    assert_eq!(server.upserts()[0].points, 3);
    assert!(server.upserts()[0].wait);
    assert_eq!(count(&client, "images").await, 3);

    let stored = server.points("images");
    assert_eq!(stored.len(), 3);
    let a = stored.iter().find(|point| point.id == A).expect("point A");
    assert_eq!(a.payload, json!({"path": "a.jpg", "width": 640, "tags": ["x", "y"], "exif": {"iso": 100}}));
    assert_eq!(a.vector(), [1.0, 0.0, 0.0, 0.0]);
    let c = stored.iter().find(|point| point.id == "7").expect("point 7");
    assert_eq!(c.vector(), [0.0, 0.0, 1.0, 0.0], "cosine vectors are normalised, as by Qdrant");

    let got = client
        .get_points(
            GetPointsBuilder::new("images", vec![PointId::from(B.to_owned())]).with_payload(true).with_vectors(true),
        )
        .await
        .expect("get")
        .result;
    assert_eq!(got.len(), 1);
    assert_eq!(id_text(&got[0].id), B);
    assert_eq!(serde_json::Value::from(Payload::from(got[0].payload.clone())), json!({"path": "b.jpg", "width": 320}));
    match got[0].vectors.clone().and_then(|vectors| vectors.vectors_options) {
        Some(VectorsOptions::Vector(vector)) => {
            assert_eq!(
                vector.into_vector(),
                qdrant_client::qdrant::vector_output::Vector::Dense(qdrant_client::qdrant::DenseVector {
                    data: vec![0.0, 1.0, 0.0, 0.0]
                })
            )
        }
        other => panic!("expected an unnamed vector, got {other:?}"),
    }

    let first = client.scroll(ScrollPointsBuilder::new("images").limit(2).with_payload(true)).await.expect("scroll");
    assert_eq!(first.result.len(), 2);
    let offset = first.next_page_offset.expect("a second page");
    let second = client.scroll(ScrollPointsBuilder::new("images").limit(2).offset(offset)).await.expect("scroll on");
    assert_eq!(second.result.len(), 1);
    assert!(second.next_page_offset.is_none());

    let hits = client
        .query(
            QueryPointsBuilder::new("images")
                .query(Query::new_nearest(vec![0.9, 0.1, 0.0, 0.0]))
                .limit(2)
                .with_payload(true),
        )
        .await
        .expect("query")
        .result;
    assert_eq!(hits.len(), 2);
    assert_eq!(id_text(&hits[0].id), A);
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[0].payload["path"], "a.jpg".into());

    let found = client
        .search_points(SearchPointsBuilder::new("images", vec![0.0, 0.0, 1.0, 0.0], 1).with_payload(true))
        .await
        .expect("search")
        .result;
    assert_eq!(id_text(&found[0].id), "7");
    assert!((found[0].score - 1.0).abs() < 1e-6);

    // Same IDs overwrite. Without `wait` the answer says Acknowledged (the write is applied anyway).
    let response = client
        .upsert_points(UpsertPointsBuilder::new(
            "images",
            vec![point(A, vec![0.0, 0.0, 0.0, 1.0], json!({"path": "a2.jpg"}))],
        ))
        .await
        .expect("upsert without wait");
    assert_eq!(response.result.map(|result| result.status), Some(UpdateStatus::Acknowledged as i32));
    assert!(!server.upserts()[1].wait);
    assert_eq!(count(&client, "images").await, 3);
    let a = server.points("images").into_iter().find(|point| point.id == A).unwrap();
    assert_eq!(a.payload, json!({"path": "a2.jpg"}));

    client
        .delete_points(
            DeletePointsBuilder::new("images").points(PointsIdsList { ids: vec![A.to_owned().into()] }).wait(true),
        )
        .await
        .expect("delete");
    assert_eq!(count(&client, "images").await, 2);

    let missing = upsert(&client, "nowhere", vec![point(A, vec![1.0; 4], json!({}))]).await.unwrap_err();
    assert_eq!(code(&missing), Code::NotFound);
}

#[tokio::test]
async fn named_vectors_are_stored_and_queried_by_name() {
    let server = TestServer::start();
    let client = client(&server);
    let mut vectors = VectorsConfigBuilder::default();
    vectors.add_named_vector_params("image", VectorParamsBuilder::new(3, Distance::Euclid));
    client.create_collection(CreateCollectionBuilder::new("named").vectors_config(vectors)).await.expect("create");
    let snapshot = server.collection("named").unwrap();
    assert!(snapshot.named_vectors);
    assert_eq!(snapshot.vectors["image"].size, 3);

    let named = |vector: Vec<f32>| HashMap::from([("image".to_owned(), vector)]);
    let points = vec![
        PointStruct::new(A.to_owned(), named(vec![1.0, 1.0, 1.0]), payload(json!({"n": 1}))),
        PointStruct::new(B.to_owned(), named(vec![5.0, 5.0, 5.0]), payload(json!({"n": 2}))),
    ];
    upsert(&client, "named", points).await.expect("upsert named vectors");
    let stored = server.points("named");
    assert_eq!(stored.iter().find(|point| point.id == B).unwrap().vectors["image"], [5.0, 5.0, 5.0]);

    let hits = client
        .query(
            QueryPointsBuilder::new("named")
                .query(Query::new_nearest(vec![4.0, 4.0, 4.0]))
                .using("image")
                .limit(1)
                .with_payload(true),
        )
        .await
        .expect("query by name")
        .result;
    assert_eq!(id_text(&hits[0].id), B);

    let unnamed = upsert(&client, "named", vec![point(A, vec![1.0, 2.0, 3.0], json!({}))]).await.unwrap_err();
    assert_eq!(code(&unnamed), Code::InvalidArgument);
    assert_eq!(message(&unnamed), "Wrong input: Not existing vector name error: ");
    let no_name = client
        .query(QueryPointsBuilder::new("named").query(Query::new_nearest(vec![4.0, 4.0, 4.0])))
        .await
        .unwrap_err();
    assert_eq!(code(&no_name), Code::InvalidArgument);
}

#[tokio::test]
async fn a_vector_of_the_wrong_size_fails_the_whole_batch_like_qdrant() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 64).await;
    let points = vec![point(A, vec![0.5; 64], json!({})), point(B, vec![0.5; 32], json!({}))];
    let error = upsert(&client, "images", points).await.expect_err("a 32-dimensional vector in a 64 collection");
    assert_eq!(code(&error), Code::InvalidArgument);
    assert_eq!(message(&error), "Wrong input: Vector dimension error: expected dim: 64, got 32");
    assert_eq!(count(&client, "images").await, 0, "nothing of the batch was written");
    assert_eq!(server.upsert_calls(), 0);
}

#[tokio::test]
async fn requests_over_32_mib_are_refused() {
    let server = TestServer::start();
    // Generous: tens of megabytes go through a debug build on a shared machine.
    let client = client_with(&server, |builder| builder.timeout(Duration::from_secs(120)));
    create(&client, "big", 1024).await;
    let batch = |n: usize| (0..n).map(|i| PointStruct::new(i as u64, vec![0.25_f32; 1024], Payload::new())).collect();
    // 9000 points of 1024 floats: about 37 MB on the wire.
    let error = upsert(&client, "big", batch(9000)).await.expect_err("over the limit");
    assert_eq!(code(&error), Code::OutOfRange, "{error}");
    assert!(message(&error).contains("message length too large"), "{error}");
    assert_eq!(count(&client, "big").await, 0);
    // 6000 points: about 25 MB, under the limit.
    upsert(&client, "big", batch(6000)).await.expect("under the limit");
    assert_eq!(count(&client, "big").await, 6000);
}

#[tokio::test]
async fn the_request_limit_can_be_lowered_to_test_batch_splitting_cheaply() {
    let server = TestServer::builder().max_request_bytes(64 * 1024).start();
    let client = client(&server);
    create(&client, "small", 256).await;
    let batch = |n: usize| (0..n).map(|i| PointStruct::new(i as u64, vec![0.5_f32; 256], Payload::new())).collect();
    let error = upsert(&client, "small", batch(100)).await.expect_err("about 100 KB");
    assert_eq!(code(&error), Code::OutOfRange, "{error}");
    upsert(&client, "small", batch(50)).await.expect("about 50 KB");
    assert_eq!(count(&client, "small").await, 50);
}

#[tokio::test]
async fn gzip_compressed_requests_are_served() {
    let server = TestServer::start();
    let client = client_with(&server, |builder| builder.compression(Some(CompressionEncoding::Gzip)));
    create(&client, "images", 4).await;
    upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({"path": "a.jpg"}))]).await.expect("upsert");
    assert_eq!(count(&client, "images").await, 1);
}

#[tokio::test]
async fn an_api_key_is_required_when_configured() {
    let server = TestServer::builder().api_key("secret").start();
    let good = client_with(&server, |builder| builder.api_key("secret"));
    create(&good, "images", 4).await;

    let missing = client(&server).collection_exists("images").await.expect_err("no key");
    assert_eq!(code(&missing), Code::Unauthenticated);
    let wrong =
        client_with(&server, |builder| builder.api_key("guess")).list_collections().await.expect_err("wrong key");
    assert_eq!(code(&wrong), Code::Unauthenticated);

    assert_eq!(server.api_keys_seen(), [Some("secret".to_owned()), None, Some("guess".to_owned())]);
    assert_eq!(server.calls(), ["Collections/Create", "Collections/CollectionExists", "Collections/List"]);
}

#[tokio::test]
async fn injected_failures_answer_the_chosen_status() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;

    // Collections calls are not retried by the client: the fault reaches the caller.
    server.faults().fail_next(1, Code::Unavailable);
    let error = client.collection_exists("images").await.expect_err("injected");
    assert_eq!(code(&error), Code::Unavailable);
    assert!(client.collection_exists("images").await.unwrap(), "only the next call fails");

    // Points calls are retried once on Unavailable: two failures reach the caller, one does not.
    server.faults().fail_next_upserts(2, Code::Unavailable);
    let error = upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({}))]).await.expect_err("two failures");
    assert_eq!(code(&error), Code::Unavailable);
    assert_eq!((server.upsert_calls(), server.upserts().len()), (0, 0), "nothing was applied");
    server.faults().fail_next_upserts(1, Code::Unavailable);
    upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({}))]).await.expect("the client's own retry succeeds");
    assert_eq!(server.upsert_calls(), 1);
    assert_eq!(server.faults().injected(), 4);

    // Not retried: a client error, and a rate limit with the time to wait.
    server.faults().fail_next_upserts(1, Code::InvalidArgument);
    let error = upsert(&client, "images", vec![point(B, vec![1.0; 4], json!({}))]).await.unwrap_err();
    assert_eq!(code(&error), Code::InvalidArgument);
    server.faults().rate_limit_upserts(1, 3);
    match upsert(&client, "images", vec![point(B, vec![1.0; 4], json!({}))]).await.unwrap_err() {
        QdrantError::ResourceExhaustedError { retry_after_seconds, .. } => assert_eq!(retry_after_seconds, 3),
        other => panic!("expected a rate limit, got {other}"),
    }
    assert_eq!(count(&client, "images").await, 1);
}

#[tokio::test]
async fn a_lost_acknowledgement_applies_the_upsert_without_duplicates() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;
    let batch = || vec![point(A, vec![1.0; 4], json!({"n": 1})), point(B, vec![2.0; 4], json!({"n": 2}))];

    // Applied twice (the client retries once by itself), answered Unavailable twice.
    server.faults().fail_upsert_after_apply(2);
    let error = upsert(&client, "images", batch()).await.expect_err("the answer is lost");
    assert_eq!(code(&error), Code::Unavailable);
    assert_eq!(server.upsert_calls(), 0);
    assert_eq!(server.upserts().len(), 2);
    assert_eq!(count(&client, "images").await, 2, "applied, and the same IDs overwrite");

    // The caller's own retry succeeds and still leaves two points.
    upsert(&client, "images", batch()).await.expect("retry");
    assert_eq!(server.upsert_calls(), 1);
    assert_eq!(count(&client, "images").await, 2);
}

#[tokio::test]
async fn a_delay_trips_the_client_deadline() {
    let server = TestServer::start();
    let setup = client(&server);
    create(&setup, "images", 4).await;
    // Only the calls meant to time out use the short deadline.
    let client = client_with(&server, |builder| builder.timeout(Duration::from_millis(300)));

    let delay = Duration::from_secs(20);
    server.faults().delay(delay);
    let start = Instant::now();
    let error = client.collection_exists("images").await.expect_err("the deadline passes first");
    assert_eq!(code(&error), Code::Cancelled, "{error}");
    assert!(message(&error).contains("Timeout expired"), "{error}");
    assert!(start.elapsed() < delay / 2, "the client gave up long before the server answered");

    // A delayed upsert that the client abandons (twice: it retries Cancelled) is dropped unapplied.
    let error = upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({}))]).await.unwrap_err();
    assert_eq!(code(&error), Code::Cancelled);
    let deadline = Instant::now() + delay / 2;
    while server.in_flight() > 0 {
        assert!(Instant::now() < deadline, "abandoned requests are still being handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.faults().delay(Duration::ZERO);
    assert_eq!(count(&setup, "images").await, 0);
    assert!(server.upserts().is_empty());
}

#[tokio::test]
async fn closed_connections_are_transport_errors() {
    let server = TestServer::start();
    server.faults().close_next_connections(1);
    let client = client(&server);
    let error = client.list_collections().await.expect_err("the connection is closed");
    assert!(matches!(code(&error), Code::Internal | Code::Unavailable | Code::Unknown), "{error}");
    assert_eq!(server.faults().injected(), 1);
    client.list_collections().await.expect("the next connection is served");
    assert_eq!(server.calls(), ["Collections/List"], "the closed connection carried no RPC");
}

#[tokio::test]
async fn the_server_goes_down_and_comes_back_with_its_data() {
    let mut server = TestServer::start();
    // One pooled connection: the client drops it after a failed call and connects afresh.
    let client = client_with(&server, |mut builder| {
        builder.set_pool_size(1);
        builder
    });
    create(&client, "images", 4).await;
    upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({"n": 1}))]).await.unwrap();

    let url = server.url();
    server.stop();
    assert!(!server.is_running());
    let error = client.collection_exists("images").await.expect_err("the server is down");
    assert!(matches!(code(&error), Code::Internal | Code::Unavailable | Code::Unknown | Code::Cancelled), "{error}");

    server.restart();
    assert_eq!(server.url(), url, "same port");
    assert!(client.collection_exists("images").await.expect("back up"));
    assert_eq!(count(&client, "images").await, 1);
    assert_eq!(server.points("images")[0].payload, json!({"n": 1}));
}

#[tokio::test]
async fn other_rpcs_are_unimplemented() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;
    let error = client.facet(FacetCountsBuilder::new("images", "path")).await.expect_err("facet");
    assert_eq!(code(&error), Code::Unimplemented);
    assert_eq!(server.calls().last().map(String::as_str), Some("Points/Facet"));
}
