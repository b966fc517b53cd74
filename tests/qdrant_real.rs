//! The Qdrant server sink against a real Qdrant (tests/support/real_qdrant.rs), on loopback,
//! with a TCP proxy (tests/support/tcp_proxy.rs) in between for network faults.
//!
//! Most tests share one server, each with collections of its own; those that stop, kill or
//! lock their server start their own. Without a server binary every test is skipped (a failure
//! under CI=true): see real_qdrant.rs for where the binary comes from.

mod common;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

#[path = "qdrant_real/api_key.rs"]
mod api_key;
#[path = "qdrant_real/network.rs"]
mod network;
#[path = "qdrant_real/runs.rs"]
mod runs;
#[path = "qdrant_real/server_down.rs"]
mod server_down;
#[path = "qdrant_real/writes.rs"]
mod writes;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture_image_count, fixture_images, tiny_model, Workspace};
use real_qdrant::RealQdrant;

/// `imbed index` of the fixtures one per batch, in the background, so it can be disturbed.
fn spawn_index(ws: &Workspace, url: &str, collection: &str, extra: &[&str]) -> Child {
    ws.process()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model())
        .args(["--qdrant", url, "--collection", collection, "--batch-size", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imbed")
}

/// Until `collection` holds at least `n` points; the run must still be going.
fn wait_for_points(server: &RealQdrant, collection: &str, n: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.count(collection) < n {
        assert!(child.try_wait().expect("try_wait").is_none(), "the run ended before it was disturbed");
        assert!(Instant::now() < deadline, "{n} points were not written within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The keys imbed gives the fixtures: their paths as found under the folder on the command line.
fn fixture_keys() -> BTreeSet<String> {
    walkdir::WalkDir::new(fixture_images())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().to_string_lossy().into_owned())
        .collect()
}

/// Every fixture is in `collection` exactly once, under the ID imbed derives from its key
/// (read over REST), and the checkpoint agrees.
fn assert_exactly_once(server: &RealQdrant, collection: &str, ws: &Workspace, stats_extra: &[&str]) {
    let points = server.points(collection);
    let keys: Vec<String> =
        points.iter().map(|point| point["payload"]["key"].as_str().expect("key payload").to_string()).collect();
    assert_eq!(points.len(), fixture_image_count(), "{keys:?}");
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), fixture_keys());
    for (point, key) in points.iter().zip(&keys) {
        assert_eq!(point["id"], imbed::util::point_id(key).to_string(), "{key}");
    }
    assert_eq!(server.count(collection), fixture_image_count() as u64);
    let summary = ws.stats_with(stats_extra);
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], 0, "{summary}");
    assert_eq!(summary["items"]["pending"], 0, "{summary}");
}

// At the top level: the last test runs this one by its exact name.
#[test]
fn an_older_server_gets_one_readable_warning_and_the_run_goes_on() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), "version", &[]);
    assert_eq!(code, 0, "{stderr}");
    let version = server.get("/").1["version"].as_str().expect("server version").to_string();
    let needle = format!("runs version {version}; imbed's client speaks 1.20");
    let lines: Vec<&str> = stderr.lines().filter(|line| line.contains(&needle)).collect();
    if version.starts_with("1.19") || version.starts_with("1.2") {
        assert!(lines.is_empty(), "{stderr}");
        return;
    }
    assert_eq!(lines.len(), 1, "the warning once: {stderr}");
    assert!(lines[0].contains("WARN") && !lines[0].contains('\x1b'), "{stderr}");
    assert!(lines[0].contains(&format!("the Qdrant server at {} runs version", server.url())), "{stderr}");
    assert_eq!(server.count("version"), fixture_image_count() as u64);
}

/// Without a server binary the tests skip with a line saying how to get one, and under CI=true
/// a skip fails: run one test of this binary again with `IMBED_TEST_QDRANT=none`.
#[test]
fn without_a_server_binary_a_test_skips_and_under_ci_it_fails() {
    if std::env::var_os("IMBED_TEST_QDRANT").is_some_and(|value| value == "none") {
        return;
    }
    let run = |ci: &str| {
        Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", "an_older_server_gets_one_readable_warning_and_the_run_goes_on", "--nocapture"])
            .env("IMBED_TEST_QDRANT", "none")
            // Its skip is this test's subject, not one for scripts/test to report.
            .env_remove("IMBED_TEST_SKIPS")
            .env("CI", ci)
            .output()
            .expect("run the test binary")
    };
    let skipped = run("false");
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED an_older_server") && stderr.contains("set IMBED_TEST_QDRANT to a `qdrant` binary"),
        "{stderr}"
    );
    let failed = run("true");
    let output = String::from_utf8_lossy(&failed.stdout) + String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{output}");
    assert!(output.contains("was skipped under CI=true"), "{output}");
}
