//! Which reduce partition a key goes to: a stable, seeded hash of the key's bytes.
//!
//! Stable means the same key lands in the same partition on every machine, run and version of
//! Sandmill, which is what makes reruns byte-identical.

use crate::task::PartitionId;

/// Assigns keys to `count` partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitioner {
    count: u32,
    seed: u64,
}

impl Partitioner {
    /// The seed every job uses unless told otherwise.
    pub const DEFAULT_SEED: u64 = 0x5a4d_4d11_2026_0001;

    /// A partitioner over `count` partitions (at least one).
    pub fn new(count: u32, seed: u64) -> Self {
        Self {
            count: count.max(1),
            seed,
        }
    }

    /// The number of partitions.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The partition of `key`.
    pub fn partition(&self, key: &[u8]) -> PartitionId {
        if self.count == 1 {
            return PartitionId(0);
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
}
