//! The operator's promise: whatever happens to a run, `imbed resume` finishes it, every item
//! ends up in the store exactly once, and stored items are not embedded again.
//! These tests kill the real process.

#[path = "resume/checkpoint.rs"]
mod checkpoint;
mod common;
#[path = "resume/interrupts.rs"]
mod interrupts;
#[path = "resume/runs.rs"]
mod runs;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Large enough, with small batches, that a run lasts over a second even on a fast machine.
const CORPUS: usize = 1000;
const BATCH: usize = 8;
/// Batches embedded but not yet committed at any moment (see the committer in pipeline.rs).
const IN_FLIGHT_BATCHES: usize = 5;

/// `count` distinct image files under `folder` (copies of the fixtures, with their own keys).
fn corpus(ws: &Workspace, folder: &str, count: usize) -> BTreeSet<String> {
    let sources =
        ["landscape_gradient.jpg", "portrait_shapes.jpg", "checker.webp", "plasma_lzw.tif", "alpha_vignette.png"];
    let mut keys = BTreeSet::new();
    for i in 0..count {
        let source = sources[i % sources.len()];
        let extension = Path::new(source).extension().expect("extension").to_string_lossy().into_owned();
        let relative = format!("{folder}/{:02}/img_{i:04}.{extension}", i / 50);
        ws.copy_fixture(source, &relative);
        keys.insert(relative);
    }
    keys
}

/// A small deterministic generator; the seed is printed so that a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

fn seed() -> u64 {
    let seed = std::env::var("IMBED_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64 | 1
    });
    eprintln!("IMBED_TEST_SEED={seed}");
    seed
}

fn spawn(ws: &Workspace, args: &[String], embed_log: &Path) -> Child {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("imbed"));
    command
        .current_dir(ws.path())
        .env("ORT_DYLIB_PATH", ort_library())
        .env("IMBED_DEBUG_EMBED_LOG", embed_log)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.spawn().expect("spawn imbed")
}

fn index_args(model: &Path) -> Vec<String> {
    index_args_with_batch(model, BATCH)
}

fn index_args_with_batch(model: &Path, batch: usize) -> Vec<String> {
    let model = model.to_string_lossy().into_owned();
    let batch = batch.to_string();
    ["index", "photos", "--model", &model, "--batch-size", &batch, "--quiet"].map(String::from).to_vec()
}

/// Waits up to `timeout` for the child; None if it is still running.
fn wait_for(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn stats(ws: &Workspace) -> Value {
    let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stats JSON")
}

/// Every point's `key` payload, with how many points carry it.
fn stored_keys(ws: &Workspace) -> HashMap<String, usize> {
    let mut keys = HashMap::new();
    for payload in stored_payloads(ws, "images") {
        let key = payload["key"].as_str().expect("key payload").to_string();
        *keys.entry(key).or_default() += 1;
    }
    keys
}

fn assert_complete(ws: &Workspace, expected: &BTreeSet<String>) {
    let stats = stats(ws);
    assert_eq!(stats["items"]["total"], expected.len(), "{stats}");
    assert_eq!(stats["items"]["done"], expected.len(), "{stats}");
    assert_eq!(stats["items"]["pending"], 0, "{stats}");
    assert_eq!(stats["sink"]["points"], expected.len(), "{stats}");
    let stored = stored_keys(ws);
    let stored_set: BTreeSet<String> = stored.keys().cloned().collect();
    assert_eq!(&stored_set, expected, "every item stored, nothing else");
    assert!(stored.values().all(|&n| n == 1), "no key stored twice");
}

fn embedded_count(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |text| text.lines().count())
}

/// A run that has stored something and still has items pending, held stopped (`stop_when`).
fn spawn_mid_run(ws: &Workspace, args: &[String], embed_log: &Path) -> Child {
    let mut child = spawn(ws, args, embed_log);
    stop_when(&mut child, "something stored and more pending", || {
        let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
        let Ok(stats) = serde_json::from_slice::<Value>(&output.stdout) else { return false };
        let count = |state: &str| stats["items"][state].as_u64().unwrap_or(0);
        count("done") > 0 && count("pending") > 0
    });
    child
}
