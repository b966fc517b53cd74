//! How a command reaches a Qdrant server: the key, the time-outs and tries, and how it writes.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;

use super::Environment;
use crate::cli::{CollectionSetupArgs, ConnectionArgs, WriteArgs};
use crate::pipeline::RecordedControl;
use crate::sink::qdrant::Connection;
use crate::sink::{CollectionSetup, ServerTarget};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_ATTEMPTS: u32 = 6;
const UPSERT_BATCH: u32 = 128;
const UPSERT_PARALLEL: u32 = 4;

/// Everything of a server connection but its URL.
#[derive(Clone)]
pub struct ServerAccess {
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Tries of one request, the first included.
    pub max_attempts: u32,
    pub upsert_batch: u32,
    pub upsert_parallel: u32,
}

impl std::fmt::Debug for ServerAccess {
    // The API key must never reach a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAccess")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("upsert_batch", &self.upsert_batch)
            .field("upsert_parallel", &self.upsert_parallel)
            .finish()
    }
}

impl ServerAccess {
    /// From the flags, then `QDRANT_API_KEY`, then what the run recorded of its writes.
    pub fn resolve(
        args: &ConnectionArgs,
        write: Option<&WriteArgs>,
        recorded: &RecordedControl,
        env: &Environment,
    ) -> Self {
        let write = write.cloned().unwrap_or_default();
        let attempts = args.qdrant_max_attempts.or(args.max_retries.map(|retries| retries + 1));
        Self {
            api_key: args.qdrant_api_key.clone().filter(|key| !key.is_empty()).or_else(|| env.var("QDRANT_API_KEY")),
            connect_timeout: args.qdrant_connect_timeout.unwrap_or(CONNECT_TIMEOUT),
            request_timeout: args.qdrant_timeout.unwrap_or(REQUEST_TIMEOUT),
            max_attempts: attempts.unwrap_or(MAX_ATTEMPTS),
            upsert_batch: write.upsert_batch.or(recorded.upsert_batch).unwrap_or(UPSERT_BATCH),
            upsert_parallel: write.upsert_parallel.or(recorded.upsert_parallel).unwrap_or(UPSERT_PARALLEL),
        }
    }

    /// One quick try per request: for read-only commands whose caller wants an answer now.
    pub fn once(self) -> Self {
        Self { max_attempts: 1, ..self }
    }

    /// The connection to the server a checkpoint's run writes to, refused when that run used
    /// an API key and none is given now.
    pub fn recorded_connection(&self, target: &ServerTarget, checkpoint: &Path) -> anyhow::Result<Connection> {
        if target.api_key_used && self.api_key.is_none() {
            bail!(
                "the run in {} used an API key, and none is given now; pass --qdrant-api-key or set QDRANT_API_KEY",
                checkpoint.display()
            );
        }
        Ok(self.connection(&target.url))
    }

    pub fn connection(&self, url: &str) -> Connection {
        Connection {
            url: url.to_string(),
            api_key: self.api_key.clone(),
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_retries: self.max_attempts.saturating_sub(1),
            upsert_batch: self.upsert_batch as usize,
            upsert_parallel: self.upsert_parallel as usize,
        }
    }
}

pub(super) fn collection_setup(args: &CollectionSetupArgs) -> CollectionSetup {
    CollectionSetup {
        on_disk: args.collection_on_disk,
        shards: args.collection_shards,
        replication_factor: args.collection_replicas,
        bulk: args.bulk,
    }
}
