//! How a run goes: tries, limits, threads, memory, downloads; from the flags given now, over
//! what the checkpoint recorded, over the defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::ThreadSplit;
use crate::cli::{RunArgs, WriteArgs};
use crate::fetch::FetchSettings;
use crate::pipeline::{PipelineSettings, RecordedControl};

const MAX_ATTEMPTS: u32 = 3;
const DECODE_MEMORY_MIB: u64 = 1024;
const LOG_INTERVAL_SECS: u64 = 10;
const COMMIT_INTERVAL: Duration = Duration::from_secs(2);

/// What of the run's description shapes its control.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunShape {
    pub batch_size: u32,
    pub max_file_size: u64,
}

/// How a run is carried out.
#[derive(Debug)]
pub struct RunControl {
    pub checkpoint: PathBuf,
    pub threads: ThreadSplit,
    pub log_interval: Duration,
    /// Bytes to keep free on the store's disk.
    pub min_free_space: u64,
    pub json: bool,
    /// A lost or replaced index refuses the run instead of getting the done items again.
    pub no_repair: bool,
    pub pipeline: PipelineSettings,
    /// Downloads of remote items; the size cap is the run's decode limit.
    pub fetch: FetchSettings,
    /// What the checkpoint records of the above, for the next resume.
    pub recorded: RecordedControl,
}

/// The numbers given now, over those recorded.
pub(super) fn given_control(args: &RunArgs, write: &WriteArgs, recorded: &RecordedControl) -> RecordedControl {
    let fetch = &args.fetch;
    RecordedControl {
        max_attempts: args.max_attempts.or(recorded.max_attempts),
        max_failures: args.max_failures.or(recorded.max_failures),
        max_failure_rate: args.max_failure_rate.or(recorded.max_failure_rate),
        decode_memory_mib: args.decode_memory.or(recorded.decode_memory_mib),
        min_free_space_mib: args.min_free_space.or(recorded.min_free_space_mib),
        log_interval_secs: args.log_interval.or(recorded.log_interval_secs),
        fetch_concurrency: fetch.fetch_concurrency.or(recorded.fetch_concurrency),
        fetch_memory_mib: fetch.fetch_memory.or(recorded.fetch_memory_mib),
        fetch_connect_timeout: fetch.fetch_connect_timeout.or(recorded.fetch_connect_timeout),
        fetch_stall_timeout: fetch.fetch_stall_timeout.or(recorded.fetch_stall_timeout),
        fetch_object_timeout: fetch.fetch_object_timeout.or(recorded.fetch_object_timeout),
        fetch_host_failure_limit: fetch.fetch_host_failure_limit.or(recorded.fetch_host_failure_limit),
        upsert_batch: write.upsert_batch.or(recorded.upsert_batch),
        upsert_parallel: write.upsert_parallel.or(recorded.upsert_parallel),
    }
}

impl RunControl {
    /// `batch_size` and `max_size` are the run's: images per batch, bytes per image.
    pub(super) fn resolve(
        args: &RunArgs,
        run: RunShape,
        intra_threads: Option<u32>,
        recorded: RecordedControl,
    ) -> Self {
        let defaults = FetchSettings::default();
        let threads = ThreadSplit::new(intra_threads, args.decode_threads);
        let max_attempts = recorded.max_attempts.unwrap_or(MAX_ATTEMPTS);
        let mib = |value: Option<u64>, default: u64| value.unwrap_or(default).saturating_mul(1 << 20);
        Self {
            checkpoint: args.checkpoint.clone(),
            threads,
            log_interval: Duration::from_secs(recorded.log_interval_secs.unwrap_or(LOG_INTERVAL_SECS).max(1)),
            min_free_space: mib(recorded.min_free_space_mib, crate::sink::edge::DEFAULT_MIN_FREE_SPACE_MIB),
            json: args.json,
            no_repair: args.no_repair,
            pipeline: PipelineSettings {
                batch_size: run.batch_size as usize,
                decode_threads: threads.decode,
                decode_memory: mib(recorded.decode_memory_mib, DECODE_MEMORY_MIB),
                commit_interval: COMMIT_INTERVAL,
                max_failures: recorded.max_failures,
                max_failure_rate: recorded.max_failure_rate,
                embed_log: args.debug_embed_log.clone(),
            },
            fetch: FetchSettings {
                concurrency: recorded.fetch_concurrency.map_or(defaults.concurrency, |n| n as usize),
                memory: recorded.fetch_memory_mib.map_or(defaults.memory, |mib| mib.saturating_mul(1 << 20)),
                connect_timeout: recorded.fetch_connect_timeout.unwrap_or(defaults.connect_timeout),
                stall_timeout: recorded.fetch_stall_timeout.unwrap_or(defaults.stall_timeout),
                object_timeout: recorded.fetch_object_timeout.unwrap_or(defaults.object_timeout),
                max_attempts,
                max_size: run.max_file_size,
                host_failure_limit: recorded.fetch_host_failure_limit.unwrap_or(defaults.host_failure_limit),
            },
            recorded,
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.fetch.max_attempts
    }

    /// The command that finishes this run.
    pub fn resume_command(&self) -> String {
        format!("imbed resume --checkpoint {}", self.quoted_checkpoint())
    }

    pub fn verify_command(&self) -> String {
        format!("imbed verify --checkpoint {}", self.quoted_checkpoint())
    }

    pub fn retry_command(&self) -> String {
        format!("imbed retry-failed --checkpoint {}", self.quoted_checkpoint())
    }

    /// The checkpoint's path, quoted for a shell where it needs it.
    pub fn quoted_checkpoint(&self) -> String {
        shell_quote(&self.checkpoint.to_string_lossy())
    }
}

fn shell_quote(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
