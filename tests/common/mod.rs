//! Helpers for tests that run the real `imbed` binary on real files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

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
const CLEARED_ENV: [&str; 12] = [
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

/// Runs `start` (which spawns a server for the whole test binary) on a thread that never ends,
/// and returns what it gave: a child's parent-death signal follows the thread that spawned it,
/// and test threads end with their test.
pub fn start_on_keeper_thread<T: Send + 'static>(name: &str, start: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            sender.send(start()).expect("send the server");
            loop {
                std::thread::park();
            }
        })
        .expect("keeper thread");
    receiver.recv().expect("the keeper thread answers")
}

/// A test server, or `None` after `skip` when `missing` (the "how to get one" message) says
/// why there is none; any other failure to start fails the test.
#[track_caller]
pub fn server_or_skip<T>(server: Result<T, String>, missing: &str) -> Option<T> {
    match server {
        Ok(server) => Some(server),
        Err(why) if why == missing => {
            skip(&why);
            None
        }
        Err(why) => panic!("{why}"),
    }
}

/// Polls `ready` until it says yes; fails with the end of `log` if the server exits first or
/// `limit` passes.
pub fn wait_for_server(
    what: &str,
    child: &mut std::process::Child,
    log: &Path,
    limit: std::time::Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it was ready:\n{}", log_tail(log)));
        }
        if started.elapsed() > limit {
            return Err(format!("{what} was not ready within {limit:?}:\n{}", log_tail(log)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Sends `signal` to a child of this test.
pub fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0, "kill({signal})");
}

/// Lets a run go on in short slices, stopped (SIGSTOP) between them, until `reached` holds
/// while it is stopped, and returns with the run still stopped. Whatever the test does next (a
/// kill, a signal that waits for SIGCONT) lands mid-run however fast the machine is: the run
/// cannot finish between two looks.
pub fn stop_when(child: &mut std::process::Child, what: &str, mut reached: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        signal(child, libc::SIGSTOP);
        wait_until_stopped(child);
        if reached() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not within two minutes: {what}");
        signal(child, libc::SIGCONT);
    }
}

/// Until a SIGSTOP has taken hold: the child's state in /proc is `T`.
fn wait_until_stopped(child: &mut std::process::Child) {
    let stat = format!("/proc/{}/stat", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!("the run ended ({status}) before it could be interrupted: {stderr}");
        }
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        let state = text.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if state == Some('T') {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not stop on SIGSTOP: {text}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The last 40 lines of a server's log, for a failure message.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
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

/// A scratch folder used as the working directory, so `./imbed-store` lands inside it.
pub struct Workspace {
    pub dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temporary folder") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `imbed` run inside the workspace, with the test ONNX Runtime and no progress bar.
    pub fn imbed(&self) -> Command {
        self.imbed_from(&assert_cmd::cargo::cargo_bin("imbed"))
    }

    /// As `imbed`, but running the binary at `binary` (see `copy_imbed`).
    pub fn imbed_from(&self, binary: &Path) -> Command {
        Command::from_std(self.process_from(binary))
    }

    /// As `imbed`, as a `std::process::Command`: one to spawn and disturb while it runs.
    pub fn process(&self) -> std::process::Command {
        self.process_from(&assert_cmd::cargo::cargo_bin("imbed"))
    }

    fn process_from(&self, binary: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(binary);
        command.current_dir(self.path()).env("ORT_DYLIB_PATH", ort_library());
        for var in CLEARED_ENV {
            command.env_remove(var);
        }
        command
    }

    /// `imbed index` of the fixtures into `collection` on the server at `url`, four per batch:
    /// the JSON summary (Null if none), the exit code and stderr.
    pub fn index_into_server(&self, url: &str, collection: &str, extra: &[&str]) -> (Value, i32, String) {
        let output = self
            .index_fixtures()
            .args(["--qdrant", url, "--collection", collection, "--json", "--batch-size", "4"])
            .args(extra)
            .output()
            .expect("run imbed");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let summary = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (summary, output.status.code().unwrap_or(-1), stderr)
    }

    /// `imbed stats --json` with `extra`, which must succeed.
    pub fn stats_with(&self, extra: &[&str]) -> Value {
        let output = self.imbed().args(["stats", "--json"]).args(extra).output().expect("stats");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("stats JSON")
    }

    /// `imbed index FIXTURES --model TINY`, to add flags to.
    pub fn index_fixtures(&self) -> Command {
        let mut command = self.imbed();
        command.arg("index").arg(fixture_images()).arg("--model").arg(tiny_model());
        command
    }

    /// `imbed index` of `paths` with the tiny model, returning the JSON summary and the exit code.
    pub fn index(&self, paths: &[&Path], extra: &[&str]) -> (Value, i32) {
        let mut command = self.imbed();
        command.arg("index").args(paths).arg("--model").arg(tiny_model()).arg("--json").args(extra);
        let output = command.output().expect("run imbed");
        Self::summary(&output)
    }

    /// `index` as a user whom file modes apply to: as root, through setpriv as `nobody`, with a
    /// copy of the binary (the build folder may be private) and the workspace open to all.
    /// `None` where root cannot drop its privileges.
    pub fn index_unprivileged(&self, paths: &[&Path], extra: &[&str]) -> Option<(Value, i32)> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some(self.index(paths, extra));
        }
        let setpriv = std::process::Command::new("setpriv").arg("--version").output();
        if !setpriv.is_ok_and(|output| output.status.success()) {
            return None;
        }
        let binary = copy_imbed(&self.path().join("bin/imbed"));
        std::fs::set_permissions(self.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&binary).arg("index").args(paths);
        command.arg("--model").arg(tiny_model()).arg("--json").args(extra);
        command.current_dir(self.path()).env("ORT_DYLIB_PATH", ort_library());
        for var in CLEARED_ENV {
            command.env_remove(var);
        }
        Some(Self::summary(&command.output().expect("run imbed through setpriv")))
    }

    fn summary(output: &std::process::Output) -> (Value, i32) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!("no JSON summary; stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
        });
        (summary, output.status.code().unwrap_or(-1))
    }

    /// `imbed search IMAGE --json` against the workspace's store.
    pub fn search(&self, image: &Path, top: usize) -> Value {
        self.search_many(&[image], top).pop().expect("one result line")
    }

    /// `imbed search IMAGE... --json`: one JSON object per query image.
    pub fn search_many(&self, images: &[&Path], top: usize) -> Vec<Value> {
        let output = self
            .imbed()
            .args(["search", "--json", "--top", &top.to_string()])
            .args(images)
            .output()
            .expect("run imbed search");
        assert!(output.status.success(), "search failed: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout.lines().map(|line| serde_json::from_str(line).expect("search JSON line")).collect()
    }

    /// `imbed embed IMAGE --model MODEL`'s vector.
    pub fn embed_vector(&self, image: &Path, model: &Path, extra: &[&str]) -> Vec<f64> {
        let output =
            self.imbed().arg("embed").arg(image).arg("--model").arg(model).args(extra).output().expect("embed");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let line: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
        line["vector"].as_array().expect("vector").iter().map(|x| x.as_f64().expect("number")).collect()
    }

    pub fn write(&self, relative: &str, contents: &[u8]) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Copies a fixture image to `relative` inside the workspace.
    pub fn copy_fixture(&self, fixture: &str, relative: &str) -> PathBuf {
        let bytes = std::fs::read(fixture_images().join(fixture)).expect("read fixture");
        self.write(relative, &bytes)
    }
}

/// Writes the corpus of odd and broken images (scripts/make_odd_images.py) under `ws/odd`;
/// `odd/expected.json` holds each file's expected outcome.
pub fn make_odd_images(ws: &Workspace) -> PathBuf {
    let out = ws.path().join("odd");
    let python = repo().join(".venv/bin/python");
    let status = std::process::Command::new(&python)
        .arg(repo().join("scripts/make_odd_images.py"))
        .arg("odd")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run the README's test command", python.display()));
    assert!(status.success(), "make_odd_images.py failed");
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
