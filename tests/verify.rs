//! The checkpoint and the index never disagree in silence (issue 22): a lost store, a dropped
//! collection, a server restarted on an empty volume and deleted points are found, said in one
//! line and sent again; `--no-repair` refuses instead; an index from before identities is
//! adopted without sending anything; `imbed verify` compares item by item. Each test asserts
//! the final point count and how many items the run embedded (imbed's own `run.done`).
//!
//! The embedded store's tests run everywhere; the server's need a Qdrant binary (see
//! tests/support/real_qdrant.rs), and skip without one (a failure under CI=true).

mod common;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;

use std::path::Path;

use common::{fixture_image_count, points, stored_payloads, tiny_model, Workspace};
use serde_json::{json, Value};

const COLLECTION: &str = "images";

fn count() -> u64 {
    fixture_image_count() as u64
}

/// Runs imbed with `args` (and `--json`) in `ws`: stdout as JSON (Null if none), exit code, stderr.
fn run(ws: &Workspace, args: &[&str]) -> (Value, i32, String) {
    let output = ws.imbed().args(args).arg("--json").output().expect("run imbed");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (serde_json::from_slice(&output.stdout).unwrap_or(Value::Null), output.status.code().unwrap_or(-1), stderr)
}

/// `imbed index` of the fixtures into the embedded store, with `extra`.
fn index(ws: &Workspace, extra: &[&str]) -> (Value, i32, String) {
    let (images, model) = (common::fixture_images(), tiny_model());
    let mut args = vec!["index", images.to_str().expect("UTF-8"), "--model", model.to_str().expect("UTF-8")];
    args.extend(extra);
    run(ws, &args)
}

fn embedded(summary: &Value) -> u64 {
    summary["run"]["done"].as_u64().unwrap_or_else(|| panic!("no run.done in {summary}"))
}

fn store(ws: &Workspace) -> std::path::PathBuf {
    ws.path().join("imbed-store")
}

/// The point IDs of the first `n` fixtures, as imbed derives them from their keys.
fn first_ids(ws: &Workspace, n: usize) -> Vec<uuid::Uuid> {
    let mut keys: Vec<String> =
        stored_payloads(ws, COLLECTION).iter().map(|p| p["key"].as_str().expect("key").to_string()).collect();
    keys.sort();
    keys.iter().take(n).map(|key| imbed::util::point_id(key)).collect()
}

/// Removes what this issue added, as a checkpoint and store of an older imbed hold them.
fn forget_identities(checkpoint: &Path, info: Option<&Path>) {
    let connection = rusqlite::Connection::open(checkpoint).expect("open checkpoint");
    connection.execute("DELETE FROM meta WHERE key IN ('index_id', 'index_created_at')", []).expect("delete meta");
    if let Some(info) = info {
        let mut json: Value = serde_json::from_slice(&std::fs::read(info).expect("info")).expect("info JSON");
        json.as_object_mut().expect("object").remove("index").expect("the store had an identity");
        std::fs::write(info, serde_json::to_vec(&json).expect("JSON")).expect("write info");
    }
}

fn recorded_id(checkpoint: &Path) -> String {
    let connection = rusqlite::Connection::open(checkpoint).expect("open checkpoint");
    connection.query_row("SELECT value FROM meta WHERE key = 'index_id'", [], |row| row.get(0)).expect("index_id")
}

#[test]
fn a_deleted_store_is_said_and_sent_again_and_no_repair_refuses_it() {
    let ws = Workspace::new();
    let (summary, code, stderr) = index(&ws, &[]);
    assert_eq!((code, points(&summary)), (0, count()), "{stderr}");
    std::fs::remove_dir_all(store(&ws)).expect("delete the store");

    let (_, code, stderr) = index(&ws, &["--no-repair"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not the one checkpoint") && stderr.contains("it is gone"), "{stderr}");
    assert!(stderr.contains(&format!("its {} done items are not in it", count())), "{stderr}");
    assert_eq!(stderr.lines().filter(|line| line.contains("is not the one")).count(), 1, "{stderr}");
    // Refused before anything was created, so no later run can take an empty store for the old one.
    assert!(!store(&ws).join(COLLECTION).exists(), "--no-repair created the store");

    let (summary, code, stderr) = index(&ws, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("its {} done items will be sent again", count())), "{stderr}");
    assert_eq!((embedded(&summary), points(&summary)), (count(), count()), "{summary}");
    let stats = ws.stats_with(&[]);
    assert_eq!(stats["runs"][0]["index"]["matches"], true, "{stats}");

    // The same on resume, and the next run is quiet again.
    std::fs::remove_dir_all(store(&ws)).expect("delete the store");
    let stats = ws.stats_with(&[]);
    assert_eq!(stats["runs"][0]["index"]["exists"], false, "{stats}");
    let (summary, code, stderr) = run(&ws, &["resume"]);
    assert_eq!((code, embedded(&summary), points(&summary)), (0, count(), count()), "{stderr}");
    let (summary, code, stderr) = index(&ws, &[]);
    assert_eq!((code, embedded(&summary)), (0, 0), "{stderr}");
    assert!(!stderr.contains("is not the one") && !stderr.contains("fewer than"), "{stderr}");
}

#[test]
fn ten_deleted_points_are_counted_found_by_verify_and_sent_again_by_resume() {
    let ws = Workspace::new();
    let (_, code, stderr) = index(&ws, &[]);
    assert_eq!(code, 0, "{stderr}");
    let lost = first_ids(&ws, 10);
    {
        use imbed::sink::Sink;
        let mut opened = imbed::sink::EdgeStore::open(&store(&ws), COLLECTION).expect("open the store");
        opened.delete(&lost).expect("delete");
        opened.flush().expect("flush");
    }
    // The quick count check, before anything is sent: it names the command that repairs.
    let (summary, code, stderr) = run(&ws, &["resume"]);
    assert_eq!((code, embedded(&summary)), (0, 0), "{stderr}");
    assert!(stderr.contains(&format!("holds {} points, fewer than the {} items", count() - 10, count())), "{stderr}");
    assert!(stderr.contains("imbed verify --checkpoint imbed.checkpoint --repair"), "{stderr}");

    let (report, code, stderr) = run(&ws, &["verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!((report["checked"].as_u64(), report["missing"].as_u64()), (Some(count()), Some(10)), "{report}");
    assert_eq!((report["other_key"].as_u64(), report["unknown"].as_u64()), (Some(0), Some(0)), "{report}");
    assert_eq!((report["agree"].as_bool(), report["index"]["matches"].as_bool()), (Some(false), Some(true)));

    let (report, code, stderr) = run(&ws, &["verify", "--repair"]);
    assert_eq!((code, report["repaired"].as_u64()), (1, Some(10)), "{stderr}\n{report}");
    let (summary, code, stderr) = run(&ws, &["resume"]);
    assert_eq!((code, embedded(&summary), points(&summary)), (0, 10, count()), "{stderr}");
    let (report, code, stderr) = run(&ws, &["verify"]);
    assert_eq!((code, report["agree"].as_bool()), (0, Some(true)), "{stderr}\n{report}");
}

#[test]
fn verify_finds_points_with_another_key_and_lists_then_deletes_unknown_ones() {
    let ws = Workspace::new();
    let (_, code, stderr) = index(&ws, &[]);
    assert_eq!(code, 0, "{stderr}");
    let stranger = uuid::Uuid::from_u128(0x1234_5678);
    let taken = first_ids(&ws, 1)[0];
    {
        use imbed::sink::Sink;
        let mut opened = imbed::sink::EdgeStore::open(&store(&ws), COLLECTION).expect("open the store");
        let payload = |key: &str| json!({"key": key}).as_object().expect("object").clone();
        let vector = vec![0.125; opened.dimension()];
        let points = vec![
            imbed::sink::Point { id: stranger, vector: vector.clone(), payload: payload("elsewhere/a.jpg") },
            imbed::sink::Point { id: taken, vector, payload: payload("someone/else.jpg") },
        ];
        opened.upsert(points).expect("upsert");
        opened.flush().expect("flush");
    }
    let (report, code, _) = run(&ws, &["verify"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!((report["other_key"].as_u64(), report["unknown"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["unknown_ids"], json!([stranger.to_string()]), "{report}");

    // Without --json: each unknown point is listed before it is deleted.
    let output = ws.imbed().args(["verify", "--delete-unknown", "--repair"]).output().expect("verify");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("unknown point {stranger}")), "{stdout}");
    assert!(stdout.contains("Deleted 1 points") && stdout.contains("Marked 1 items pending"), "{stdout}");
    // retry-failed sends what is pending too.
    let (summary, code, stderr) = run(&ws, &["retry-failed"]);
    assert_eq!((code, embedded(&summary), points(&summary)), (0, 1, count()), "{stderr}");
    let (report, code, _) = run(&ws, &["verify"]);
    assert_eq!((code, report["agree"].as_bool()), (0, Some(true)), "{report}");
}

#[test]
fn a_store_from_before_identities_is_adopted_without_sending_anything_again() {
    let ws = Workspace::new();
    let (_, code, stderr) = index(&ws, &[]);
    assert_eq!(code, 0, "{stderr}");
    let checkpoint = ws.path().join("imbed.checkpoint");
    let info = store(&ws).join(format!("{COLLECTION}.imbed.json"));
    forget_identities(&checkpoint, Some(&info));

    let (summary, code, stderr) = index(&ws, &[]);
    assert_eq!((code, embedded(&summary), points(&summary)), (0, 0, count()), "{stderr}");
    assert!(!stderr.contains("is not the one"), "{stderr}");
    let given: Value = serde_json::from_slice(&std::fs::read(&info).expect("info")).expect("JSON");
    assert_eq!(given["index"]["id"].as_str(), Some(recorded_id(&checkpoint).as_str()), "{given}");

    // An older checkpoint whose store was lost since: refused by --no-repair without creating
    // one (which the next run would adopt), then sent again.
    forget_identities(&checkpoint, None);
    std::fs::remove_dir_all(store(&ws)).expect("delete the store");
    let (_, code, stderr) = index(&ws, &["--no-repair"]);
    assert_eq!((code, store(&ws).exists()), (2, false), "{stderr}");
    let (summary, code, stderr) = index(&ws, &[]);
    assert_eq!((code, embedded(&summary), points(&summary)), (0, count(), count()), "{stderr}");
    assert!(stderr.contains("it is gone") && stderr.contains("will be sent again"), "{stderr}");
}

// Against a real Qdrant server.

fn index_server(ws: &Workspace, url: &str, collection: &str, extra: &[&str]) -> (Value, i32, String) {
    ws.index_into_server(url, collection, extra)
}

#[test]
fn a_dropped_server_collection_is_said_and_sent_again() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = index_server(&ws, &server.url(), "dropped", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(server.delete("/collections/dropped").0, 200);

    let stats = ws.stats_with(&[]);
    assert_eq!(stats["runs"][0]["index"]["exists"], false, "{stats}");
    let (_, code, stderr) = index_server(&ws, &server.url(), "dropped", &["--no-repair"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("collection `dropped` at") && stderr.contains("is not the one"), "{stderr}");
    assert!(!server.collection_exists("dropped"), "--no-repair created the collection");
    let (summary, code, stderr) = index_server(&ws, &server.url(), "dropped", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("will be sent again"), "{stderr}");
    assert_eq!((embedded(&summary), server.count("dropped")), (count(), count()), "{summary}");
    let stats = ws.stats_with(&[]);
    assert_eq!(stats["runs"][0]["index"]["matches"], true, "{stats}");
}

#[test]
fn a_server_restarted_on_an_empty_volume_is_said_and_sent_again() {
    let Some(mut server) = real_qdrant::start(None) else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = index_server(&ws, &server.url(), "volume", &[]);
    assert_eq!(code, 0, "{stderr}");
    server.stop();
    std::fs::remove_dir_all(server.storage()).expect("wipe the volume");
    server.restart();
    let (summary, code, stderr) = run(&ws, &["resume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("it is gone") && stderr.contains("will be sent again"), "{stderr}");
    assert_eq!((embedded(&summary), server.count("volume")), (count(), count()), "{summary}");
}

#[test]
fn ten_points_deleted_on_the_server_are_found_and_sent_again() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = index_server(&ws, &server.url(), "ten", &[]);
    assert_eq!(code, 0, "{stderr}");
    let mut ids: Vec<String> = server.points("ten").iter().map(|p| p["id"].as_str().expect("id").to_string()).collect();
    ids.sort();
    ids.truncate(10);
    let (status, _) = server.post("/collections/ten/points/delete?wait=true", &json!({"points": ids}));
    assert_eq!(status, 200);

    let (report, code, stderr) = run(&ws, &["verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!((report["missing"].as_u64(), report["points"].as_u64()), (Some(10), Some(count() - 10)), "{report}");
    let (report, code, stderr) = run(&ws, &["verify", "--repair"]);
    assert_eq!((code, report["repaired"].as_u64()), (1, Some(10)), "{stderr}");
    let (summary, code, stderr) = run(&ws, &["resume"]);
    assert_eq!((code, embedded(&summary), server.count("ten")), (0, 10, count()), "{stderr}");
    let (report, code, stderr) = run(&ws, &["verify"]);
    assert_eq!((code, report["agree"].as_bool()), (0, Some(true)), "{stderr}\n{report}");
}

#[test]
fn a_server_collection_from_before_identities_is_adopted_without_sending_anything_again() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = index_server(&ws, &server.url(), "older", &[]);
    assert_eq!(code, 0, "{stderr}");
    let checkpoint = ws.path().join("imbed.checkpoint");
    forget_identities(&checkpoint, None);
    let metadata = json!({"metadata": {"imbed_index_id": null, "imbed_index_created_at": null}});
    assert_eq!(server.request("PATCH", "/collections/older", Some(&metadata)).0, 200);
    assert_eq!(server.collection("older")["config"]["metadata"], json!({}));

    let (summary, code, stderr) = index_server(&ws, &server.url(), "older", &[]);
    assert_eq!((code, embedded(&summary), server.count("older")), (0, 0, count()), "{stderr}");
    assert!(!stderr.contains("is not the one"), "{stderr}");
    let given = server.collection("older")["config"]["metadata"]["imbed_index_id"].clone();
    assert_eq!(given.as_str(), Some(recorded_id(&checkpoint).as_str()), "{given}");
}

#[test]
fn shards_that_share_a_dropped_collection_each_send_theirs_again_and_verify_together() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let shard = |i: usize, extra: &[&str]| {
        let checkpoint = format!("shard-{i}.ckpt");
        let shard = format!("{i}/2");
        let mut args = vec!["--shard", shard.as_str(), "--checkpoint", checkpoint.as_str()];
        args.extend(extra);
        index_server(&ws, &server.url(), "shared", &args)
    };
    let first: Vec<u64> = (0..2)
        .map(|i| {
            let (summary, code, stderr) = shard(i, &[]);
            assert_eq!(code, 0, "{stderr}");
            embedded(&summary)
        })
        .collect();
    assert_eq!(first.iter().sum::<u64>(), count(), "{first:?}");
    assert_eq!(server.delete("/collections/shared").0, 200);
    for (i, sent) in first.iter().enumerate() {
        let (summary, code, stderr) = shard(i, &[]);
        assert_eq!((code, embedded(&summary)), (0, *sent), "{stderr}");
    }
    assert_eq!(server.count("shared"), count());

    let (report, code, stderr) = run(&ws, &["verify", "shard-0.ckpt", "shard-1.ckpt"]);
    assert_eq!((code, report["unknown"].as_u64(), report["checked"].as_u64()), (0, Some(0), Some(count())), "{stderr}");
    // One shard alone sees the other's points as unknown, and must not delete them.
    let (report, code, _) = run(&ws, &["verify", "shard-0.ckpt"]);
    assert_eq!((code, report["unknown"].as_u64()), (1, Some(first[1])), "{report}");
    let (_, code, stderr) = run(&ws, &["verify", "shard-0.ckpt", "--delete-unknown"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs the checkpoints of all 2 shards"), "{stderr}");
    assert_eq!(server.count("shared"), count());
}

#[test]
fn a_working_folder_restored_elsewhere_does_not_resume_into_an_empty_store_with_exit_0() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "photos/a.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "photos/b.jpg");
    let (summary, code, stderr) = run(&ws, &["index", "photos", "--model", tiny_model().to_str().expect("UTF-8")]);
    assert_eq!((code, points(&summary)), (0, 2), "{stderr}");
    // The folder is restored on another mount; where the run started, an empty folder is left.
    let restored = Workspace::new();
    for name in ["imbed.checkpoint", "imbed-store", "photos"] {
        std::fs::rename(ws.path().join(name), restored.path().join(name)).expect("move");
    }
    let (summary, code, stderr) = run(&restored, &["resume"]);
    assert_ne!(code, 0, "a resume into an empty store exited 0: {stderr}\n{summary}");
    assert!(stderr.contains("it is gone") && stderr.contains("its 2 done items will be sent again"), "{stderr}");
}
