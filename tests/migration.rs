//! Checkpoints written by earlier releases keep resuming.

mod common;

use common::*;
use serde_json::Value;

/// `tests/fixtures/checkpoint-0.1/imbed.checkpoint` was written by imbed 0.1 (the release
/// before preprocessing became a list of steps): `imbed index imgs --model tests/fixtures/model`
/// over the fixture images, run from a folder that is rewritten below.
#[test]
fn a_checkpoint_of_imbed_0_1_resumes_and_records_the_new_fingerprint() {
    let ws = Workspace::new();
    let images = ws.path().join("imgs");
    copy_tree(&fixture_images(), &images);
    let checkpoint = ws.path().join("imbed.checkpoint");
    std::fs::copy(fixtures().join("checkpoint-0.1/imbed.checkpoint"), &checkpoint).expect("copy the checkpoint");
    let legacy_fingerprint = {
        let connection = rusqlite::Connection::open(&checkpoint).expect("open the checkpoint");
        let text: String =
            connection.query_row("SELECT value FROM meta WHERE key = 'config'", [], |row| row.get(0)).expect("config");
        let mut config: Value = serde_json::from_str(&text).expect("JSON");
        config["model"] = tiny_model().to_string_lossy().into_owned().into();
        config["working_dir"] = ws.path().to_string_lossy().into_owned().into();
        connection
            .execute("UPDATE meta SET value = ?1 WHERE key = 'config'", [config.to_string()])
            .expect("rewrite the folders");
        // Half of the run is left to do.
        connection.execute("UPDATE items SET state = 0 WHERE id % 2 = 0", []).expect("requeue");
        config["preprocess_fingerprint"].as_str().expect("fingerprint").to_string()
    };

    let output = ws.imbed().args(["resume", "--json"]).output().expect("run imbed resume");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
    // The pending half, and the done half too: the copies have new modification times.
    assert_eq!(summary["run"]["failed"], 0, "{summary}");

    let connection = rusqlite::Connection::open(&checkpoint).expect("open the checkpoint");
    let text: String =
        connection.query_row("SELECT value FROM meta WHERE key = 'config'", [], |row| row.get(0)).expect("config");
    let config: Value = serde_json::from_str(&text).expect("JSON");
    let now = config["preprocess_fingerprint"].as_str().expect("fingerprint");
    assert_ne!(now, legacy_fingerprint, "the record now holds the fingerprint of the steps");

    // The same index command as then goes on over the migrated checkpoint.
    let (summary, code) = ws.index(&[std::path::Path::new("imgs")], &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["items"]["total"], fixture_image_count() as u64, "{summary}");
}

/// `tests/fixtures/checkpoint-0.2/` was written by the release before the command line's
/// renames (imbed at 736dd4e, issue 23): `imbed index imgs --model tests/fixtures/model
/// --verify-content --fetch-concurrency 4` over the fixture images, and its store, packed as
/// `imbed-store.tar.gz` (the store's files are sparse: 130 MB unpacked, 140 KB packed). Its
/// record has no run-control numbers and knows only the old flag names.
#[test]
fn a_checkpoint_and_store_from_before_the_renames_resume_exactly() {
    let ws = Workspace::new();
    copy_tree(&fixture_images(), &ws.path().join("imgs"));
    let fixture = fixtures().join("checkpoint-0.2");
    let checkpoint = ws.path().join("imbed.checkpoint");
    std::fs::copy(fixture.join("imbed.checkpoint"), &checkpoint).expect("copy the checkpoint");
    let unpacked = std::process::Command::new("tar")
        .arg("xzf")
        .arg(fixture.join("imbed-store.tar.gz"))
        .current_dir(ws.path())
        .status()
        .expect("run tar");
    assert!(unpacked.success(), "tar cannot unpack the store");
    let pending = {
        let connection = rusqlite::Connection::open(&checkpoint).expect("open the checkpoint");
        let text: String =
            connection.query_row("SELECT value FROM meta WHERE key = 'config'", [], |row| row.get(0)).expect("config");
        let mut config: Value = serde_json::from_str(&text).expect("JSON");
        assert!(config.get("control").is_none(), "recorded before run control was: {config}");
        config["model"] = tiny_model().to_string_lossy().into_owned().into();
        config["working_dir"] = ws.path().to_string_lossy().into_owned().into();
        connection
            .execute("UPDATE meta SET value = ?1 WHERE key = 'config'", [config.to_string()])
            .expect("rewrite the folders");
        // Half of the run is left to do; the other half is in the store, under the same index.
        connection.execute("UPDATE items SET state = 0 WHERE id % 2 = 0", []).expect("requeue") as u64
    };
    assert!(pending > 0);

    let log = ws.path().join("embedded.log");
    let output = ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["resume", "--json"]).output().expect("resume");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    let total = fixture_image_count() as u64;
    assert_eq!(summary["items"]["done"], total, "{summary}");
    assert_eq!(summary["sink"]["points"], total, "{summary}");
    // The done half is neither lost with its index nor taken for changed: only the pending
    // half is embedded (the copies have new modification times, the same content).
    let embedded = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(embedded.lines().count() as u64, pending, "embedded: {embedded}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("will be sent again"), "{stderr}");

    // The resume recorded nothing new of the run control, and a later one goes on the same way.
    let output =
        ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["retry-failed", "--json"]).output().expect("retry");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default().lines().count() as u64, pending);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("folder");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
