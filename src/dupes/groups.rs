//! Pairs into groups (union-find), the kept member of each, and why each other member is in it.

use uuid::Uuid;

use super::{Entry, Keep, Method, Pair};

#[derive(Debug, Clone)]
pub struct Member {
    pub index: usize,
    pub id: Uuid,
    pub reason: Method,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct Group {
    /// The entry to keep.
    pub keep: usize,
    pub members: Vec<Member>,
}

fn find(parents: &mut [usize], mut at: usize) -> usize {
    while parents[at] != at {
        parents[at] = parents[parents[at]];
        at = parents[at];
    }
    at
}

/// Rank of a pair's evidence: exact beats near beats semantic; within one method, closer wins.
fn strength(pair: &Pair) -> (u8, f64) {
    match pair.method {
        Method::Exact => (3, 1.0),
        Method::Near => (2, -pair.score),
        Method::Semantic => (1, pair.score),
    }
}

/// The groups the pairs make, each with its kept entry first in mind; groups in the order of
/// their kept entries' keys.
pub fn group(entries: &[Entry], pairs: &[Pair], keep: Keep) -> Vec<Group> {
    let mut parents: Vec<usize> = (0..entries.len()).collect();
    for pair in pairs {
        let (a, b) = (find(&mut parents, pair.a), find(&mut parents, pair.b));
        if a != b {
            parents[a.max(b)] = a.min(b);
        }
    }
    let mut components: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    // The pairs each entry is in, so that a member's evidence is found without a scan.
    let mut touching: std::collections::HashMap<usize, Vec<&Pair>> = Default::default();
    for pair in pairs {
        for index in [pair.a, pair.b] {
            let root = find(&mut parents, index);
            components.entry(root).or_default().push(index);
            touching.entry(index).or_default().push(pair);
        }
    }
    let best = |pairs: &mut dyn Iterator<Item = &&Pair>| -> Option<(Method, f64)> {
        pairs
            .max_by(|x, y| strength(x).partial_cmp(&strength(y)).unwrap_or(std::cmp::Ordering::Equal))
            .map(|pair| (pair.method, pair.score))
    };
    let mut groups: Vec<Group> = components
        .into_values()
        .map(|mut members| {
            members.sort_unstable();
            members.dedup();
            let keep = *members.iter().min_by(|&&a, &&b| order(&entries[a], &entries[b], keep)).unwrap_or(&members[0]);
            let members = members
                .into_iter()
                .filter(|&index| index != keep)
                .map(|index| {
                    // Its best evidence with the kept entry, else with any member.
                    let own = touching.get(&index).map_or(&[][..], Vec::as_slice);
                    let direct = best(&mut own.iter().filter(|pair| pair.a == keep || pair.b == keep));
                    let (reason, score) = direct.or_else(|| best(&mut own.iter())).unwrap_or((Method::Semantic, 0.0));
                    Member { index, id: entries[index].id, reason, score }
                })
                .collect();
            Group { keep, members }
        })
        .collect();
    groups.sort_by(|a, b| entries[a.keep].key.cmp(&entries[b.keep].key));
    groups
}

/// Which of two entries comes first to be kept.
fn order(a: &Entry, b: &Entry, keep: Keep) -> std::cmp::Ordering {
    let by_key = a.key.cmp(&b.key);
    match keep {
        Keep::Largest => (b.pixels, b.size_bytes).cmp(&(a.pixels, a.size_bytes)).then(by_key),
        Keep::Oldest => a.mtime.partial_cmp(&b.mtime).unwrap_or(std::cmp::Ordering::Equal).then(by_key),
        Keep::First => by_key,
    }
}
