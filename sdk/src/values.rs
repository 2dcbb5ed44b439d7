//! The values of one key, as a job's `reduce` sees them.

use crate::{Result, codec};

/// A chunk of values pulled from the host: item `i` is `data[ends[i - 1]..ends[i]]`.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    pub(crate) ends: Vec<u32>,
}

/// Where the rest of a group's values come from once the batch runs out.
pub(crate) type Pull<'a> = &'a mut dyn FnMut() -> Option<Chunk>;

/// The values of one key, in byte order, read one at a time.
///
/// A key may have more values than fit in memory: they arrive from the host in chunks as you
/// read them, so read them once, in order, and keep only what you need. `Values` is a lending
/// iterator (each value borrows the buffer it was read into), so use `while let`:
///
/// ```
/// # let mut values = sandmill_sdk::testing::values(&[b"a", b"bc"]);
/// let mut bytes = 0;
/// while let Some(v) = values.next() {
///     bytes += v.len();
/// }
/// assert_eq!(bytes, 3);
/// ```
pub struct Values<'a> {
    /// The part of the group that came with the batch: items `next..end` of `data`/`ends`.
    data: &'a [u8],
    ends: &'a [u32],
    next: usize,
    end: usize,
    /// Where item `next` starts in `data`.
    start: usize,
    /// The chunk most recently pulled from the host, and the next item to read in it.
    chunk: Chunk,
    chunk_next: usize,
    pull: Option<Pull<'a>>,
}

impl<'a> Values<'a> {
    /// Values `first..end` of a batch whose items end at `ends`; `pull` fetches the rest.
    pub(crate) fn new(
        data: &'a [u8],
        ends: &'a [u32],
        first: usize,
        end: usize,
        pull: Option<Pull<'a>>,
    ) -> Self {
        let start = if first == 0 {
            0
        } else {
            ends[first - 1] as usize
        };
        Self {
            data,
            ends,
            next: first,
            end,
            start,
            chunk: Chunk::default(),
            chunk_next: 0,
            pull,
        }
    }

    /// The next value, or `None` once every value of the key was read.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator cannot be an Iterator"
    )]
    pub fn next(&mut self) -> Option<&[u8]> {
        if self.next < self.end {
            let (start, end) = (self.start, self.ends[self.next] as usize);
            self.start = end;
            self.next += 1;
            return Some(&self.data[start..end]);
        }
        while self.chunk_next == self.chunk.ends.len() {
            self.chunk = (self.pull.as_mut()?)().or_else(|| {
                self.pull = None;
                None
            })?;
            self.chunk_next = 0;
        }
        let i = self.chunk_next;
        self.chunk_next += 1;
        let start = if i == 0 {
            0
        } else {
            self.chunk.ends[i - 1] as usize
        };
        Some(&self.chunk.data[start..self.chunk.ends[i] as usize])
    }

    /// Calls `f` on every remaining value, stopping at the first error.
    ///
    /// # Errors
    /// The first error `f` returns.
    pub fn try_for_each(&mut self, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        while let Some(v) = self.next() {
            f(v)?;
        }
        Ok(())
    }

    /// Decodes every remaining value with `decode` (for example [`codec::decode_i64`]).
    pub fn decode<T>(
        &mut self,
        decode: impl Fn(&[u8]) -> Result<T>,
    ) -> impl Iterator<Item = Result<T>> {
        std::iter::from_fn(move || self.next().map(&decode))
    }

    /// Counts the remaining values.
    pub fn count(&mut self) -> u64 {
        let mut n = 0;
        while self.next().is_some() {
            n += 1;
        }
        n
    }

    /// Adds up values in the [`codec::i64_key`] encoding (wrapping on overflow, as the host's
    /// native `sum` merge does).
    ///
    /// # Errors
    /// If a value is not 8 bytes long.
    pub fn sum_i64(&mut self) -> Result<i64> {
        Ok(self.sum_i64_lanes::<1>()?[0])
    }

    /// Adds up values of `N` lanes in the [`codec::i64_lanes`] encoding, lane by lane.
    ///
    /// # Errors
    /// If a value is not `8 * N` bytes long.
    pub fn sum_i64_lanes<const N: usize>(&mut self) -> Result<[i64; N]> {
        let mut total = [0i64; N];
        self.try_for_each(|v| {
            for (t, x) in total.iter_mut().zip(codec::decode_i64_lanes::<N>(v)?) {
                *t = t.wrapping_add(x);
            }
            Ok(())
        })?;
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(items: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for i in items {
            data.extend_from_slice(i);
            ends.push(data.len() as u32);
        }
        (data, ends)
    }

    #[test]
    fn reads_the_batch_part_then_pulls_chunks_until_none() {
        let (data, ends) = flat(&[b"skip", b"a", b"bb"]);
        let mut chunks = vec![flat(&[]), flat(&[b"ccc", b""]), flat(&[b"d"])].into_iter();
        let mut pull = || chunks.next().map(|(data, ends)| Chunk { data, ends });
        let mut values = Values::new(&data, &ends, 1, 3, Some(&mut pull));
        let mut got = Vec::new();
        while let Some(v) = values.next() {
            got.push(v.to_vec());
        }
        assert_eq!(got, [&b"a"[..], b"bb", b"ccc", b"", b"d"]);
        // Exhausted values stay exhausted and do not pull again.
        assert!(values.next().is_none());
    }

    #[test]
    fn sums_lanes_and_rejects_malformed_values() {
        let v1 = codec::i64_lanes([1, -10]);
        let v2 = codec::i64_lanes([2, 4]);
        let (data, ends) = flat(&[&v1, &v2]);
        let mut values = Values::new(&data, &ends, 0, 2, None);
        assert_eq!(values.sum_i64_lanes::<2>().unwrap(), [3, -6]);

        let (data, ends) = flat(&[&v1]);
        assert!(Values::new(&data, &ends, 0, 1, None).sum_i64().is_err());
    }
}
