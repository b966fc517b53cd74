//! Runs that go on: bulk loads and pushes resumed, nightly runs, shards, a collection created again.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::{fixture_image_count, fixture_images, tiny_model, Workspace};
use crate::real_qdrant::RealQdrant;
use crate::tcp_proxy::{Fault, TcpProxy};
use crate::{assert_exactly_once, real_qdrant, spawn_index, wait_for_points};

#[test]
fn bulk_load_keeps_indexing_off_until_the_run_and_its_resume_finish() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "bulk-killed";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--bulk"]);
    wait_for_points(server, COLLECTION, 1, &mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let info = server.collection(COLLECTION);
    assert_eq!(info["config"]["hnsw_config"]["m"], 0, "indexing is off while the load is unfinished: {info}");
    let summary = ws.stats_with(&[]);
    assert!(summary["items"]["pending"].as_u64().expect("pending") > 0, "{summary}");
    let state = &summary["sink"]["collections"][0];
    assert_eq!((state["bulk_load"].as_bool(), state["hnsw_m"].as_u64()), (Some(true), Some(0)), "{state}");

    proxy.set(Fault::None);
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(server.collection(COLLECTION)["config"]["hnsw_config"]["m"], 16);
    assert_exactly_once(server, COLLECTION, &ws, &[]);
    assert_eq!(ws.stats_with(&[])["sink"]["collections"][0]["bulk_load"], false);
}

#[test]
fn an_interrupted_push_goes_on_where_it_stopped_and_a_repeat_changes_nothing() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "push-resumed";
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let proxy = TcpProxy::start(server.grpc_addr());
    let push = |url: &str| {
        let mut command = ws.process();
        command.args(["push", "--qdrant", url, "--collection", "images", "--to-collection", COLLECTION]);
        command.args(["--upsert-batch", "2", "--upsert-parallel", "1"]);
        command
    };
    // Slow pages, so the push is killed between two of them.
    proxy.set(Fault::Latency(Duration::from_millis(100)));
    let mut child = push(&proxy.url()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn push");
    // Three pages on the server: the first of them is acknowledged by now.
    wait_for_points(server, COLLECTION, 6, &mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(server.count(COLLECTION) < fixture_image_count() as u64);

    proxy.set(Fault::None);
    let output = push(&proxy.url()).arg("--json").output().expect("push");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("push JSON");
    // It went on from the last acknowledged page instead of starting over.
    assert!(report["pushed"].as_u64().expect("pushed") <= (fixture_image_count() - 2) as u64, "{report}");
    assert_eq!(server.count(COLLECTION), fixture_image_count() as u64);

    // Again: idempotent, with lines (never a bar) into a pipe, and nothing but warnings under -q.
    let output = push(&proxy.url()).output().expect("push");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Pushed 10 points") && !stderr.contains('\r') && !stderr.contains('\x1b'), "{stderr}");
    let quiet = push(&proxy.url()).arg("-q").output().expect("push -q");
    assert!(quiet.status.success());
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(!stderr.contains("Pushed") && !stderr.contains("Pushing") && !stderr.contains('\r'), "{stderr}");
    assert_eq!(server.count(COLLECTION), fixture_image_count() as u64);
}

/// Upsert calls the server has answered, from its Prometheus metrics.
fn upserts_answered(server: &RealQdrant) -> u64 {
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_str().expect("metrics text").to_string();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"grpc_responses_total{endpoint="/qdrant.Points/Upsert"} "#))
        .map_or(0, |count| count.trim().parse().expect("a count"))
}

/// The `key` payloads of the points in `collection`, sorted; a key twice shows up twice.
fn stored_keys(server: &RealQdrant, collection: &str) -> Vec<String> {
    let mut keys: Vec<String> = server
        .points(collection)
        .iter()
        .map(|point| point["payload"]["key"].as_str().expect("key payload").to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_nightly_run_sends_only_changes_and_deletes_what_is_gone() {
    // A server of its own: the upsert counter is the whole server's.
    let Some(server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "nightly";
    let ws = Workspace::new();
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
    let upserts = upserts_answered(&server);
    assert!(upserts > 0);
    let quiet = nightly(&ws);
    assert_eq!(quiet["run"]["planned"], 0, "{quiet}");
    assert_eq!(upserts_answered(&server), upserts, "nothing is sent when nothing changed");

    std::fs::remove_file(ws.path().join("photos/checker.webp")).expect("remove");
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/new.jpg");
    let changed = nightly(&ws);
    assert_eq!((changed["run"]["planned"].as_u64(), changed["run"]["deleted"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        stored_keys(&server, COLLECTION),
        ["photos/landscape_gradient.jpg", "photos/new.jpg", "photos/portrait_shapes.jpg"]
    );
    assert_eq!(ws.stats_with(&[])["items"]["deleted"], 1);
}

#[test]
fn shards_running_at_once_write_every_item_once_into_one_collection() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "sharded";
    let ws = Workspace::new();
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
            ws.process()
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
    assert_eq!(stored_keys(server, COLLECTION), expected, "each item once, none missing");
    let merged = ws.stats_with(&["shard-0.ckpt", "shard-1.ckpt", "shard-2.ckpt"]);
    assert_eq!(merged["items"]["done"], expected.len(), "{merged}");
    assert_eq!(merged["sink"]["collections"][0]["points"], expected.len(), "one collection, counted once");
}

/// The checkpoint records how to create the collection, so a resume that must create it (the
/// first run stopped before it existed, or it was dropped since) creates it the same way.
#[test]
fn resume_creates_the_collection_with_the_recorded_setup() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "recreated";
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--shards", "3", "--on-disk"]);
    assert_eq!(code, 0, "{stderr}");
    let (status, reply) = server.delete(&format!("/collections/{COLLECTION}"));
    assert_eq!(status, 200, "{reply}");
    assert!(!server.collection_exists(COLLECTION));
    let checkpoint = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    checkpoint.execute("UPDATE items SET state = 0", []).expect("requeue");
    drop(checkpoint);

    let output = ws.imbed().args(["resume", "--json"]).output().expect("resume");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let params = &server.collection(COLLECTION)["config"]["params"];
    assert_eq!(params["shard_number"], 3, "{params}");
    assert_eq!((params["on_disk_payload"].as_bool(), params["vectors"]["on_disk"].as_bool()), (Some(true), Some(true)));
    assert_exactly_once(server, COLLECTION, &ws, &[]);
}
