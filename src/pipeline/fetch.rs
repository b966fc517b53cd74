//! The fetch stage: downloads remote items on the fetch runtime while the decoders and the
//! model work, and passes local items straight on.
//!
//! Downloads run concurrently up to `--fetch-concurrency`, and their bodies count against a
//! budget of bytes until decoded. Finished downloads wait in a short queue (at most one slot's
//! worth each), so that those in flight keep being read while the decoders are busy (an
//! unread body would look like a stall). A local item waits there alone: a run of local files
//! holds no more items in this stage than a channel slot. A host whose last try timed out or could not connect gets at most a quarter of the
//! slots until it answers again: items waiting on it wait for their time-outs, but the other
//! hosts' items keep flowing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};

use super::Stop;
use crate::fetch::{Download, FetchError, Remote};
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::Location;

/// An item with its bytes at hand: a local file for the decoder to read, or a download.
pub(super) enum Fetched {
    Local(Item),
    Remote(Item, Location, Download),
    Failed(Failure),
}

/// Items taken from the plan per request slot: waiting on a slow host, or finished and
/// waiting for a decoder.
const QUEUED_PER_SLOT: usize = 8;

/// How one host has been answering.
struct Host {
    /// The last try timed out or could not connect.
    failing: AtomicBool,
    /// The slots a failing host may hold.
    slots: Semaphore,
}

pub(super) fn stage(
    mut items: mpsc::Receiver<Result<Item, Failure>>,
    fetched: mpsc::Sender<Fetched>,
    remote: &Remote,
    stop: &Stop<'_>,
) {
    let concurrency = remote.settings().concurrency.max(1);
    let slots = Semaphore::new(concurrency);
    let failing_host_slots = (concurrency / 4).max(1);
    let mut hosts: HashMap<String, Arc<Host>> = HashMap::new();
    let queue_limit = concurrency * QUEUED_PER_SLOT;
    let slots = &slots;
    remote.runtime().block_on(async {
        let mut in_flight = FuturesUnordered::new();
        let mut ready = std::collections::VecDeque::new();
        // Of those ready, the local items and failures, which took no slot.
        let mut ready_unfetched = 0;
        let mut planned_all = false;
        loop {
            if stop.is_set() || (planned_all && in_flight.is_empty() && ready.is_empty()) {
                return;
            }
            let room = in_flight.len() + ready.len() < queue_limit && ready.len() < concurrency && ready_unfetched == 0;
            tokio::select! {
                permit = fetched.reserve(), if !ready.is_empty() => match (permit, ready.pop_front()) {
                    (Ok(permit), Some(next)) => {
                        if !matches!(next, Fetched::Remote(..)) {
                            ready_unfetched -= 1;
                        }
                        permit.send(next);
                    }
                    (Ok(_), None) => {}
                    (Err(_), _) => return,
                },
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    ready_unfetched += usize::from(!matches!(done, Fetched::Remote(..)));
                    ready.push_back(done);
                }
                entry = items.recv(), if room && !planned_all => match entry {
                    None => planned_all = true,
                    Some(Err(failure)) => {
                        ready_unfetched += 1;
                        ready.push_back(Fetched::Failed(failure));
                    }
                    Some(Ok(item)) => match item.path.location() {
                        None => {
                            ready_unfetched += 1;
                            ready.push_back(Fetched::Local(item));
                        }
                        Some(location) => {
                            let host = hosts.entry(location.host()).or_insert_with(|| {
                                Arc::new(Host { failing: AtomicBool::new(false), slots: Semaphore::new(failing_host_slots) })
                            });
                            in_flight.push(download(remote, slots, Arc::clone(host), item, location));
                        }
                    },
                },
                // Look at the stop flag now and then while everything waits.
                () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
        }
    });
}

async fn download(remote: &Remote, slots: &Semaphore, host: Arc<Host>, item: Item, location: Location) -> Fetched {
    let _host_slot = match host.failing.load(Ordering::Relaxed) {
        true => host.slots.acquire().await.ok(),
        false => None,
    };
    let Ok(_slot) = slots.acquire().await else {
        return Fetched::Failed(failure(&item, FetchError::new(ErrorClass::Network, "the fetch stage closed")));
    };
    let outcome = remote.get(&location).await;
    let unanswered = matches!(&outcome, Err(error) if matches!(error.class, ErrorClass::Timeout | ErrorClass::Network));
    host.failing.store(unanswered, Ordering::Relaxed);
    match outcome {
        Ok(download) => Fetched::Remote(item, location, download),
        Err(error) => Fetched::Failed(failure(&item, error)),
    }
}

fn failure(item: &Item, error: FetchError) -> Failure {
    Failure::of(item, error.class, error.message)
}
