//! Which reduce partition a key goes to: a stable, seeded hash of the key's bytes, or for
//! `--partitioner range` the key's place among the plan's cut points ([`super::range`]).
//!
//! Stable means the same key lands in the same partition on every machine, run and version of
//! Sandmill, which is what makes reruns byte-identical.

use super::range::range_partition;
use crate::task::PartitionId;
use std::sync::Arc;

/// Assigns keys to `count` partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitioner {
    count: u32,
    seed: u64,
    /// Range partitioning's cut points, strictly increasing; `None` hashes.
    cuts: Option<Arc<[Vec<u8>]>>,
    /// Hot keys, whose pairs go to salt segments after the `count` partitions.
    salt: Option<Arc<Salting>>,
}

/// Where a map task puts the pairs of declared hot keys (`--hot-key`, `--salt`).
#[derive(Debug, PartialEq, Eq)]
struct Salting {
    keys: Vec<Vec<u8>>,
    /// Shares per hot key.
    shares: u32,
    /// This map task's share of every hot key.
    share: u32,
}

impl Partitioner {
    /// The seed every job uses unless told otherwise.
    pub const DEFAULT_SEED: u64 = 0x5a4d_4d11_2026_0001;

    /// A partitioner over `count` partitions (at least one).
    pub fn new(count: u32, seed: u64) -> Self {
        Self {
            count: count.max(1),
            seed,
            cuts: None,
            salt: None,
        }
    }

    /// This partitioner, for the map task whose pairs of the hot `keys` all go to share
    /// `share` (below `shares`) of each: hot key `h`'s share `s` is segment
    /// `count + h * shares + s` of the task's output ([`Partitioner::segments`]), which the
    /// key's combine task reads instead of its partition.
    pub fn salted(self, keys: Vec<Vec<u8>>, shares: u32, share: u32) -> Self {
        if keys.is_empty() {
            return self;
        }
        let shares = shares.max(1);
        Self {
            salt: Some(Arc::new(Salting {
                keys,
                shares,
                share: share % shares,
            })),
            ..self
        }
    }

    /// A partitioner over `count` partitions by key ranges: partition `p` gets the keys in
    /// `[cuts[p-1], cuts[p])` in byte order. `cuts` must be strictly increasing, at most
    /// `count - 1` of them ([`super::range::cut_points`] chooses such).
    pub fn range(count: u32, cuts: Vec<Vec<u8>>) -> Self {
        debug_assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(cuts.len() < count.max(1) as usize);
        Self {
            count: count.max(1),
            seed: Self::DEFAULT_SEED,
            cuts: Some(cuts.into()),
            salt: None,
        }
    }

    /// The number of partitions.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The segments a map task writes: the partitions, then each hot key's shares.
    pub fn segments(&self) -> u32 {
        let salted = self
            .salt
            .as_ref()
            .map_or(0, |s| s.keys.len() as u32 * s.shares);
        self.count + salted
    }

    /// The segment of `key`: its partition, or for a hot key this task's share of it.
    pub fn partition(&self, key: &[u8]) -> PartitionId {
        if let Some(salt) = &self.salt
            && let Some(h) = salt.keys.iter().position(|k| k.as_slice() == key)
        {
            return PartitionId(self.count + h as u32 * salt.shares + salt.share);
        }
        self.home(key)
    }

    /// The partition of `key` (whose reduce sees it, hot or not).
    pub fn home(&self, key: &[u8]) -> PartitionId {
        if self.count == 1 {
            return PartitionId(0);
        }
        if let Some(cuts) = &self.cuts {
            // At most count - 1 cuts: always below count.
            return PartitionId(range_partition(cuts, key).min(self.count - 1));
        }
        // Lemire's multiply-shift maps the hash onto 0..count without a division.
        let h = hash(key, self.seed);
        PartitionId(((u128::from(h) * u128::from(self.count)) >> 64) as u32)
    }
}

/// A fast 64-bit hash with a fixed definition (never `std`'s `RandomState`, which changes
/// between runs): 8 bytes at a time through a multiply-xorshift mix.
pub fn hash(bytes: &[u8], seed: u64) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = mix(h ^ word);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h ^ u64::from_le_bytes(last));
    }
    mix(h)
}

fn mix(mut x: u64) -> u64 {
    // The finaliser of SplitMix64.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed_forever() {
        // Changing these values changes which part file every key lands in: don't.
        assert_eq!(hash(b"", 0), 0);
        assert_eq!(
            hash(b"hello", Partitioner::DEFAULT_SEED),
            11_191_535_196_232_485_197
        );
        assert_eq!(
            Partitioner::new(10, Partitioner::DEFAULT_SEED).partition(b"hello"),
            PartitionId(6)
        );
        assert_ne!(hash(b"a", 1), hash(b"a\0", 1));
    }

    #[test]
    fn partitions_are_in_range_and_roughly_even() {
        let p = Partitioner::new(7, Partitioner::DEFAULT_SEED);
        let mut counts = [0u32; 7];
        for i in 0..70_000u32 {
            let PartitionId(n) = p.partition(format!("key-{i}").as_bytes());
            counts[n as usize] += 1;
        }
        for c in counts {
            assert!((8_500..11_500).contains(&c), "{counts:?}");
        }
        assert_eq!(Partitioner::new(0, 1).partition(b"x"), PartitionId(0));
    }

    #[test]
    fn a_range_partitioner_puts_keys_between_its_cuts() {
        let p = Partitioner::range(3, vec![b"g".to_vec(), b"p".to_vec()]);
        let at = |key: &[u8]| p.partition(key).0;
        assert_eq!(
            [at(b""), at(b"f"), at(b"g"), at(b"o"), at(b"p"), at(b"zz")],
            [0, 0, 1, 1, 2, 2]
        );
        // Fewer cuts than partitions (few distinct keys): the last partitions stay empty.
        let few = Partitioner::range(4, vec![b"m".to_vec()]);
        assert_eq!(few.partition(b"z"), PartitionId(1));
        assert_eq!(
            Partitioner::range(1, Vec::new()).partition(b"x"),
            PartitionId(0)
        );
    }

    #[test]
    fn a_hot_key_goes_to_its_share_after_the_partitions() {
        let plain = Partitioner::new(4, Partitioner::DEFAULT_SEED);
        let hot = vec![b"hot".to_vec(), b"warm".to_vec()];
        for share in 0..3 {
            let p = plain.clone().salted(hot.clone(), 3, share);
            assert_eq!(p.segments(), 4 + 2 * 3);
            assert_eq!(p.partition(b"hot"), PartitionId(4 + share));
            assert_eq!(p.partition(b"warm"), PartitionId(4 + 3 + share));
            assert_eq!(p.home(b"hot"), plain.partition(b"hot"));
            assert_eq!(p.partition(b"cold"), plain.partition(b"cold"));
            assert_eq!(p.partition(b"ho"), plain.partition(b"ho"));
        }
        assert_eq!(
            plain.clone().salted(hot.clone(), 3, 7).partition(b"hot"),
            PartitionId(5)
        );
        assert_eq!(plain.clone().salted(Vec::new(), 3, 1), plain);
        assert_eq!(plain.segments(), 4);
        // One partition: still a share of its own for the hot key.
        let one = Partitioner::new(1, 0).salted(hot, 2, 1);
        assert_eq!(
            (one.partition(b"hot"), one.home(b"hot")),
            (PartitionId(2), PartitionId(0))
        );
    }
}
