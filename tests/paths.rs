//! Paths that are not UTF-8 (Linux allows any bytes but `/` and NUL in a name): as sources,
//! as the store, as the working folder, and beside UTF-8 names that spell their escapes.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A name from raw bytes.
fn name(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Runs `imbed ARGS... --json` in `dir`, returning the summary and the exit code.
fn run_json(ws: &Workspace, dir: &Path, args: &[&OsStr]) -> (Value, i32) {
    let output = ws.imbed().current_dir(dir).args(args).arg("--json").output().expect("run imbed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("no JSON summary; stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (summary, output.status.code().unwrap_or(-1))
}

fn index_args<'a>(source: &'a Path, model: &'a Path) -> Vec<&'a OsStr> {
    vec![OsStr::new("index"), source.as_os_str(), OsStr::new("--model"), model.as_os_str()]
}

#[test]
fn a_folder_whose_name_is_not_utf8_is_indexed_and_resumed() {
    let ws = Workspace::new();
    let folder = name(b"caf\xe9");
    std::fs::create_dir(ws.path().join(folder)).expect("folder");
    std::fs::copy(fixture_images().join("checker.webp"), ws.path().join(folder).join("checker.webp")).expect("copy");
    let model = tiny_model();

    let (summary, code) = run_json(&ws, ws.path(), &index_args(folder, &model));
    assert_eq!(code, 0, "{summary}");
    assert_eq!(points(&summary), 1);
    assert_eq!(summary["items"]["done"], 1);

    // The checkpoint's configuration names the folder, and resume reads it back.
    let (summary, code) = run_json(&ws, ws.path(), &[OsStr::new("resume")]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(points(&summary), 1);
    assert_eq!(summary["items"]["done"], 1);
}

#[test]
fn a_store_and_a_working_folder_whose_names_are_not_utf8() {
    let ws = Workspace::new();
    let working: PathBuf = ws.path().join(name(b"w\xff"));
    std::fs::create_dir(&working).expect("working folder");
    std::fs::create_dir(working.join("photos")).expect("photos");
    std::fs::copy(fixture_images().join("checker.webp"), working.join("photos/checker.webp")).expect("copy");
    let model = tiny_model();
    let store = name(b"store\xfe");
    let mut args = index_args(Path::new("photos"), &model);
    args.extend([OsStr::new("--store"), store.as_os_str()]);

    let (summary, code) = run_json(&ws, &working, &args);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(points(&summary), 1);
    assert!(working.join(store).is_dir(), "the store is where --store said");

    let (summary, code) = run_json(&ws, &working, &[OsStr::new("resume")]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(points(&summary), 1);

    let output = ws.imbed().current_dir(&working).args(["stats", "--json"]).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).expect("stats JSON");
    assert_eq!((&stats["items"]["done"], &stats["sink"]["points"]), (&1.into(), &1.into()), "{stats}");
}
