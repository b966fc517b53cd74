//! A BK-tree over 64-bit perceptual hashes under Hamming distance: a query within distance
//! `d` visits only the children whose edge lies in `[dist - d, dist + d]` (the triangle
//! inequality), far fewer than all pairs for the small `d` that near copies need.

pub struct BkTree {
    nodes: Vec<Node>,
}

struct Node {
    hash: u64,
    item: usize,
    /// (distance to this node, child index), at most 65 of them.
    children: Vec<(u32, usize)>,
}

impl Default for BkTree {
    fn default() -> Self {
        Self::new()
    }
}

impl BkTree {
    pub fn new() -> Self {
        Self { nodes: Vec::new() }
    }

    pub fn insert(&mut self, hash: u64, item: usize) {
        let new = self.nodes.len();
        self.nodes.push(Node { hash, item, children: Vec::new() });
        if new == 0 {
            return;
        }
        let mut at = 0;
        loop {
            let distance = (self.nodes[at].hash ^ hash).count_ones();
            match self.nodes[at].children.iter().find(|(d, _)| *d == distance) {
                Some(&(_, child)) => at = child,
                None => {
                    self.nodes[at].children.push((distance, new));
                    return;
                }
            }
        }
    }

    /// Calls `found(item, distance)` for every stored hash within `max` of `hash`.
    pub fn within(&self, hash: u64, max: u32, mut found: impl FnMut(usize, u32)) {
        if self.nodes.is_empty() {
            return;
        }
        let mut stack = vec![0usize];
        while let Some(at) = stack.pop() {
            let node = &self.nodes[at];
            let distance = (node.hash ^ hash).count_ones();
            if distance <= max {
                found(node.item, distance);
            }
            let (low, high) = (distance.saturating_sub(max), distance + max);
            stack.extend(node.children.iter().filter(|(d, _)| (low..=high).contains(d)).map(|(_, child)| *child));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_what_a_scan_of_all_pairs_finds() {
        let mut rng = fastrand::Rng::with_seed(7);
        let base: Vec<u64> = (0..50).map(|_| rng.u64(..)).collect();
        // Each base hash with a few copies a couple of bits away.
        let hashes: Vec<u64> = base
            .iter()
            .flat_map(|&hash| (0..4).map(move |i| hash ^ (1u64 << (i * 7)) ^ (u64::from(i > 1) << 40)))
            .collect();
        let mut tree = BkTree::new();
        hashes.iter().enumerate().for_each(|(item, &hash)| tree.insert(hash, item));
        for max in [0, 1, 3, 10] {
            for (item, &hash) in hashes.iter().enumerate() {
                let mut found = Vec::new();
                tree.within(hash, max, |other, _| found.push(other));
                found.sort_unstable();
                let scan: Vec<usize> =
                    (0..hashes.len()).filter(|&other| (hashes[other] ^ hash).count_ones() <= max).collect();
                assert_eq!(found, scan, "item {item} within {max}");
            }
        }
    }
}
