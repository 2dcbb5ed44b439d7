//! Map-side combining by hashing: for a native merge whose result does not depend on the order
//! of the values (sum, count, min, max, first, last), each pair is merged into a hash table as
//! it arrives, so only the distinct keys are ever sorted. Word count emits one pair per word;
//! this keeps one entry per distinct word. `append` depends on value order and keeps the
//! sort-based path.
//!
//! Word count spends most of its host time here, waiting for memory, so the layout is chosen
//! for lookups:
//!
//! - entries of one cache line each (hash, partition, lengths, and the key and value inline
//!   when they fit in [`INLINE`] bytes, otherwise where they lie in an arena), in first-seen
//!   order, in chunks that never move (4 KiB first, doubling up to 1 MiB, like the arena);
//! - an index of 8-byte buckets (the entry's number and 32 bits of its hash) over them, at
//!   most half full, probed linearly; growing it rehashes from the hashes the entries keep.
//!
//! A new key then costs a bucket load and an entry load, and [`HashAggregator::prefetch`]
//! lets a batch of pushes issue those loads for many keys before waiting for any of them.

use super::merge::{Accumulator, MergeError};
use super::order::{PREFIX, after_prefix, prefix};
use super::policy::MergePolicy;
use super::radix::{self, Tag};
use crate::task::PartitionId;
use std::hash::BuildHasher;

/// Key and value bytes an entry holds itself; longer ones go to the arena.
const INLINE: usize = 44;

/// One distinct key, in one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    /// The key's hash, kept so that growing the index never hashes again and most probes that
    /// are not this key fail without reading the key.
    hash: u64,
    partition: u32,
    key_len: u32,
    value_len: u32,
    /// The key then the value, if they fit; otherwise the arena chunk and offset (two
    /// little-endian `u32`s) where the key then the value lie.
    data: [u8; INLINE],
}

const _: () = assert!(std::mem::size_of::<Entry>() == 64);

/// Bytes of one entry.
const ENTRY: usize = std::mem::size_of::<Entry>();

impl Entry {
    fn inline(&self) -> bool {
        self.key_len as usize + self.value_len as usize <= INLINE
    }

    /// Where the key lies in the arena (for an entry that is not inline).
    fn place(&self) -> (usize, usize) {
        let word = |at: usize| {
            u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
        };
        (word(0), word(4))
    }

    /// The key followed by the value.
    #[inline]
    fn bytes<'a>(&'a self, arena: &'a Arena) -> &'a [u8] {
        let len = self.key_len as usize + self.value_len as usize;
        if self.inline() {
            &self.data[..len]
        } else {
            let (chunk, offset) = self.place();
            &arena.chunks[chunk][offset..][..len]
        }
    }

    #[inline]
    fn key<'a>(&'a self, arena: &'a Arena) -> &'a [u8] {
        &self.bytes(arena)[..self.key_len as usize]
    }

    fn value<'a>(&'a self, arena: &'a Arena) -> &'a [u8] {
        &self.bytes(arena)[self.key_len as usize..]
    }

    fn value_mut<'a>(&'a mut self, arena: &'a mut Arena) -> &'a mut [u8] {
        let (start, len) = (self.key_len as usize, self.value_len as usize);
        if self.inline() {
            &mut self.data[start..start + len]
        } else {
            let (chunk, offset) = self.place();
            &mut arena.chunks[chunk][offset + start..][..len]
        }
    }

    /// Sets the key and value: inline if they fit, otherwise appended to `arena` (an entry
    /// moved out of the arena leaves its old bytes there until the drain).
    fn set(&mut self, key: &[u8], value: &[u8], arena: &mut Arena) {
        self.key_len = to_u32(key.len());
        self.value_len = to_u32(value.len());
        if self.inline() {
            self.data[..key.len()].copy_from_slice(key);
            self.data[key.len()..key.len() + value.len()].copy_from_slice(value);
        } else {
            let (chunk, offset) = arena.push(key, value);
            self.data[..4].copy_from_slice(&chunk.to_le_bytes());
            self.data[4..8].copy_from_slice(&offset.to_le_bytes());
        }
    }
}

/// The entries, numbered in first-seen order, in chunks that never move: 64 entries (4 KiB)
/// first, each chunk twice the last up to [`Entries::MAX`] entries (1 MiB), then chunks of
/// that size.
#[derive(Debug, Default)]
struct Entries {
    chunks: Vec<Vec<Entry>>,
    len: usize,
    /// Entries the chunks have room for.
    capacity: usize,
}

impl Entries {
    /// Entries in the first chunk (4 KiB); a power of two.
    const FIRST: usize = (4 << 10) / ENTRY;
    /// Entries in the largest chunk (1 MiB).
    const MAX: usize = (1 << 20) / ENTRY;
    /// The chunk that first has `MAX` entries.
    const LAST_DOUBLING: usize = (Self::MAX / Self::FIRST).trailing_zeros() as usize;

    /// The size, in entries, of chunk `k`.
    fn chunk_size(k: usize) -> usize {
        if k <= Self::LAST_DOUBLING {
            Self::FIRST << k
        } else {
            Self::MAX
        }
    }

    /// The chunk and offset of entry `i`: entries `FIRST << k` to `FIRST << (k + 1)` (counted
    /// from `FIRST`) are chunk `k`, while chunks double.
    #[inline]
    fn locate(i: usize) -> (usize, usize) {
        let j = i + Self::FIRST;
        let k = j.ilog2() as usize - Self::FIRST.trailing_zeros() as usize;
        if k <= Self::LAST_DOUBLING {
            (k, j - (Self::FIRST << k))
        } else {
            let rest = j - (Self::FIRST << (Self::LAST_DOUBLING + 1));
            (Self::LAST_DOUBLING + 1 + rest / Self::MAX, rest % Self::MAX)
        }
    }

    #[inline]
    fn get(&self, i: usize) -> &Entry {
        let (chunk, offset) = Self::locate(i);
        &self.chunks[chunk][offset]
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> &mut Entry {
        let (chunk, offset) = Self::locate(i);
        &mut self.chunks[chunk][offset]
    }

    /// Bytes one more entry would allocate.
    fn growth(&self) -> usize {
        if self.len < self.capacity {
            0
        } else {
            Self::chunk_size(self.chunks.len()) * ENTRY
        }
    }

    /// Appends an entry, returning its number.
    fn push(&mut self, entry: Entry) -> usize {
        if self.len == self.capacity {
            let size = Self::chunk_size(self.chunks.len());
            self.chunks.push(Vec::with_capacity(size));
            self.capacity += size;
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        last.push(entry);
        self.len += 1;
        self.len - 1
    }

    /// The entries in order.
    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }

    /// Bytes allocated.
    fn bytes(&self) -> usize {
        self.capacity * ENTRY
    }
}

/// Keys and values too long for their entry, packed one after another in chunks that never
/// move once allocated.
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    /// Bytes the chunks have allocated.
    allocated: usize,
}

impl Arena {
    const FIRST_CHUNK: usize = 4 << 10;
    const MAX_CHUNK: usize = 1 << 20;

    /// Bytes appending `need` more would allocate.
    fn growth(&self, need: usize) -> usize {
        match self.chunks.last() {
            Some(c) if c.capacity() - c.len() >= need => 0,
            // Chunks double up to MAX_CHUNK, so a small job allocates little; an entry larger
            // than that gets a chunk of its own.
            last => last
                .map_or(Self::FIRST_CHUNK, |c| {
                    (c.capacity() * 2).min(Self::MAX_CHUNK)
                })
                .max(need),
        }
    }

    /// Appends `key` then `value`, returning (chunk, offset).
    fn push(&mut self, key: &[u8], value: &[u8]) -> (u32, u32) {
        let need = key.len() + value.len();
        let grow = self.growth(need);
        if grow > 0 {
            let chunk = Vec::with_capacity(grow);
            self.allocated += chunk.capacity();
            self.chunks.push(chunk);
        }
        let chunk = self.chunks.len() - 1;
        let data = &mut self.chunks[chunk];
        let offset = data.len();
        data.extend_from_slice(key);
        data.extend_from_slice(value);
        (to_u32(chunk), to_u32(offset))
    }
}

/// Keys and values come from a plugin's 32-bit memory, and chunks hold at most one entry
/// beyond `MAX_CHUNK`, so every length and offset fits in `u32`.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("lengths from a 32-bit plugin memory fit in u32")
}

/// Buckets of a new index.
const FIRST_INDEX: usize = 2 * Entries::FIRST;

/// A bucket: 0 if empty, otherwise the hash's top 32 bits above the entry's number plus one.
fn bucket(hash: u64, entry: usize) -> u64 {
    (hash & !0xffff_ffff) | (entry as u64 + 1)
}

/// Asks the CPU to start loading the cache line of `target`, without waiting for it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[expect(
    unsafe_code,
    reason = "_mm_prefetch is a target-feature intrinsic; it only hints the cache, reads \
              nothing into the program and never faults"
)]
fn prefetch<T>(target: &T) {
    use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: x86_64 always has SSE, and a prefetch of any address (this one is a live
    // reference) has no effect but on the cache.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(target).cast()) }
}

/// Elsewhere, no prefetch: the batch still works, only without overlapping its loads.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch<T>(_target: &T) {}

/// One map task's output combined by key, under a memory limit.
#[derive(Debug)]
pub struct HashAggregator {
    policy: MergePolicy,
    limit: usize,
    /// Pairs pushed since the last drain, to judge whether combining pays.
    pushed: u64,
    /// Buckets (see [`bucket`]), a power of two of them, at most half full; empty before the
    /// first key.
    index: Vec<u64>,
    entries: Entries,
    arena: Arena,
    /// Fixed, so a run's memory layout (not only its output) is the same every time.
    hasher: foldhash::fast::FixedState,
    acc: Accumulator,
    /// The merged value when it has to be built aside (a new key, a value of a new length).
    scratch: Vec<u8>,
    /// For tests: hashes that collide (four values, one tag), so probes compare keys.
    #[cfg(test)]
    pub(super) weak_hash: bool,
}

/// Where a probe for a key ended.
enum Probe {
    /// At the key's entry.
    Found(usize),
    /// At an empty bucket, where the key would go.
    Empty(usize),
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
            index: Vec::new(),
            entries: Entries::default(),
            arena: Arena::default(),
            hasher: foldhash::fast::FixedState::with_seed(0x5a4d_4d11),
            acc: Accumulator::new(policy),
            scratch: Vec::new(),
            #[cfg(test)]
            weak_hash: false,
        }
    }

    /// Whether a new key of this size fits: whether what the entries, the index and the arena
    /// would have allocated after it stays within the limit (an existing key always fits,
    /// unless its value grows out of its entry). An empty aggregator always has room, so a
    /// pair larger than the limit is still taken (alone).
    pub fn has_room(&self, key: &[u8], value: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let need = key.len() + value.len();
        let arena = if need > INLINE {
            self.arena.growth(need)
        } else {
            0
        };
        let index = if (self.entries.len + 1) * 2 > self.index.len() {
            self.index.len().max(FIRST_INDEX) * 8
        } else {
            0
        };
        self.bytes() + self.entries.growth() + index + arena <= self.limit
    }

    /// The hash [`HashAggregator::push_hashed`] wants for `key`.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        #[cfg(test)]
        if self.weak_hash {
            return self.hasher.hash_one(key) & 3;
        }
        self.hasher.hash_one(key)
    }

    /// Starts loading what pushing keys of these hashes reads first: their index buckets
    /// (`entries` false), or the entries those buckets name (`entries` true, best after the
    /// buckets have arrived). Only a hint: pushes are correct without it.
    pub fn prefetch(&self, hashes: &[u64], entries: bool) {
        let Some(mask) = self.index.len().checked_sub(1) else {
            return;
        };
        for &hash in hashes {
            let home = hash as usize & mask;
            if !entries {
                prefetch(&self.index[home]);
                continue;
            }
            // The first bucket whose tag matches, a few buckets on at most.
            let mut pos = home;
            for _ in 0..4 {
                let b = self.index[pos];
                if b == 0 {
                    break;
                }
                if b >> 32 == hash >> 32 {
                    prefetch(self.entries.get((b as u32 - 1) as usize));
                    break;
                }
                pos = (pos + 1) & mask;
            }
        }
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
        let hash = self.hash(key);
        self.push_hashed(hash, key, value, partition)
    }

    /// Where probing the index for `key` ends.
    #[inline]
    fn probe(&self, hash: u64, key: &[u8]) -> Probe {
        let mask = self.index.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let b = self.index[pos];
            if b == 0 {
                return Probe::Empty(pos);
            }
            if b >> 32 == hash >> 32 {
                let i = (b as u32 - 1) as usize;
                let e = self.entries.get(i);
                if e.hash == hash
                    && e.key_len as usize == key.len()
                    && same_bytes(e.key(&self.arena), key)
                {
                    return Probe::Found(i);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Doubles the index (or makes the first one), placing every entry again by its hash.
    fn grow_index(&mut self) {
        let size = (self.index.len() * 2).max(FIRST_INDEX);
        let mask = size - 1;
        let mut index = vec![0u64; size];
        for (i, e) in self.entries.iter().enumerate() {
            let mut pos = e.hash as usize & mask;
            while index[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            index[pos] = bucket(e.hash, i);
        }
        self.index = index;
    }

    /// [`HashAggregator::push`] with the key's hash already computed
    /// ([`HashAggregator::hash`]).
    ///
    /// # Errors
    /// If the value does not fit the merge policy.
    pub fn push_hashed(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        partition: impl FnOnce() -> PartitionId,
    ) -> Result<PartitionId, MergeError> {
        self.pushed += 1;
        let probe = if self.index.is_empty() {
            None
        } else {
            Some(self.probe(hash, key))
        };
        let i = match probe {
            Some(Probe::Found(i)) => i,
            _ => return self.insert(hash, key, value, probe, partition),
        };
        let Self {
            entries,
            arena,
            acc,
            scratch,
            policy,
            ..
        } = self;
        let entry = entries.get_mut(i);
        let partition = PartitionId(entry.partition);
        let merged = entry.value_mut(arena);
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
            if value.len() == entry.value_len as usize {
                entry.value_mut(arena).copy_from_slice(value);
            } else {
                entry.set(key, value, arena);
            }
        }
        Ok(partition)
    }

    /// Adds a key not seen yet; `probe` is where its probe ended, if there is an index.
    #[cold]
    fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        probe: Option<Probe>,
        partition: impl FnOnce() -> PartitionId,
    ) -> Result<PartitionId, MergeError> {
        // The accumulator checks the value fits the policy.
        self.scratch.clear();
        self.acc
            .add(value)
            .inspect_err(|_| self.acc.finish(&mut Vec::new()))?;
        self.acc.finish(&mut self.scratch);
        let partition = partition();
        let mut entry = Entry {
            hash,
            partition: partition.0,
            key_len: 0,
            value_len: 0,
            data: [0; INLINE],
        };
        entry.set(key, &self.scratch, &mut self.arena);
        let i = self.entries.push(entry);
        let pos = match probe {
            Some(Probe::Empty(pos)) if self.entries.len * 2 <= self.index.len() => pos,
            _ => {
                // The index is made, or doubled, with the new entry in it.
                self.grow_index();
                return Ok(partition);
            }
        };
        self.index[pos] = bucket(hash, i);
        Ok(partition)
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.len == 0
    }

    /// Bytes allocated: the entries' chunks, the index and the arena's chunks.
    pub fn bytes(&self) -> usize {
        self.entries.bytes() + self.index.len() * 8 + self.arena.allocated
    }

    /// Pairs pushed since the last drain.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Hands every entry to `each` as (partition, key, value), sorted by (partition, key),
    /// and leaves the aggregator empty, its memory freed (even if `each` fails).
    ///
    /// # Errors
    /// The first error `each` returns.
    pub fn drain_sorted<E>(
        &mut self,
        mut each: impl FnMut(u32, &[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let entries = std::mem::take(&mut self.entries);
        let arena = std::mem::take(&mut self.arena);
        self.index = Vec::new();
        self.pushed = 0;
        let slots: Vec<&Entry> = entries.iter().collect();
        // Sorting (partition, key prefix) tags orders keys on integers alone, except keys
        // that share their first PREFIX bytes, which their bytes then decide.
        let mut order: Vec<Tag> = (slots.iter().enumerate())
            .map(|(i, e)| Tag {
                partition: e.partition,
                prefix: prefix(e.key(&arena)),
                entry: to_u32(i),
            })
            .collect();
        radix::sort(&mut order);
        for ties in order.chunk_by_mut(|a, b| (a.partition, a.prefix) == (b.partition, b.prefix)) {
            if ties.len() > 1 {
                ties.sort_unstable_by(|a, b| {
                    let (x, y) = (slots[a.entry as usize], slots[b.entry as usize]);
                    after_prefix(x.key_len, y.key_len, PREFIX, || {
                        x.key(&arena).cmp(y.key(&arena))
                    })
                });
            }
        }
        // In key order the entries are visited at random: each is fetched a few keys ahead.
        const AHEAD: usize = 16;
        for (i, t) in order.iter().enumerate() {
            if let Some(ahead) = order.get(i + AHEAD) {
                prefetch(slots[ahead.entry as usize]);
            }
            let e = slots[t.entry as usize];
            each(t.partition, e.key(&arena), e.value(&arena))?;
        }
        Ok(())
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
        // 64 KiB: the entries' chunks of 4, 8 and 16 KiB (448 entries) and an index of 8 KiB
        // fit; the next chunk of entries (32 KiB) does not.
        let limit = 64 << 10;
        let mut agg = HashAggregator::new(MergePolicy::Sum, limit);
        let mut n = 0;
        while agg.has_room(format!("key{n}").as_bytes(), &i64s(1)) {
            agg.push(format!("key{n}").as_bytes(), &i64s(1), || PartitionId(0))
                .unwrap();
            n += 1;
            assert!(agg.bytes() <= limit, "{n} {}", agg.bytes());
        }
        assert_eq!((n, agg.bytes()), (448, (28 << 10) + (8 << 10)));
        // Existing keys still merge.
        agg.push(b"key0", &i64s(1), || PartitionId(0)).unwrap();
        assert_eq!(agg.len(), n);
        // A long key needs an arena chunk too.
        let mut agg = HashAggregator::new(MergePolicy::Sum, 8 << 10);
        agg.push(b"k", &i64s(1), || PartitionId(0)).unwrap();
        assert_eq!(agg.bytes(), (4 << 10) + 128 * 8);
        assert!(agg.has_room(&[b'x'; 30], &i64s(1)));
        assert!(
            !agg.has_room(&[b'x'; 40], &i64s(1)),
            "44 bytes inline at most"
        );
        agg.push(&[b'y'; 5000], &i64s(1), || PartitionId(0))
            .unwrap();
        assert_eq!(
            agg.bytes(),
            (4 << 10) + 128 * 8 + 5008,
            "a chunk of its own"
        );
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

    #[test]
    fn entries_are_numbered_across_chunks_that_double_then_stay() {
        let mut sizes = Vec::new();
        let mut at = 0;
        for k in 0..12 {
            let size = Entries::chunk_size(k);
            sizes.push(size);
            for offset in [0, 1, size - 1] {
                assert_eq!(Entries::locate(at + offset), (k, offset), "chunk {k}");
            }
            at += size;
        }
        assert_eq!(sizes[0] * ENTRY, 4 << 10);
        assert_eq!(sizes[8..], [(1 << 20) / ENTRY; 4]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Batches of pushes (hashed, prefetched, then pushed) agree with a sorted map, also
        /// when every key collides on a few hashes, with long keys in the arena and values
        /// whose length changes (first: the smallest, whatever its length).
        #[test]
        fn batches_agree_with_a_sorted_map_under_collisions(
            collide in proptest::bool::ANY,
            batches in proptest::collection::vec(
                proptest::collection::vec(
                    (0..200usize, any_long_key(), proptest::collection::vec(0..4u8, 0..60)),
                    0..64,
                ),
                0..12,
            ),
        ) {
            use std::collections::BTreeMap;
            let mut agg = HashAggregator::new(MergePolicy::First, usize::MAX);
            agg.weak_hash = collide;
            let mut want: BTreeMap<(u32, Vec<u8>), Vec<u8>> = BTreeMap::new();
            for batch in batches {
                let pairs: Vec<(Vec<u8>, Vec<u8>)> = batch
                    .into_iter()
                    .map(|(k, long, v)| ([format!("k{k}").into_bytes(), long].concat(), v))
                    .collect();
                let hashes: Vec<u64> = pairs.iter().map(|(k, _)| agg.hash(k)).collect();
                agg.prefetch(&hashes, false);
                agg.prefetch(&hashes, true);
                for ((key, value), hash) in pairs.iter().zip(hashes) {
                    let partition = (key.len() % 3) as u32;
                    agg.push_hashed(hash, key, value, || PartitionId(partition)).unwrap();
                    want.entry((partition, key.clone()))
                        .and_modify(|m| *m = value.clone().min(m.clone()))
                        .or_insert_with(|| value.clone());
                }
            }
            proptest::prop_assert_eq!(agg.len(), want.len());
            let got = drain(&mut agg);
            let want: Vec<_> = want.into_iter().map(|((p, k), v)| (p, k, v)).collect();
            proptest::prop_assert_eq!(got, want);
        }

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
