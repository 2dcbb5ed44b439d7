//! Map-side combining by hashing: for a native merge whose result does not depend on the order
//! of the values (sum, count, min, max, first, last), each pair is merged into a hash map as it
//! arrives, so only the distinct keys are ever sorted. Word count emits one pair per word;
//! this keeps one entry per distinct word. `append` depends on value order and keeps the
//! sort-based path.
//!
//! Word count spends most of its host time here, so the layout is chosen for lookups: a
//! table of small slots (hash, partition, where the bytes are) over an arena of keys with
//! their values, instead of a map of boxed keys to boxed values.

use super::merge::{Accumulator, MergeError};
use super::order::{PREFIX, after_prefix, prefix};
use super::policy::MergePolicy;
use crate::task::PartitionId;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Bookkeeping bytes per entry beyond its key and value bytes (the table slot and its
/// control byte, with room for the table's growth), for the memory limit.
const ENTRY_OVERHEAD: usize = 64;

/// One distinct key: its partition, and where its key and merged value lie in the arena.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The key's hash, kept so that growing the table never hashes again and most probes
    /// that are not this key fail without touching the arena.
    hash: u64,
    chunk: u32,
    /// Offset of the key in its chunk; the value follows the key.
    offset: u32,
    key_len: u32,
    value_len: u32,
    partition: u32,
}

impl Slot {
    /// A slot for `key` and `value`, which it appends to `arena`.
    fn new(hash: u64, partition: u32, key: &[u8], value: &[u8], arena: &mut Arena) -> Self {
        let (chunk, offset) = arena.push(key, value);
        Self {
            hash,
            chunk,
            offset,
            key_len: to_u32(key.len()),
            value_len: to_u32(value.len()),
            partition,
        }
    }

    /// The key followed by the value.
    fn entry<'a>(&self, arena: &'a Arena) -> &'a [u8] {
        let len = self.key_len as usize + self.value_len as usize;
        &arena.chunks[self.chunk as usize][self.offset as usize..][..len]
    }

    fn key<'a>(&self, arena: &'a Arena) -> &'a [u8] {
        &self.entry(arena)[..self.key_len as usize]
    }

    fn value<'a>(&self, arena: &'a Arena) -> &'a [u8] {
        &self.entry(arena)[self.key_len as usize..]
    }

    fn value_mut<'a>(&self, arena: &'a mut Arena) -> &'a mut [u8] {
        let (start, len) = (self.key_len as usize, self.value_len as usize);
        &mut arena.chunks[self.chunk as usize][self.offset as usize + start..][..len]
    }
}

/// Keys and values, packed one after another in chunks that never move once allocated. One
/// allocation per chunk instead of two per key keeps the hot keys (the first ones seen) close
/// together in memory, which is what a hash lookup spends its time waiting for.
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    /// Bytes of keys and values written, including values since replaced.
    used: usize,
}

impl Arena {
    const FIRST_CHUNK: usize = 4 << 10;
    const MAX_CHUNK: usize = 1 << 20;

    /// Appends `key` then `value`, returning (chunk, offset).
    fn push(&mut self, key: &[u8], value: &[u8]) -> (u32, u32) {
        let need = key.len() + value.len();
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= need);
        if !fits {
            // Chunks double up to MAX_CHUNK, so a small job allocates little; an entry larger
            // than that gets a chunk of its own.
            let next = self.chunks.last().map_or(Self::FIRST_CHUNK, |c| {
                (c.capacity() * 2).min(Self::MAX_CHUNK)
            });
            self.chunks.push(Vec::with_capacity(next.max(need)));
        }
        let chunk = self.chunks.len() - 1;
        let data = &mut self.chunks[chunk];
        let offset = data.len();
        data.extend_from_slice(key);
        data.extend_from_slice(value);
        self.used += need;
        (to_u32(chunk), to_u32(offset))
    }

    /// Forgets every entry, keeping the first chunk for reuse.
    fn clear(&mut self) {
        self.chunks.truncate(1);
        if let Some(first) = self.chunks.first_mut() {
            first.clear();
        }
        self.used = 0;
    }
}

/// Keys and values come from a plugin's 32-bit memory, and chunks hold at most one entry
/// beyond `MAX_CHUNK`, so every length and offset fits in `u32`.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("lengths from a 32-bit plugin memory fit in u32")
}

/// One map task's output combined by key, under a memory limit.
#[derive(Debug)]
pub struct HashAggregator {
    policy: MergePolicy,
    limit: usize,
    /// Pairs pushed since the last drain, to judge whether combining pays.
    pushed: u64,
    table: HashTable<Slot>,
    arena: Arena,
    /// Fixed, so a run's memory layout (not only its output) is the same every time.
    hasher: foldhash::fast::FixedState,
    acc: Accumulator,
    /// The merged value when it has to be built aside (a new key, a value of a new length).
    scratch: Vec<u8>,
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
            pushed: 0,
            table: HashTable::new(),
            arena: Arena::default(),
            hasher: foldhash::fast::FixedState::with_seed(0x5a4d_4d11),
            acc: Accumulator::new(policy),
            scratch: Vec::new(),
        }
    }

    /// Whether a new key of this size fits (an existing key always does, unless the value
    /// grows).
    pub fn has_room(&self, key: &[u8], value: &[u8]) -> bool {
        self.table.is_empty()
            || self.bytes() + key.len() + value.len() + ENTRY_OVERHEAD <= self.limit
    }

    /// Merges a pair into its key's value and returns the key's partition; `partition` is
    /// asked only for a key not seen yet.
    ///
    /// # Errors
    /// If the value does not fit the merge policy.
    pub fn push(
        &mut self,
        key: &[u8],
        value: &[u8],
        partition: impl FnOnce() -> PartitionId,
    ) -> Result<PartitionId, MergeError> {
        self.pushed += 1;
        let hash = self.hasher.hash_one(key);
        let Self {
            table,
            arena,
            acc,
            scratch,
            policy,
            ..
        } = self;
        let found = table.find_mut(hash, |s| {
            s.hash == hash && s.key_len as usize == key.len() && same_bytes(s.key(arena), key)
        });
        let Some(slot) = found else {
            // A new key: the accumulator checks the value fits the policy.
            scratch.clear();
            acc.add(value)
                .inspect_err(|_| acc.finish(&mut Vec::new()))?;
            acc.finish(scratch);
            let partition = partition();
            let slot = Slot::new(hash, partition.0, key, scratch, arena);
            table.insert_unique(hash, slot, |s| s.hash);
            return Ok(partition);
        };
        let partition = PartitionId(slot.partition);
        let merged = slot.value_mut(arena);
        let replacement = match *policy {
            MergePolicy::Sum | MergePolicy::Count if value.len() == merged.len() => {
                add_lanes(merged, value);
                None
            }
            MergePolicy::Min | MergePolicy::First => (value < &*merged).then_some(value),
            MergePolicy::Max | MergePolicy::Last => (value > &*merged).then_some(value),
            MergePolicy::Sum | MergePolicy::Count | MergePolicy::Append => {
                // Lengths that differ (an error, which the accumulator words) or an
                // order-dependent merge (which `supports` keeps away): the general path.
                scratch.clear();
                let merging = acc.add(merged).and_then(|()| acc.add(value));
                acc.finish(scratch);
                merging?;
                Some(&scratch[..])
            }
        };
        if let Some(value) = replacement {
            if value.len() == slot.value_len as usize {
                slot.value_mut(arena).copy_from_slice(value);
            } else {
                // The old bytes stay behind (and count against the limit) until the drain.
                *slot = Slot::new(slot.hash, slot.partition, key, value, arena);
            }
        }
        Ok(partition)
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes held, roughly (keys, values and bookkeeping).
    pub fn bytes(&self) -> usize {
        self.arena.used + self.table.len() * ENTRY_OVERHEAD
    }

    /// Pairs pushed since the last drain.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Hands every entry to `each` as (partition, key, value), sorted by (partition, key),
    /// and leaves the aggregator empty (even if `each` fails).
    ///
    /// # Errors
    /// The first error `each` returns.
    pub fn drain_sorted<E>(
        &mut self,
        mut each: impl FnMut(u32, &[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let slots: Vec<Slot> = self.table.drain().collect();
        let arena = &self.arena;
        // Sorting (partition, key prefix, slot) triples orders keys on integers alone, except
        // keys that share their first PREFIX bytes, which the arena then decides.
        let mut order: Vec<(u32, u64, u32)> = (slots.iter().enumerate())
            .map(|(i, s)| (s.partition, prefix(s.key(arena)), to_u32(i)))
            .collect();
        order.sort_unstable_by(|a, b| {
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
                let (x, y) = (&slots[a.2 as usize], &slots[b.2 as usize]);
                after_prefix(x.key_len, y.key_len, PREFIX, || {
                    x.key(arena).cmp(y.key(arena))
                })
            })
        });
        let result = order.iter().try_for_each(|&(p, _, i)| {
            let slot = &slots[i as usize];
            each(p, slot.key(arena), slot.value(arena))
        });
        self.arena.clear();
        self.pushed = 0;
        result
    }
}

/// Whether two slices of the same length hold the same bytes. Keys are mostly short, and for
/// up to 16 bytes two overlapping word loads per side beat a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
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

    fn drain(agg: &mut HashAggregator) -> Vec<(u32, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let Ok(()) = agg.drain_sorted(|p, k, v| {
            out.push((p, k.to_vec(), v.to_vec()));
            Ok::<_, std::convert::Infallible>(())
        });
        out
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
        assert_eq!(
            drain(&mut agg),
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
            assert_eq!(drain(&mut agg)[0].2, want, "{policy:?}");
        }
        let mut agg = HashAggregator::new(MergePolicy::Count, 1 << 20);
        agg.push(b"k", &i64s(1), || PartitionId(0)).unwrap();
        agg.push(b"k", &i64s(i64::MAX), || PartitionId(0)).unwrap();
        assert_eq!(
            drain(&mut agg)[0].2,
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
        assert!(n > 5 && agg.bytes() <= 1000, "{n} {}", agg.bytes());
        // Existing keys still merge.
        agg.push(b"key0", &i64s(1), || PartitionId(0)).unwrap();
        assert_eq!(agg.len(), n);
    }

    #[test]
    fn same_bytes_sees_a_difference_at_any_position() {
        for n in 0..=20 {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_bytes(&a, &b), "length {n}, byte {i}");
            }
            assert!(!same_bytes(&a, &[a.clone(), vec![0]].concat()));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The aggregator agrees with a sorted map, for each policy, keys long enough to need
        /// chunks of their own, values whose length changes, and reuse after a drain.
        #[test]
        fn agrees_with_a_sorted_map(
            policy in proptest::sample::select(vec![
                MergePolicy::Sum, MergePolicy::Count, MergePolicy::Min,
                MergePolicy::Max, MergePolicy::First, MergePolicy::Last,
            ]),
            rounds in proptest::collection::vec(
                proptest::collection::vec(
                    (0..4usize, any_long_key(), -3i64..1000, proptest::collection::vec(0..4u8, 0..12)),
                    0..300,
                ),
                1..3,
            ),
        ) {
            use std::collections::BTreeMap;
            let mut agg = HashAggregator::new(policy, usize::MAX);
            for pairs in rounds {
                let mut want: BTreeMap<(u32, Vec<u8>), Vec<u8>> = BTreeMap::new();
                for (k, long, n, bytes) in pairs {
                    let key = format!("k{k}").into_bytes().into_iter().chain(long).collect::<Vec<_>>();
                    let value = match policy {
                        MergePolicy::Sum | MergePolicy::Count => i64s(n).to_vec(),
                        _ => bytes,
                    };
                    let partition = (key.len() % 3) as u32;
                    agg.push(&key, &value, || PartitionId(partition)).unwrap();
                    let Some(merged) = want.get_mut(&(partition, key.clone())) else {
                        want.insert((partition, key), value);
                        continue;
                    };
                    match policy {
                        MergePolicy::Sum | MergePolicy::Count => add_lanes(merged, &value),
                        MergePolicy::Min | MergePolicy::First => *merged = value.min(merged.clone()),
                        _ => *merged = value.max(merged.clone()),
                    }
                }
                let got = drain(&mut agg);
                proptest::prop_assert!(agg.is_empty() && agg.bytes() == 0);
                let want: Vec<_> = want.into_iter().map(|((p, k), v)| (p, k, v)).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    /// Mostly nothing, sometimes a key longer than the arena's first chunk, sometimes a tail
    /// that makes keys share their first 8 bytes.
    fn any_long_key() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            8 => Just(Vec::new()),
            1 => Just(vec![b'x'; 5000]),
            4 => proptest::collection::vec(b'a'..=b'b', 5..9),
        ]
    }
}
