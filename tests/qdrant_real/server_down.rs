//! A server killed or stopped in the middle of a run.

use std::time::Duration;

use crate::common::{fixture_image_count, Workspace};
use crate::tcp_proxy::{Fault, TcpProxy};
use crate::{assert_exactly_once, real_qdrant, spawn_index, wait_for_points};

#[test]
fn a_server_killed_mid_run_and_restarted_keeps_every_item_exactly_once() {
    let Some(mut server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "killed";
    let ws = Workspace::new();
    // Each chunk either way waits, so the run is still writing when the server dies.
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--max-retries", "10"]);
    wait_for_points(&server, COLLECTION, 3, &mut child);
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    proxy.set(Fault::None);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Retried through the restart; whatever is left, resume and retry-failed finish.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let resume = ws.imbed().args(["resume", "--quiet"]).output().expect("resume");
    assert!(matches!(resume.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&resume.stderr));
    ws.imbed().args(["retry-failed", "--quiet"]).assert().success();
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
    // And the points survive another crash: the WAL replays what was acknowledged.
    server.kill();
    server.restart();
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
}

#[test]
fn a_server_down_longer_than_the_retry_budget_fails_items_as_sink_until_resume() {
    let Some(mut server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "down";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--max-retries", "1"]);
    wait_for_points(&server, COLLECTION, 2, &mut child);
    server.stop();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[sink]: the server did not take the write after 2 tries"), "{stderr}");
    // The summary names the command that stores them, and the count it could not read.
    assert!(stderr.contains("retry: imbed retry-failed --checkpoint imbed.checkpoint"), "{stderr}");
    assert!(stderr.contains("cannot count the points in the store"), "{stderr}");
    let summary = ws.stats_with(&["--timeout", "1", "--max-retries", "0"]);
    let failed = summary["errors"]["sink"].as_u64().unwrap_or(0);
    assert!(failed > 0 && failed < fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], failed, "{summary}");

    server.restart();
    proxy.set(Fault::None);
    let output = ws.imbed().args(["resume", "--json"]).output().expect("resume");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
}
