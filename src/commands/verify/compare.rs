//! The comparison itself: done items looked up by point ID in batches, then the index's IDs
//! scrolled against the sorted IDs of every item the checkpoints know.

use uuid::Uuid;

use super::Opened;
use crate::sink::Index;
use crate::util::point_id;

/// Done items looked up per request.
const LOOKUP_BATCH: usize = 1024;
/// Point IDs read per scroll request.
const SCROLL_PAGE: usize = 8192;

/// A done item whose point is missing or holds another key.
pub(super) struct Difference {
    /// Which of the checkpoints holds it.
    pub checkpoint: usize,
    pub item: i64,
    pub key: String,
}

#[derive(Default)]
pub(super) struct Findings {
    pub checked: u64,
    /// Points in the index.
    pub points: u64,
    pub missing: Vec<Difference>,
    pub other_key: Vec<Difference>,
    /// Points whose IDs no item of any checkpoint has.
    pub unknown: Vec<Uuid>,
}

impl Findings {
    /// The items to put back to pending, per checkpoint.
    pub fn to_requeue(&self) -> Vec<(usize, Vec<i64>)> {
        let mut per_checkpoint: std::collections::BTreeMap<usize, Vec<i64>> = Default::default();
        for difference in self.missing.iter().chain(&self.other_key) {
            per_checkpoint.entry(difference.checkpoint).or_default().push(difference.item);
        }
        per_checkpoint.into_iter().collect()
    }
}

pub(super) fn compare(opened: &[Opened], index: Option<&dyn Index>) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    for (which, opened) in opened.iter().enumerate() {
        let mut after = 0;
        loop {
            let page = opened.checkpoint.done_after(after, LOOKUP_BATCH)?;
            let Some(&(last, _)) = page.last() else { break };
            after = last;
            findings.checked += page.len() as u64;
            let ids: Vec<Uuid> = page.iter().map(|(_, key)| point_id(key)).collect();
            let found: std::collections::HashMap<Uuid, Option<String>> = match index {
                Some(index) => index.keys_of(&ids)?.into_iter().collect(),
                None => Default::default(),
            };
            for ((item, key), id) in page.into_iter().zip(ids) {
                let difference = Difference { checkpoint: which, item, key };
                match found.get(&id) {
                    None => findings.missing.push(difference),
                    Some(stored) if stored.as_deref() != Some(difference.key.as_str()) => {
                        findings.other_key.push(difference)
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let Some(index) = index else { return Ok(findings) };
    // Every item not deleted, in any state: a pending item's point may be written already.
    let mut known: Vec<u128> = Vec::new();
    for opened in opened {
        let mut after = 0;
        loop {
            let page = opened.checkpoint.present_after(after, SCROLL_PAGE)?;
            let Some(&(last, _, _)) = page.last() else { break };
            after = last;
            known.extend(page.iter().map(|(_, key, _)| point_id(key).as_u128()));
        }
    }
    known.sort_unstable();
    let mut start = None;
    loop {
        let (ids, next) = index.ids_from(start, SCROLL_PAGE)?;
        findings.points += ids.len() as u64;
        findings.unknown.extend(ids.into_iter().filter(|id| known.binary_search(&id.as_u128()).is_err()));
        match next {
            Some(next) => start = Some(next),
            None => return Ok(findings),
        }
    }
}
