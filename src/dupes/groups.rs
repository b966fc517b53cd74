//! Pairs into groups, the kept member of each, and why each other member is in it.
//!
//! Exact copies are one item under several names, so they are joined transitively
//! (union-find). Near and semantic pairs are not: "a is like b" and "b is like c" do not make
//! a like c, and chaining them merged unrelated photos into one group (on 600 made photos,
//! pairwise precision 0.977 became 0.908 at distance 10; BENCHMARKS.md). So the classes of
//! exact copies are taken in keep order, and each one not yet in a group leads a group of the
//! classes directly paired with it that are not in one either.

use std::collections::{BTreeMap, HashMap, HashSet};

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

/// The groups the pairs make, each with its kept entry; groups in the order of their kept
/// entries' keys.
pub fn group(entries: &[Entry], pairs: &[Pair], keep: Keep) -> Vec<Group> {
    // Classes of exact copies, by their root.
    let mut parents: Vec<usize> = (0..entries.len()).collect();
    for pair in pairs.iter().filter(|pair| pair.method == Method::Exact) {
        let (a, b) = (find(&mut parents, pair.a), find(&mut parents, pair.b));
        if a != b {
            parents[a.max(b)] = a.min(b);
        }
    }
    let mut classes: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    // The strongest pair between two classes, each way.
    let mut links: HashMap<usize, HashMap<usize, &Pair>> = HashMap::new();
    for pair in pairs {
        let (a, b) = (find(&mut parents, pair.a), find(&mut parents, pair.b));
        classes.entry(a).or_default().push(pair.a);
        classes.entry(b).or_default().push(pair.b);
        if a != b {
            for (from, to) in [(a, b), (b, a)] {
                let slot = links.entry(from).or_default().entry(to).or_insert(pair);
                if strength(pair) > strength(slot) {
                    *slot = pair;
                }
            }
        }
    }
    for members in classes.values_mut() {
        members.sort_unstable();
        members.dedup();
    }
    // Each class by its best member to keep, and the classes in that order.
    let best_of = |members: &[usize]| {
        members.iter().copied().min_by(|&a, &b| order(&entries[a], &entries[b], keep)).unwrap_or(members[0])
    };
    let mut leaders: Vec<(usize, usize)> = classes.iter().map(|(&root, members)| (best_of(members), root)).collect();
    leaders.sort_by(|&(a, _), &(b, _)| order(&entries[a], &entries[b], keep));

    let mut grouped: HashSet<usize> = HashSet::new();
    let mut groups = Vec::new();
    for (kept, root) in leaders {
        if grouped.contains(&root) {
            continue;
        }
        let mut joined: Vec<(usize, &Pair)> = links
            .get(&root)
            .map(|near| near.iter().filter(|(other, _)| !grouped.contains(other)).map(|(&o, &p)| (o, p)).collect())
            .unwrap_or_default();
        joined.sort_by_key(|&(other, _)| other);
        let copies = &classes[&root];
        if copies.len() < 2 && joined.is_empty() {
            continue;
        }
        grouped.insert(root);
        let mut members: Vec<Member> = copies
            .iter()
            .filter(|&&index| index != kept)
            .map(|&index| Member { index, id: entries[index].id, reason: Method::Exact, score: 1.0 })
            .collect();
        for (other, link) in joined {
            grouped.insert(other);
            members.extend(classes[&other].iter().map(|&index| Member {
                index,
                id: entries[index].id,
                reason: link.method,
                score: link.score,
            }));
        }
        members.sort_by_key(|member| member.index);
        groups.push(Group { keep: kept, members });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, pixels: u64) -> Entry {
        Entry {
            id: crate::util::point_id(key),
            key: key.into(),
            size_bytes: 0,
            mtime: 0.0,
            pixels,
            content_hash: None,
            phash: None,
        }
    }

    fn pair(a: usize, b: usize, method: Method, score: f64) -> Pair {
        Pair { a, b, method, score }
    }

    #[test]
    fn exact_copies_join_transitively_and_near_pairs_do_not_chain() {
        // 0 and 1 are copies; 2 is near 0; 3 is near 2 only; 4 is near 3.
        let entries: Vec<Entry> =
            ["a", "b", "c", "d", "e"].iter().zip([9, 9, 5, 4, 3]).map(|(k, p)| entry(k, p)).collect();
        let pairs = [
            pair(0, 1, Method::Exact, 1.0),
            pair(0, 2, Method::Near, 6.0),
            pair(2, 3, Method::Near, 8.0),
            pair(3, 4, Method::Near, 2.0),
        ];
        let groups = group(&entries, &pairs, Keep::Largest);
        let shape: Vec<(usize, Vec<(usize, Method)>)> = groups
            .iter()
            .map(|group| (group.keep, group.members.iter().map(|m| (m.index, m.reason)).collect()))
            .collect();
        assert_eq!(
            shape,
            [(0, vec![(1, Method::Exact), (2, Method::Near)]), (3, vec![(4, Method::Near)])],
            "d is not like a: it leads its own group"
        );
    }

    #[test]
    fn a_class_of_copies_joins_a_group_whole_through_one_of_them() {
        // 1 and 2 are copies; 2 is near 0, which is kept.
        let entries: Vec<Entry> = ["a", "b", "c"].iter().zip([9, 5, 5]).map(|(k, p)| entry(k, p)).collect();
        let pairs = [pair(1, 2, Method::Exact, 1.0), pair(0, 2, Method::Near, 4.0)];
        let groups = group(&entries, &pairs, Keep::Largest);
        assert_eq!(groups.len(), 1);
        let members: Vec<(usize, Method, f64)> =
            groups[0].members.iter().map(|m| (m.index, m.reason, m.score)).collect();
        assert_eq!((groups[0].keep, members), (0, vec![(1, Method::Near, 4.0), (2, Method::Near, 4.0)]));
    }
}
