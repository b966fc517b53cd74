//! `imbed retry-failed`: failed items (all, or those of some classes) back to pending, then run.

use super::run::{execute, Existing};
use super::{ExitStatus, Printer};
use crate::cli::{GlobalArgs, RetryFailedArgs};
use crate::pipeline::Plan;

/// Puts failed items back to pending and processes them; attempts keep counting.
pub fn retry_failed(global: &GlobalArgs, printer: Printer, args: RetryFailedArgs) -> anyhow::Result<ExitStatus> {
    let existing = Existing::open(global, &args.run, &args.server, args.force)?;
    let requeued = existing.checkpoint.requeue_failed(&args.classes)?;
    let which = if args.classes.is_empty() { String::new() } else { format!(" of class {}", args.classes.join(", ")) };
    printer.message(format_args!("imbed: retrying {requeued} failed items{which}"));
    execute(printer, existing.request("retry-failed", Plan::pending_only(), &args.run))
}
