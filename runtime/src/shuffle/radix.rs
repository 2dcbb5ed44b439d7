//! A stable least-significant-digit radix sort of (partition, key prefix) tags: the order in
//! which the combining table hands out its keys, and most of the sort buffer's order. Eight
//! passes of one byte each over the prefix, then up to four over the partition, each a
//! counting scatter of 16-byte tags; a pass whose byte is the same in every tag (the high
//! bytes of small ids, of few partitions) is skipped, which one histogram of every byte, read
//! before the first pass, tells.

/// What is sorted: an entry's partition and key prefix, and the entry it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The entry's partition: the most significant part of the order.
    pub partition: u32,
    /// The entry's key prefix (`order::prefix`).
    pub prefix: u64,
    /// The entry, which the sort carries along and leaves out of the order.
    pub entry: u32,
}

/// Below this many tags a comparison sort is quicker than the histograms.
const SMALL: usize = 256;

/// Bytes of the order: the prefix's eight, then the partition's four.
const DIGITS: usize = 12;

/// Byte `d` of `tag`'s order, least significant first.
#[inline]
fn digit(tag: &Tag, d: usize) -> usize {
    let word = if d < 8 {
        tag.prefix >> (8 * d)
    } else {
        u64::from(tag.partition) >> (8 * (d - 8))
    };
    usize::from(word as u8)
}

/// Sorts `tags` by (partition, prefix), keeping tags that tie in the order they came.
pub fn sort(tags: &mut Vec<Tag>) {
    let n = tags.len();
    if n < SMALL {
        tags.sort_by_key(|t| (t.partition, t.prefix));
        return;
    }
    let mut counts = vec![[0u32; 256]; DIGITS];
    for tag in tags.iter() {
        for (d, count) in counts.iter_mut().enumerate() {
            count[digit(tag, d)] += 1;
        }
    }
    let mut from = std::mem::take(tags);
    let mut to = from.clone();
    for (d, count) in counts.iter().enumerate() {
        if count.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut sum = 0;
        for (slot, &c) in next.iter_mut().zip(count) {
            *slot = sum;
            sum += c as usize;
        }
        for tag in &from {
            let b = digit(tag, d);
            to[next[b]] = *tag;
            next[b] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *tags = from;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags() -> impl Strategy<Value = Vec<Tag>> {
        // Few partitions and prefixes that share high bytes (skipped passes), or any at all.
        let prefix = prop_oneof![0u64..1 << 20, any::<u64>(), Just(u64::MAX)];
        let partition = prop_oneof![0u32..4, any::<u32>()];
        proptest::collection::vec((partition, prefix), 0..2000).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (partition, prefix))| Tag {
                    partition,
                    prefix,
                    entry: i as u32,
                })
                .collect()
        })
    }

    proptest! {
        /// The same order as a stable comparison sort: by partition, then prefix, ties in
        /// the order they came.
        #[test]
        fn sorts_as_a_stable_comparison_sort(mut got in tags()) {
            let mut want = got.clone();
            want.sort_by_key(|t| (t.partition, t.prefix));
            sort(&mut got);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn ties_keep_their_order_and_every_byte_counts() {
        let mut tags: Vec<Tag> = (0..1000u32)
            .map(|i| Tag {
                partition: i % 3,
                // Every byte of the prefix varies, and many tags tie.
                prefix: u64::from(i % 7).wrapping_mul(0x0101_0101_0101_0101),
                entry: i,
            })
            .collect();
        sort(&mut tags);
        for pair in tags.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!((a.partition, a.prefix, a.entry) < (b.partition, b.prefix, b.entry));
        }
    }
}
