//! Whose bytes came first, for `--skip-duplicates`: each bytes hash belongs to the first item
//! seen with it. Done items of earlier runs, and points that imbed wrote to the collection,
//! claim theirs before the run starts; within a run, the first decode thread to ask wins.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct HashClaims {
    claimed: Mutex<HashMap<u128, String>>,
}

impl HashClaims {
    /// Records that `key` holds the bytes hashed to `hash`, unless another item already does.
    pub fn insert(&mut self, hash: u128, key: String) {
        self.claimed.get_mut().unwrap_or_else(PoisonError::into_inner).entry(hash).or_insert(key);
    }

    /// The key of the item that holds these bytes when it is not `key`; otherwise `key`
    /// claims them and `None` is returned.
    pub fn claim(&self, hash: u128, key: &str) -> Option<String> {
        let mut claimed = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        match claimed.get(&hash) {
            Some(original) if original != key => Some(original.clone()),
            Some(_) => None,
            None => {
                claimed.insert(hash, key.to_string());
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.claimed.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_item_with_some_bytes_keeps_them() {
        let mut claims = HashClaims::default();
        claims.insert(1, "old".into());
        claims.insert(1, "later".into());
        assert_eq!(claims.claim(1, "new").as_deref(), Some("old"));
        assert_eq!(claims.claim(1, "old"), None, "an item is not a copy of itself");
        assert_eq!(claims.claim(2, "new"), None);
        assert_eq!(claims.claim(2, "other").as_deref(), Some("new"));
        assert_eq!(claims.len(), 2);
    }
}
