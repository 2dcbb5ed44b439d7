//! Range partitioning (`--partitioner range`, TeraSort's method): cut points chosen from a
//! sorted sample of the map output keys, so that partition `p` holds the keys in
//! `[cut[p-1], cut[p])` in byte order and the part files, concatenated in order, are one
//! totally ordered output.

/// Up to `partitions - 1` cut points that split `sample` (map output keys, in any order, with
/// repeats) into `partitions` runs of about equal length.
///
/// The cuts are strictly increasing and each is above the sample's smallest key, so no
/// partition is an empty range between two equal cuts or below every key. A sample with fewer
/// distinct keys than partitions gives fewer cuts (one less than its distinct keys): the last
/// partitions then get no key of the sample. An empty sample, or one partition, gives none.
pub fn cut_points(mut sample: Vec<Vec<u8>>, partitions: u32) -> Vec<Vec<u8>> {
    sample.sort_unstable();
    let n = sample.len();
    let mut cuts: Vec<Vec<u8>> = Vec::new();
    let Some(smallest) = sample.first() else {
        return cuts;
    };
    let mut last = smallest.clone();
    for i in 1..u64::from(partitions.max(1)) {
        // The key at the i-th quantile; if it does not rise above the last cut (a repeated
        // key spans the quantile), the first key that does.
        let at = (i * n as u64 / u64::from(partitions)) as usize;
        let above = sample.partition_point(|k| *k <= last);
        let Some(cut) = sample.get(at.max(above)) else {
            break;
        };
        cuts.push(cut.clone());
        last = cut.clone();
    }
    cuts
}

/// The partition of `key` among the ranges `cuts` (strictly increasing) bound: the number of
/// cuts at or below it.
pub fn range_partition(cuts: &[Vec<u8>], key: &[u8]) -> u32 {
    cuts.partition_point(|cut| cut.as_slice() <= key) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious reference: walk the sorted sample and count the cuts at or below each key.
    fn reference_partition(cuts: &[Vec<u8>], key: &[u8]) -> u32 {
        cuts.iter().filter(|c| c.as_slice() <= key).count() as u32
    }

    fn keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
        // Short keys over a small alphabet, so that repeats and shared prefixes are common.
        prop::collection::vec(prop::collection::vec(0u8..4, 0..4), 0..200)
    }

    proptest! {
        #[test]
        fn cuts_rise_and_partition_as_counting_does(sample in keys(), partitions in 1u32..12) {
            let cuts = cut_points(sample.clone(), partitions);
            prop_assert!(cuts.len() < partitions as usize);
            prop_assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{cuts:?}");
            let mut distinct = sample.clone();
            distinct.sort();
            distinct.dedup();
            if let Some(min) = distinct.first() {
                prop_assert!(cuts.iter().all(|c| c > min && distinct.contains(c)));
            }
            // No more cuts than the distinct keys allow (a key repeated across several
            // quantiles takes their cuts with it, so there may be fewer).
            prop_assert!(
                cuts.len() <= (partitions as usize - 1).min(distinct.len().saturating_sub(1))
            );
            for key in &sample {
                let p = range_partition(&cuts, key);
                prop_assert_eq!(p, reference_partition(&cuts, key));
                prop_assert!(p < partitions);
            }
            // Every partition up to the last cut holds a key of the sample: no empty range
            // (an empty sample has no cut, and its one partition no key).
            for p in (0..=cuts.len() as u32).filter(|_| !sample.is_empty()) {
                prop_assert!(sample.iter().any(|k| range_partition(&cuts, k) == p));
            }
        }

        /// On distinct keys the partitions are the sorted sample cut in `partitions` equal
        /// pieces (to one key), and in order: every key of a partition is below the next's.
        #[test]
        fn distinct_keys_are_cut_as_sorting_everything_and_cutting(
            sample in prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..6), 0..300),
            partitions in 1u32..10,
        ) {
            let sorted: Vec<Vec<u8>> = sample.into_iter().collect();
            let n = sorted.len();
            let mut shuffled = sorted.clone();
            shuffled.reverse();
            let cuts = cut_points(shuffled, partitions);
            let mut sizes = vec![0usize; partitions as usize];
            let mut previous = 0;
            for key in &sorted {
                let p = range_partition(&cuts, key);
                prop_assert!(p >= previous, "keys in order land in partitions in order");
                previous = p;
                sizes[p as usize] += 1;
            }
            if n >= partitions as usize {
                let reference: Vec<usize> = (0..partitions as usize)
                    .map(|i| (i + 1) * n / partitions as usize - i * n / partitions as usize)
                    .collect();
                prop_assert_eq!(sizes, reference);
            }
        }
    }

    #[test]
    fn one_hot_key_takes_one_partition_and_the_rest_share_the_others() {
        let mut sample = vec![b"hot".to_vec(); 900];
        sample.extend((0..100).map(|i| format!("k{i:03}").into_bytes()));
        let cuts = cut_points(sample, 4);
        assert_eq!(cuts.len(), 3);
        // "hot" sorts first: it is partition 0 alone, and no cut repeats it.
        assert_eq!(range_partition(&cuts, b"hot"), 0);
        assert!(cuts.iter().all(|c| c.as_slice() > b"hot".as_slice()));
        assert_eq!(range_partition(&cuts, b"k000"), 1);
    }

    #[test]
    fn few_distinct_keys_give_few_cuts_and_no_panic() {
        assert!(cut_points(Vec::new(), 8).is_empty());
        assert!(cut_points(vec![b"a".to_vec(); 50], 8).is_empty());
        assert_eq!(
            cut_points(vec![b"a".to_vec(), b"b".to_vec(), b"a".to_vec()], 8),
            [b"b".to_vec()]
        );
        assert!(cut_points(vec![b"x".to_vec(); 3], 1).is_empty());
        assert_eq!(range_partition(&[], b"anything"), 0);
        assert_eq!(cut_points(vec![b"x".to_vec()], 0), Vec::<Vec<u8>>::new());
    }
}
