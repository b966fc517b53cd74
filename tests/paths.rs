//! Paths that are not UTF-8 (Linux allows any bytes but `/` and NUL in a name): as sources,
//! as the store, as the working folder, and beside UTF-8 names that spell their escapes.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use base64::prelude::{Engine, BASE64_STANDARD};
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

/// `caf\xE9.jpg` spelled in UTF-8 (a backslash, an x, an E and a 9) and `caf<0xE9>.jpg` in
/// Latin-1 are two files, so two items with two keys and two points.
#[test]
fn a_name_that_spells_an_escape_and_the_name_it_spells_are_two_items() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/caf\\xE9.jpg");
    let latin1 = ws.path().join("photos").join(name(b"caf\xe9.jpg"));
    std::fs::copy(fixture_images().join("portrait_shapes.jpg"), latin1).expect("copy");

    let (summary, code) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(points(&summary), 2);
    assert_eq!(summary["items"]["done"], 2);
    assert_eq!(summary["items"]["total"], 2);

    // Each payload's path reads back as its name; both carry the raw bytes, to open the file.
    let mut found = Vec::new();
    for payload in stored_payloads(&ws, "images") {
        let bytes = BASE64_STANDARD.decode(payload["path_bytes"].as_str().expect("path_bytes")).expect("base64");
        found.push((payload["path"].as_str().expect("path").to_string(), bytes));
    }
    found.sort();
    assert_eq!(
        found,
        [
            (r"photos/caf\\xE9.jpg".to_string(), br"photos/caf\xE9.jpg".to_vec()),
            (r"photos/caf\xE9.jpg".to_string(), b"photos/caf\xe9.jpg".to_vec()),
        ]
    );
}

/// Two manifest lines with one `id` cannot both have the point that the id names: the second
/// fails, class `manifest`, instead of vanishing; in one chunk of the walk or far apart.
#[test]
fn a_manifest_id_used_twice_fails_the_second_line() {
    for filler in [0, 600] {
        let ws = Workspace::new();
        ws.copy_fixture("checker.webp", "photos/a.webp");
        ws.copy_fixture("plasma_lzw.tif", "photos/b.tif");
        let mut lines = vec![r#"{"id": "same", "path": "photos/a.webp"}"#.to_string()];
        lines.extend((0..filler).map(|i| format!(r#"{{"id": "filler-{i}", "path": "photos/a.webp"}}"#)));
        lines.push(r#"{"id": "same", "path": "photos/b.tif"}"#.to_string());
        ws.write("list.jsonl", (lines.join("\n") + "\n").as_bytes());

        let (summary, code) = ws.index(&[], &["--manifest", "list.jsonl"]);
        assert_eq!(code, 1, "{summary}");
        assert_eq!(summary["items"]["done"], filler + 1, "{summary}");
        assert_eq!(summary["items"]["failed"], 1, "{summary}");
        assert_eq!(summary["errors"]["manifest"], 1, "{summary}");
        assert_eq!(points(&summary), filler + 1);

        // The next run finds the collision recorded, and leaves the stored point alone.
        let (summary, code) = ws.index(&[], &["--manifest", "list.jsonl"]);
        assert_eq!(code, 1, "{summary}");
        assert_eq!((&summary["items"]["failed"], &summary["run"]["changed"]), (&1.into(), &0.into()), "{summary}");
    }
}
