//! An existing run, for resume and retry-failed: everything comes from its checkpoint, with
//! the flags given now over what it recorded.

use anyhow::{bail, Context};

use super::{Prepared, RunRequest};
use crate::checkpoint::{Checkpoint, CheckpointLock};
use crate::commands::settings::{Environment, GlobalSettings, RecordedFlags, RunControl, RunSettings};
use crate::pipeline::{Plan, RunRecord};
use crate::sink::QdrantSink;

/// An existing run: its checkpoint, lock, description (model resolved), settings and server.
pub(in crate::commands) struct Existing {
    pub checkpoint: Checkpoint,
    lock: CheckpointLock,
    pub prepared: Prepared,
    control: RunControl,
    server: Option<QdrantSink>,
    remote: crate::fetch::Remote,
    pub classes: Vec<crate::item::ErrorClass>,
}

impl Existing {
    /// Opens the checkpoint of an existing run, refusing a changed model unless `--force`,
    /// and connects to its server if it has one.
    pub fn open(global: &GlobalSettings, flags: RecordedFlags<'_>, env: &Environment) -> anyhow::Result<Self> {
        let path = &flags.run.checkpoint;
        if !path.exists() {
            bail!("no checkpoint at {}; start a run with `imbed index`", path.display());
        }
        let lock = CheckpointLock::acquire(path)?;
        let checkpoint = Checkpoint::open(path)?;
        let recorded: RunRecord = checkpoint.config()?;
        let RunSettings { spec, control, server, force, classes, .. } = RunSettings::recorded(&recorded, &flags, env)?;
        // Keys are paths as given when the run started; run from there so they mean the same files.
        std::env::set_current_dir(&spec.working_dir).with_context(|| {
            format!("cannot enter {}, where the run in {} started", spec.working_dir.display(), path.display())
        })?;
        // Before hashing the model: a server that is down should say so at once.
        let collection = &spec.sink.collection;
        let vector_name = spec.sink.qdrant.as_ref().and_then(|target| target.vector_name.clone());
        let server = server.map(|connection| QdrantSink::connect(connection, collection, vector_name)).transpose()?;
        // Remote sources are checked (bucket, credentials, endpoint) before the model loads.
        let remote = crate::fetch::Remote::new(spec.sources.remote.clone(), control.fetch.clone())?;
        spec.sources.check_remote(&remote)?;
        let prepared = Prepared::new(global, spec, control.threads)?;
        prepared.check_against(&recorded, &checkpoint, (!force).then_some("pass --force to go on anyway"))?;
        let record = prepared.record(&control);
        if record != recorded {
            // A fingerprint recorded in imbed 0.1's form, a forced run, or new run-control flags.
            checkpoint.set_config(&record)?;
        }
        Ok(Self { checkpoint, lock, prepared, control, server, remote, classes })
    }

    pub fn request<'a>(self, command: &'static str, plan: Plan<'a>) -> RunRequest<'a> {
        let Self { checkpoint, lock, prepared, server, remote, control, .. } = self;
        RunRequest { command, prepared, checkpoint, lock, plan, control, server, remote }
    }
}
