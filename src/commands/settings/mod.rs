//! The one place where a command's settings are resolved: flags (and the `IMBED_*` variables
//! clap reads for them), the other variables imbed honours, what the checkpoint recorded of
//! the run, then the defaults, in that order. Everything below takes its part of the result;
//! no module under `commands/` reads the environment but [`Environment`].

mod commands;
mod control;
mod model;
mod run;
mod search;
mod server;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

pub(super) use commands::{DoctorSettings, EmbedSettings, PushSettings, StatsSettings, VerifySettings};
pub(super) use control::RunControl;
pub(super) use model::{ModelSettings, StoreSettings};
pub(super) use run::{RecordedFlags, RunSettings};
pub(super) use search::{QueryPart, SearchSettings};
pub(super) use server::ServerAccess;

use crate::cli::GlobalArgs;
use crate::embed::runtime::LibrarySearch;

/// The process's variables, read once at start; tests build their own.
pub struct Environment {
    variables: BTreeMap<OsString, OsString>,
    current_dir: Option<PathBuf>,
    current_exe: Option<PathBuf>,
}

impl Environment {
    pub fn of_process() -> Self {
        Self {
            variables: std::env::vars_os().collect(),
            current_dir: std::env::current_dir().ok(),
            current_exe: std::env::current_exe().ok(),
        }
    }

    #[cfg(test)]
    pub fn of(variables: &[(&str, &str)], current_dir: &str) -> Self {
        Self {
            variables: variables.iter().map(|(name, value)| (name.into(), value.into())).collect(),
            current_dir: Some(current_dir.into()),
            current_exe: None,
        }
    }

    /// A variable's value; an empty one counts as unset.
    pub fn var(&self, name: &str) -> Option<String> {
        self.variables
            .get(std::ffi::OsStr::new(name))
            .and_then(|value| value.to_str())
            .filter(|v| !v.is_empty())
            .map(String::from)
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.variables.get(std::ffi::OsStr::new(name)).filter(|value| !value.is_empty()).map(PathBuf::from)
    }

    pub fn current_dir(&self) -> anyhow::Result<PathBuf> {
        self.current_dir.clone().ok_or_else(|| anyhow::anyhow!("cannot read the current folder"))
    }

    /// Whether stderr gets colour: NO_COLOR (not empty) turns it off, CLICOLOR_FORCE (not `0`)
    /// forces it, and otherwise only a terminal gets it, never a log file or a pipe.
    pub fn stderr_colour(&self) -> bool {
        if self.var("NO_COLOR").is_some() {
            return false;
        }
        self.var("CLICOLOR_FORCE").is_some_and(|value| value != "0") || std::io::stderr().is_terminal()
    }
}

/// The variables renamed to `IMBED_` and their flag's long name, read under their old names for
/// one release.
pub const RENAMED_VARIABLES: &[(&str, &str)] = &[
    ("IMBED_QDRANT_URL", "IMBED_QDRANT"),
    ("IMBED_CONNECT_TIMEOUT", "IMBED_QDRANT_CONNECT_TIMEOUT"),
    ("IMBED_TIMEOUT", "IMBED_QDRANT_TIMEOUT"),
    ("IMBED_OUTPUT", "IMBED_MODEL_OUTPUT"),
    ("IMBED_SHARDS", "IMBED_COLLECTION_SHARDS"),
    ("IMBED_REPLICATION_FACTOR", "IMBED_COLLECTION_REPLICAS"),
    ("IMBED_ON_DISK", "IMBED_COLLECTION_ON_DISK"),
    ("IMBED_STALL_TIMEOUT", "IMBED_FETCH_STALL_TIMEOUT"),
    ("IMBED_OBJECT_TIMEOUT", "IMBED_FETCH_OBJECT_TIMEOUT"),
    ("IMBED_HOST_FAILURE_LIMIT", "IMBED_FETCH_HOST_FAILURE_LIMIT"),
];

/// What every command shares: how it prints, and where ONNX Runtime is.
pub struct GlobalSettings {
    pub quiet: bool,
    pub colour: bool,
    pub runtime: LibrarySearch,
}

impl GlobalSettings {
    pub fn resolve(args: &GlobalArgs, env: &Environment) -> Self {
        let library_path = env.variables.get(std::ffi::OsStr::new("LD_LIBRARY_PATH"));
        let runtime = LibrarySearch {
            explicit: args.ort_lib.clone(),
            ort_dylib_path: env.path("ORT_DYLIB_PATH"),
            project_dirs: [env.current_dir.clone(), env.current_exe.clone()].into_iter().flatten().collect(),
            library_path: library_path.map(|paths| std::env::split_paths(paths).collect()).unwrap_or_default(),
        };
        Self { quiet: args.quiet, colour: env.stderr_colour(), runtime }
    }
}

/// Cores for ONNX Runtime and for decoding. Both default to every core: ORT's threads do not
/// spin, so the decoders fill whatever ORT leaves idle. On 2 cores (bench model and photos,
/// batch 32) end to end: 1 decoder 26-27 images/s, 2 decoders 27-30; the model alone 37-40.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadSplit {
    pub intra: usize,
    pub decode: usize,
}

impl ThreadSplit {
    pub fn new(intra: Option<u32>, decode: Option<u32>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let or_cores = |threads: Option<u32>| threads.map_or(cores, |n| n as usize).max(1);
        Self { intra: or_cores(intra), decode: or_cores(decode) }
    }
}
