use std::io::Write;

use super::run::{execute, open_existing, ExistingRun};
use super::ExitStatus;
use crate::cli::{GlobalArgs, RetryFailedArgs};
use crate::plan::Plan;

/// Puts failed items back to pending and processes them; attempts keep counting.
pub fn retry_failed(global: &GlobalArgs, args: RetryFailedArgs) -> anyhow::Result<ExitStatus> {
    let ExistingRun { checkpoint, lock, config, sink } = open_existing(&args.run, &args.server, args.force)?;
    let requeued = checkpoint.requeue_failed(&args.classes)?;
    if !global.quiet {
        let which =
            if args.classes.is_empty() { String::new() } else { format!(" of class {}", args.classes.join(", ")) };
        writeln!(std::io::stderr(), "imbed: retrying {requeued} failed items{which}")?;
    }
    let plan = Plan::pending_only();
    execute(global, &args.run, "retry-failed", &config, checkpoint, lock, &plan, None, sink)
}
