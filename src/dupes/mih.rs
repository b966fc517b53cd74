//! Multi-index hashing (Norouzi, Punjani and Fleet, 2012) over 64-bit perceptual hashes: each
//! hash is cut into four 16-bit chunks, and each chunk position gets a table from chunk value
//! to the hashes that have it. Two hashes within distance `r` agree within `r / 4` bits on at
//! least one chunk (pigeonhole), so a query looks up, in each table, every value that close to
//! its own chunk, and checks only the hashes found there.
//!
//! A BK-tree answered 100k hashes within 10 bits in more than ten minutes (BENCHMARKS.md):
//! with 64-bit hashes and a radius that large its search visits most of the tree.

use rayon::prelude::*;

const CHUNKS: usize = 4;
const CHUNK_BITS: u32 = 16;
const BUCKETS: usize = 1 << CHUNK_BITS;
/// Queries per parallel task: each task keeps one marker per hash (4 bytes), so fewer, larger
/// tasks allocate less.
const QUERIES_PER_TASK: usize = 1 << 15;

/// The four tables, as one sorted list of entries per chunk position with the offset of
/// each bucket (compressed rows): 4 bytes per hash and position, and 256 kB of offsets.
pub struct MultiIndex<'a> {
    hashes: &'a [u64],
    /// `members[c][starts[c][v]..starts[c][v + 1]]` are the hashes whose chunk `c` is `v`.
    starts: Vec<Vec<u32>>,
    members: Vec<Vec<u32>>,
}

fn chunk(hash: u64, position: usize) -> usize {
    ((hash >> (position as u32 * CHUNK_BITS)) & (BUCKETS as u64 - 1)) as usize
}

impl<'a> MultiIndex<'a> {
    /// Indexes `hashes`, which are then named by their positions (fewer than 2^32 of them).
    pub fn new(hashes: &'a [u64]) -> Self {
        let (mut starts, mut members) = (Vec::with_capacity(CHUNKS), Vec::with_capacity(CHUNKS));
        for position in 0..CHUNKS {
            let mut counts = vec![0u32; BUCKETS + 1];
            for &hash in hashes {
                counts[chunk(hash, position) + 1] += 1;
            }
            for bucket in 0..BUCKETS {
                counts[bucket + 1] += counts[bucket];
            }
            let mut next = counts.clone();
            let mut list = vec![0u32; hashes.len()];
            for (index, &hash) in hashes.iter().enumerate() {
                let slot = &mut next[chunk(hash, position)];
                list[*slot as usize] = index as u32;
                *slot += 1;
            }
            starts.push(counts);
            members.push(list);
        }
        Self { hashes, starts, members }
    }

    /// Every pair `(a, b, distance)` with `a < b` whose hashes are at most `radius` bits
    /// apart, found in parallel; `progressed` hears how many queries are done, now and then.
    pub fn pairs_within(&self, radius: u32, progressed: &(dyn Fn(usize) + Sync)) -> Vec<(usize, usize, u32)> {
        let flips = flip_masks(radius / CHUNKS as u32);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let count = self.hashes.len();
        let ranges: Vec<std::ops::Range<usize>> =
            (0..count).step_by(QUERIES_PER_TASK).map(|start| start..(start + QUERIES_PER_TASK).min(count)).collect();
        let mut pairs: Vec<(usize, usize, u32)> = ranges
            .into_par_iter()
            .map(|queries| {
                // Which query last checked each hash: a pair close on several chunks is found
                // once per chunk, and checked once. Sorting the candidates instead cost most
                // of the time at 1M hashes.
                let mut checked = vec![u32::MAX; count];
                let mut found = Vec::new();
                for a in queries.clone() {
                    self.near(a, radius, &flips, &mut checked, &mut found);
                }
                let finished = done.fetch_add(queries.len(), std::sync::atomic::Ordering::Relaxed) + queries.len();
                progressed(finished);
                found
            })
            .reduce(Vec::new, |mut all, part| {
                all.extend(part);
                all
            });
        pairs.sort_unstable();
        pairs
    }

    /// The hashes after `a` within `radius` of it, each once, appended to `found`.
    fn near(&self, a: usize, radius: u32, flips: &[u16], checked: &mut [u32], found: &mut Vec<(usize, usize, u32)>) {
        let hash = self.hashes[a];
        let query = a as u32;
        for position in 0..CHUNKS {
            let own = chunk(hash, position);
            for &flip in flips {
                let value = own ^ usize::from(flip);
                let (start, end) = (self.starts[position][value] as usize, self.starts[position][value + 1] as usize);
                for &b in &self.members[position][start..end] {
                    if b <= query || checked[b as usize] == query {
                        continue;
                    }
                    checked[b as usize] = query;
                    let distance = (hash ^ self.hashes[b as usize]).count_ones();
                    if distance <= radius {
                        found.push((a, b as usize, distance));
                    }
                }
            }
        }
    }
}

/// Every 16-bit mask with at most `bits` bits set: the chunk values to look up around one.
fn flip_masks(bits: u32) -> Vec<u16> {
    (0..=u16::MAX).filter(|mask| mask.count_ones() <= bits).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a repeatable stream of hashes for the tests.
    fn random_hashes(count: usize, mut state: u64) -> Vec<u64> {
        (0..count)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                state.wrapping_mul(0x2545_f491_4f6c_dd1d)
            })
            .collect()
    }

    #[test]
    fn finds_the_same_pairs_as_comparing_all_of_them() {
        let mut hashes = random_hashes(3000, 7);
        // Near copies, 1 to 13 bits from an original, so that every radius has some.
        for copy in 0..400 {
            let original = hashes[copy * 7];
            let bits = random_hashes(1, copy as u64 + 1)[0];
            let mut flipped = original;
            for bit in 0..(copy % 13 + 1) {
                flipped ^= 1 << ((bits >> (bit * 5)) % 64);
            }
            hashes.push(flipped);
        }
        for radius in [0, 3, 8, 10, 13] {
            let mut all = Vec::new();
            for a in 0..hashes.len() {
                for b in a + 1..hashes.len() {
                    let distance = (hashes[a] ^ hashes[b]).count_ones();
                    if distance <= radius {
                        all.push((a, b, distance));
                    }
                }
            }
            let found = MultiIndex::new(&hashes).pairs_within(radius, &|_| {});
            assert_eq!(found, all, "radius {radius}");
            assert!(radius == 0 || !found.is_empty());
        }
    }
}
