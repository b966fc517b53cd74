//! The checkpoint: its lock, damage to it and its WAL, and runs from another folder.

use crate::common::{skip, tiny_model, Workspace};
use crate::{assert_complete, corpus, index_args, index_args_with_batch, spawn_mid_run, stats, CORPUS};

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
