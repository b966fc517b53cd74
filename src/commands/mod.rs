//! One module per subcommand. Each turns its arguments into resolved settings, does its work
//! through the library, and shows the outcome through one [`Printer`].

mod doctor;
mod dupes;
mod embed;
mod export;
mod identity;
mod import;
mod index;
mod printer;
mod push;
mod query;
mod resume;
mod retry_failed;
mod run;
mod search;
mod server;
mod stats;
mod verify;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{Cli, Command};

pub use printer::{stderr_colour, Printer};

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every item is done.
    Success,
    /// The run finished, but some items failed.
    ItemsFailed,
    /// Usage, configuration or fatal error.
    Error,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
    /// `verify`: the checkpoint and the index differ.
    Differ,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ItemsFailed | Self::Differ => 1,
            Self::Error => 2,
            Self::Interrupted => 130,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let printer = Printer::new(cli.global.quiet);
    let global = &cli.global;
    match cli.command {
        Command::Index(args) => index::index(global, printer, args),
        Command::Resume(args) => resume::resume(global, printer, args),
        Command::RetryFailed(args) => retry_failed::retry_failed(global, printer, args),
        Command::Stats(args) => stats::stats(printer, args),
        Command::Search(args) => search::search(global, printer, args),
        Command::Embed(args) => embed::embed(global, printer, args),
        Command::Doctor(args) => doctor::doctor(global, printer, args),
        Command::Push(args) => push::push(printer, args),
        Command::Verify(args) => verify::verify(printer, args),
        Command::Export(args) => export::export(printer, args),
        Command::Import(args) => import::import(printer, args),
        Command::Dupes(args) => dupes::dupes(printer, args),
    }
}

/// The checkpoints named as arguments and with --checkpoint, or the default one.
fn checkpoint_paths(arguments: &[PathBuf], flag: Option<&PathBuf>) -> Vec<PathBuf> {
    let mut paths = arguments.to_vec();
    paths.extend(flag.cloned());
    if paths.is_empty() {
        paths.push(PathBuf::from("imbed.checkpoint"));
    }
    // A checkpoint named twice (say as an argument and in IMBED_CHECKPOINT) counts once; a
    // missing one keeps its name, so that opening it reports it.
    let mut seen = BTreeSet::new();
    paths.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    paths
}

/// Set by the first Ctrl-C or SIGTERM; a second one exits at once.
fn install_stop_handler(printer: Printer) -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    let result = ctrlc::set_handler(move || {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(ExitStatus::Interrupted.code()));
        }
        printer.notice("stopping after the batches in flight (press Ctrl-C again to exit now)");
    });
    if let Err(error) = result {
        printer.warning(format_args!("cannot install the Ctrl-C handler: {error}"));
    }
    &STOP
}

/// Cores for ONNX Runtime and for decoding. Both default to every core: ORT's threads do not
/// spin, so the decoders fill whatever ORT leaves idle. On 2 cores (bench model and photos,
/// batch 32) end to end: 1 decoder 26-27 images/s, 2 decoders 27-30; the model alone 37-40.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ThreadSplit {
    intra: usize,
    decode: usize,
}

impl ThreadSplit {
    fn new(intra: Option<usize>, decode: Option<usize>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self { intra: intra.unwrap_or(cores).max(1), decode: decode.unwrap_or(cores).max(1) }
    }
}
