//! The API key: required, checked, and never printed, stored or shown in `ps`.

use std::time::Duration;

use crate::common::Workspace;
use crate::tcp_proxy::{Fault, TcpProxy};
use crate::{assert_exactly_once, real_qdrant, spawn_index, wait_for_points};

/// Every file of the workspace, whole folder trees included, as bytes.
fn workspace_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| (entry.path().to_path_buf(), std::fs::read(entry.path()).expect("read")))
        .collect()
}

#[test]
fn the_api_key_is_required_checked_and_never_written_anywhere() {
    const KEY: &str = "real-s3cret-key-4242";
    let Some(server) = real_qdrant::start(Some(KEY)) else { return };
    const COLLECTION: &str = "keyed";
    let ws = Workspace::new();
    let mut everything = Vec::new();

    let output = ws
        .index_fixtures()
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--max-retries", "0"])
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("check --api-key, IMBED_QDRANT_API_KEY or QDRANT_API_KEY"), "{stderr}");
    everything.extend([output.stdout, output.stderr].concat());

    let output = ws
        .index_fixtures()
        .env("QDRANT_API_KEY", "wrong-key")
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--max-retries", "0"])
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("check --api-key"), "{stderr}");
    assert!(!server.collection_exists(COLLECTION));

    let output = ws
        .index_fixtures()
        .env("QDRANT_API_KEY", KEY)
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "-v", "--json"])
        .output()
        .expect("index");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    everything.extend([output.stdout, output.stderr].concat());
    assert_exactly_once(&server, COLLECTION, &ws, &["--api-key", KEY]);

    let output = ws.imbed().env("QDRANT_API_KEY", KEY).args(["stats", "-v"]).output().expect("stats");
    assert!(output.status.success());
    everything.extend([output.stdout, output.stderr].concat());

    // Given as --api-key, it leaves the process title (world-readable in `ps`) at once.
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let titled = Workspace::new();
    let mut child = spawn_index(&titled, &proxy.url(), "keyed-title", &["--api-key", KEY]);
    wait_for_points(&server, "keyed-title", 1, &mut child);
    let title = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("the process title");
    let title = String::from_utf8_lossy(&title).replace('\0', " ");
    assert!(title.contains("--qdrant") && !title.contains(KEY), "{title}");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&server, "keyed-title", &titled, &["--api-key", KEY]);
    everything.extend([output.stdout, output.stderr].concat());
    assert!(!String::from_utf8_lossy(&everything).contains(KEY), "the key was printed");
    for (path, bytes) in workspace_files(ws.path()).into_iter().chain(workspace_files(titled.path())) {
        assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "{} holds the key", path.display());
    }
}
