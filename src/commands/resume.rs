//! `imbed resume`: the run a checkpoint records, carried on.

use super::run::{execute, Existing};
use super::{ExitStatus, Printer};
use crate::cli::{GlobalArgs, ResumeArgs};
use crate::pipeline::Plan;

/// Processes the pending items, then whatever appeared in the sources since.
pub fn resume(global: &GlobalArgs, printer: Printer, args: ResumeArgs) -> anyhow::Result<ExitStatus> {
    let existing = Existing::open(global, &args.run, &args.server, args.force)?;
    let sources = existing.prepared.spec.sources.clone();
    let plan = Plan::pending_then_walk(&sources, &existing.prepared.spec);
    execute(printer, existing.request("resume", plan, &args.run))
}
