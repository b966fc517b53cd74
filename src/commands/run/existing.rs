//! An existing run, for resume and retry-failed: everything comes from its checkpoint.

use anyhow::{bail, Context};

use super::{Prepared, RunControl, RunRequest};
use crate::checkpoint::{Checkpoint, CheckpointLock};
use crate::cli::{GlobalArgs, RunArgs, ServerArgs};
use crate::commands::server;
use crate::pipeline::{Plan, RunRecord};

/// An existing run: its checkpoint, lock, description (model resolved) and server.
pub(in crate::commands) struct Existing {
    pub checkpoint: Checkpoint,
    lock: CheckpointLock,
    pub prepared: Prepared,
    server: Option<crate::sink::QdrantSink>,
    remote: crate::fetch::Remote,
}

impl Existing {
    /// Opens the checkpoint of an existing run, refusing a changed model unless `force`,
    /// and connects to its server if it has one.
    pub fn open(global: &GlobalArgs, args: &RunArgs, server: &ServerArgs, force: bool) -> anyhow::Result<Self> {
        if !args.checkpoint.exists() {
            bail!("no checkpoint at {}; start a run with `imbed index`", args.checkpoint.display());
        }
        let lock = CheckpointLock::acquire(&args.checkpoint)?;
        let checkpoint = Checkpoint::open(&args.checkpoint)?;
        let recorded: RunRecord = checkpoint.config()?;
        let spec = recorded.spec.clone();
        // Keys and payloads follow the rule the run started with.
        crate::locator::ignore_query_parameters(&spec.sources.ignore_query_params);
        // Keys are paths as given when the run started; run from there so they mean the same files.
        std::env::set_current_dir(&spec.working_dir).with_context(|| {
            format!(
                "cannot enter {}, where the run in {} started",
                spec.working_dir.display(),
                args.checkpoint.display()
            )
        })?;
        // Before hashing the model: a server that is down should say so at once.
        let server = match &spec.sink.qdrant {
            Some(target) => Some(server::connect_recorded(target, &spec.sink.collection, server, &args.checkpoint)?),
            None => None,
        };
        let control = RunControl::from_args(args, None);
        // Remote sources are checked (bucket, credentials, endpoint) before the model loads.
        let remote = control.remote(&spec.sources, spec.decode.limits.max_file_size)?;
        spec.sources.check_remote(&remote)?;
        let prepared = Prepared::new(global, spec, control.threads)?;
        prepared.check_against(&recorded, &checkpoint, (!force).then_some("pass --force to go on anyway"))?;
        if prepared.record() != recorded {
            // A fingerprint recorded in imbed 0.1's form, or a forced run: record what runs now.
            checkpoint.set_config(&prepared.record())?;
        }
        Ok(Self { checkpoint, lock, prepared, server, remote })
    }

    pub fn request<'a>(self, command: &'static str, plan: Plan<'a>, args: &RunArgs) -> RunRequest<'a> {
        let control = RunControl::from_args(args, None);
        let Self { checkpoint, lock, prepared, server, remote } = self;
        RunRequest { command, prepared, checkpoint, lock, plan, control, server, remote }
    }
}
