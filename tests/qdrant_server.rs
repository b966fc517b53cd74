//! The loopback stand-in (tests/support/qdrant_server.rs), driven by the official client: its
//! faults must reach a client as Qdrant's own answers would, before imbed is tested with them.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;

use qdrant_client::qdrant::{
    CountPointsBuilder, CreateCollectionBuilder, Distance, FacetCountsBuilder, PointStruct, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use qdrant_server::TestServer;
use serde_json::json;
use tonic::Code;

const A: &str = "0b7a6c5e-3f2d-4e1a-9c8b-7d6e5f4a3b2c";
const B: &str = "1c8b7d6f-4a3e-4f2b-8d9c-8e7f6a5b4c3d";

fn client(server: &TestServer) -> Qdrant {
    Qdrant::from_url(&server.url()).skip_compatibility_check().build().expect("build the client")
}

fn code(error: &QdrantError) -> Code {
    match error {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => status.code(),
        other => panic!("not an error from the server: {other}"),
    }
}

fn point(id: &str, vector: Vec<f32>, body: serde_json::Value) -> PointStruct {
    PointStruct::new(id.to_owned(), vector, Payload::try_from(body).expect("a JSON object"))
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
async fn points_are_stored_and_a_vector_of_the_wrong_size_fails_the_whole_batch() {
    let server = TestServer::start();
    let client = client(&server);
    assert_eq!(client.health_check().await.expect("health check").version, qdrant_server::VERSION);
    create(&client, "images", 4).await;
    upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({"path": "a.jpg"}))]).await.expect("upsert");
    let points = server.points("images");
    assert_eq!((points.len(), points[0].id.as_str()), (1, A));
    assert_eq!(points[0].payload, json!({"path": "a.jpg"}));

    let batch = vec![point(B, vec![0.5; 4], json!({})), point(A, vec![0.5; 3], json!({}))];
    let error = upsert(&client, "images", batch).await.expect_err("a 3-dimensional vector in a 4 collection");
    assert_eq!(code(&error), Code::InvalidArgument);
    assert!(error.to_string().contains("Vector dimension error: expected dim: 4, got 3"), "{error}");
    assert_eq!(count(&client, "images").await, 1, "nothing of the batch was written");
}

#[tokio::test]
async fn a_lowered_request_limit_refuses_larger_requests() {
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
async fn injected_failures_answer_the_chosen_status() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;

    // Points calls are retried once on Unavailable: two failures reach the caller, one does not.
    server.faults().fail_next_upserts(2, Code::Unavailable);
    let error = upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({}))]).await.expect_err("two failures");
    assert_eq!(code(&error), Code::Unavailable);
    assert!(server.upserts().is_empty(), "nothing was applied");
    server.faults().fail_next_upserts(1, Code::Unavailable);
    upsert(&client, "images", vec![point(A, vec![1.0; 4], json!({}))]).await.expect("the client's own retry succeeds");
    assert_eq!(server.upserts().len(), 1);
    assert_eq!(server.faults().injected(), 3);

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
    assert_eq!(server.upserts().len(), 2);
    assert_eq!(count(&client, "images").await, 2, "applied, and the same IDs overwrite");

    // The caller's own retry succeeds and still leaves two points.
    upsert(&client, "images", batch()).await.expect("retry");
    assert_eq!(server.upserts().len(), 3);
    assert_eq!(count(&client, "images").await, 2);
}

#[tokio::test]
async fn other_rpcs_are_unimplemented() {
    let server = TestServer::start();
    let client = client(&server);
    create(&client, "images", 4).await;
    let error = client.facet(FacetCountsBuilder::new("images", "path")).await.expect_err("facet");
    assert_eq!(code(&error), Code::Unimplemented);
}
