//! The faults a test asks for, and their firing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tonic::{Code, Status};

use super::lock;

/// Faults to inject; every setter replaces the previous setting of its kind.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
    injected: AtomicUsize,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_upserts: Option<Failure>,
    fail_after_apply: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    remaining: usize,
    code: Code,
    retry_after_secs: Option<u64>,
}

impl Faults {
    /// The next `n` upserts answer `code` without being applied.
    pub fn fail_next_upserts(&self, n: usize, code: Code) {
        lock(&self.state).fail_upserts = (n > 0).then_some(Failure { remaining: n, code, retry_after_secs: None });
    }

    /// The next `n` upserts answer ResourceExhausted with `retry-after: SECONDS` metadata, as
    /// Qdrant's rate limiter does (qdrant-client turns it into `ResourceExhaustedError`).
    pub fn rate_limit_upserts(&self, n: usize, retry_after_secs: u64) {
        lock(&self.state).fail_upserts = (n > 0).then_some(Failure {
            remaining: n,
            code: Code::ResourceExhausted,
            retry_after_secs: Some(retry_after_secs),
        });
    }

    /// The next `n` upserts are applied, then answered with Unavailable: a lost acknowledgement.
    pub fn fail_upsert_after_apply(&self, n: usize) {
        lock(&self.state).fail_after_apply = n;
    }

    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    /// How many faults have fired: failed upserts and lost acknowledgements.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    pub(super) fn take_failure(&self) -> Option<Status> {
        let mut state = lock(&self.state);
        let failure = state.fail_upserts.as_mut()?;
        failure.remaining -= 1;
        let failure = *failure;
        if failure.remaining == 0 {
            state.fail_upserts = None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(match failure.retry_after_secs {
            None => Status::new(failure.code, format!("injected fault: {}", failure.code.description())),
            Some(seconds) => {
                let mut status = Status::resource_exhausted(format!(
                    "Rate limiting exceeded: Write rate limit exceeded, retry after {seconds}s (injected fault)"
                ));
                status.metadata_mut().insert("retry-after", seconds.to_string().parse().expect("a number"));
                status
            }
        })
    }

    pub(super) fn take_after_apply(&self) -> bool {
        let mut state = lock(&self.state);
        let fire = state.fail_after_apply > 0;
        if fire {
            state.fail_after_apply -= 1;
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fire
    }
}
