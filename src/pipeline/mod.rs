//! The stages of a run, one file each, wired as the data flow goes: plan -> download (on the
//! fetch runtime) -> load (decode + preprocess, on a rayon pool) -> infer (the model's one
//! owner) -> commit (sink, then checkpoint). Bounded channels join them, so memory stays flat and a
//! slow stage slows the ones before it.

mod claims;
mod commit;
mod download;
mod infer;
mod load;
pub mod plan;
mod spec;
pub mod tensor;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::bounded;

use crate::checkpoint::Checkpoint;
use crate::decode::MemoryBudget;
use crate::embed::Embed;
use crate::fetch::Remote;
use crate::item::{Failure, Item};
use crate::progress::Reporter;
use crate::sink::Sink;

pub use claims::HashClaims;
pub use plan::{Plan, PlanOutcome, WalkSeen};
pub use spec::{changed_model_message, Comparison, Fingerprints, ImageOptions, RecordedControl, RunRecord, RunSpec};
pub use tensor::{ImageSource, TensorLoader};

/// How the stages run: sizes, threads and when to give up.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Images per batch, unless the model fixes its own.
    pub batch_size: usize,
    pub decode_threads: usize,
    /// Bytes of decoded pixels that the decode threads may hold at once.
    pub decode_memory: u64,
    /// Commit at least this often even while batches keep coming, so a crash loses little.
    pub commit_interval: Duration,
    /// Stop early once more items than this have failed.
    pub max_failures: Option<u64>,
    /// Stop early once this fraction of finished items has failed (after 100 items).
    pub max_failure_rate: Option<f64>,
    /// Where the keys of every model call are appended, for tests (`--debug-embed-log`).
    pub embed_log: Option<std::path::PathBuf>,
}

/// What each stage works with. The model and the sink are traits, so that tests can stall,
/// fail or count them.
pub struct Stages<'a> {
    pub plan: &'a Plan<'a>,
    pub checkpoint: &'a mut Checkpoint,
    /// Decoding limits and preprocessing; its budget is replaced by `decode_memory`'s.
    pub loader: TensorLoader<'a>,
    pub embedder: &'a mut dyn Embed,
    pub sink: &'a mut dyn Sink,
    pub reporter: &'a dyn Reporter,
    /// The clients and runtime of remote items.
    pub remote: &'a Remote,
    /// With `--skip-duplicates`: who holds which bytes, seeded by the caller.
    pub claims: Option<HashClaims>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Items this run set out to process.
    pub planned: u64,
    /// Known items skipped because their files had not changed.
    pub unchanged: u64,
    /// Known items embedded again because their files changed.
    pub changed: u64,
    /// What the walk found, when it went to the end.
    pub walk: Option<WalkSeen>,
    pub done: u64,
    /// Items recorded as duplicates of others (`--skip-duplicates`).
    pub duplicates: u64,
    /// Done items whose payloads were written again (`--refresh-payload`), and those whose
    /// payloads could not be made (they keep their points as they were).
    pub refreshed: u64,
    pub not_refreshed: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Stopped by --max-failures or --max-failure-rate.
    pub failure_limit_hit: bool,
    /// Time spent recording outcomes in the checkpoint.
    pub checkpoint_time: Duration,
    /// Time spent making sink writes durable.
    pub flush_time: Duration,
}

/// Why the stages should wind down early: Ctrl-C/SIGTERM from outside, or the last stage
/// (a failure limit, or an error that ends the run).
struct Stop<'a> {
    interrupted: &'a AtomicBool,
    halted: AtomicBool,
}

impl Stop<'_> {
    fn is_set(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed) || self.halted.load(Ordering::Relaxed)
    }

    fn halt(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }
}

/// Runs every item of the plan through load, embed and commit, until done or `interrupted`.
pub fn run(stages: Stages<'_>, settings: &PipelineSettings, interrupted: &AtomicBool) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let Stages { plan, checkpoint, mut loader, embedder, sink, reporter, remote, claims } = stages;
    let batch_size = embedder.batch_size(settings.batch_size);
    let decode_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.decode_threads)
        .thread_name(|i| format!("imbed-decode-{i}"))
        .build()
        .context("cannot start the decode threads")?;
    let mut planner_checkpoint = checkpoint.reopen()?;
    let embed_log = infer::EmbedLog::open(settings.embed_log.as_deref())?;
    loader.budget = MemoryBudget::new(settings.decode_memory);
    // As many slots as the loaded channel, the batch being filled and the decoders hold.
    let slots = load::SlotPool::new(batch_size * 3 + settings.decode_threads, loader.slot_len());
    let stop = Stop { interrupted, halted: AtomicBool::new(false) };

    // Capacities bound memory: a few batches of tensors in flight, whatever the corpus size.
    // The fetch stage between plan and load holds what one channel did before it existed.
    let (item_tx, item_rx) = tokio::sync::mpsc::channel::<Result<Item, Failure>>(batch_size);
    let (fetched_tx, fetched_rx) = tokio::sync::mpsc::channel::<download::Fetched>(batch_size);
    let (loaded_tx, loaded_rx) = bounded::<load::Loaded>(batch_size * 2);
    let (embedded_tx, embedded_rx) = bounded::<infer::Embedded>(2);

    let load_context = load::LoadContext { loader: &loader, slots: &slots, claims: claims.as_ref() };
    let mut summary = RunSummary::default();
    let mut committer = commit::Committer::new(checkpoint, sink, settings, reporter, &stop, &mut summary);
    let planned = std::thread::scope(|scope| {
        let planner = scope.spawn(|| plan::stage(plan, &mut planner_checkpoint, remote, item_tx, reporter, &stop));
        scope.spawn(|| download::stage(item_rx, fetched_tx, remote, &stop));
        scope.spawn(|| decode_pool.install(|| load::stage(fetched_rx, loaded_tx, &load_context, &stop)));
        scope.spawn(|| infer::stage(loaded_rx, embedded_tx, embedder, batch_size, &slots, embed_log, &stop));
        let committed = committer.run(embedded_rx);
        let planned = planner.join().map_err(|_| anyhow::anyhow!("the planner thread panicked"))?;
        committed?;
        planned
    })?;
    let PlanOutcome { emitted, unchanged, changed, walk } = planned;
    (summary.planned, summary.unchanged, summary.changed, summary.walk) = (emitted, unchanged, changed, walk);
    summary.interrupted = interrupted.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    reporter.finish();
    Ok(summary)
}

#[cfg(test)]
mod tests;
