//! The sort buffer: a map task's output, held under a byte limit until it is full or the task
//! ends, then sorted in place by (partition, key, value) and read partition by partition.
//!
//! Pairs are appended to one arena; the sort moves only fixed-size entries that carry the
//! first 16 bytes of the key and 8 of the value ([`PairPrefix`]), so comparing keys of up to
//! 16 bytes (most words, ids) and values of up to 8 (counts, ids) never touches the arena.
//! Most of the order is found without comparing at all: a radix sort of (partition, first 8
//! key bytes) tags, after which only the entries that tie there are compared.
//! The buffer never grows past its limit, the sort's tags included:
//! [`SortBuffer::has_room`] says when to spill first.

use super::merge::GroupSource;
use super::order::PairPrefix;
use super::radix::{self, Tag};
use super::run::Run;
use crate::task::PartitionId;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The pair's first bytes and lengths: what orders it, mostly.
    prefix: PairPrefix,
    partition: u32,
    /// Where the key starts in the arena; the value follows it.
    offset: usize,
}

const ENTRY: usize = std::mem::size_of::<Entry>();

/// What [`SortBuffer::sort`] allocates per pair while it sorts: two tags, the radix sort's
/// source and target. The limit keeps room for it; the radix sort's byte histograms (12 KiB,
/// whatever the number of pairs) are left out, as the buffer's other fixed costs are.
const SORT_SCRATCH: usize = 2 * std::mem::size_of::<Tag>();

/// Map output for every partition, under a memory limit.
#[derive(Debug)]
pub struct SortBuffer {
    partitions: u32,
    /// The most bytes the arena and the entries may have allocated together.
    limit: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    sorted: bool,
}

/// Puts `entries[tags[i].entry]` at `i` for every `i`, in place: each cycle of the
/// permutation is walked once, and `tags` is left marked as used.
fn permute(entries: &mut [Entry], tags: &mut [Tag]) {
    const DONE: u32 = u32::MAX;
    for start in 0..tags.len() {
        if tags[start].entry == DONE {
            continue;
        }
        let first = entries[start];
        let mut at = start;
        loop {
            let from = tags[at].entry as usize;
            tags[at].entry = DONE;
            if from == start {
                entries[at] = first;
                break;
            }
            entries[at] = entries[from];
            at = from;
        }
    }
}

/// The capacity a `Vec` of `cap` holding `len` grows to when `extra` more must fit.
fn grown(cap: usize, len: usize, extra: usize) -> usize {
    if len + extra <= cap {
        cap
    } else {
        (2 * cap).max(len + extra).max(64)
    }
}

impl SortBuffer {
    /// An empty buffer for `partitions` partitions that holds at most `limit` bytes.
    pub fn new(partitions: u32, limit: usize) -> Self {
        Self {
            partitions: partitions.max(1),
            limit,
            arena: Vec::new(),
            entries: Vec::new(),
            sorted: true,
        }
    }

    /// Whether one more pair of these sizes fits within the limit. An empty buffer always has
    /// room, so a pair larger than the limit is still taken (alone).
    pub fn has_room(&self, key: &[u8], value: &[u8]) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let arena = grown(
            self.arena.capacity(),
            self.arena.len(),
            key.len() + value.len(),
        );
        let entries = grown(self.entries.capacity(), self.entries.len(), 1);
        arena + entries * ENTRY + (self.entries.len() + 1) * SORT_SCRATCH <= self.limit
    }

    /// Adds one pair for `partition`.
    pub fn push(&mut self, partition: PartitionId, key: &[u8], value: &[u8]) {
        debug_assert!(partition.0 < self.partitions);
        self.entries.push(Entry {
            prefix: PairPrefix::of(key, value),
            partition: partition.0,
            offset: self.arena.len(),
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.sorted = false;
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn data_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Memory allocated, in bytes (arena plus index).
    pub fn allocated(&self) -> usize {
        self.arena.capacity() + self.entries.capacity() * ENTRY
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.arena[e.offset..e.offset + e.prefix.key_len() as usize]
    }

    fn value(&self, e: &Entry) -> &[u8] {
        let start = e.offset + e.prefix.key_len() as usize;
        &self.arena[start..start + e.prefix.value_len() as usize]
    }

    /// Sorts the pairs by (partition, key, value).
    ///
    /// (partition, first 8 key bytes) tags are radix sorted, which orders most pairs on
    /// integers alone; only the pairs that tie there (a key's many values, keys that share
    /// their first bytes) are then compared, a tie run at a time. A run whose values came in
    /// order (ids of documents read in order) is found sorted in one pass.
    pub fn sort(&mut self) {
        let n = self.entries.len();
        if n < 2 || u32::try_from(n).is_err() {
            self.compare_sort();
            return;
        }
        let mut tags: Vec<Tag> = (self.entries.iter().enumerate())
            .map(|(i, e)| Tag {
                partition: e.partition,
                prefix: e.prefix.key_head(),
                entry: i as u32,
            })
            .collect();
        radix::sort(&mut tags);
        permute(&mut self.entries, &mut tags);
        drop(tags);
        let mut entries = std::mem::take(&mut self.entries);
        for ties in entries.chunk_by_mut(|a, b| {
            (a.partition, a.prefix.key_head()) == (b.partition, b.prefix.key_head())
        }) {
            if ties.len() > 1 {
                ties.sort_unstable_by(|a, b| self.cmp_pairs(a, b));
            }
        }
        self.entries = entries;
        self.sorted = true;
    }

    /// [`SortBuffer::sort`] by comparisons alone.
    fn compare_sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.cmp_pairs(a, b));
        self.entries = entries;
        self.sorted = true;
    }

    /// Orders two entries by (partition, key, value).
    fn cmp_pairs(&self, a: &Entry, b: &Entry) -> std::cmp::Ordering {
        a.partition.cmp(&b.partition).then_with(|| {
            a.prefix.cmp_pairs(
                &b.prefix,
                || self.key(a).cmp(self.key(b)),
                || self.value(a).cmp(self.value(b)),
            )
        })
    }

    /// Whether two entries have the same key.
    fn same_key(&self, a: &Entry, b: &Entry) -> bool {
        a.prefix
            .cmp_keys(&b.prefix, || self.key(a).cmp(self.key(b)))
            .is_eq()
    }

    /// The sorted pairs of `partition`, read as groups.
    ///
    /// # Panics
    /// If the buffer was changed since it was last sorted.
    pub fn groups(&self, partition: PartitionId) -> BufferGroups<'_> {
        let std::ops::Range { start, end } = self.partition_range(partition);
        BufferGroups {
            buffer: self,
            next: start,
            end,
            group: None,
        }
    }

    /// Where `partition`'s entries are.
    ///
    /// # Panics
    /// If the buffer was changed since it was last sorted.
    fn partition_range(&self, partition: PartitionId) -> std::ops::Range<usize> {
        assert!(self.sorted, "SortBuffer read before sort");
        let start = self.entries.partition_point(|e| e.partition < partition.0);
        let end = self.entries.partition_point(|e| e.partition <= partition.0);
        start..end
    }

    /// Appends the sorted pairs of `partition` to `run` as they are: what copying its groups
    /// gives, without walking them group by group, and with `run` sized once.
    ///
    /// # Panics
    /// If the buffer was changed since it was last sorted.
    pub fn copy_partition(&self, partition: PartitionId, run: &mut Run) {
        let entries = &self.entries[self.partition_range(partition)];
        let bytes = entries
            .iter()
            .map(|e| e.prefix.key_len() as usize + e.prefix.value_len() as usize)
            .sum();
        run.reserve(entries.len(), bytes);
        for e in entries {
            run.push(self.key(e), self.value(e));
        }
    }

    /// Empties the buffer, keeping its memory for the next round.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
        self.sorted = true;
    }
}

/// One partition of a sorted [`SortBuffer`], read as key groups.
#[derive(Debug)]
pub struct BufferGroups<'a> {
    buffer: &'a SortBuffer,
    next: usize,
    end: usize,
    /// The entry whose key is the current group's.
    group: Option<usize>,
}

impl BufferGroups<'_> {
    fn same_key(&self, a: usize, b: usize) -> bool {
        let entries = &self.buffer.entries;
        self.buffer.same_key(&entries[a], &entries[b])
    }
}

impl GroupSource for BufferGroups<'_> {
    fn next_group(&mut self) -> bool {
        if let Some(g) = self.group {
            while self.next < self.end && self.same_key(g, self.next) {
                self.next += 1;
            }
        }
        if self.next < self.end {
            self.group = Some(self.next);
            true
        } else {
            self.group = None;
            false
        }
    }

    fn key(&self) -> &[u8] {
        self.group
            .map_or(&[], |g| self.buffer.key(&self.buffer.entries[g]))
    }

    fn next_value(&mut self) -> Option<&[u8]> {
        let g = self.group?;
        if self.next < self.end && self.same_key(g, self.next) {
            self.next += 1;
            Some(self.buffer.value(&self.buffer.entries[self.next - 1]))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shuffle::{Run, copy_groups};

    fn runs(buf: &SortBuffer) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        (0..buf.partitions)
            .map(|p| {
                let mut run = Run::new();
                copy_groups(&mut buf.groups(PartitionId(p)), &mut run).unwrap();
                run.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
            })
            .collect()
    }

    #[test]
    fn sorts_by_partition_key_and_value_with_long_shared_prefixes() {
        let mut buf = SortBuffer::new(3, usize::MAX);
        let pairs: &[(u32, &[u8], &[u8])] = &[
            (1, b"prefix-long-b", b"2"),
            (0, b"zz", b"1"),
            (1, b"prefix-long-a", b"9"),
            (1, b"prefix-long-b", b"1"),
            (0, b"", b"empty"),
            (1, b"prefix-l", b"short"),
            (0, b"a\xff", b"x"),
            (0, b"a", b"y"),
        ];
        for (p, k, v) in pairs {
            buf.push(PartitionId(*p), k, v);
        }
        assert_eq!(buf.len(), 8);
        buf.sort();
        let owned = |v: &[(&[u8], &[u8])]| -> Vec<(Vec<u8>, Vec<u8>)> {
            v.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
        };
        assert_eq!(
            runs(&buf),
            [
                owned(&[
                    (b"", b"empty"),
                    (b"a", b"y"),
                    (b"a\xff", b"x"),
                    (b"zz", b"1")
                ]),
                owned(&[
                    (b"prefix-l", b"short"),
                    (b"prefix-long-a", b"9"),
                    (b"prefix-long-b", b"1"),
                    (b"prefix-long-b", b"2"),
                ]),
                Vec::new(),
            ]
        );
        buf.clear();
        assert!(buf.is_empty());
        assert!(runs(&buf).iter().all(Vec::is_empty));
    }

    #[test]
    fn never_allocates_past_its_limit() {
        let limit = 64 << 10;
        let mut buf = SortBuffer::new(4, limit);
        let mut spills = 0;
        for i in 0..100_000u32 {
            let key = format!("key{}", i % 977);
            if !buf.has_room(key.as_bytes(), b"v") {
                spills += 1;
                buf.clear();
            }
            buf.push(PartitionId(i % 4), key.as_bytes(), b"v");
            let sorting = buf.allocated() + buf.len() * SORT_SCRATCH;
            assert!(sorting <= limit, "{sorting} > {limit}");
        }
        assert!(spills > 10, "{spills}");
        // A pair larger than the limit is still taken, alone.
        buf.clear();
        assert!(buf.has_room(&[0; 1 << 17], b""));
        buf.clear();
        let mut empty = SortBuffer::new(1, 16);
        assert!(empty.has_room(&[0; 100], b""));
        empty.push(PartitionId(0), &[0; 100], b"");
        assert!(!empty.has_room(b"k", b"v"));
    }

    /// Keys and values that tie on 7, 8, 15 or 16 bytes: around both prefix lengths.
    fn near_prefixes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        crate::shuffle::order::sharing_heads(&[0, 7, 8, 15, 16], 2, 4)
    }

    proptest::proptest! {
        /// Sorting equals sorting the pairs themselves, and groups split where keys change,
        /// for keys and values around their prefixes' lengths, with zero bytes and shared prefixes.
        #[test]
        fn sorts_and_groups_like_a_plain_sort(
            pairs in proptest::collection::vec((0..3u32, near_prefixes(), near_prefixes()), 0..700),
        ) {
            let mut buf = SortBuffer::new(3, usize::MAX);
            for (p, k, v) in &pairs {
                buf.push(PartitionId(*p), k, v);
            }
            buf.sort();
            let mut want = pairs.clone();
            want.sort();
            for p in 0..3 {
                let part: Vec<_> = want.iter().filter(|e| e.0 == p).collect();
                let got = crate::shuffle::merge::collect_groups(&mut buf.groups(PartitionId(p)));
                let mut run = Run::new();
                buf.copy_partition(PartitionId(p), &mut run);
                let copied: Vec<(Vec<u8>, Vec<u8>)> =
                    run.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                let flat: Vec<(Vec<u8>, Vec<u8>)> = got
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(|v| (k.clone(), v.clone())))
                    .collect();
                proptest::prop_assert_eq!(copied, flat);
                let mut expected: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
                for (_, k, v) in part {
                    match expected.last_mut() {
                        Some((last, values)) if last == k => values.push(v.clone()),
                        _ => expected.push((k.clone(), vec![v.clone()])),
                    }
                }
                proptest::prop_assert_eq!(got, expected);
            }
        }
    }
}
