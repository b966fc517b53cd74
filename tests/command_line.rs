//! The command line as a user meets it: each command takes only its flags, bad values are
//! refused before anything runs, flags win over variables, a resume keeps the run control it
//! was started with, and the old spellings still work.

mod common;

use common::*;
use serde_json::Value;

/// Runs imbed with `args`; its exit code and stderr.
fn refused(ws: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    let output = ws.imbed().args(args).output().expect("run imbed");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_flag_a_command_does_not_use_is_refused_with_its_name() {
    let ws = Workspace::new();
    for args in [
        &["stats", "--upsert-parallel", "7"][..],
        &["search", "q.jpg", "--collection-shards", "2"],
        &["doctor", "--upsert-batch", "7"],
        &["verify", "--fetch-concurrency", "2"],
    ] {
        let (code, stderr) = refused(&ws, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: unexpected argument") && first.contains(args[args.len() - 2]),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_values_are_refused_before_anything_runs() {
    let ws = Workspace::new();
    let (code, stderr) = refused(&ws, &["retry-failed", "--class", "notfound"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--class") && stderr.contains("'not_found'"), "{stderr}");
    assert!(!ws.path().join("imbed.checkpoint").exists(), "a checkpoint was made");
    let (code, stderr) = refused(&ws, &["search", "q.jpg", "-k", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--top"), "{stderr}");
    for weight in ["--text=1e39:dog", "--text=1e-50:dog", "--image=inf:q.jpg", "--not=NaN:cat"] {
        let (code, stderr) = refused(&ws, &["search", weight]);
        assert_eq!(code, Some(2), "{weight}: {stderr}");
        let flag = weight.split('=').next().unwrap_or_default();
        assert!(stderr.contains(flag) && stderr.contains("a weight must be a number from"), "{weight}: {stderr}");
    }
}

#[test]
fn help_lists_only_the_flags_a_command_uses_under_their_headings() {
    let ws = Workspace::new();
    let help = |command: &str| {
        let output = ws.imbed().args([command, "--help"]).output().expect("help");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let stats = help("stats");
    assert!(stats.contains("--qdrant-timeout") && !stats.contains("--upsert"), "{stats}");
    let resume = help("resume");
    assert!(resume.contains("--upsert-batch") && !resume.contains("--collection-shards"), "{resume}");
    let index = help("index");
    for heading in ["Sources:", "Remote sources:", "Downloads:", "Images:", "Model:", "Performance:", "Store:"] {
        assert!(index.contains(heading), "no {heading} in {index}");
    }
    for heading in ["Qdrant server:", "New collection:", "Run control:", "Output:"] {
        assert!(index.contains(heading), "no {heading} in {index}");
    }
    assert!(index.contains("[env: IMBED_COLLECTION_SHARDS="), "{index}");
    // The old spellings are hidden.
    for old in ["--shards ", "--replication-factor", "--api-key", "--max-retries", "--stall-timeout", "--output "] {
        assert!(!index.contains(old), "{old} shown in {index}");
    }
}

fn recorded_control(ws: &Workspace) -> Value {
    let connection = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("open the checkpoint");
    let text: String =
        connection.query_row("SELECT value FROM meta WHERE key = 'config'", [], |row| row.get(0)).expect("config");
    let config: Value = serde_json::from_str(&text).expect("JSON");
    config["control"].clone()
}

#[test]
fn a_resume_keeps_the_run_control_it_was_started_with_unless_given_another() {
    let ws = Workspace::new();
    let images = fixture_images();
    let (summary, code) = ws.index(&[images.as_path()], &["--fetch-concurrency", "3", "--max-attempts", "5"]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(recorded_control(&ws), serde_json::json!({"fetch_concurrency": 3, "max_attempts": 5}));
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(recorded_control(&ws), serde_json::json!({"fetch_concurrency": 3, "max_attempts": 5}));
    // A variable given to the resume counts as a flag, and is recorded from then on.
    ws.imbed().env("IMBED_FETCH_CONCURRENCY", "7").args(["resume", "--quiet"]).assert().success();
    assert_eq!(recorded_control(&ws), serde_json::json!({"fetch_concurrency": 7, "max_attempts": 5}));
}

#[test]
fn a_flag_wins_over_its_variable_and_an_old_variable_name_still_counts() {
    let ws = Workspace::new();
    let images = fixture_images();
    let output = ws
        .index_fixtures()
        .env("IMBED_COLLECTION", "from_variable")
        .args(["--collection", "from_flag", "--json"])
        .output()
        .expect("index");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(summary["sink"]["collection"], "from_flag", "{summary}");

    // IMBED_OUTPUT is the old name of IMBED_MODEL_OUTPUT: read, with a warning.
    let output = ws
        .imbed()
        .env("IMBED_OUTPUT", "no_such_output")
        .args(["index", "--checkpoint", "other.checkpoint", "--store", "other-store"])
        .arg(&images)
        .arg("--model")
        .arg(tiny_model())
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("IMBED_OUTPUT is now called IMBED_MODEL_OUTPUT"), "{stderr}");
    assert!(stderr.contains("no_such_output"), "{stderr}");
}
