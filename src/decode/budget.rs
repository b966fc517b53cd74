//! A budget of decoded bytes shared by the decode threads. Counting images in flight is not
//! enough: eight 90-megapixel images at once need gigabytes. Each decode reserves its
//! estimated peak (known from the header, before any pixel is allocated) and waits while the
//! budget is spent; the reservation returns when the decoded image is dropped.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Debug, Clone)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    capacity: u64,
    in_use: Mutex<u64>,
    released: Condvar,
}

/// Bytes held against a [`MemoryBudget`] until dropped.
#[derive(Debug)]
pub struct Reservation {
    shared: Arc<Shared>,
    bytes: u64,
}

impl MemoryBudget {
    pub fn new(capacity: u64) -> Self {
        Self { shared: Arc::new(Shared { capacity, in_use: Mutex::new(0), released: Condvar::new() }) }
    }

    /// For one image at a time (search, embed): never waits.
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    /// Waits until `bytes` fit, then holds them. A reservation above the whole budget is
    /// trimmed to it: such an image waits until it can be decoded alone, and never forever.
    pub fn reserve(&self, bytes: u64) -> Reservation {
        let shared = &self.shared;
        let bytes = bytes.min(shared.capacity);
        let mut in_use = shared.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        while shared.capacity - *in_use < bytes {
            in_use = shared.released.wait(in_use).unwrap_or_else(PoisonError::into_inner);
        }
        *in_use += bytes;
        Reservation { shared: Arc::clone(shared), bytes }
    }

    /// Bytes reserved right now.
    #[cfg(test)]
    pub fn in_use(&self) -> u64 {
        *self.shared.in_use.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut in_use = self.shared.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        *in_use -= self.bytes;
        self.shared.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_until_enough_is_released_and_trims_oversized_requests() {
        let budget = MemoryBudget::new(100);
        let first = budget.reserve(60);
        let huge = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| budget.reserve(1_000).bytes());
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "must wait while 60 of 100 bytes are held");
            assert_eq!(budget.in_use(), 60);
            drop(first);
            waiter.join().unwrap()
        });
        assert_eq!(huge, 100, "trimmed to the whole budget");
        assert_eq!(budget.in_use(), 0);
    }
}
