//! What a run refuses, stops on, retries and picks up, and how it reports.

use predicates::str::contains;

use crate::common::{tiny_model, Workspace};
use crate::{assert_complete, corpus, embedded_count, index_args, index_args_with_batch, stats};

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
    // The run recorded its threshold; once space is freed (here: a threshold this disk meets,
    // given to the resume over the recorded one) the resume goes on.
    let refused = ws.imbed().args(["resume", "--quiet"]).output().expect("resume");
    assert_eq!(refused.status.code(), Some(2), "the recorded --min-free-space holds on resume");
    ws.imbed().args(["resume", "--quiet", "--min-free-space", "128"]).assert().success();
    assert_complete(&ws, &expected);
}
