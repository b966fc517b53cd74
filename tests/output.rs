//! What imbed writes for people: one readable line per warning, colour only where it belongs.

mod common;

use common::*;

/// A run whose server cannot be reached, with one retry: a warning, then the error.
fn unreachable_server(ws: &Workspace, env: &[(&str, &str)]) -> String {
    let mut command = ws.index_fixtures();
    command
        .args(["--qdrant", "http://127.0.0.1:1", "--max-retries", "1"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run imbed");
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn warnings_into_a_log_file_have_no_escape_codes_and_read_as_one_line() {
    let ws = Workspace::new();
    let log = unreachable_server(&ws, &[]);
    assert!(!log.contains('\x1b'), "escape codes in a log: {log:?}");
    let retry = log.lines().find(|line| line.contains("retry 1 of 1")).unwrap_or_else(|| panic!("{log}"));
    assert!(retry.contains("Qdrant health check failed (connection refused); retry 1 of 1 in"), "{retry}");
    assert!(!log.contains("tonic::") && !log.contains("ConnectError("), "a Debug dump: {log}");
    assert!(log.contains("error: cannot reach the Qdrant server at http://127.0.0.1:1"), "{log}");

    assert!(unreachable_server(&ws, &[("CLICOLOR_FORCE", "1")]).contains("\x1b["), "CLICOLOR_FORCE forces colour");
    let both = unreachable_server(&ws, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!both.contains('\x1b'), "NO_COLOR wins: {both:?}");
}
