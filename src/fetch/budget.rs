//! A budget of downloaded bytes held at once, from the response headers until the image is
//! decoded, so that memory stays flat whatever the objects' sizes. Like the decode budget,
//! an object larger than the whole budget waits until it can be held alone.
//!
//! A body with a length holds all of it before its first byte. A body without one (chunked,
//! gzip) holds a first part, and past it grows as it streams, waiting when the budget is
//! spent. Growing bodies take turns: one grows at a time while the others wait with their
//! first part, so that two half-grown bodies never wait for each other's bytes. The one that
//! grows is served before any new hold, and counts as free only what the others can give
//! back; past that it goes on, like an object larger than the budget.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, OwnedMutexGuard};

/// The budget counts in units of this many bytes.
const UNIT: u64 = 4096;

/// The first part of a body without a length: at least this, at most [`MAX_FIRST_PART`].
const MIN_FIRST_PART: u64 = 64 << 10;
const MAX_FIRST_PART: u64 = 8 << 20;

#[derive(Debug, Clone)]
pub struct ByteBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    units: u64,
    first_part: u64,
    state: Mutex<State>,
    /// Woken when units come back or the queue moves.
    changed: Notify,
    /// Held by the one body that grows.
    grower: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct State {
    available: u64,
    /// Holds waiting, in the order they came: the first is served first.
    queue: VecDeque<u64>,
    next_ticket: u64,
    /// Units held as first parts of bodies without a length, which a body waiting for its
    /// turn to grow does not give back.
    first_parts: u64,
    /// The growing body waits for units: new holds wait behind it.
    grower_waits: bool,
}

/// Bytes held against a [`ByteBudget`] until dropped.
#[derive(Debug, Default)]
pub struct BytesHeld {
    budget: Option<Arc<Inner>>,
    units: u64,
    /// Counted in [`State::first_parts`].
    first_part: bool,
}

/// The turn of one body without a length to grow past its first part.
pub struct GrowTurn {
    _turn: OwnedMutexGuard<()>,
}

impl ByteBudget {
    /// A budget of `bytes`, shared by `concurrency` downloads.
    pub fn new(bytes: u64, concurrency: usize) -> Self {
        let units = (bytes / UNIT).max(1);
        // Half the budget can go to first parts; the rest is for bodies that grow.
        let share = bytes / (2 * concurrency.max(1) as u64);
        let first_part = share.clamp(MIN_FIRST_PART, MAX_FIRST_PART).min(units * UNIT);
        let state = State { available: units, ..State::default() };
        let inner =
            Inner { units, first_part, state: Mutex::new(state), changed: Notify::new(), grower: Arc::default() };
        Self { inner: Arc::new(inner) }
    }

    fn units(&self, bytes: u64) -> u64 {
        bytes.div_ceil(UNIT).clamp(1, self.inner.units)
    }

    /// What a body without a length holds before its first byte.
    pub fn first_part(&self) -> u64 {
        self.inner.first_part
    }

    /// Waits until `bytes` fit, in turn, then holds them.
    pub async fn hold(&self, bytes: u64) -> BytesHeld {
        self.take(self.units(bytes), false).await
    }

    /// Holds the first part of a body without a length.
    pub async fn hold_first_part(&self) -> BytesHeld {
        self.take(self.units(self.inner.first_part), true).await
    }

    async fn take(&self, units: u64, first_part: bool) -> BytesHeld {
        let inner = &self.inner;
        let ticket = {
            let mut state = inner.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            ticket
        };
        // Leaves the queue if this future is dropped while it waits (a time-out).
        let mut place = QueuePlace { inner, ticket: Some(ticket) };
        loop {
            let mut woken = pin!(inner.changed.notified());
            woken.as_mut().enable();
            {
                let mut state = inner.lock();
                if state.queue.front() == Some(&ticket) && !state.grower_waits && state.available >= units {
                    state.available -= units;
                    state.queue.pop_front();
                    if first_part {
                        state.first_parts += units;
                    }
                    place.ticket = None;
                    drop(state);
                    // The next in the queue may fit too.
                    inner.changed.notify_waiters();
                    return BytesHeld { budget: Some(Arc::clone(inner)), units, first_part };
                }
            }
            woken.await;
        }
    }

    /// Waits for the turn to grow a body without a length past its first part.
    pub async fn grow_turn(&self) -> GrowTurn {
        GrowTurn { _turn: Arc::clone(&self.inner.grower).lock_owned().await }
    }

    /// Makes `held` (a body's, whose turn it is) hold at least `needed` bytes, and up to
    /// `wanted` where they are free now. Waits while units may still come back; past what
    /// the others can give back, returns holding what it has.
    pub async fn grow(&self, _turn: &GrowTurn, held: &mut BytesHeld, needed: u64, wanted: u64) {
        let inner = &self.inner;
        let needed = self.units(needed);
        let wanted = self.units(wanted).max(needed);
        let mut waiting = GrowerWaits { inner, set: false };
        loop {
            let mut woken = pin!(inner.changed.notified());
            woken.as_mut().enable();
            {
                let mut state = inner.lock();
                if std::mem::take(&mut held.first_part) {
                    state.first_parts -= held.units;
                }
                // What the others hold as first parts does not come back while this waits.
                let ceiling = inner.units.saturating_sub(state.first_parts);
                let short = needed.min(ceiling).saturating_sub(held.units);
                if short == 0 {
                    return;
                }
                if state.available >= short {
                    let take = wanted.min(ceiling).saturating_sub(held.units).min(state.available).max(short);
                    state.available -= take;
                    held.units += take;
                    if held.budget.is_none() {
                        held.budget = Some(Arc::clone(inner));
                    }
                    return;
                }
                state.grower_waits = true;
                waiting.set = true;
            }
            woken.await;
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BytesHeld {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.units * UNIT
    }

    /// The body is whole: what it holds comes back when it is dropped, like any other hold.
    pub fn settle(&mut self) {
        if let (Some(inner), true) = (&self.budget, std::mem::take(&mut self.first_part)) {
            inner.lock().first_parts -= self.units;
            inner.changed.notify_waiters();
        }
    }
}

impl Drop for BytesHeld {
    fn drop(&mut self) {
        if let Some(inner) = self.budget.take() {
            let mut state = inner.lock();
            state.available += self.units;
            if self.first_part {
                state.first_parts -= self.units;
            }
            drop(state);
            inner.changed.notify_waiters();
        }
    }
}

/// A hold's place in the queue, given up if it is dropped before it is served.
struct QueuePlace<'a> {
    inner: &'a Inner,
    ticket: Option<u64>,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.inner.lock().queue.retain(|&waiting| waiting != ticket);
            self.inner.changed.notify_waiters();
        }
    }
}

/// Clears [`State::grower_waits`] when the growing body stops waiting, however it stops.
struct GrowerWaits<'a> {
    inner: &'a Inner,
    set: bool,
}

impl Drop for GrowerWaits<'_> {
    fn drop(&mut self) {
        if self.set {
            self.inner.lock().grower_waits = false;
            self.inner.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    fn available(budget: &ByteBudget) -> u64 {
        budget.inner.lock().available * UNIT
    }

    #[test]
    fn bytes_are_held_until_dropped_and_large_objects_fit_alone() {
        let budget = ByteBudget::new(1 << 20, 4);
        runtime().block_on(async {
            let held = budget.hold(300 << 10).await;
            assert_eq!(available(&budget), (1 << 20) - (300 << 10));
            drop(held);
            let whole = budget.hold(10 << 20).await;
            assert_eq!(available(&budget), 0, "an object above the budget holds all of it");
            drop(whole);
            assert_eq!(available(&budget), 1 << 20);
        });
    }

    #[test]
    fn a_growing_body_waits_for_the_budget_and_gets_what_comes_back() {
        let budget = ByteBudget::new(1 << 20, 4);
        runtime().block_on(async {
            let other = budget.hold(800 << 10).await;
            let mut body = budget.hold_first_part().await;
            let turn = budget.grow_turn().await;
            let mut late = pin!(budget.hold(4096));
            {
                let mut grow = pin!(budget.grow(&turn, &mut body, 500 << 10, 500 << 10));
                let early = tokio::time::timeout(Duration::from_millis(50), grow.as_mut()).await;
                assert!(early.is_err(), "the budget is spent: growing waits");
                // A new hold waits behind the growing body.
                assert!(tokio::time::timeout(Duration::from_millis(20), late.as_mut()).await.is_err());
                drop(other);
                grow.await;
            }
            assert_eq!(body.bytes(), 500 << 10);
            drop(turn);
            drop(body);
            drop(late.await);
            assert_eq!(available(&budget), 1 << 20);
        });
    }

    #[test]
    fn a_growing_body_never_waits_for_first_parts_that_cannot_come_back() {
        let budget = ByteBudget::new(1 << 20, 4);
        runtime().block_on(async {
            let first = budget.first_part();
            let waiting_for_turn: Vec<_> = [budget.hold_first_part().await, budget.hold_first_part().await].into();
            let mut body = budget.hold_first_part().await;
            let turn = budget.grow_turn().await;
            let grow = budget.grow(&turn, &mut body, 4 << 20, 4 << 20);
            tokio::time::timeout(Duration::from_secs(1), grow).await.expect("goes on past what can come back");
            assert_eq!(body.bytes(), (1 << 20) - 2 * first);
            drop(waiting_for_turn);
            drop(body);
            assert_eq!(available(&budget), 1 << 20);
            assert_eq!(budget.inner.lock().first_parts, 0);
        });
    }

    #[test]
    fn a_hold_dropped_while_it_waits_leaves_the_queue() {
        let budget = ByteBudget::new(1 << 20, 4);
        runtime().block_on(async {
            let all = budget.hold(1 << 20).await;
            let gave_up = tokio::time::timeout(Duration::from_millis(20), budget.hold(4096)).await;
            assert!(gave_up.is_err());
            drop(all);
            let next = tokio::time::timeout(Duration::from_secs(1), budget.hold(1 << 20)).await;
            assert!(next.is_ok(), "the dropped hold does not block the queue");
        });
    }
}
