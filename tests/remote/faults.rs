//! Runs that something stops: kill -9 during downloads then resume, and the store restarted
//! mid-run.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, stop_when, stored_payloads, tiny_model, Workspace};
use crate::object_stores::TestStore;
use crate::tcp_proxy::{Fault, TcpProxy};
use crate::{imbed, put_photos, stats, summary_of, uri, with_vars};

/// Spawns `imbed index SOURCE` at `endpoint` in the background with the store's credentials.
fn spawn_index(
    ws: &Workspace,
    store: &dyn TestStore,
    endpoint: &str,
    source: &str,
    extra: &[&str],
) -> std::process::Child {
    let mut command = ws.process();
    with_vars(&mut command, &store.vars());
    command
        .env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"))
        .args(["index", source])
        .args(store.endpoint_args(endpoint))
        .arg("--model")
        .arg(tiny_model())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.spawn().expect("spawn imbed")
}

/// How many times each key was embedded, from the IMBED_DEBUG_EMBED_LOG the runs appended to.
fn embed_calls(ws: &Workspace) -> std::collections::BTreeMap<String, usize> {
    let log = std::fs::read_to_string(ws.path().join("embedded.log")).unwrap_or_default();
    let mut calls = std::collections::BTreeMap::new();
    for key in log.lines().filter(|line| !line.is_empty()) {
        *calls.entry(key.to_string()).or_insert(0) += 1;
    }
    calls
}

/// Waits until `stats` shows at least `done` items done (or `limit` passes).
fn wait_for_done(ws: &Workspace, done: u64, limit: Duration) {
    let started = Instant::now();
    while started.elapsed() < limit {
        // The checkpoint may not be set up yet: no JSON then.
        let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
        let stats: Option<Value> = serde_json::from_slice(&output.stdout).ok();
        if stats.is_some_and(|stats| stats["items"]["done"].as_u64().unwrap_or(0) >= done) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not {done} items done within {limit:?}");
}

/// `imbed resume --json`: everything else from the checkpoint, the endpoint included.
pub fn resume(ws: &Workspace, store: &dyn TestStore, extra: &[&str]) -> (Value, i32) {
    let mut command = imbed(ws, store, &["resume", "--json"]);
    command.args(extra).env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"));
    summary_of(command)
}

pub fn kill_and_resume(store: &dyn TestStore) {
    let keys = put_photos(store, "photos", "kill/", 1200);
    let proxy = TcpProxy::start(store.addr());
    // Slow downloads, so that the kill lands while many are in flight.
    proxy.set(Fault::Latency(Duration::from_millis(5)));
    let ws = Workspace::new();
    let source = uri(store, "photos", "kill/");
    let mut child = spawn_index(&ws, store, &proxy.url(), &source, &["--batch-size", "16"]);
    // Killed once the listing has recorded how far it got (after its first chunk of 512), and
    // before it has listed to the end: downloads are in flight then.
    let position_now = || -> Option<String> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let connection = rusqlite::Connection::open_with_flags(ws.path().join("imbed.checkpoint"), flags).ok()?;
        let key = format!("listing_position:{source}");
        connection.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).ok()
    };
    stop_when(&mut child, "a listing position recorded", || position_now().is_some_and(|p| !p.is_empty()));
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let position = position_now().unwrap_or_default();
    assert!(position.starts_with("kill/"), "a listing position is recorded: {position:?}");
    proxy.set(Fault::None);
    let before = proxy.requests().len();
    let (summary, code) = resume(&ws, store, &[]);
    assert_eq!(code, 0, "{summary}");
    let listings: Vec<String> =
        proxy.requests()[before..].iter().filter(|line| line.contains(store.listing_marker())).cloned().collect();
    // One page read from the start: the check that the bucket can be read, before the model.
    let offset = store.offset_parameter();
    let from_start = listings.iter().filter(|line| !line.contains(offset)).count();
    let expected = format!("{offset}{}", position.replace('/', "%2F"));
    assert!(
        from_start == 1 && listings.iter().any(|line| line.contains(&expected)),
        "the resumed listing starts after the recorded key {position}: {listings:?}"
    );
    let stats = stats(&ws);
    assert_eq!(stats["items"]["done"], keys.len() as u64, "{stats}");
    assert_eq!(common::points(&summary), keys.len() as u64, "{summary}");
    // Stored once: every object embedded, and again only if the kill caught it between the
    // model and the checkpoint (a few batches of 16 in flight), never a whole second time.
    let calls = embed_calls(&ws);
    let expected: Vec<String> = keys.iter().map(|key| uri(store, "photos", key)).collect();
    assert!(expected.iter().all(|key| calls.contains_key(key)), "every object embedded");
    let again: usize = calls.values().map(|n| n - 1).sum();
    assert!(again <= 6 * 16, "{again} objects embedded twice: only those in flight at the kill may be");
}

pub fn restarted_mid_run(store: &mut dyn TestStore) {
    let keys = put_photos(store, "restart", "r/", 60);
    let proxy = TcpProxy::start(store.addr());
    // Slow downloads, few at once: the downloads pace the run, so the restart meets them.
    proxy.set(Fault::Latency(Duration::from_millis(100)));
    let ws = Workspace::new();
    let flags = ["--batch-size", "4", "--max-attempts", "10", "--fetch-concurrency", "4"];
    let mut child = spawn_index(&ws, store, &proxy.url(), &uri(store, "restart", "r/"), &flags);
    wait_for_done(&ws, 8, Duration::from_secs(60));
    store.restart();
    proxy.set(Fault::None);
    let status = child.wait().expect("imbed ends");
    // A store that takes longer to come back than the tries last (it answers 500 while it
    // starts) leaves transient failures, which retry-failed takes; nothing else may fail.
    let after_run = stats(&ws);
    let failed = after_run["items"]["failed"].as_u64().unwrap_or(0);
    assert!(failed <= 5, "the tries carry the run through the restart: {after_run}");
    if failed > 0 {
        let classes: Vec<&String> = after_run["errors"].as_object().unwrap().keys().collect();
        assert!(classes.iter().all(|class| ["remote", "network", "timeout"].contains(&class.as_str())), "{after_run}");
        let mut retry = imbed(&ws, store, &["retry-failed", "--max-attempts", "10"]);
        retry.env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"));
        assert!(retry.output().unwrap().status.success(), "retry-failed after the restart");
    }
    let stats = stats(&ws);
    assert_eq!(stats["items"]["done"], keys.len() as u64, "exit {status}; {stats}");
    let points = stored_payloads(&ws, "images").len();
    assert_eq!(points, keys.len());
    // Stored once: no process was killed, so each object went through the model exactly once.
    let calls = embed_calls(&ws);
    let twice: Vec<&String> = calls.iter().filter(|(_, &n)| n != 1).map(|(key, _)| key).collect();
    assert!(
        calls.len() == keys.len() && twice.is_empty(),
        "embedded other than once: {twice:?} ({} keys)",
        calls.len()
    );
}
