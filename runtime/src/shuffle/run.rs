//! Sorted runs in memory, and what sorted pairs are written to: a [`Run`] or a run file
//! ([`super::RunFileWriter`]). Both the merge and the spill files build on this; it builds on
//! neither.

use crate::batch::Flat;
use std::io;

/// Key/value pairs sorted by key, then value (byte order): pair `i` is
/// `(pairs.get(2i), pairs.get(2i + 1))`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Run {
    pairs: Flat,
}

impl Run {
    /// An empty run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for `pairs` more pairs of `bytes` bytes in all.
    pub fn reserve(&mut self, pairs: usize, bytes: usize) {
        self.pairs.data.reserve(bytes);
        self.pairs.ends.reserve(2 * pairs);
    }

    /// Appends a pair; the caller keeps them sorted.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        self.pairs.push(key);
        self.pairs.push(value);
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len() / 2
    }

    /// Whether the run is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Bytes of keys and values.
    pub fn bytes(&self) -> usize {
        self.pairs.data.len()
    }

    /// Pair `i`.
    pub fn pair(&self, i: usize) -> (&[u8], &[u8]) {
        (self.pairs.get(2 * i), self.pairs.get(2 * i + 1))
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..self.len()).map(|i| self.pair(i))
    }
}

/// Anything pairs can be written to, in sorted order: an in-memory [`Run`] or a run file.
pub trait PairSink {
    /// Appends a pair.
    ///
    /// # Errors
    /// If writing fails.
    fn push_pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()>;
}

impl PairSink for Run {
    fn push_pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.push(key, value);
        Ok(())
    }
}
