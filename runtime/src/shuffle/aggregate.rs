//! Map-side combining by hashing: for a native merge whose result does not depend on the order
//! of the values (sum, count, min, max, first, last), each pair is merged into a hash map as it
//! arrives, so only the distinct keys are ever sorted. Word count emits one pair per word;
//! this keeps one entry per distinct word. `append` depends on value order and keeps the
//! sort-based path.

use super::merge::{Accumulator, MergeError};
use super::partition;
use crate::plugin::MergePolicy;
use crate::task::PartitionId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, fixed hasher for byte-string keys (the partitioner's hash).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = partition::hash(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= n as u64;
    }
}

/// Entries sorted by (partition, key), as [`HashAggregator::drain_sorted`] returns them.
pub type SortedEntries = Vec<(u32, Box<[u8]>, Vec<u8>)>;

/// Bookkeeping bytes per entry, beyond the key and value themselves (hash table slot, two
/// heap allocations), for the memory limit.
const ENTRY_OVERHEAD: usize = 64;

/// A hash map from key to its partition and merged value.
type KeyMap = HashMap<Box<[u8]>, (u32, Vec<u8>), BuildHasherDefault<KeyHasher>>;

/// One map task's output combined by key, under a memory limit.
#[derive(Debug)]
pub struct HashAggregator {
    policy: MergePolicy,
    limit: usize,
    bytes: usize,
    /// Pairs pushed since the last drain, to judge whether combining pays.
    pushed: u64,
    /// Each key's partition and merged value.
    map: KeyMap,
    acc: Accumulator,
}

impl HashAggregator {
    /// Whether `policy` can be combined by hashing (its result does not depend on value
    /// order).
    pub fn supports(policy: MergePolicy) -> bool {
        !matches!(policy, MergePolicy::Append)
    }

    /// An empty aggregator holding at most about `limit` bytes.
    pub fn new(policy: MergePolicy, limit: usize) -> Self {
        Self {
            policy,
            limit,
            bytes: 0,
            pushed: 0,
            map: HashMap::default(),
            acc: Accumulator::new(policy),
        }
    }

    /// Whether a new key of this size fits (an existing key always does, unless the value
    /// grows).
    pub fn has_room(&self, key: &[u8], value: &[u8]) -> bool {
        self.map.is_empty() || self.bytes + key.len() + value.len() + ENTRY_OVERHEAD <= self.limit
    }

    /// Merges a pair into its key's value; `partition` is asked only for a key not seen yet.
    ///
    /// # Errors
    /// If the value does not fit the merge policy.
    pub fn push(
        &mut self,
        key: &[u8],
        value: &[u8],
        partition: impl FnOnce() -> PartitionId,
    ) -> Result<(), MergeError> {
        self.pushed += 1;
        match self.map.get_mut(key) {
            Some((_, merged)) => {
                let before = merged.len();
                match self.policy {
                    MergePolicy::Sum | MergePolicy::Count if value.len() == merged.len() => {
                        add_lanes(merged, value);
                    }
                    MergePolicy::Min | MergePolicy::First if value < merged.as_slice() => {
                        merged.clear();
                        merged.extend_from_slice(value);
                    }
                    MergePolicy::Max | MergePolicy::Last if value > merged.as_slice() => {
                        merged.clear();
                        merged.extend_from_slice(value);
                    }
                    MergePolicy::Sum | MergePolicy::Count | MergePolicy::Append => {
                        // Mismatched lengths (an error) or an order-dependent merge: the
                        // general path reports the error or merges in order.
                        self.acc.add(merged)?;
                        self.acc.add(value)?;
                        merged.clear();
                        self.acc.finish(merged);
                    }
                    _ => {}
                }
                self.bytes = self.bytes + merged.len() - before;
            }
            None => {
                self.acc.add(value)?;
                let mut merged = Vec::with_capacity(value.len());
                self.acc.finish(&mut merged);
                self.bytes += key.len() + merged.len() + ENTRY_OVERHEAD;
                self.map.insert(key.into(), (partition().0, merged));
            }
        }
        Ok(())
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held, roughly (keys, values and bookkeeping).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Pairs pushed since the last drain.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Takes every entry, sorted by (partition, key), leaving the aggregator empty.
    pub fn drain_sorted(&mut self) -> SortedEntries {
        let mut entries: Vec<_> = self.map.drain().map(|(k, (p, v))| (p, k, v)).collect();
        entries.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.bytes = 0;
        self.pushed = 0;
        entries
    }
}

/// Adds the order-preserving `i64` lanes of `value` to those of `merged`, in place (both have
/// the same length, a multiple of 8, as the accumulator checked when the key was first seen).
fn add_lanes(merged: &mut [u8], value: &[u8]) {
    const SIGN: u64 = 1 << 63;
    for (m, v) in merged.chunks_exact_mut(8).zip(value.chunks_exact(8)) {
        let a = u64::from_be_bytes((&*m).try_into().expect("8 bytes")) ^ SIGN;
        let b = u64::from_be_bytes(v.try_into().expect("8 bytes")) ^ SIGN;
        m.copy_from_slice(&(a.wrapping_add(b) ^ SIGN).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i64s(v: i64) -> [u8; 8] {
        ((v as u64) ^ (1 << 63)).to_be_bytes()
    }

    #[test]
    fn merges_by_key_and_drains_sorted_by_partition_then_key() {
        let mut agg = HashAggregator::new(MergePolicy::Sum, 1 << 20);
        for (p, k, v) in [
            (1, "b", 2),
            (0, "z", 1),
            (1, "a", 5),
            (1, "b", -7),
            (0, "z", 1),
        ] {
            agg.push(k.as_bytes(), &i64s(v), || PartitionId(p)).unwrap();
        }
        assert_eq!((agg.len(), agg.pushed()), (3, 5));
        let got: Vec<(u32, Vec<u8>, Vec<u8>)> = agg
            .drain_sorted()
            .into_iter()
            .map(|(p, k, v)| (p, k.into_vec(), v))
            .collect();
        assert_eq!(
            got,
            [
                (0, b"z".to_vec(), i64s(2).to_vec()),
                (1, b"a".to_vec(), i64s(5).to_vec()),
                (1, b"b".to_vec(), i64s(-5).to_vec()),
            ]
        );
        assert!(agg.is_empty() && agg.pushed() == 0);
    }

    #[test]
    fn min_max_and_bad_values() {
        // Values arrive in any order here: first and last mean smallest and largest.
        for (policy, want) in [
            (MergePolicy::Max, &b"c"[..]),
            (MergePolicy::Last, b"c"),
            (MergePolicy::Min, b"a"),
            (MergePolicy::First, b"a"),
        ] {
            let mut agg = HashAggregator::new(policy, 1 << 20);
            for v in [&b"b"[..], b"c", b"a", b"b"] {
                agg.push(b"k", v, || PartitionId(0)).unwrap();
            }
            assert_eq!(agg.drain_sorted()[0].2, want, "{policy:?}");
        }
        let mut agg = HashAggregator::new(MergePolicy::Count, 1 << 20);
        agg.push(b"k", &i64s(1), || PartitionId(0)).unwrap();
        agg.push(b"k", &i64s(i64::MAX), || PartitionId(0)).unwrap();
        assert_eq!(
            agg.drain_sorted()[0].2,
            i64s(i64::MIN),
            "wrapping, like the sort path"
        );
        let mut agg = HashAggregator::new(MergePolicy::Sum, 1 << 20);
        assert!(agg.push(b"k", b"xyz", || PartitionId(0)).is_err());
        agg.push(b"k", &i64s(1), || PartitionId(0)).unwrap();
        assert!(
            agg.push(b"k", &[0; 16], || PartitionId(0)).is_err(),
            "lane counts differ"
        );
        assert!(!HashAggregator::supports(MergePolicy::Append));
    }

    #[test]
    fn respects_its_limit_for_new_keys() {
        let mut agg = HashAggregator::new(MergePolicy::Sum, 1000);
        let mut n = 0;
        while agg.has_room(format!("key{n}").as_bytes(), &i64s(1)) {
            agg.push(format!("key{n}").as_bytes(), &i64s(1), || PartitionId(0))
                .unwrap();
            n += 1;
        }
        assert!(n > 5 && agg.bytes <= 1000, "{n} {}", agg.bytes);
        // Existing keys still merge.
        agg.push(b"key0", &i64s(1), || PartitionId(0)).unwrap();
        assert_eq!(agg.len(), n);
    }
}
