use super::run::{execute, open_existing, source_of, SinkOptions};
use super::ExitStatus;
use crate::cli::{GlobalArgs, ResumeArgs};
use crate::plan::Plan;

/// Processes the pending items, then whatever appeared in the sources since.
pub fn resume(global: &GlobalArgs, args: ResumeArgs) -> anyhow::Result<ExitStatus> {
    let (checkpoint, lock, config) = open_existing(&args.run, args.force)?;
    let source = source_of(&config);
    let plan = Plan { pending: true, discover: Some(&source) };
    let sink = SinkOptions::resumed(&args.server, &config);
    execute(global, &args.run, "resume", &config, checkpoint, lock, &plan, None, sink)
}
