use super::run::{execute, open_existing, source_of, ExistingRun};
use super::ExitStatus;
use crate::cli::{GlobalArgs, ResumeArgs};
use crate::plan::Plan;

/// Processes the pending items, then whatever appeared in the sources since.
pub fn resume(global: &GlobalArgs, args: ResumeArgs) -> anyhow::Result<ExitStatus> {
    let ExistingRun { checkpoint, lock, config, sink } = open_existing(&args.run, &args.server, args.force)?;
    let source = source_of(&config);
    let plan = Plan::pending_then_walk(&source, &config);
    execute(global, &args.run, "resume", &config, checkpoint, lock, &plan, None, sink)
}
