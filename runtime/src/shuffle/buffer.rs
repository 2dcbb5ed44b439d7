//! The sort buffer: a map task's output, held until the task ends and then sorted by
//! (partition, key, value) into one [`Run`] per partition.
//!
//! Pairs are appended to one arena; the sort moves only fixed-size entries that carry the
//! first eight key bytes, so most comparisons never touch the arena.

use super::merge::Run;
use crate::task::PartitionId;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The key's first 8 bytes, big-endian, zero-padded: compares like the key's prefix.
    prefix: u64,
    partition: u32,
    key_len: u32,
    value_len: u32,
    /// Where the key starts in the arena; the value follows it.
    offset: usize,
}

/// Map output for every partition, unsorted until [`SortBuffer::finish`].
#[derive(Debug)]
pub struct SortBuffer {
    partitions: u32,
    arena: Vec<u8>,
    entries: Vec<Entry>,
}

impl SortBuffer {
    /// An empty buffer for `partitions` partitions.
    pub fn new(partitions: u32) -> Self {
        Self {
            partitions: partitions.max(1),
            arena: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Adds one pair for `partition`.
    pub fn push(&mut self, partition: PartitionId, key: &[u8], value: &[u8]) {
        debug_assert!(partition.0 < self.partitions);
        let mut prefix = [0u8; 8];
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        self.entries.push(Entry {
            prefix: u64::from_be_bytes(prefix),
            partition: partition.0,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
            offset: self.arena.len(),
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Memory held, in bytes (arena plus index).
    pub fn bytes(&self) -> usize {
        self.arena.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.arena[e.offset..e.offset + e.key_len as usize]
    }

    fn value(&self, e: &Entry) -> &[u8] {
        let start = e.offset + e.key_len as usize;
        &self.arena[start..start + e.value_len as usize]
    }

    /// Sorts the pairs and returns one run per partition (empty runs included).
    pub fn finish(mut self) -> Vec<Run> {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| {
            (a.partition, a.prefix)
                .cmp(&(b.partition, b.prefix))
                .then_with(|| self.key(a).cmp(self.key(b)))
                .then_with(|| self.value(a).cmp(self.value(b)))
        });
        let mut runs: Vec<Run> = (0..self.partitions).map(|_| Run::new()).collect();
        for e in &entries {
            runs[e.partition as usize].push(self.key(e), self.value(e));
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_partition_key_and_value_with_long_shared_prefixes() {
        let mut buf = SortBuffer::new(2);
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
        let runs = buf.finish();
        let got: Vec<Vec<(&[u8], &[u8])>> = runs.iter().map(|r| r.iter().collect()).collect();
        assert_eq!(
            got,
            [
                vec![
                    (&b""[..], &b"empty"[..]),
                    (b"a", b"y"),
                    (b"a\xff", b"x"),
                    (b"zz", b"1")
                ],
                vec![
                    (&b"prefix-l"[..], &b"short"[..]),
                    (b"prefix-long-a", b"9"),
                    (b"prefix-long-b", b"1"),
                    (b"prefix-long-b", b"2"),
                ],
            ]
        );
    }
}
