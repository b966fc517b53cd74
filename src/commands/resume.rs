use super::run::{check_fingerprints, execute, model_choice, open_existing, source_of};
use super::ExitStatus;
use crate::cli::{GlobalArgs, ResumeArgs};
use crate::embed::ModelSpec;
use crate::plan::Plan;

/// Processes the pending items, then whatever appeared in the sources since.
pub fn resume(global: &GlobalArgs, args: ResumeArgs) -> anyhow::Result<ExitStatus> {
    let (checkpoint, lock, config) = open_existing(&args.run)?;
    let choice = model_choice(&config, 1)?;
    let spec = ModelSpec::resolve(&choice.model, choice.preset)?;
    check_fingerprints(&config, &spec, args.force, &args.run.checkpoint)?;
    let source = source_of(&config);
    let plan = Plan { pending: true, discover: Some(&source) };
    execute(global, &args.run, "resume", &config, checkpoint, lock, &plan)
}
