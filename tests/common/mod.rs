//! Helpers for tests that run the real `imbed` binary on real files.
#![allow(dead_code)]

mod servers;
mod signals;
mod workspace;

use std::path::{Path, PathBuf};

use serde_json::Value;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use servers::{log_tail, server_or_skip, start_on_keeper_thread, wait_for_server};
#[allow(unused_imports)]
pub use signals::{signal, stop_when};
pub use workspace::Workspace;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

pub fn fixture_images() -> PathBuf {
    fixtures().join("images")
}

pub fn tiny_model() -> PathBuf {
    fixtures().join("model")
}

/// The tiny CLIP-shaped text tower (scripts/make_models.py text) with CLIP's real tokenizer
/// (scripts/make_text_fixtures.py), in the tiny image model's space.
pub fn text_model() -> PathBuf {
    fixtures().join("text-model")
}

/// The ONNX Runtime library the README's test command installs into `.venv`.
pub fn ort_library() -> PathBuf {
    let lib = repo().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries.filter_map(Result::ok).find_map(|python| {
            let capi = python.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so")))
        })
    });
    found.unwrap_or_else(|| panic!("no onnxruntime in {}: run the README's test command", lib.display()))
}

/// Image files under the fixture folder, as the walker should find them.
pub fn fixture_image_count() -> usize {
    walkdir::WalkDir::new(fixture_images())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .count()
}

/// Settings of the calling shell that must not leak into the tests' runs.
const CLEARED_ENV: [&str; 13] = [
    "IMBED_STORE",
    "IMBED_CHECKPOINT",
    "IMBED_COLLECTION",
    "IMBED_MODEL",
    "IMBED_TEXT_MODEL",
    "IMBED_TEXT_OUTPUT",
    "IMBED_DEVICE",
    "IMBED_ORT_LIB",
    "RUST_LOG",
    "IMBED_QDRANT_URL",
    "IMBED_QDRANT",
    "IMBED_QDRANT_API_KEY",
    "QDRANT_API_KEY",
];

/// Says on stderr that the calling test is skipped and why; the caller then returns. Under
/// `CI=true` a skip is a failure: there every test must run. The harness captures stderr, so
/// the skip is also appended to the file `IMBED_TEST_SKIPS` names, from which `scripts/test`
/// prints one line per test binary and reason at the end.
#[track_caller]
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    let at = std::panic::Location::caller();
    eprintln!("SKIPPED {test} ({at}): {why}");
    if let Some(log) = std::env::var_os("IMBED_TEST_SKIPS") {
        let binary = std::env::current_exe().ok().and_then(|exe| {
            let stem = exe.file_stem()?.to_string_lossy().into_owned();
            Some(stem.rsplit_once('-').map_or(stem.clone(), |(name, _hash)| name.to_string()))
        });
        let line = format!("{}\t{}\t{}\n", binary.as_deref().unwrap_or("tests"), test, why.replace(['\t', '\n'], " "));
        // One write of one short line to a file opened for appending: lines from tests running
        // in parallel do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
        if let Err(error) = appended {
            eprintln!("cannot record the skip in IMBED_TEST_SKIPS: {error}");
        }
    }
    if std::env::var_os("CI").is_some_and(|ci| ci == "true") {
        panic!("{test} was skipped under CI=true: {why}");
    }
}

/// Puts the `imbed` binary at `to`, so that what it looks for beside itself (a `.venv`) does
/// not depend on where cargo built it (CARGO_TARGET_DIR).
///
/// A hard link where it can: a copy holds a file open for writing, and a test thread that forks
/// meanwhile keeps it open in its child until that child execs, so running the copy can fail
/// with ETXTBSY ("Text file busy"). A link opens nothing for writing.
pub fn copy_imbed(to: &Path) -> PathBuf {
    std::fs::create_dir_all(to.parent().expect("a folder for the binary")).expect("binary folder");
    let binary = assert_cmd::cargo::cargo_bin("imbed");
    // Never a copy onto an earlier link: that would truncate the built binary itself.
    let _ = std::fs::remove_file(to);
    if std::fs::hard_link(&binary, to).is_err() {
        std::fs::copy(&binary, to).expect("copy imbed");
    }
    to.to_path_buf()
}

/// Runs `scripts/SCRIPT` with `args` through the README's `.venv` Python, which must succeed.
pub fn run_script(script: &str, args: &[&std::ffi::OsStr]) {
    let python = repo().join(".venv/bin/python");
    let status = std::process::Command::new(&python)
        .arg(repo().join("scripts").join(script))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run the README's test command", python.display()));
    assert!(status.success(), "{script} failed");
}

/// Writes the corpus of odd and broken images (scripts/make_odd_images.py) under `ws/odd`;
/// `odd/expected.json` holds each file's expected outcome.
pub fn make_odd_images(ws: &Workspace) -> PathBuf {
    let out = ws.path().join("odd");
    run_script("make_odd_images.py", &["odd".as_ref(), out.as_os_str()]);
    out
}

pub fn points(summary: &Value) -> u64 {
    summary["sink"]["points"].as_u64().expect("points in summary")
}

/// The payload of every point in `collection` of the workspace's embedded store.
pub fn stored_payloads(ws: &Workspace, collection: &str) -> Vec<serde_json::Map<String, Value>> {
    let store = imbed::sink::EdgeStore::open(&ws.path().join("imbed-store"), collection).expect("open the store");
    let mut payloads = Vec::new();
    let mut start = None;
    loop {
        let (points, next) = store.read_points(start, 256).expect("read the store");
        payloads.extend(points.into_iter().map(|point| point.payload));
        match next {
            Some(next) => start = Some(next),
            None => return payloads,
        }
    }
}

/// `imbed search IMAGE --json` with the tiny model against a Qdrant server's collection.
pub fn search_server(ws: &Workspace, url: &str, collection: &str, image: &Path) -> Value {
    let output = ws
        .imbed()
        .args(["search", "--json", "--qdrant", url, "--collection", collection, "--model"])
        .arg(tiny_model())
        .arg(image)
        .output()
        .expect("search");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("search JSON")
}
