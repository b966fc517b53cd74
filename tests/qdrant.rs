//! The Qdrant server sink, against a gRPC server on loopback that stores points in a Qdrant
//! Edge shard and injects faults (tests/support/qdrant_server.rs).

mod common;
#[path = "support/qdrant_server.rs"]
mod qdrant_server;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture_image_count, fixture_images, ort_library, search_server, tiny_model, Workspace};
use qdrant_server::TestServer;
use serde_json::Value;
use tonic::Code;

const COLLECTION: &str = "photos";

/// `imbed index` of the fixtures into `server`, returning the JSON summary and the exit code.
fn index_into(ws: &Workspace, server: &TestServer, extra: &[&str]) -> (Value, i32, String) {
    let output = ws
        .index_fixtures()
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--json", "--batch-size", "4"])
        .args(extra)
        .output()
        .expect("run imbed");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (summary, output.status.code().unwrap_or(-1), stderr)
}

/// `imbed index` of the fixtures one per batch, in the background, so it can be disturbed.
fn spawn_slow_index(ws: &Workspace, server: &TestServer, extra: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("imbed"))
        .current_dir(ws.path())
        .env("ORT_DYLIB_PATH", ort_library())
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model())
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--batch-size", "1", "--quiet"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn stats(ws: &Workspace, extra: &[&str]) -> Value {
    let output = ws.imbed().args(["stats", "--json"]).args(extra).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stats JSON")
}

/// Every fixture is on the server exactly once, under the ID imbed derives from its key.
fn assert_all_points(server: &TestServer, ws: &Workspace) {
    let points = server.points(COLLECTION);
    let ids: BTreeSet<&str> = points.iter().map(|point| point.id.as_str()).collect();
    assert_eq!(points.len(), fixture_image_count(), "{ids:?}");
    assert_eq!(ids.len(), points.len(), "duplicate IDs");
    let summary = stats(ws, &[]);
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], 0, "{summary}");
}

#[test]
fn points_land_with_their_vectors_and_payload() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let (summary, code, stderr) = index_into(&ws, &server, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["sink"]["qdrant"], server.url(), "{summary}");
    assert_eq!(summary["sink"]["points"], fixture_image_count() as u64, "{summary}");
    assert_all_points(&server, &ws);

    let collection = server.collection(COLLECTION).expect("collection created");
    assert_eq!(collection.vector().size, 64);
    assert_eq!(collection.vector().distance, qdrant_client::qdrant::Distance::Cosine);
    // Every write waited for the server's acknowledgement.
    assert!(server.upserts().iter().all(|upsert| upsert.wait));

    let image = fixture_images().join("portrait_shapes.jpg");
    let expected = ws.embed_vector(&image, &tiny_model(), &[]);
    let point = server
        .points(COLLECTION)
        .into_iter()
        .find(|point| point.payload["path"].as_str().is_some_and(|path| path.ends_with("portrait_shapes.jpg")))
        .expect("the point of portrait_shapes.jpg");
    let stored: Vec<f64> = point.vector().iter().map(|&x| f64::from(x)).collect();
    let cosine: f64 = stored.iter().zip(&expected).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.9999, "stored vector differs from `imbed embed`: cosine {cosine}");

    let hits = search_server(&ws, &server.url(), COLLECTION, &image);
    let best = &hits["results"][0];
    assert!(best["path"].as_str().expect("path").ends_with("portrait_shapes.jpg"), "{hits}");
    assert!(best["score"].as_f64().expect("score") > 0.9999, "{hits}");

    let summary = stats(&ws, &[]);
    let state = &summary["sink"]["collections"][0];
    assert_eq!(state["status"], "green", "{summary}");
    assert_eq!(state["points"], fixture_image_count() as u64, "{summary}");
}

#[test]
fn retries_recover_from_faults_without_duplicates() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let faults = server.faults();
    faults.fail_next_upserts(3, Code::Unavailable);
    // Applied, then answered with an error: the retry writes the same IDs again.
    faults.fail_upsert_after_apply(3);
    let (_, code, stderr) = index_into(&ws, &server, &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(faults.injected() >= 6, "only {} faults fired", faults.injected());
    assert_all_points(&server, &ws);
}

#[test]
fn dropped_connections_are_retried_without_duplicates() {
    let ws = Workspace::new();
    let server = TestServer::start();
    server.faults().close_next_connections(3);
    let (_, code, stderr) = index_into(&ws, &server, &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(server.faults().injected() >= 3);
    assert_all_points(&server, &ws);

    // An overloaded server's `retry-after` is honoured.
    let ws = Workspace::new();
    let server = TestServer::start();
    server.faults().rate_limit_upserts(2, 1);
    let (_, code, stderr) = index_into(&ws, &server, &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(server.faults().injected(), 2);
    assert_all_points(&server, &ws);
}

#[test]
fn a_server_slower_than_the_timeout_gets_a_clear_message() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let (_, code, stderr) = index_into(&ws, &server, &[]);
    assert_eq!(code, 0, "{stderr}");
    server.faults().delay(Duration::from_millis(2000));
    let (_, code, stderr) = index_into(&ws, &server, &["--timeout", "0.3", "--max-retries", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    // stats reports it and goes on.
    let summary = stats(&ws, &["--timeout", "0.3"]);
    let error = summary["sink"]["collections"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("timed out"), "{summary}");
}

#[test]
fn exhausted_retries_leave_failed_items_that_retry_failed_completes() {
    let ws = Workspace::new();
    let server = TestServer::start();
    server.faults().fail_next_upserts(10_000, Code::Unavailable);
    let (summary, code, stderr) = index_into(&ws, &server, &["--max-retries", "1"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["errors"]["sink"], fixture_image_count() as u64, "{summary}");
    assert!(stderr.contains("[sink]: the server did not take the write after 2 tries"), "{stderr}");
    assert!(server.points(COLLECTION).is_empty());

    server.faults().clear();
    ws.imbed().args(["retry-failed", "--quiet"]).assert().success();
    assert_all_points(&server, &ws);
}

#[test]
fn the_api_key_reaches_the_server_and_is_never_stored() {
    const KEY: &str = "s3cret-key-0123456789";
    let ws = Workspace::new();
    let server = TestServer::builder().api_key(KEY).start();

    let (_, code, stderr) = index_into(&ws, &server, &["--max-retries", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("api-key") || stderr.contains("API key"), "{stderr}");

    let output = ws
        .index_fixtures()
        .env("QDRANT_API_KEY", KEY)
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "-v"])
        .output()
        .expect("index");
    let everything = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&everything));
    assert!(!String::from_utf8_lossy(&everything).contains(KEY), "the key was printed");
    let seen = server.api_keys_seen();
    assert!(seen.iter().any(|key| key.as_deref() == Some(KEY)), "{seen:?}");
    assert_eq!(server.points(COLLECTION).len(), fixture_image_count());
    for entry in std::fs::read_dir(ws.path()).expect("workspace") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert!(!String::from_utf8_lossy(&bytes).contains(KEY), "{} holds the key", path.display());
        }
    }

    // The run used a key: a resume without one says so before doing anything.
    let output = ws.imbed().args(["resume"]).output().expect("resume");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("used an API key"));
    ws.imbed().env("IMBED_QDRANT_API_KEY", KEY).args(["resume", "--quiet"]).assert().success();
}

#[test]
fn a_server_that_is_down_fails_before_the_model_loads() {
    let ws = Workspace::new();
    let mut server = TestServer::start();
    let url = server.url();
    server.stop();
    let started = Instant::now();
    // A missing ONNX Runtime would be the error if the model were loaded first.
    let output = ws
        .imbed()
        .args(["--ort-lib", "/nonexistent/libonnxruntime.so", "index"])
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model())
        .args(["--qdrant", &url, "--max-retries", "1"])
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot reach the Qdrant server at {url}")), "{stderr}");
    assert!(!stderr.contains("onnxruntime"), "{stderr}");
    eprintln!("failed after {:?}", started.elapsed());
}

#[test]
fn a_collection_of_another_dimension_is_refused_before_writing() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let client = qdrant_client::Qdrant::from_url(&server.url()).skip_compatibility_check().build().expect("client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(client.create_collection(
            qdrant_client::qdrant::CreateCollectionBuilder::new(COLLECTION).vectors_config(
                qdrant_client::qdrant::VectorParamsBuilder::new(32, qdrant_client::qdrant::Distance::Cosine),
            ),
        ))
        .expect("create");
    let (_, code, stderr) = index_into(&ws, &server, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("holds 32-dimensional vectors"), "{stderr}");
    assert_eq!(server.upsert_calls(), 0);
}

#[test]
fn named_vectors_and_cluster_settings() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let extra = ["--vector-name", "clip", "--shards", "3", "--replication-factor", "2", "--on-disk"];
    let (_, code, stderr) = index_into(&ws, &server, &extra);
    assert_eq!(code, 0, "{stderr}");
    let collection = server.collection(COLLECTION).expect("collection");
    assert!(collection.named_vectors);
    assert_eq!(collection.vectors["clip"].size, 64);
    assert_eq!(collection.vectors["clip"].on_disk, Some(true));
    assert_eq!((collection.shard_number, collection.replication_factor), (3, 2));
    assert!(server.points(COLLECTION).iter().all(|point| point.vectors.contains_key("clip")));

    let image = fixture_images().join("checker.webp");
    let output = ws
        .imbed()
        .args(["search", "--json", "--qdrant", &server.url(), "--collection", COLLECTION, "--vector-name", "clip"])
        .arg("--model")
        .arg(tiny_model())
        .arg(&image)
        .output()
        .expect("search");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let hits: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(hits["results"][0]["path"].as_str().expect("path").ends_with("checker.webp"), "{hits}");
}

#[test]
fn large_payloads_are_split_under_the_request_limit() {
    let ws = Workspace::new();
    let server = TestServer::start();
    // Ten items of 7 MB each: one request would be 70 MB, over the server's 32 MB.
    let notes = "n".repeat(7 << 20);
    let mut manifest = String::new();
    for entry in walkdir::WalkDir::new(fixture_images()).into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        manifest += &serde_json::json!({"path": path, "notes": notes}).to_string();
        manifest.push('\n');
    }
    let manifest = ws.write("big.jsonl", manifest.as_bytes());
    let output = ws
        .imbed()
        .arg("index")
        .arg("--manifest")
        .arg(&manifest)
        .arg("--model")
        .arg(tiny_model())
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--batch-size", "16", "--quiet"])
        .output()
        .expect("index");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let upserts = server.upserts();
    assert!(upserts.len() >= 3 && upserts.iter().all(|upsert| upsert.points <= 4), "{upserts:?}");
    assert_eq!(server.points(COLLECTION).len(), fixture_image_count());
}

#[test]
fn bulk_load_turns_indexing_off_until_the_run_and_its_resume_finish() {
    let ws = Workspace::new();
    let server = TestServer::start();
    // Slow writes, so the run can be killed while it loads.
    server.faults().delay(Duration::from_millis(300));
    let mut child = spawn_slow_index(&ws, &server, &["--bulk"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.points(COLLECTION).is_empty() {
        assert!(child.try_wait().expect("try_wait").is_none(), "the run ended before it was killed");
        assert!(Instant::now() < deadline, "nothing was written within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(server.collection(COLLECTION).expect("collection").hnsw_m(), Some(0));
    let summary = stats(&ws, &[]);
    assert!(summary["items"]["pending"].as_u64().expect("pending") > 0, "{summary}");
    assert_eq!(summary["sink"]["collections"][0]["bulk_load"], true, "{summary}");
    assert_eq!(summary["sink"]["collections"][0]["hnsw_m"], 0, "{summary}");

    server.faults().clear();
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(server.collection(COLLECTION).expect("collection").hnsw_m(), Some(16));
    assert_all_points(&server, &ws);
    assert_eq!(stats(&ws, &[])["sink"]["collections"][0]["bulk_load"], false);
}

#[test]
fn push_copies_the_embedded_store_and_resumes() {
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let server = TestServer::start();
    let push = |extra: &[&str]| {
        ws.imbed()
            .args(["push", "--qdrant", &server.url(), "--collection", "images", "--to-collection", COLLECTION])
            .args(["--upsert-batch", "2", "--upsert-parallel", "1"])
            .args(extra)
            .output()
            .expect("push")
    };

    let output = push(&["--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("push JSON");
    assert_eq!(report["pushed"], fixture_image_count() as u64, "{report}");
    assert_eq!(report["sink"]["points"], fixture_image_count() as u64, "{report}");

    // Same IDs, vectors and payloads as the store.
    let search = ws.search(&fixture_images().join("checker.webp"), 1);
    let id = search["results"][0]["id"].as_str().expect("id").to_string();
    let point = server.points(COLLECTION).into_iter().find(|point| point.id == id).expect("same ID on the server");
    assert!(point.payload["path"].as_str().expect("path").ends_with("checker.webp"));

    // Again: idempotent. Under -q it shows nothing, and never a bar into a pipe.
    let output = push(&[]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Pushed 10 points") && !stderr.contains('\r') && !stderr.contains('\x1b'), "{stderr}");
    let quiet = push(&["-q"]);
    assert!(quiet.status.success());
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    // Warnings (this stand-in is an old server version) still show; progress and summary do not.
    assert!(!stderr.contains("Pushed") && !stderr.contains("Pushing") && !stderr.contains('\r'), "{stderr}");
    assert_eq!(server.points(COLLECTION).len(), fixture_image_count());
}

#[test]
fn an_interrupted_push_goes_on_where_it_stopped() {
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let server = TestServer::start();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> =
            ["push", "--qdrant", &server.url(), "--upsert-batch", "2", "--upsert-parallel", "1"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    // Every upsert fails after three pages: the push stops with an error, and says how to go on.
    server.faults().delay(Duration::from_millis(200));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("imbed"))
        .current_dir(ws.path())
        .args(args(&[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.upsert_calls() < 2 {
        assert!(child.try_wait().expect("try_wait").is_none(), "the push ended before it was killed");
        assert!(Instant::now() < deadline, "nothing was pushed within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let before = server.upserts().iter().map(|upsert| upsert.points).sum::<usize>();
    assert!(before < fixture_image_count());

    server.faults().clear();
    let output = ws.imbed().args(args(&["--json"])).output().expect("push");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("push JSON");
    // It went on from the last acknowledged page instead of starting over.
    assert!(report["pushed"].as_u64().expect("pushed") <= (fixture_image_count() - 2) as u64, "{report}");
    assert_eq!(server.points("images").len(), fixture_image_count());
}

#[test]
fn a_server_that_restarts_mid_run_loses_nothing() {
    let ws = Workspace::new();
    let mut server = TestServer::start();
    // Slow writes, so the server can go down while the run writes.
    server.faults().delay(Duration::from_millis(300));
    let child = spawn_slow_index(&ws, &server, &["--max-retries", "10"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.upsert_calls() == 0 {
        assert!(Instant::now() < deadline, "nothing was written within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stop();
    std::thread::sleep(Duration::from_millis(700));
    server.restart();
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_all_points(&server, &ws);
}

/// The `key` payloads of the points on the server, sorted; a key twice shows up twice.
fn server_keys(server: &TestServer) -> Vec<String> {
    let mut keys: Vec<String> = server
        .points(COLLECTION)
        .iter()
        .map(|point| point.payload["key"].as_str().expect("key payload").to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_nightly_run_sends_only_changes_and_deletes_what_is_gone() {
    let ws = Workspace::new();
    let server = TestServer::start();
    for name in ["landscape_gradient.jpg", "portrait_shapes.jpg", "checker.webp"] {
        ws.copy_fixture(name, &format!("photos/{name}"));
    }
    let nightly = |ws: &Workspace| {
        let output = ws
            .imbed()
            .args(["index", "photos", "--qdrant", &server.url(), "--collection", COLLECTION])
            .args(["--delete-missing", "--json", "--model"])
            .arg(tiny_model())
            .output()
            .expect("run imbed");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON summary")
    };
    nightly(&ws);
    let upserts = server.upsert_calls();
    let quiet = nightly(&ws);
    assert_eq!(quiet["run"]["planned"], 0, "{quiet}");
    assert_eq!(server.upsert_calls(), upserts, "nothing is sent when nothing changed");

    std::fs::remove_file(ws.path().join("photos/checker.webp")).expect("remove");
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/new.jpg");
    let changed = nightly(&ws);
    assert_eq!((changed["run"]["planned"].as_u64(), changed["run"]["deleted"].as_u64()), (Some(1), Some(1)));
    assert_eq!(server_keys(&server), ["photos/landscape_gradient.jpg", "photos/new.jpg", "photos/portrait_shapes.jpg"]);
    assert_eq!(stats(&ws, &[])["items"]["deleted"], 1);
}

#[test]
fn shards_running_at_once_write_every_item_once_into_one_collection() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let mut expected = Vec::new();
    for copy in 0..3 {
        for entry in std::fs::read_dir(fixture_images()).expect("fixtures").flatten() {
            if entry.path().is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                ws.copy_fixture(&name, &format!("corpus/{copy}/{name}"));
                expected.push(format!("corpus/{copy}/{name}"));
            }
        }
    }
    expected.sort();
    let shards: Vec<_> = (0..3)
        .map(|index| {
            Command::new(assert_cmd::cargo::cargo_bin("imbed"))
                .current_dir(ws.path())
                .env("ORT_DYLIB_PATH", ort_library())
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .args(["index", "corpus", "--qdrant", &server.url(), "--collection", COLLECTION, "--quiet"])
                .args(["--shard-count", "3", "--checkpoint", &format!("shard-{index}.ckpt"), "--model"])
                .arg(tiny_model())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for shard in shards {
        let output = shard.wait_with_output().expect("wait");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(server_keys(&server), expected, "each item once, none missing");
    let merged = stats(&ws, &["shard-0.ckpt", "shard-1.ckpt", "shard-2.ckpt"]);
    assert_eq!(merged["items"]["done"], expected.len(), "{merged}");
    assert_eq!(merged["sink"]["collections"][0]["points"], expected.len(), "one collection, counted once");
}

/// The checkpoint records how to create the collection, so a resume that must create it (the
/// first run stopped before it existed, or it was dropped since) creates it the same way.
#[test]
fn resume_creates_the_collection_with_the_recorded_setup() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let extra = ["--shards", "3", "--replication-factor", "2", "--on-disk"];
    let (_, code, stderr) = index_into(&ws, &server, &extra);
    assert_eq!(code, 0, "{stderr}");
    let client = qdrant_client::Qdrant::from_url(&server.url()).skip_compatibility_check().build().expect("client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(client.delete_collection(COLLECTION)).expect("drop the collection");
    assert!(server.collection(COLLECTION).is_none());
    let checkpoint = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    checkpoint.execute("UPDATE items SET state = 0", []).expect("requeue");
    drop(checkpoint);

    let output = ws.imbed().args(["resume", "--json"]).output().expect("resume");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let collection = server.collection(COLLECTION).expect("created again");
    assert_eq!((collection.shard_number, collection.replication_factor), (3, 2));
    assert!(collection.on_disk_payload);
    assert_eq!(collection.vector().on_disk, Some(true));
    assert_all_points(&server, &ws);
}

/// One retry policy: the server sink retries what may pass; a write that cannot succeed (a
/// point over the server's request limit) fails its items at once, with one try recorded.
#[test]
fn a_write_that_cannot_succeed_is_not_retried() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let image = fixture_images().join("checker.webp");
    let manifest = format!(
        "{}\n{}\n",
        serde_json::json!({"path": image, "id": "huge", "notes": "n".repeat(40 << 20)}),
        serde_json::json!({"path": image, "id": "small"})
    );
    std::fs::write(ws.path().join("list.jsonl"), manifest).expect("manifest");
    let output = ws
        .imbed()
        .args(["index", "--manifest", "list.jsonl", "--qdrant", &server.url(), "--collection", COLLECTION])
        .args(["--json", "--batch-size", "1", "--max-attempts", "3"])
        .arg("--model")
        .arg(tiny_model())
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        (summary["items"]["done"].as_u64(), summary["errors"]["sink"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert!(!stderr.contains("retrying") && !stderr.contains("attempt 2"), "retried: {stderr}");
    let checkpoint = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    let attempts: i64 =
        checkpoint.query_row("SELECT attempts FROM items WHERE key = 'huge'", [], |row| row.get(0)).expect("row");
    assert_eq!(attempts, 1);
}
