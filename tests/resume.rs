//! The operator's promise: whatever happens to a run, `imbed resume` finishes it, every item
//! ends up in the store exactly once, and stored items are not embedded again.
//! These tests kill the real process.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use predicates::str::contains;
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

#[test]
fn sigkill_at_random_moments_then_resume_stores_every_item_exactly_once() {
    let ws = Workspace::new();
    let expected = corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let mut moments = Moments(seed());
    let mut kills = 0;
    let mut args = index_args(&tiny_model());
    loop {
        // The first kill lands once something is stored, however fast this machine runs the
        // corpus (the run is held stopped there); the later ones at random moments, which may
        // also be after the end.
        let (mut child, alive_for) = if kills == 0 {
            (spawn_mid_run(&ws, &args, &log), Duration::ZERO)
        } else {
            (spawn(&ws, &args, &log), Duration::from_millis(moments.next_millis(50, 1200)))
        };
        match wait_for(&mut child, alive_for) {
            Some(status) => {
                assert!(status.success(), "the last run completes: {status:?}");
                break;
            }
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
            }
        }
        assert!(kills < 40, "the run never completed");
        args = ["resume", "--quiet"].map(String::from).to_vec();
    }
    assert_complete(&ws, &expected);
    let embedded = embedded_count(&log);
    // A kill can only cost the batches between the model and the checkpoint: 2 written but
    // not yet committed, 2 in the channel, and 1 embedded and waiting to be sent.
    let bound = CORPUS + kills * IN_FLIGHT_BATCHES * BATCH;
    eprintln!("kills: {kills}, items embedded: {embedded} for {CORPUS} items (bound {bound})");
    assert!(kills >= 1, "the test must kill at least once");
    assert!(embedded <= bound, "embedded {embedded} > {bound}");
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

fn interrupt_and_resume(which: libc::c_int) {
    let ws = Workspace::new();
    let count = CORPUS;
    let expected = corpus(&ws, "photos", count);
    let log = ws.path().join("embedded.log");
    let args = index_args(&tiny_model());
    let child = spawn_mid_run(&ws, &args, &log);
    // The signal waits while the run is stopped, and arrives as it goes on.
    signal(&child, which);
    signal(&child, libc::SIGCONT);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("imbed resume --checkpoint imbed.checkpoint"), "{stderr}");
    let partial = stats(&ws);
    assert!(partial["items"]["pending"].as_u64().expect("pending") > 0, "{partial}");
    assert_eq!(partial["runs"][0]["state"], "interrupted", "{partial}");

    ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["resume", "--quiet"]).assert().success();
    assert_complete(&ws, &expected);
    let embedded = embedded_count(&log);
    eprintln!("signal {which}: items embedded: {embedded} for {count} items");
    assert!((count..=count + IN_FLIGHT_BATCHES * BATCH).contains(&embedded), "{embedded}");
}

#[test]
fn sigterm_stops_with_130_and_a_resume_hint() {
    interrupt_and_resume(libc::SIGTERM);
}

#[test]
fn sigint_stops_with_130_and_a_resume_hint() {
    interrupt_and_resume(libc::SIGINT);
}

#[test]
fn one_process_per_checkpoint_and_stats_reads_beside_it() {
    let ws = Workspace::new();
    let expected = corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let args = index_args_with_batch(&tiny_model(), 1);
    let mut first = spawn_mid_run(&ws, &args, &log);
    assert!(first.try_wait().expect("try_wait").is_none(), "the first run is still going");

    let second = ws.imbed().args(&args).output().expect("second run");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("in use by imbed process {}", first.id())), "{stderr}");

    let running = stats(&ws);
    assert_eq!(running["runs"][0]["state"], "running", "{running}");
    assert!(running["items"]["total"].as_u64().expect("total") > 0, "{running}");

    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    assert_eq!(stats(&ws)["runs"][0]["state"], "killed");
    // The lock died with its process: nothing blocks the resume.
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_complete(&ws, &expected);
}

#[test]
fn a_damaged_checkpoint_is_reported_clearly() {
    let ws = Workspace::new();
    corpus(&ws, "photos", 40);
    let args = index_args(&tiny_model());
    ws.imbed().args(&args).assert().success();
    let checkpoint = ws.path().join("imbed.checkpoint");
    let mut bytes = std::fs::read(&checkpoint).expect("read checkpoint");
    assert!(bytes.len() > 8192);
    // Overwrite the header and the schema page.
    for byte in &mut bytes[16..8192] {
        *byte = 0xA5;
    }
    std::fs::write(&checkpoint, &bytes).expect("damage");
    for command in [vec!["stats"], vec!["resume"]] {
        let output = ws.imbed().args(&command).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("imbed.checkpoint"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_truncated_wal_after_a_kill_still_resumes() {
    let ws = Workspace::new();
    let expected = corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let args = index_args(&tiny_model());
    let mut child = spawn_mid_run(&ws, &args, &log);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let wal = ws.path().join("imbed.checkpoint-wal");
    let Ok(metadata) = std::fs::metadata(&wal) else {
        skip("the killed run left no WAL to truncate");
        return;
    };
    let file = std::fs::OpenOptions::new().write(true).open(&wal).expect("open wal");
    file.set_len(metadata.len() / 2).expect("truncate wal");
    let output = ws.imbed().args(["resume", "--quiet"]).output().expect("resume");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "SQLite drops the torn frames: {stderr}");
    assert_complete(&ws, &expected);
}

#[test]
fn resume_refuses_a_changed_model_unless_forced() {
    let ws = Workspace::new();
    corpus(&ws, "photos", 20);
    let model = ws.path().join("model");
    std::fs::create_dir_all(&model).expect("model dir");
    for name in ["model.onnx", "preprocessor_config.json"] {
        std::fs::copy(tiny_model().join(name), model.join(name)).expect("copy model");
    }
    ws.imbed().args(index_args(&model)).assert().success();
    let config = model.join("preprocessor_config.json");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("0.48145466", "0.5")).expect("change the mean");
    ws.imbed().arg("resume").assert().code(2).stderr(contains("the preprocessing has changed"));
    ws.imbed().args(["resume", "--force"]).assert().success();
}

#[test]
fn failure_limits_stop_the_run_early_with_exit_1() {
    let ws = Workspace::new();
    for i in 0..30 {
        ws.write(&format!("photos/broken_{i:02}.jpg"), b"not a jpeg at all");
    }
    corpus(&ws, "photos", 10);
    let mut args = index_args(&tiny_model());
    args.extend(["--max-failures", "3"].map(String::from));
    let output = ws.imbed().args(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("too many failures"), "{stderr}");
}

#[test]
fn retry_failed_processes_failed_items_again_and_counts_attempts() {
    let ws = Workspace::new();
    corpus(&ws, "photos", 5);
    ws.write("photos/late.png", b"");
    ws.write("photos/bad.jpg", b"<html>");
    let code = ws.imbed().args(index_args(&tiny_model())).output().expect("index").status.code();
    assert_eq!(code, Some(1));
    // The empty file gets its content; only the `empty` class is retried.
    ws.copy_fixture("checker.webp", "photos/late.png");
    ws.imbed().args(["retry-failed", "--class", "empty", "--quiet"]).assert().code(1);
    let after = stats(&ws);
    assert_eq!(after["items"]["done"], 6, "{after}");
    assert_eq!(after["errors"]["unsupported"], 1, "{after}");
    assert!(after["errors"].get("empty").is_none(), "{after}");
}

#[test]
fn resume_picks_up_new_files_and_skips_done_ones() {
    let ws = Workspace::new();
    let mut expected = corpus(&ws, "photos", 12);
    let log = ws.path().join("embedded.log");
    let args = index_args(&tiny_model());
    ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(&args).assert().success();
    assert_eq!(embedded_count(&log), 12);
    ws.copy_fixture("checker.webp", "photos/new/late.webp");
    expected.insert("photos/new/late.webp".into());
    ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["resume", "--quiet"]).assert().success();
    assert_eq!(embedded_count(&log), 13, "only the new file is embedded");
    assert_complete(&ws, &expected);
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let ws = Workspace::new();
    corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let args = index_args_with_batch(&tiny_model(), 1);
    let mut child = spawn_mid_run(&ws, &args, &log);
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(5));
    signal(&child, libc::SIGINT);
    let status = wait_for(&mut child, Duration::from_secs(2)).expect("exits at once");
    assert_eq!(status.code(), Some(130));
    // Even that is safe: the checkpoint is consistent and the run resumes.
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(stats(&ws)["items"]["done"], CORPUS);
}

#[test]
fn without_a_terminal_progress_is_plain_lines_and_a_summary() {
    let ws = Workspace::new();
    corpus(&ws, "photos", 200);
    let mut args = index_args_with_batch(&tiny_model(), 2);
    args.retain(|arg| arg != "--quiet");
    args.extend(["--log-interval", "1"].map(String::from));
    let output = ws.imbed().args(&args).output().expect("run");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\x1b'), "no escape codes: {stderr:?}");
    assert!(stderr.contains("Embedded 200 of 200 planned images"), "{stderr}");
    assert!(output.stdout.is_empty(), "stdout stays clean without --json");
}

#[test]
fn a_nearly_full_disk_stops_cleanly_and_the_run_resumes_later() {
    let ws = Workspace::new();
    let expected = corpus(&ws, "photos", 20);
    let mut args = index_args(&tiny_model());
    // More free space than any disk has: the guard that keeps Qdrant Edge's memory maps from
    // faulting (SIGBUS) on a full disk stops the run before anything is written.
    args.extend(["--min-free-space", "16000000"].map(String::from));
    let output = ws.imbed().args(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("MiB free") && stderr.contains("--min-free-space"), "{stderr}");
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_complete(&ws, &expected);
}

#[test]
fn resume_from_another_folder_uses_the_run_s_own_folder() {
    let ws = Workspace::new();
    let mut expected = corpus(&ws, "photos", 6);
    ws.imbed().args(index_args(&tiny_model())).assert().success();
    ws.copy_fixture("checker.webp", "photos/later.webp");
    expected.insert("photos/later.webp".into());
    let elsewhere = tempfile::tempdir().expect("another folder");
    ws.imbed()
        .current_dir(elsewhere.path())
        .arg("resume")
        .arg("--checkpoint")
        .arg(ws.path().join("imbed.checkpoint"))
        .arg("--quiet")
        .assert()
        .success();
    assert!(!elsewhere.path().join("imbed-store").exists(), "no second store where resume ran");
    assert_complete(&ws, &expected);
}

#[test]
fn stats_beside_a_run_stopped_mid_write_says_so_instead_of_hanging() {
    let ws = Workspace::new();
    corpus(&ws, "photos", 5);
    ws.imbed().args(index_args(&tiny_model())).assert().success();
    // A run stopped (Ctrl-Z) in the middle of a write: the run lock taken and the PID written
    // as a run does, and SQLite's lock held by a connection in exclusive locking mode.
    let lock = std::fs::OpenOptions::new().write(true).open(ws.path().join("imbed.checkpoint.lock")).expect("lock");
    lock.try_lock().expect("the run lock is free");
    std::fs::write(ws.path().join("imbed.checkpoint.lock"), "4242").expect("pid");
    let writer = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("open");
    writer.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;").expect("hold the lock");

    let output = ws.imbed().arg("stats").output().expect("stats");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("locked mid-write by imbed process 4242"), "{stderr}");
    assert!(stderr.contains("kill -CONT 4242"), "{stderr}");

    drop(writer);
    drop(lock);
    assert_eq!(stats(&ws)["items"]["done"], 5);
}
