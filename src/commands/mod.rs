//! One module per subcommand. [`dispatch`] resolves each command's settings (in `settings`),
//! the command does its work through the library with them, and shows the outcome through one
//! [`Printer`].

mod doctor;
mod dupes;
mod embed;
mod export;
mod identity;
mod import;
mod index;
mod models;
mod printer;
mod push;
mod resume;
mod retry_failed;
mod run;
mod search;
mod server;
pub mod settings;
mod stats;
mod verify;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{Cli, Command};

pub use printer::Printer;
use settings::{
    DoctorSettings, EmbedSettings, Environment, GlobalSettings, PushSettings, RunSettings, SearchSettings,
    StatsSettings, StoreSettings, VerifySettings,
};

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

/// Runs the command line's command with its settings, resolved from it and `env`.
pub fn dispatch(cli: Cli, env: &Environment) -> anyhow::Result<ExitStatus> {
    let global = GlobalSettings::resolve(&cli.global, env);
    let printer = Printer::new(global.quiet, global.colour);
    match cli.command {
        Command::Index(args) => index::index(&global, printer, RunSettings::index(args, env)?),
        // Their settings come from the checkpoint, read once it is locked.
        Command::Resume(args) => resume::resume(&global, printer, &args, env),
        Command::RetryFailed(args) => retry_failed::retry_failed(&global, printer, &args, env),
        Command::Stats(args) => stats::stats(printer, StatsSettings::resolve(args, env)),
        Command::Search(args) => search::search(&global, printer, SearchSettings::resolve(args, env)?),
        Command::Embed(args) => embed::embed(&global, printer, EmbedSettings::resolve(args)?),
        Command::Doctor(args) => doctor::doctor(&global, printer, DoctorSettings::resolve(args, env)),
        Command::Push(args) => push::push(printer, PushSettings::resolve(args, env)),
        Command::Verify(args) => verify::verify(printer, VerifySettings::resolve(args, env)),
        Command::Export(args) => export::export(printer, StoreSettings::resolve(&args.collection, None, env), args),
        Command::Import(args) => {
            import::import(printer, StoreSettings::resolve(&args.collection, Some(&args.write), env), args)
        }
        Command::Dupes(args) => dupes::dupes(printer, StoreSettings::resolve(&args.collection, None, env), args),
    }
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
