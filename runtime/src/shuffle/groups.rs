//! Cutting a stream of key groups into batches for the plugin, bounded in bytes.
//!
//! A group larger than a batch is cut: the batch says its last group continues, and the plugin
//! pulls the rest through a [`ValueFeed`] that reads the same source, chunk by chunk. So one
//! key with a hundred million values streams through without being held whole anywhere.

use super::merge::{GroupSource, Run};
use crate::batch::{Flat, GroupBatch, ValueFeed};
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
    pub fn fill(&mut self, batch: &mut GroupBatch) -> bool {
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
        !batch.is_empty()
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

/// Why combining through batched calls failed.
#[derive(Debug)]
pub enum CombineError<E> {
    /// The call failed.
    Call(E),
    /// The combiner emitted a key that was not in its batch.
    ForeignKey(Vec<u8>),
}

/// Combines the groups of `source` by calling `call` on batches of them, and sorts what each
/// call returns (pairs whose keys must come from its batch) into a new run.
///
/// # Errors
/// The first failed call, or a pair whose key was not in the batch.
pub fn combine_with_batches<S, E>(
    source: S,
    max_bytes: usize,
    mut call: impl FnMut(&mut GroupBatch, Option<Box<dyn ValueFeed>>) -> Result<Flat, E>,
) -> Result<Run, CombineError<E>>
where
    S: GroupSource + Send + 'static,
{
    let mut batcher = GroupBatcher::new(source, max_bytes);
    let mut batch = GroupBatch::default();
    let mut run = Run::new();
    let mut order: Vec<usize> = Vec::new();
    while batcher.fill(&mut batch) {
        let feed = batcher.feed(&batch);
        let pairs = call(&mut batch, feed).map_err(CombineError::Call)?;
        let n = pairs.len() / 2;
        for i in 0..n {
            let key = pairs.get(2 * i);
            if !contains_sorted(&batch.keys, key) {
                return Err(CombineError::ForeignKey(key.to_vec()));
            }
        }
        order.clear();
        order.extend(0..n);
        order.sort_by(|&a, &b| {
            (pairs.get(2 * a), pairs.get(2 * a + 1)).cmp(&(pairs.get(2 * b), pairs.get(2 * b + 1)))
        });
        for &i in &order {
            run.push(pairs.get(2 * i), pairs.get(2 * i + 1));
        }
    }
    Ok(run)
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
    use crate::shuffle::Merger;

    fn source(pairs: &[(&[u8], &[u8])]) -> Merger {
        let mut run = Run::new();
        for (k, v) in pairs {
            run.push(k, v);
        }
        Merger::new(vec![run])
    }

    #[test]
    fn batches_are_bounded_and_a_big_group_continues_through_the_feed() {
        let values: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 10]).collect();
        let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"1")];
        pairs.extend(values.iter().map(|v| (&b"big"[..], v.as_slice())));
        pairs.push((b"c", b"3"));
        let mut batcher = GroupBatcher::new(source(&pairs), 64);
        let mut batch = GroupBatch::default();

        assert!(batcher.fill(&mut batch));
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

        assert!(batcher.fill(&mut batch));
        assert_eq!(batch.keys.iter().collect::<Vec<_>>(), [&b"c"[..]]);
        assert!(!batch.last_continues && batcher.feed(&batch).is_none());
        assert!(!batcher.fill(&mut batch));
    }

    #[test]
    fn unread_values_of_a_continuing_group_are_skipped() {
        let values: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 10]).collect();
        let mut pairs: Vec<(&[u8], &[u8])> =
            values.iter().map(|v| (&b"k"[..], v.as_slice())).collect();
        pairs.push((b"z", b"last"));
        let mut batcher = GroupBatcher::new(source(&pairs), 32);
        let mut batch = GroupBatch::default();
        assert!(batcher.fill(&mut batch) && batch.last_continues);
        assert!(batcher.fill(&mut batch));
        assert_eq!(batch.keys.get(0), b"z");
        assert_eq!(batch.values.get(0), b"last");
    }

    #[test]
    fn combining_sorts_each_calls_output_and_rejects_foreign_keys() {
        let src = source(&[(b"a", b"1"), (b"a", b"2"), (b"b", b"5")]);
        // A "combiner" that emits each group's values reversed plus a count.
        let run = combine_with_batches(src, 1 << 20, |batch, _| -> Result<Flat, ()> {
            let mut out = Flat::default();
            for g in 0..batch.len() {
                let start = if g == 0 {
                    0
                } else {
                    batch.group_ends[g - 1] as usize
                };
                let end = batch.group_ends[g] as usize;
                for v in (start..end).rev() {
                    out.push(batch.keys.get(g));
                    out.push(batch.values.get(v));
                }
            }
            Ok(out)
        })
        .unwrap();
        let got: Vec<_> = run.iter().collect();
        assert_eq!(got, [(&b"a"[..], &b"1"[..]), (b"a", b"2"), (b"b", b"5")]);

        let src = source(&[(b"a", b"1")]);
        let err = combine_with_batches(src, 1 << 20, |_, _| -> Result<Flat, ()> {
            let mut out = Flat::default();
            out.push(b"not-a");
            out.push(b"1");
            Ok(out)
        })
        .unwrap_err();
        assert!(matches!(err, CombineError::ForeignKey(k) if k == b"not-a"));
    }
}
