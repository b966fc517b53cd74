//! What the walk and the manifests meet in real folders: broken links, link loops, unreadable
//! folders, names that are not UTF-8, and bad manifest lines.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use base64::prelude::{Engine, BASE64_STANDARD};
use common::*;
use serde_json::{Map, Value};

/// Every point's payload in the workspace's collection `collection`.
fn payloads(ws: &Workspace, collection: &str) -> Vec<Map<String, Value>> {
    stored_payloads(ws, collection)
}

#[test]
fn broken_links_loops_and_unreadable_folders_fail_as_walk_and_the_walk_goes_on() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "tree/a/fine.jpg");
    ws.copy_fixture("checker.webp", "tree/z/also_fine.webp");
    symlink(ws.path().join("gone.jpg"), ws.path().join("tree/a/broken.jpg")).expect("symlink");
    symlink(ws.path().join("gone.txt"), ws.path().join("tree/a/broken_notes.txt")).expect("symlink");
    symlink(ws.path().join("tree"), ws.path().join("tree/a/loop")).expect("symlink");
    let locked = ws.path().join("tree/m/locked");
    ws.copy_fixture("portrait_shapes.jpg", "tree/m/locked/inside.jpg");
    std::fs::set_permissions(&locked, PermissionsExt::from_mode(0o000)).expect("chmod");

    // As nobody, so that the locked folder is locked even where the tests run as root.
    let run = |extra: &[&str]| ws.index_unprivileged(&[Path::new("tree")], extra);
    let Some((plain, _)) = run(&["--collection", "plain", "--checkpoint", "plain.ckpt"]) else {
        skip("running as root without setpriv: file modes cannot be tested");
        return;
    };
    // Without --follow-links, links are skipped, broken or not; the locked folder is reported.
    assert_eq!(plain["items"]["done"], 2, "{plain}");
    assert_eq!(plain["errors"]["walk"], 1, "{plain}");

    let (linked, code) = run(&["-L", "--collection", "linked", "--checkpoint", "l.ckpt"]).expect("as before");
    assert_eq!(code, 1, "{linked}");
    // The broken image link, the loop and the locked folder; not the broken .txt link.
    assert_eq!(linked["errors"]["walk"], 3, "{linked}");
    assert_eq!(linked["items"]["done"], 2, "the walk went on past them: {linked}");
    let output = ws.imbed().args(["stats", "--checkpoint", "l.ckpt"]).output().expect("stats");
    let stats = String::from_utf8_lossy(&output.stdout);
    assert!(stats.contains("broken symbolic link to") && stats.contains("gone.jpg"), "{stats}");
    assert!(stats.contains("symbolic link loop"), "{stats}");
    assert!(stats.contains("cannot list the folder: Permission denied"), "{stats}");
    std::fs::set_permissions(&locked, PermissionsExt::from_mode(0o755)).expect("chmod back");

    // Walk failures name folders and links, not images: retry-failed leaves them alone.
    let output = ws.imbed().args(["retry-failed", "--checkpoint", "l.ckpt"]).output().expect("retry");
    assert!(String::from_utf8_lossy(&output.stderr).contains("retrying 0 failed items"));
}

#[test]
fn names_that_are_not_utf8_reach_the_payload_without_loss() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("latin1")).expect("folder");
    let names: [&[u8]; 2] = [b"caf\xe9.jpg", b"caf\xe8.jpg"];
    for (name, fixture) in names.iter().zip(["portrait_shapes.jpg", "checker.webp"]) {
        let path = ws.path().join("latin1").join(OsStr::from_bytes(name));
        std::fs::copy(fixture_images().join(fixture), path).expect("copy");
    }
    let broken = ws.path().join("latin1").join(OsStr::from_bytes(b"vid\xe9o.png"));
    std::fs::write(&broken, b"").expect("write");

    let (summary, code) = ws.index(&[Path::new("latin1")], &[]);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["items"]["done"], 2, "two names differing in one byte are two items: {summary}");
    assert_eq!(points(&summary), 2, "and two points");
    let mut found: Vec<(String, Vec<u8>)> = payloads(&ws, "images")
        .iter()
        .map(|payload| {
            let path = payload["path"].as_str().expect("path").to_string();
            let bytes = BASE64_STANDARD.decode(payload["path_bytes"].as_str().expect("path_bytes")).expect("base64");
            (path, bytes)
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("latin1/caf\\xE8.jpg".to_string(), b"latin1/caf\xe8.jpg".to_vec()),
            ("latin1/caf\\xE9.jpg".to_string(), b"latin1/caf\xe9.jpg".to_vec())
        ]
    );
    // A UTF-8 name gets no path_bytes.
    ws.copy_fixture("small_stripes.bmp", "utf8/ça.bmp");
    ws.index(&[Path::new("utf8")], &["--collection", "utf8", "--checkpoint", "utf8.ckpt"]);
    let payload = &payloads(&ws, "utf8")[0];
    assert_eq!(payload["path"], "utf8/ça.bmp");
    assert!(payload.get("path_bytes").is_none());

    let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(stats["error_examples"]["empty"][0], "latin1/vid\\xE9o.png: file is empty", "{stats}");
}

#[test]
fn bad_manifest_lines_name_their_line_and_strict_mode_refuses_the_run() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "m/ok.jpg");
    ws.copy_fixture("checker.webp", "m/two.webp");
    ws.write("m/list.csv", b"path,label\nok.jpg,cat\ntwo.webp,dog,extra\n\"\",empty\n");
    ws.write("m/list.jsonl", b"{\"path\": \"two.webp\"}\n{\"path\": \"caf\xe9.jpg\"}\n[1, 2]\n{\"path\": 7}\n");
    let mut command = ws.imbed();
    command.args(["index", "--json", "--manifest", "m/list.csv", "--manifest", "m/list.jsonl", "--model"]);
    let output = command.arg(tiny_model()).output().expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["items"]["done"], 2, "{summary}");
    assert_eq!(summary["errors"]["manifest"], 5, "{summary}");
    let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
    let stats: Value = serde_json::from_slice(&output.stdout).expect("json");
    let examples = stats["error_examples"]["manifest"].to_string();
    for needle in
        ["line 3: has 3 fields where the header has 2", "line 4: the path is empty", "line 2: not valid UTF-8"]
    {
        assert!(examples.contains(needle), "{needle}: {examples}");
    }

    // --strict-manifest: the first bad line refuses the run before anything is indexed.
    let mut command = ws.imbed();
    command.args(["index", "--strict-manifest", "--manifest", "m/list.csv", "--checkpoint", "strict.ckpt"]);
    let output = command.args(["--collection", "strict", "--model"]).arg(tiny_model()).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("m/list.csv: line 3") && stderr.contains("--strict-manifest"), "{stderr}");
    assert!(!ws.path().join("imbed-store/strict").exists(), "nothing was indexed");
}
