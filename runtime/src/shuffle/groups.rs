//! Cutting a stream of key groups into batches for the plugin, bounded in bytes.
//!
//! For a reduce, a group larger than a batch is cut: the batch says its last group continues,
//! and the plugin pulls the rest through a [`ValueFeed`] that reads the same source, chunk by
//! chunk. So one key with a hundred million values streams through without being held whole
//! anywhere. A combiner needs no such care: combining is associative, so a cut group is simply
//! combined in parts.

use super::merge::{CombineError, GroupSource};
use super::run::PairSink;
use crate::batch::{Flat, GroupBatch, ValueFeed};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// Reads groups from a source into [`GroupBatch`]es of about `max_bytes`.
#[derive(Debug)]
pub struct GroupBatcher<S> {
    /// Shared with the [`ValueFeed`] handed to the plugin during a call; never locked by both
    /// at once, since the plugin only pulls while the batcher waits for the call.
    source: Arc<Mutex<S>>,
    max_bytes: usize,
}

fn lock<S>(source: &Mutex<S>) -> MutexGuard<'_, S> {
    // A panic while holding the lock already failed the task; the data is still consistent.
    source
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: GroupSource + Send + 'static> GroupBatcher<S> {
    /// Batches the groups of `source`.
    pub fn new(source: S, max_bytes: usize) -> Self {
        Self {
            source: Arc::new(Mutex::new(source)),
            max_bytes: max_bytes.max(1),
        }
    }

    /// Fills `batch` with the next groups (each with at least one value); `false` when no group
    /// is left. What the plugin did not read of a continuing group is skipped.
    ///
    /// # Errors
    /// If the source failed to read (also while the plugin pulled values).
    pub fn fill(&mut self, batch: &mut GroupBatch) -> io::Result<bool> {
        batch.clear();
        let mut source = lock(&self.source);
        while batch.bytes() < self.max_bytes && source.next_group() {
            batch.keys.push(source.key());
            let mut first = true;
            loop {
                if !first && batch.bytes() >= self.max_bytes {
                    batch.last_continues = true;
                    break;
                }
                match source.next_value() {
                    Some(v) => batch.values.push(v),
                    None => break,
                }
                first = false;
            }
            batch.group_ends.push(batch.values.len() as u32);
            if batch.last_continues {
                break;
            }
        }
        source.check()?;
        Ok(!batch.is_empty())
    }

    /// The feed for the batch just filled, if its last group continues.
    pub fn feed(&self, batch: &GroupBatch) -> Option<Box<dyn ValueFeed>> {
        batch.last_continues.then(|| {
            Box::new(Feed {
                source: Arc::clone(&self.source),
                max_bytes: self.max_bytes,
            }) as Box<dyn ValueFeed>
        })
    }
}

struct Feed<S> {
    source: Arc<Mutex<S>>,
    max_bytes: usize,
}

impl<S: GroupSource + Send> ValueFeed for Feed<S> {
    fn next_chunk(&mut self) -> Option<Flat> {
        let mut source = lock(&self.source);
        let mut chunk = Flat::default();
        while chunk.data.len() < self.max_bytes {
            match source.next_value() {
                Some(v) => chunk.push(v),
                None => break,
            }
        }
        (!chunk.is_empty()).then_some(chunk)
    }
}

/// Pushes the values of the source's current group into `batch` until it holds `max_bytes`
/// (at least one value). Returns whether the group has more.
fn fill_group<S: GroupSource + ?Sized>(
    source: &mut S,
    batch: &mut GroupBatch,
    max_bytes: usize,
) -> bool {
    let mut pushed = false;
    while !pushed || batch.bytes() < max_bytes {
        match source.next_value() {
            Some(v) => batch.values.push(v),
            None => return false,
        }
        pushed = true;
    }
    true
}

/// Combines the groups of `source` by calling `call` on batches of about `max_bytes`, and
/// writes what the calls return, sorted by key and value, to `sink`. What a call returns must
/// keep to [`check_combined`].
///
/// # Errors
/// The first failed call, pairs that break [`check_combined`], or a read or write error.
pub fn combine_with_batches<E, S, K>(
    source: &mut S,
    max_bytes: usize,
    sink: &mut K,
    mut call: impl FnMut(&mut GroupBatch) -> Result<Flat, E>,
) -> Result<(), CombineError<E>>
where
    S: GroupSource + ?Sized,
    K: PairSink + ?Sized,
{
    let max_bytes = max_bytes.max(1);
    let mut batch = GroupBatch::default();
    // The combined pairs of a group cut at the end of the last batch: they sort together with
    // the next batch's pairs for the same key.
    let mut carry: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut cut = false;
    loop {
        batch.clear();
        if cut {
            // Resume the cut group, unless it turns out to have ended exactly at the cut.
            let key = source.key().to_vec();
            let before = batch.values.len();
            cut = fill_group(source, &mut batch, max_bytes);
            if batch.values.len() > before {
                batch.keys.push(&key);
                batch.group_ends.push(batch.values.len() as u32);
            }
        }
        while !cut && batch.bytes() < max_bytes && source.next_group() {
            batch.keys.push(source.key());
            cut = fill_group(source, &mut batch, max_bytes);
            batch.group_ends.push(batch.values.len() as u32);
        }
        source.check().map_err(CombineError::Io)?;
        if batch.is_empty() {
            break;
        }
        let pairs = call(&mut batch).map_err(CombineError::Call)?;
        check_combined(&batch.keys, &pairs)?;
        let mut out = std::mem::take(&mut carry);
        for i in 0..pairs.len() / 2 {
            out.push((pairs.get(2 * i).to_vec(), pairs.get(2 * i + 1).to_vec()));
        }
        out.sort_unstable();
        if cut {
            let last = batch.keys.get(batch.keys.len() - 1);
            let keep = out.partition_point(|(k, _)| k.as_slice() < last);
            carry = out.split_off(keep);
        }
        for (k, v) in &out {
            sink.push_pair(k, v).map_err(CombineError::Io)?;
        }
    }
    for (k, v) in &carry {
        sink.push_pair(k, v).map_err(CombineError::Io)?;
    }
    Ok(())
}

/// Checks what a combiner returned for a batch whose groups have `keys` (ascending): the pairs
/// come group by group, in the batch's order, each under its own group's key, and every group
/// keeps at least one pair. A combiner that filed one group's values under another group's key
/// would silently change the job's output; so does one that drops a group.
///
/// # Errors
/// [`CombineError::ForeignKey`] for a key not in the batch, [`CombineError::OutOfOrder`] for a
/// key that comes after a later group's pairs, [`CombineError::MissingGroup`] for a group
/// without a pair.
pub fn check_combined<E>(keys: &Flat, pairs: &Flat) -> Result<(), CombineError<E>> {
    use std::cmp::Ordering;
    // Group `g` is the one the pairs are at; `covered` says whether it has a pair yet.
    let (mut g, mut covered) = (0, false);
    for i in 0..pairs.len() / 2 {
        let key = pairs.get(2 * i);
        loop {
            if g == keys.len() {
                return Err(CombineError::ForeignKey(key.to_vec()));
            }
            match keys.get(g).cmp(key) {
                Ordering::Equal => break,
                Ordering::Less if !covered => {
                    // Past group `g` without a pair for it: its values went elsewhere.
                    return Err(if contains_sorted(keys, key) {
                        CombineError::MissingGroup(keys.get(g).to_vec())
                    } else {
                        CombineError::ForeignKey(key.to_vec())
                    });
                }
                Ordering::Less => (g, covered) = (g + 1, false),
                Ordering::Greater if contains_sorted(keys, key) => {
                    return Err(CombineError::OutOfOrder(key.to_vec()));
                }
                Ordering::Greater => return Err(CombineError::ForeignKey(key.to_vec())),
            }
        }
        covered = true;
    }
    match (g, covered) {
        (g, true) if g + 1 < keys.len() => {
            Err(CombineError::MissingGroup(keys.get(g + 1).to_vec()))
        }
        (g, false) if g < keys.len() => Err(CombineError::MissingGroup(keys.get(g).to_vec())),
        _ => Ok(()),
    }
}

/// Whether `items` (sorted ascending) holds `item`.
fn contains_sorted(items: &Flat, item: &[u8]) -> bool {
    let (mut lo, mut hi) = (0, items.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match items.get(mid).cmp(item) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shuffle::{Merger, Run};

    fn source(pairs: &[(&[u8], &[u8])]) -> Merger {
        let mut run = Run::new();
        for (k, v) in pairs {
            run.push(k, v);
        }
        Merger::from_runs(vec![run])
    }

    #[test]
    fn batches_are_bounded_and_a_big_group_continues_through_the_feed() {
        let values: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 10]).collect();
        let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"1")];
        pairs.extend(values.iter().map(|v| (&b"big"[..], v.as_slice())));
        pairs.push((b"c", b"3"));
        let mut batcher = GroupBatcher::new(source(&pairs), 64);
        let mut batch = GroupBatch::default();

        assert!(batcher.fill(&mut batch).unwrap());
        assert_eq!(batch.keys.iter().collect::<Vec<_>>(), [&b"a"[..], b"big"]);
        assert!(batch.last_continues);
        let in_batch = batch.values.len() - 1;
        assert!(batch.bytes() < 64 + 10, "{}", batch.bytes());
        // The plugin pulls the rest of "big" in bounded chunks.
        let mut feed = batcher
            .feed(&batch)
            .expect("a feed for the continuing group");
        let mut pulled = 0;
        while let Some(chunk) = feed.next_chunk() {
            assert!(chunk.data.len() < 64 + 10);
            assert!(chunk.iter().all(|v| v.len() == 10));
            pulled += chunk.len();
        }
        assert_eq!(in_batch + pulled, 100);
        drop(feed);

        assert!(batcher.fill(&mut batch).unwrap());
        assert_eq!(batch.keys.iter().collect::<Vec<_>>(), [&b"c"[..]]);
        assert!(!batch.last_continues && batcher.feed(&batch).is_none());
        assert!(!batcher.fill(&mut batch).unwrap());
    }

    #[test]
    fn unread_values_of_a_continuing_group_are_skipped() {
        let values: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 10]).collect();
        let mut pairs: Vec<(&[u8], &[u8])> =
            values.iter().map(|v| (&b"k"[..], v.as_slice())).collect();
        pairs.push((b"z", b"last"));
        let mut batcher = GroupBatcher::new(source(&pairs), 32);
        let mut batch = GroupBatch::default();
        assert!(batcher.fill(&mut batch).unwrap() && batch.last_continues);
        assert!(batcher.fill(&mut batch).unwrap());
        assert_eq!(batch.keys.get(0), b"z");
        assert_eq!(batch.values.get(0), b"last");
    }

    /// A "combiner" that sums one-byte values per group, as two partial sums whose larger
    /// comes first, so the sorting of values has something to do.
    fn sum_bytes(batch: &mut GroupBatch) -> Result<Flat, ()> {
        let mut out = Flat::default();
        for g in 0..batch.len() {
            let start = if g == 0 {
                0
            } else {
                batch.group_ends[g - 1] as usize
            };
            let end = batch.group_ends[g] as usize;
            let sum: u32 = (start..end)
                .map(|v| u32::from(batch.values.get(v)[0]))
                .sum();
            let half = sum / 2;
            for part in [sum - half, half].into_iter().filter(|&p| p > 0) {
                out.push(batch.keys.get(g));
                out.push(&part.to_be_bytes());
            }
        }
        Ok(out)
    }

    #[test]
    fn combining_in_batches_cuts_big_groups_and_keeps_the_output_sorted() {
        let ones = [[1u8]; 100];
        let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"a", &[5])];
        pairs.extend(ones.iter().map(|v| (&b"big"[..], &v[..])));
        pairs.push((b"c", &[7]));
        for max_bytes in [1, 2, 10, 64, 1 << 20] {
            let mut run = Run::new();
            combine_with_batches(&mut source(&pairs), max_bytes, &mut run, sum_bytes).unwrap();
            let got: Vec<(Vec<u8>, u32)> = run
                .iter()
                .map(|(k, v)| (k.to_vec(), u32::from_be_bytes(v.try_into().unwrap())))
                .collect();
            // Every key's partial sums add up, and the run is sorted by key, then value.
            let total = |key: &[u8]| got.iter().filter(|(k, _)| k == key).map(|(_, v)| v).sum();
            assert_eq!(
                (total(b"a"), total(b"big"), total(b"c")),
                (5, 100, 7),
                "{max_bytes}"
            );
            let mut sorted = got.clone();
            sorted.sort_by(|a, b| (&a.0, a.1.to_be_bytes()).cmp(&(&b.0, b.1.to_be_bytes())));
            assert_eq!(got, sorted, "{max_bytes}");
            if max_bytes >= 1 << 20 {
                assert_eq!(
                    got.len(),
                    6,
                    "one call combines everything, two parts per key"
                );
            }
        }
    }

    #[test]
    fn a_combiner_may_not_invent_keys() {
        let mut run = Run::new();
        let err = combine_with_batches(&mut source(&[(b"a", b"1")]), 64, &mut run, |_| {
            let mut out = Flat::default();
            out.push(b"not-a");
            out.push(b"1");
            Ok::<_, ()>(out)
        })
        .unwrap_err();
        assert!(matches!(err, CombineError::ForeignKey(k) if k == b"not-a"));
    }

    fn flat(items: &[&[u8]]) -> Flat {
        let mut f = Flat::default();
        items.iter().for_each(|i| f.push(i));
        f
    }

    /// Pairs with these keys (values do not matter to the check).
    fn pairs_with(keys: &[&[u8]]) -> Flat {
        let mut f = Flat::default();
        for k in keys {
            f.push(k);
            f.push(b"v");
        }
        f
    }

    #[test]
    fn combined_pairs_must_come_group_by_group_under_their_own_keys() {
        let keys = flat(&[b"a", b"b", b"c"]);
        let check = |pairs: &[&[u8]]| check_combined::<()>(&keys, &pairs_with(pairs));
        for good in [
            &[&b"a"[..], b"b", b"c"][..],
            &[b"a", b"a", b"b", b"c", b"c"],
            &[b"a", b"b", b"b", b"b", b"c"],
        ] {
            assert!(check(good).is_ok(), "{good:?}");
        }
        let shown = |e: CombineError<()>| match e {
            CombineError::MissingGroup(k) => ("missing", k),
            CombineError::OutOfOrder(k) => ("out of order", k),
            CombineError::ForeignKey(k) => ("foreign", k),
            other => panic!("{other:?}"),
        };
        /// The pairs' keys, and the error they must give: its kind and key.
        type Case<'a> = (&'a [&'a [u8]], &'a str, &'a [u8]);
        let cases: [Case<'_>; 9] = [
            // "a"'s values filed under "b": "a" vanishes.
            (&[b"b", b"b", b"c"], "missing", b"a"),
            // A dropped group, in the middle, at the end, or all of them.
            (&[b"a", b"c"], "missing", b"b"),
            (&[b"a", b"b"], "missing", b"c"),
            (&[b"a"], "missing", b"b"),
            (&[], "missing", b"a"),
            // "c"'s values filed under "a", after "b"'s.
            (&[b"a", b"b", b"a"], "out of order", b"a"),
            (&[b"a", b"b", b"c", b"d"], "foreign", b"d"),
            (&[b"0", b"a", b"b", b"c"], "foreign", b"0"),
            (&[b"a", b"bb", b"c"], "foreign", b"bb"),
        ];
        for (pairs, kind, key) in cases {
            let err = check(pairs).expect_err(&format!("{pairs:?}"));
            assert_eq!(shown(err), (kind, key.to_vec()), "{pairs:?}");
        }
        assert!(check_combined::<()>(&Flat::default(), &Flat::default()).is_ok());
    }

    #[test]
    fn a_combiner_may_not_move_values_to_another_group() {
        // Each call files the first group's values under the second group's key.
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"a", &[1]), (b"b", &[2]), (b"c", &[3])];
        let mut run = Run::new();
        let err = combine_with_batches(&mut source(&pairs), 1 << 20, &mut run, |batch| {
            let mut out = Flat::default();
            out.push(batch.keys.get(1));
            out.push(&[1]);
            for g in 1..batch.len() {
                out.push(batch.keys.get(g));
                out.push(&[1]);
            }
            Ok::<_, ()>(out)
        })
        .unwrap_err();
        assert!(matches!(err, CombineError::MissingGroup(k) if k == b"a"));
    }

    proptest::proptest! {
        /// A combiner that emits one or more pairs per group, group by group under each group's
        /// own key, passes; one that then drops a group, moves its pairs to another group's key
        /// or after a later group's, or invents a key, fails.
        #[test]
        fn honest_combiners_pass_and_any_moved_group_fails(
            groups in proptest::collection::btree_map(
                proptest::collection::vec(0u8..4, 0..3),
                1usize..4,
                1..12,
            ),
            mutation in 0usize..4,
            victim in 0usize..100,
        ) {
            let keys: Vec<&[u8]> = groups.keys().map(Vec::as_slice).collect();
            let batch = flat(&keys);
            let mut honest: Vec<&[u8]> = Vec::new();
            for (k, n) in &groups {
                honest.extend(std::iter::repeat_n(k.as_slice(), *n));
            }
            proptest::prop_assert!(check_combined::<()>(&batch, &pairs_with(&honest)).is_ok());

            let g = victim % keys.len();
            let mut broken: Vec<&[u8]> = honest.clone();
            match mutation {
                // Drop the group.
                0 => broken.retain(|k| *k != keys[g]),
                // File its values under the next (or previous) group's key.
                1 if keys.len() > 1 => {
                    let other = if g + 1 < keys.len() { keys[g + 1] } else { keys[g - 1] };
                    broken.iter_mut().filter(|k| **k == keys[g]).for_each(|k| *k = other);
                    broken.sort();
                }
                // Emit its pairs last, after every other group's.
                2 if keys.len() > 1 && g + 1 < keys.len() => {
                    let (mine, rest): (Vec<&[u8]>, Vec<&[u8]>) =
                        broken.iter().partition(|k| **k == keys[g]);
                    broken = rest;
                    broken.extend(mine);
                }
                // Invent a key.
                _ => broken.insert(victim % (broken.len() + 1), b"\xff\xff\xff"),
            }
            proptest::prop_assert!(check_combined::<()>(&batch, &pairs_with(&broken)).is_err());
        }
    }
}
