//! Finding and loading the ONNX Runtime shared library (ort's `load-dynamic`).
//!
//! Order: `--ort-lib`, `ORT_DYLIB_PATH`, the project's `.venv`, the `onnxruntime` package of
//! `python3`, then the system library paths.

use std::ffi::{c_char, c_int, CStr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context};
use ort::environment::Environment;

const FIX_HINT: &str = "python3 -m venv .venv && .venv/bin/pip install onnxruntime";

/// Where to look for the library, resolved from the command line and the environment by the
/// command: this module reads no variable itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibrarySearch {
    /// `--ort-lib`.
    pub explicit: Option<PathBuf>,
    /// `ORT_DYLIB_PATH`, the variable of ort's own loader.
    pub ort_dylib_path: Option<PathBuf>,
    /// Folders whose `.venv` (in them or a parent) is looked at: the current folder, the executable's.
    pub project_dirs: Vec<PathBuf>,
    /// `LD_LIBRARY_PATH`, before the system's folders.
    pub library_path: Vec<PathBuf>,
}

/// A loaded ONNX Runtime: where it came from, its version, and the process's environment.
pub struct Runtime {
    pub library: PathBuf,
    pub found_by: &'static str,
    pub version: String,
    pub environment: Environment,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Loads ONNX Runtime once per process.
pub fn load(search: &LibrarySearch) -> anyhow::Result<&'static Runtime> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let (library, found_by) = find_library(search)?;
    // Check the version ourselves first: ort's own check cannot say which version is needed
    // without a loaded library to build its error from.
    let version =
        library_version(&library).with_context(|| format!("cannot load ONNX Runtime from {}", library.display()))?;
    let minor: u32 = version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
    if minor < ort::MINOR_VERSION {
        bail!(
            "ONNX Runtime {version} at {} is too old: imbed needs 1.{} or newer (pip install -U onnxruntime)",
            library.display(),
            ort::MINOR_VERSION
        );
    }
    let environment = ort::init_from(&library)
        .map_err(|error| anyhow!("{error}"))?
        .with_name("imbed")
        .with_telemetry(false)
        .build()
        .map_err(|error| anyhow!("cannot start ONNX Runtime: {error}"))?;
    Ok(RUNTIME.get_or_init(|| Runtime { library, found_by, version, environment }))
}

impl Runtime {
    /// Execution providers compiled into this library, such as `CPUExecutionProvider`.
    pub fn providers(&self) -> anyhow::Result<Vec<String>> {
        let api = ort::api();
        let mut names: *mut *mut c_char = std::ptr::null_mut();
        let mut count: c_int = 0;
        // SAFETY: the library is loaded; ORT fills `names` with `count` C strings that we release below.
        unsafe { ort::Error::result_from_status((api.GetAvailableProviders)(&mut names, &mut count)) }?;
        let providers = (0..count as usize)
            // SAFETY: index < count, each entry is a valid NUL-terminated string owned by ORT.
            .map(|i| unsafe { CStr::from_ptr(*names.add(i)) }.to_string_lossy().into_owned())
            .collect();
        // SAFETY: releases exactly what GetAvailableProviders returned.
        unsafe { ort::Error::result_from_status((api.ReleaseAvailableProviders)(names, count)) }?;
        Ok(providers)
    }
}

/// `OrtGetApiBase()->GetVersionString()`, which ort keeps private.
fn library_version(path: &Path) -> anyhow::Result<String> {
    // SAFETY: loading ONNX Runtime runs no unsound initialisers; the symbol has the C signature
    // declared by onnxruntime_c_api.h, and the string it returns is static in the library.
    unsafe {
        let library = libloading::Library::new(path)?;
        let get_api_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            library.get(b"OrtGetApiBase").context("not an ONNX Runtime library (no OrtGetApiBase)")?;
        let base = get_api_base();
        if base.is_null() {
            bail!("OrtGetApiBase returned nothing");
        }
        let version = CStr::from_ptr(((*base).GetVersionString)()).to_string_lossy().into_owned();
        // Keep the library loaded; ort opens the same file and shares the handle.
        std::mem::forget(library);
        Ok(version)
    }
}

fn find_library(search: &LibrarySearch) -> anyhow::Result<(PathBuf, &'static str)> {
    if let Some(path) = &search.explicit {
        return existing(path, "--ort-lib");
    }
    if let Some(path) = &search.ort_dylib_path {
        return existing(path, "ORT_DYLIB_PATH");
    }
    if let Some(path) = project_venvs(&search.project_dirs).into_iter().find_map(|venv| library_in_venv(&venv)) {
        return Ok((path, "the project's .venv"));
    }
    if let Some(path) = python_package_dir().and_then(|dir| library_in_dir(&dir.join("capi"))) {
        return Ok((path, "python3's onnxruntime package"));
    }
    if let Some(path) = system_dirs(&search.library_path).iter().find_map(|dir| library_in_dir(dir)) {
        return Ok((path, "the system library path"));
    }
    bail!("ONNX Runtime library not found; install it with `{FIX_HINT}` (or pass --ort-lib FILE)")
}

fn existing(path: &Path, source: &'static str) -> anyhow::Result<(PathBuf, &'static str)> {
    let path = if path.is_dir() {
        library_in_dir(path).ok_or_else(|| anyhow!("no libonnxruntime in {} (from {source})", path.display()))?
    } else {
        path.to_path_buf()
    };
    if !path.exists() {
        bail!("ONNX Runtime library {} (from {source}) does not exist; install it with `{FIX_HINT}`", path.display());
    }
    Ok((path, source))
}

/// `.venv` folders in each start folder and its parents (the executable's too, so that
/// `target/release/imbed` finds the checkout's `.venv`).
fn project_venvs(starts: &[PathBuf]) -> Vec<PathBuf> {
    let mut venvs: Vec<PathBuf> = Vec::new();
    for start in starts {
        for dir in start.ancestors() {
            let venv = dir.join(".venv");
            if venv.is_dir() && !venvs.contains(&venv) {
                venvs.push(venv);
            }
        }
    }
    venvs
}

fn library_in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python"))
        .find_map(|entry| library_in_dir(&entry.path().join("site-packages/onnxruntime/capi")))
}

fn python_package_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| PathBuf::from(text.trim()))
}

fn system_dirs(library_path: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = library_path.to_vec();
    dirs.extend(
        ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64"]
            .map(PathBuf::from),
    );
    dirs
}

/// `libonnxruntime.so` or a versioned `libonnxruntime.so.1.x.y` in `dir` (wheels ship only the latter).
fn library_in_dir(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join("libonnxruntime.so");
    if exact.is_file() {
        return Some(exact);
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("libonnxruntime.so.")))
        .collect();
    versioned.sort();
    versioned.pop()
}
