//! `imbed retry-failed`: failed items (all, or those of some classes) back to pending, then run.

use super::run::{execute, Existing};
use super::settings::{Environment, GlobalSettings, RecordedFlags};
use super::{ExitStatus, Printer};
use crate::cli::RetryFailedArgs;
use crate::pipeline::Plan;

/// Puts failed items back to pending and processes them; attempts keep counting.
pub fn retry_failed(
    global: &GlobalSettings,
    printer: Printer,
    args: &RetryFailedArgs,
    env: &Environment,
) -> anyhow::Result<ExitStatus> {
    let flags = RecordedFlags {
        run: &args.run,
        connection: &args.connection,
        write: &args.write,
        force: args.force,
        classes: &args.classes,
    };
    let existing = Existing::open(global, flags, env)?;
    let names: Vec<&str> = existing.classes.iter().map(|class| class.as_str()).collect();
    let requeued = existing.checkpoint.requeue_failed(&names)?;
    let which = if names.is_empty() { String::new() } else { format!(" of class {}", names.join(", ")) };
    printer.message(format_args!("imbed: retrying {requeued} failed items{which}"));
    execute(printer, existing.request("retry-failed", Plan::pending_only()))
}
