//! `imbed resume`: the run a checkpoint records, carried on.

use super::run::{execute, Existing};
use super::settings::{Environment, GlobalSettings, RecordedFlags};
use super::{ExitStatus, Printer};
use crate::cli::ResumeArgs;
use crate::pipeline::Plan;

/// Processes the pending items, then whatever appeared in the sources since.
pub fn resume(
    global: &GlobalSettings,
    printer: Printer,
    args: &ResumeArgs,
    env: &Environment,
) -> anyhow::Result<ExitStatus> {
    let flags = RecordedFlags {
        run: &args.run,
        connection: &args.connection,
        write: &args.write,
        force: args.force,
        classes: &[],
    };
    let existing = Existing::open(global, flags, env)?;
    let sources = existing.prepared.spec.sources.clone();
    let plan = Plan::pending_then_walk(&sources, &existing.prepared.spec);
    execute(printer, existing.request("resume", plan))
}
