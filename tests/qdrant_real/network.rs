//! Network faults from the proxy, against the shared server.

use std::time::{Duration, Instant};

use crate::common::{fixture_image_count, Workspace};
use crate::tcp_proxy::{Fault, TcpProxy};
use crate::{assert_exactly_once, real_qdrant, spawn_index, wait_for_points};

#[test]
fn added_latency_slows_the_run_but_loses_nothing() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(20)));
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "latency", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "latency", &ws, &[]);
}

#[test]
fn refused_connections_fail_fast_at_start_and_are_retried_mid_run() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.refuse(true);
    let ws = Workspace::new();
    let started = Instant::now();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "refused", &["--max-retries", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("cannot reach the Qdrant server at {}", proxy.url())), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // Refused for a second in the middle of a run: retried, and every item lands once.
    proxy.refuse(false);
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let mut child = spawn_index(&ws, &proxy.url(), "refused", &["--max-retries", "8"]);
    wait_for_points(server, "refused", 2, &mut child);
    proxy.refuse(true);
    std::thread::sleep(Duration::from_secs(1));
    proxy.refuse(false);
    proxy.set(Fault::None);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, "refused", &ws, &[]);
}

#[test]
fn a_reset_in_the_middle_of_a_response_is_retried_without_duplicates() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    // Past the health check and the collection calls, into the upserts.
    proxy.set(Fault::ResetMidResponse { times: 3, after: 1500 });
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "reset", &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(proxy.fired() >= 1, "no reset fired");
    assert!(stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, "reset", &ws, &[]);
}

#[test]
fn a_black_hole_times_out_with_a_clear_message_then_the_run_goes_through() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::BlackHole);
    let ws = Workspace::new();
    let started = Instant::now();
    let extra = ["--timeout", "1", "--connect-timeout", "1", "--max-retries", "1"];
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "blackhole", &extra);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("cannot reach the Qdrant server at {}", proxy.url())), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(!server.collection_exists("blackhole"));

    proxy.set(Fault::None);
    proxy.reset_all();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "blackhole", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "blackhole", &ws, &[]);
}

#[test]
fn a_slow_trickle_still_delivers_every_item() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Trickle { bytes: 64, every: Duration::from_millis(2) });
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "trickle", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "trickle", &ws, &[]);
}

#[test]
fn a_black_hole_in_the_middle_of_a_run_is_timed_out_and_retried() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "blackhole-mid-run";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let extra = ["--timeout", "1", "--max-retries", "8"];
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &extra);
    wait_for_points(server, COLLECTION, 2, &mut child);
    proxy.set(Fault::BlackHole);
    std::thread::sleep(Duration::from_millis(2500));
    proxy.set(Fault::None);
    proxy.reset_all();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("timed out") && stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, COLLECTION, &ws, &[]);

    // stats reports a server that stopped answering, and goes on.
    proxy.set(Fault::BlackHole);
    proxy.reset_all();
    let summary = ws.stats_with(&["--timeout", "1", "--max-retries", "0"]);
    let error = summary["sink"]["collections"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("timed out"), "{summary}");
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
}
