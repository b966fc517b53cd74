//! A budget of downloaded bytes held at once, from the response headers until the image is
//! decoded, so that memory stays flat whatever the objects' sizes. Like the decode budget,
//! an object larger than the whole budget waits until it can be held alone.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts in units of this many bytes, so that any size fits a permit count.
const UNIT: u64 = 4096;

#[derive(Debug, Clone)]
pub struct ByteBudget {
    semaphore: Arc<Semaphore>,
    units: u32,
}

/// Bytes held against a [`ByteBudget`] until dropped.
#[derive(Debug, Default)]
pub struct BytesHeld {
    permit: Option<OwnedSemaphorePermit>,
}

impl ByteBudget {
    pub fn new(bytes: u64) -> Self {
        let units = (bytes / UNIT).clamp(1, u64::from(u32::MAX >> 4)) as u32;
        Self { semaphore: Arc::new(Semaphore::new(units as usize)), units }
    }

    fn units(&self, bytes: u64) -> u32 {
        bytes.div_ceil(UNIT).clamp(1, u64::from(self.units)) as u32
    }

    /// Waits until `bytes` fit, then holds them.
    pub async fn hold(&self, bytes: u64) -> BytesHeld {
        let permit = Arc::clone(&self.semaphore).acquire_many_owned(self.units(bytes)).await.ok();
        BytesHeld { permit }
    }

    /// Holds `bytes` more when they fit now. A body of unknown length grows past what was
    /// held instead of waiting, since waiting mid-body would look like a stall to the server.
    pub fn grow(&self, held: &mut BytesHeld, bytes: u64) {
        if let Ok(more) = Arc::clone(&self.semaphore).try_acquire_many_owned(self.units(bytes)) {
            match &mut held.permit {
                Some(permit) => permit.merge(more),
                None => held.permit = Some(more),
            }
        }
    }

    #[cfg(test)]
    fn available_bytes(&self) -> u64 {
        self.semaphore.available_permits() as u64 * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_held_until_dropped_and_large_objects_fit_alone() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let budget = ByteBudget::new(1 << 20);
        runtime.block_on(async {
            let held = budget.hold(300 << 10).await;
            assert_eq!(budget.available_bytes(), (1 << 20) - (300 << 10));
            drop(held);
            let whole = budget.hold(10 << 20).await;
            assert_eq!(budget.available_bytes(), 0, "an object above the budget holds all of it");
            let mut extra = BytesHeld::default();
            budget.grow(&mut extra, 4096);
            assert!(extra.permit.is_none(), "growing never waits");
            drop(whole);
        });
    }
}
