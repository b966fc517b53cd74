//! What a run processes: first the items the checkpoint holds as pending, then the items a
//! walk of the sources finds that the checkpoint has never seen. Items already done (or
//! failed) are skipped without being decoded.

use std::ops::ControlFlow;

use crate::checkpoint::Checkpoint;
use crate::item::{Failure, Item};
use crate::source::SourceSpec;

/// Rows read or inserted per checkpoint transaction.
const CHUNK: usize = 512;

pub struct Plan<'a> {
    /// Process the items that are pending in the checkpoint (resume, retry-failed).
    pub pending: bool,
    /// Walk these sources for items the checkpoint does not know yet (index, resume).
    pub discover: Option<&'a SourceSpec>,
}

impl Plan<'_> {
    /// Calls `emit` with each item to process; stops early when `emit` breaks.
    /// Returns how many items were emitted.
    /// `should_stop` is asked at every walked entry, so a walk over known files stops promptly.
    pub fn run(
        &self,
        checkpoint: &mut Checkpoint,
        should_stop: &dyn Fn() -> bool,
        mut emit: impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<u64> {
        let mut emitted = 0;
        let mut send = |entry| {
            emitted += 1;
            emit(entry)
        };
        if self.pending && stream_pending(checkpoint, &mut send)?.is_break() {
            return Ok(emitted);
        }
        if let Some(source) = self.discover {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut failed: Option<anyhow::Error> = None;
            let mut flush = |chunk: &mut Vec<_>, send: &mut dyn FnMut(_) -> ControlFlow<()>| -> ControlFlow<()> {
                match checkpoint.discover(std::mem::take(chunk)) {
                    Ok(new) => new.into_iter().try_for_each(send),
                    Err(error) => {
                        failed = Some(error.into());
                        ControlFlow::Break(())
                    }
                }
            };
            let mut stopped = false;
            source.for_each(|entry| {
                if should_stop() {
                    stopped = true;
                    return ControlFlow::Break(());
                }
                chunk.push(entry);
                if chunk.len() < CHUNK {
                    return ControlFlow::Continue(());
                }
                let flow = flush(&mut chunk, &mut send);
                stopped = flow.is_break();
                flow
            })?;
            if !stopped && !chunk.is_empty() {
                let _ = flush(&mut chunk, &mut send);
            }
            if let Some(error) = failed {
                return Err(error);
            }
        }
        Ok(emitted)
    }
}

/// Pending items that existed when the run started, in discovery order. Items discovered
/// later in this run are emitted by the walk, so they are not read here a second time.
fn stream_pending(
    checkpoint: &mut Checkpoint,
    send: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> anyhow::Result<ControlFlow<()>> {
    let last = checkpoint.max_id()?;
    let mut after = 0;
    loop {
        let page = checkpoint.pending_after(after, CHUNK)?;
        let Some((last_in_page, _)) = page.last() else {
            return Ok(ControlFlow::Continue(()));
        };
        after = *last_in_page;
        for (id, item) in page {
            if id > last {
                return Ok(ControlFlow::Continue(()));
            }
            if send(Ok(item)).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
    }
}
