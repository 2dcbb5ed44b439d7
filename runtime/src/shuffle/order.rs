//! Ordering pairs by (key, value) in byte order, mostly without reading their bytes: a pair's
//! first bytes as integers decide unless both keys (or values) share them and go on.
//! Sorting a map task's buffer and merging runs compare pairs this way.

use std::cmp::Ordering;

/// Key bytes a [`PairPrefix`] holds: most keys (words, ids) fit whole.
const KEY: usize = 16;
/// Value bytes a [`PairPrefix`] holds: counts and ids fit whole.
const VALUE: usize = 8;

/// The first bytes of a pair's key and value, zero-padded, as big-endian integers (which
/// compare like the bytes), with their lengths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairPrefix {
    key: u128,
    value: u64,
    key_len: u32,
    value_len: u32,
}

impl PairPrefix {
    /// The prefix of the pair (`key`, `value`).
    pub fn of(key: &[u8], value: &[u8]) -> Self {
        Self {
            key: u128::from_be_bytes(head(key)),
            value: u64::from_be_bytes(head(value)),
            key_len: len32(key),
            value_len: len32(value),
        }
    }

    /// The key's first [`PREFIX`] bytes, as [`prefix`] gives them.
    pub fn key_head(&self) -> u64 {
        (self.key >> 64) as u64
    }

    /// The key's length.
    pub fn key_len(&self) -> u32 {
        self.key_len
    }

    /// The value's length.
    pub fn value_len(&self) -> u32 {
        self.value_len
    }

    /// Orders two pairs by key, then value. `keys` and `values` compare the whole bytes; they
    /// are called only when the prefixes tie and one side is longer than its prefix.
    #[inline]
    pub fn cmp_pairs(
        &self,
        other: &Self,
        keys: impl FnOnce() -> Ordering,
        values: impl FnOnce() -> Ordering,
    ) -> Ordering {
        self.cmp_keys(other, keys).then_with(|| {
            (self.value.cmp(&other.value))
                .then_with(|| after_prefix(self.value_len, other.value_len, VALUE, values))
        })
    }

    /// Orders two pairs by key alone (`keys` as in [`PairPrefix::cmp_pairs`]).
    #[inline]
    pub fn cmp_keys(&self, other: &Self, keys: impl FnOnce() -> Ordering) -> Ordering {
        (self.key.cmp(&other.key))
            .then_with(|| after_prefix(self.key_len, other.key_len, KEY, keys))
    }
}

/// Orders two byte strings whose first `prefix` bytes (zero-padded) are equal, given their
/// lengths: if both fit in the prefix they differ only in length (the shorter first);
/// otherwise `bytes` compares them whole.
#[inline]
pub fn after_prefix(
    a_len: u32,
    b_len: u32,
    prefix: usize,
    bytes: impl FnOnce() -> Ordering,
) -> Ordering {
    if a_len.max(b_len) as usize <= prefix {
        a_len.cmp(&b_len)
    } else {
        bytes()
    }
}

/// Bytes [`prefix`] holds.
pub const PREFIX: usize = 8;

/// The first [`PREFIX`] bytes of `bytes`, zero-padded, as a big-endian number: numbers compare
/// like the prefixes.
pub fn prefix(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(head(bytes))
}

fn head<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut head = [0u8; N];
    let n = bytes.len().min(N);
    head[..n].copy_from_slice(&bytes[..n]);
    head
}

/// A key or value lifted from a plugin's 32-bit memory, or read from a run whose lengths are
/// `u32`, so its length fits.
fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("keys and values are shorter than 4 GiB")
}

/// For property tests: byte strings that often share their first bytes, so that prefixes
/// tie and the bytes after them decide. Each is `b'a'` repeated one of `heads` times, then
/// fewer than `tail` bytes below `alphabet` (zero bytes included).
#[cfg(test)]
pub(crate) fn sharing_heads(
    heads: &[usize],
    alphabet: u8,
    tail: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> + use<> {
    use proptest::prelude::*;
    (
        proptest::sample::select(heads.to_vec()),
        proptest::collection::vec(0..alphabet, 0..tail),
    )
        .prop_map(|(n, tail)| [vec![b'a'; n], tail].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte strings around the prefix lengths, sharing their first bytes, with zero bytes.
    fn samples() -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        for n in [1, 7, 8, 9, 15, 16, 17, 20] {
            for last in [0u8, 1, 0xff] {
                let mut s = vec![b'a'; n - 1];
                s.push(last);
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn orders_pairs_like_their_bytes() {
        let samples = samples();
        for k1 in &samples {
            for k2 in &samples {
                for (v1, v2) in [(&samples[3], &samples[5]), (k1, k2), (k2, k1)] {
                    let (a, b) = (PairPrefix::of(k1, v1), PairPrefix::of(k2, v2));
                    let got = a.cmp_pairs(&b, || k1.cmp(k2), || v1.cmp(v2));
                    assert_eq!(
                        got,
                        (k1, v1).cmp(&(k2, v2)),
                        "{k1:?} {v1:?} / {k2:?} {v2:?}"
                    );
                    assert_eq!(a.cmp_keys(&b, || k1.cmp(k2)), k1.cmp(k2));
                }
            }
        }
    }
}
