//! The download stage (the pipeline side of `fetch`): downloads remote items on the fetch runtime while the decoders and the
//! model work, and passes local items straight on.
//!
//! Downloads run concurrently up to `--fetch-concurrency`, and their bodies count against a
//! budget of bytes until decoded. Finished downloads wait in a short queue (at most one slot's
//! worth each), so that those in flight keep being read while the decoders are busy (an
//! unread body would look like a stall). A local item waits there alone: a run of local files
//! holds no more items in this stage than a channel slot.
//!
//! Items read ahead of the slots wait in one list per host, and the hosts take the free slots
//! in turn. No host holds more than half of the slots while another host's items wait, or
//! while the items after it are still unknown; a host whose last try timed out or could not
//! connect holds one until it answers. After `--host-failure-limit` such tries in a row, the
//! host is taken for down: its items fail at once as host_down, for `retry-failed` to take.

use std::collections::{HashMap, VecDeque};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc;

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

/// Items taken from the plan per request slot: waiting for a slot, in flight, or finished
/// and waiting for a decoder.
const QUEUED_PER_SLOT: usize = 8;

/// How one host has been answering, and its items waiting for a slot.
#[derive(Default)]
struct Host {
    waiting: VecDeque<(Item, Location)>,
    in_flight: usize,
    /// The last try timed out or could not connect.
    unanswered: bool,
    /// Tries in a row that timed out or could not connect.
    unanswered_tries: u32,
    /// Taken for down: its items fail at once.
    down: bool,
}

/// The hosts of a run, and whose turn it is to take a slot.
struct Hosts {
    by_name: HashMap<String, Host>,
    /// Hosts with items waiting, in turn.
    turns: VecDeque<String>,
    waiting: usize,
    concurrency: usize,
    failure_limit: u32,
}

impl Hosts {
    fn new(concurrency: usize, failure_limit: u32) -> Self {
        Self { by_name: HashMap::new(), turns: VecDeque::new(), waiting: 0, concurrency, failure_limit }
    }

    /// Queues a remote item, or fails it at once when its host is down.
    fn add(&mut self, item: Item, location: Location) -> Option<Failure> {
        let name = location.host();
        let host = self.by_name.entry(name.clone()).or_default();
        if host.down {
            return Some(host_down(&item, &name, self.failure_limit));
        }
        if host.waiting.is_empty() {
            self.turns.push_back(name);
        }
        host.waiting.push_back((item, location));
        self.waiting += 1;
        None
    }

    /// The next item to start, from the next host in turn under its cap. `more_to_come`: the
    /// plan may still hold items of other hosts.
    fn next(&mut self, more_to_come: bool) -> Option<(String, Item, Location)> {
        let half = (self.concurrency / 2).max(1);
        for _ in 0..self.turns.len() {
            let name = self.turns.pop_front()?;
            let Some(host) = self.by_name.get_mut(&name) else { continue };
            let others_wait = self.waiting > host.waiting.len();
            let cap = match (host.unanswered, others_wait || more_to_come) {
                (true, _) => 1,
                (false, true) => half,
                (false, false) => self.concurrency,
            };
            if host.in_flight >= cap {
                self.turns.push_back(name);
                continue;
            }
            let Some((item, location)) = host.waiting.pop_front() else { continue };
            host.in_flight += 1;
            self.waiting -= 1;
            if !host.waiting.is_empty() {
                self.turns.push_back(name.clone());
            }
            return Some((name, item, location));
        }
        None
    }

    /// Notes how a download went. When it takes the host for down, returns its waiting items,
    /// failed.
    fn finished(&mut self, name: &str, unanswered_tries: Option<u32>) -> Vec<Failure> {
        let Some(host) = self.by_name.get_mut(name) else { return Vec::new() };
        host.in_flight -= 1;
        match unanswered_tries {
            None => {
                host.unanswered = false;
                host.unanswered_tries = 0;
            }
            Some(tries) => {
                host.unanswered = true;
                host.unanswered_tries = host.unanswered_tries.saturating_add(tries);
            }
        }
        if host.down || host.unanswered_tries < self.failure_limit {
            if !host.unanswered && host.in_flight == 0 && host.waiting.is_empty() {
                // Nothing to remember of a host that answers: the map stays as small as the queue.
                self.by_name.remove(name);
            }
            return Vec::new();
        }
        host.down = true;
        tracing::warn!(
            "{name} did not answer {} tries in a row (time-outs or failed connections): its remaining items fail as host_down, for `imbed retry-failed --class host_down` later",
            host.unanswered_tries
        );
        let waiting = std::mem::take(&mut host.waiting);
        self.waiting -= waiting.len();
        self.turns.retain(|turn| turn != name);
        waiting.into_iter().map(|(item, _)| host_down(&item, name, self.failure_limit)).collect()
    }
}

fn host_down(item: &Item, host: &str, limit: u32) -> Failure {
    let message = format!("not tried: {host} did not answer {limit} tries in a row (--host-failure-limit)");
    Failure::of(item, ErrorClass::HostDown, message)
}

pub(super) fn stage(
    mut items: mpsc::Receiver<Result<Item, Failure>>,
    fetched: mpsc::Sender<Fetched>,
    remote: &Remote,
    stop: &Stop<'_>,
) {
    let settings = remote.settings();
    let concurrency = settings.concurrency.max(1);
    let mut hosts = Hosts::new(concurrency, settings.host_failure_limit.max(1));
    let queue_limit = concurrency * QUEUED_PER_SLOT;
    remote.runtime().block_on(async {
        let mut in_flight = FuturesUnordered::new();
        let mut ready = VecDeque::new();
        // Of those ready, the local items and failures, which took no slot.
        let mut ready_unfetched = 0;
        let mut planned_all = false;
        loop {
            if stop.is_set() || (planned_all && in_flight.is_empty() && ready.is_empty() && hosts.waiting == 0) {
                return;
            }
            let room = in_flight.len() + hosts.waiting + ready.len() < queue_limit
                && ready.len() < concurrency
                && ready_unfetched == 0;
            let reading = room && !planned_all;
            while in_flight.len() < concurrency {
                let Some((host, item, location)) = hosts.next(reading) else { break };
                in_flight.push(download(remote, host, item, location));
            }
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
                Some((host, done, unanswered_tries)) = in_flight.next(), if !in_flight.is_empty() => {
                    let failed_at_once = hosts.finished(&host, unanswered_tries);
                    ready_unfetched += failed_at_once.len() + usize::from(!matches!(done, Fetched::Remote(..)));
                    ready.push_back(done);
                    ready.extend(failed_at_once.into_iter().map(Fetched::Failed));
                }
                entry = items.recv(), if reading => match entry {
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
                            if let Some(failure) = hosts.add(item, location) {
                                ready_unfetched += 1;
                                ready.push_back(Fetched::Failed(failure));
                            }
                        }
                    },
                },
                // Look at the stop flag now and then while everything waits.
                () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
        }
    });
}

/// Downloads one item; with it comes its host, and the tries that went unanswered when the
/// download failed for that.
async fn download(remote: &Remote, host: String, item: Item, location: Location) -> (String, Fetched, Option<u32>) {
    match remote.get(&location).await {
        Ok(download) => (host, Fetched::Remote(item, location, download), None),
        Err(error) => {
            let unanswered = error.unanswered.then_some(error.tries);
            (host, Fetched::Failed(failure(&item, error)), unanswered)
        }
    }
}

fn failure(item: &Item, error: FetchError) -> Failure {
    Failure::of(item, error.class, error.message)
}
