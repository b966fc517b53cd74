//! A scratch folder to run `imbed` in, and the commands run there.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use super::{copy_imbed, fixture_images, ort_library, tiny_model, CLEARED_ENV};

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
