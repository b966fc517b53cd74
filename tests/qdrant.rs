//! The Qdrant server sink against the stand-in (tests/support/qdrant_server.rs), for the faults
//! that need Qdrant to answer wrongly: chosen status codes, a write applied and then its answer
//! lost, `retry-after`, and a request-size limit. Everything else runs against a real Qdrant in
//! tests/qdrant_real.rs.

mod common;
#[path = "support/qdrant_server.rs"]
mod qdrant_server;

use std::collections::BTreeSet;

use common::{fixture_image_count, fixture_images, tiny_model, Workspace};
use qdrant_server::TestServer;
use serde_json::Value;
use tonic::Code;

const COLLECTION: &str = "photos";

/// Every fixture is on the server exactly once, under the ID imbed derives from its key.
fn assert_all_points(server: &TestServer, ws: &Workspace) {
    let points = server.points(COLLECTION);
    let ids: BTreeSet<&str> = points.iter().map(|point| point.id.as_str()).collect();
    assert_eq!(points.len(), fixture_image_count(), "{ids:?}");
    assert_eq!(ids.len(), points.len(), "duplicate IDs");
    let summary = ws.stats_with(&[]);
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], 0, "{summary}");
}

#[test]
fn retries_recover_from_faults_without_duplicates() {
    let ws = Workspace::new();
    let server = TestServer::start();
    let faults = server.faults();
    faults.fail_next_upserts(3, Code::Unavailable);
    // Applied, then answered with an error: the retry writes the same IDs again.
    faults.fail_upsert_after_apply(3);
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(faults.injected() >= 6, "only {} faults fired", faults.injected());
    assert_all_points(&server, &ws);
}

/// An overloaded server's `retry-after` is honoured.
#[test]
fn an_overloaded_servers_retry_after_is_honoured() {
    let ws = Workspace::new();
    let server = TestServer::start();
    server.faults().rate_limit_upserts(2, 1);
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(server.faults().injected(), 2);
    assert_all_points(&server, &ws);
}

#[test]
fn exhausted_retries_leave_failed_items_that_retry_failed_completes() {
    let ws = Workspace::new();
    let server = TestServer::start();
    server.faults().fail_next_upserts(10_000, Code::Unavailable);
    let (summary, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--max-retries", "1"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["errors"]["sink"], fixture_image_count() as u64, "{summary}");
    assert!(stderr.contains("[sink]: the server did not take the write after 2 tries"), "{stderr}");
    // A --json run says how to go on too: stdout is the JSON, the command is on stderr.
    assert!(stderr.contains("10 items failed. Details: imbed stats --checkpoint imbed.checkpoint"), "{stderr}");
    assert!(stderr.contains("retry: imbed retry-failed --checkpoint imbed.checkpoint"), "{stderr}");
    assert!(server.points(COLLECTION).is_empty());

    server.faults().clear();
    ws.imbed().args(["retry-failed", "--quiet"]).assert().success();
    assert_all_points(&server, &ws);
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
