//! A k-way merge over sorted runs ([`Run`]s in memory or run files), read group by group, and
//! the native value merges.
//!
//! ```text
//!  run 0: (a,1) (b,1) (b,2)      ┐
//!  run 1: (a,1) (c,5)            ├─► merge ─► group a: 1 1 │ group b: 1 2 │ group c: 5
//!  run 2: (b,0)                  ┘            (keys ascending, values ascending within a key)
//! ```

use super::order::PairPrefix;
use super::policy::MergePolicy;
use super::run::{PairSink, Run};
use super::spill::RunReader;
use std::io;

/// A sorted stream of pairs read one key group at a time.
pub trait GroupSource {
    /// Moves to the next key (skipping what is left of the current group); `false` at the end.
    fn next_group(&mut self) -> bool;
    /// The current group's key.
    fn key(&self) -> &[u8];
    /// The current group's next value, or `None` when the group has no more.
    fn next_value(&mut self) -> Option<&[u8]>;
    /// Whether reading failed: a source that cannot read ends early and says so here, so
    /// check it whenever the stream ends.
    ///
    /// # Errors
    /// The first read error.
    fn check(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every group of `source` as (key, values), for tests.
#[cfg(test)]
pub(crate) fn collect_groups(source: &mut impl GroupSource) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut groups = Vec::new();
    while source.next_group() {
        let key = source.key().to_vec();
        let mut values = Vec::new();
        while let Some(v) = source.next_value() {
            values.push(v.to_vec());
        }
        groups.push((key, values));
    }
    groups
}

/// One sorted run being read: in memory or from a run file.
#[derive(Debug)]
pub enum RunCursor {
    /// A run in memory (shared, so a retried task can read it again) and its next pair.
    Memory {
        /// The run.
        run: std::sync::Arc<Run>,
        /// Its next pair.
        next: usize,
    },
    /// A segment of a run file.
    Disk(RunReader),
}

impl RunCursor {
    /// Reads `run` from its first pair.
    pub fn memory(run: impl Into<std::sync::Arc<Run>>) -> Self {
        RunCursor::Memory {
            run: run.into(),
            next: 0,
        }
    }

    fn head(&self) -> Option<(&[u8], &[u8])> {
        match self {
            RunCursor::Memory { run, next } => (*next < run.len()).then(|| run.pair(*next)),
            RunCursor::Disk(reader) => reader.head(),
        }
    }

    fn advance(&mut self) -> io::Result<()> {
        match self {
            RunCursor::Memory { next, .. } => {
                *next += 1;
                Ok(())
            }
            RunCursor::Disk(reader) => reader.advance(),
        }
    }
}

/// A k-way merge of sorted runs, read as groups.
#[derive(Debug)]
pub struct Merger {
    runs: Vec<RunCursor>,
    /// Each run's head pair's prefix, which orders most heads without reading their bytes.
    heads: Vec<PairPrefix>,
    /// A binary min-heap of the runs that have pairs left, ordered by their head pair.
    heap: Vec<usize>,
    /// The run whose head was handed out by `next_value` and must advance before the next read.
    pending: Option<usize>,
    key: Vec<u8>,
    in_group: bool,
    /// The first read error; the merge stops there.
    error: Option<io::Error>,
}

impl Merger {
    /// Merges `runs` (each sorted by key, then value).
    pub fn new(runs: Vec<RunCursor>) -> Self {
        let heap = (0..runs.len())
            .filter(|&r| runs[r].head().is_some())
            .collect();
        let heads = runs
            .iter()
            .map(|r| {
                r.head()
                    .map_or_else(PairPrefix::default, |(k, v)| PairPrefix::of(k, v))
            })
            .collect();
        let mut merger = Self {
            runs,
            heads,
            heap,
            pending: None,
            key: Vec::new(),
            in_group: false,
            error: None,
        };
        for i in (0..merger.heap.len() / 2).rev() {
            merger.sift_down(i);
        }
        merger
    }

    /// Merges runs held in memory.
    pub fn from_runs(runs: Vec<Run>) -> Self {
        Self::new(runs.into_iter().map(RunCursor::memory).collect())
    }

    fn head(&self, run: usize) -> (&[u8], &[u8]) {
        self.runs[run].head().expect("runs in the heap have a head")
    }

    /// Whether run `a`'s head sorts before run `b`'s (ties broken by run index, so the merge
    /// is deterministic).
    fn less(&self, a: usize, b: usize) -> bool {
        self.heads[a]
            .cmp_pairs(
                &self.heads[b],
                || self.head(a).0.cmp(self.head(b).0),
                || self.head(a).1.cmp(self.head(b).1),
            )
            .then(a.cmp(&b))
            .is_lt()
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[min]) {
                min = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[min]) {
                min = r;
            }
            if min == i {
                return;
            }
            self.heap.swap(i, min);
            i = min;
        }
    }

    /// Advances the run whose head was last handed out (always the heap's top).
    fn advance_pending(&mut self) {
        if let Some(run) = self.pending.take() {
            let advanced = self.runs[run].advance();
            let exhausted = match advanced {
                Ok(()) => match self.runs[run].head() {
                    Some((key, value)) => {
                        self.heads[run] = PairPrefix::of(key, value);
                        false
                    }
                    None => true,
                },
                Err(e) => {
                    self.error.get_or_insert(e);
                    self.heap.clear();
                    return;
                }
            };
            if exhausted {
                let last = self.heap.pop().expect("the pending run is in the heap");
                if !self.heap.is_empty() {
                    self.heap[0] = last;
                }
            }
            if !self.heap.is_empty() {
                self.sift_down(0);
            }
        }
    }
}

impl GroupSource for Merger {
    fn next_group(&mut self) -> bool {
        if self.in_group {
            while self.next_value().is_some() {}
        }
        self.advance_pending();
        match self.heap.first() {
            None => {
                self.in_group = false;
                false
            }
            Some(&top) => {
                let (key, _) = self.runs[top].head().expect("runs in the heap have a head");
                self.key.clear();
                self.key.extend_from_slice(key);
                self.in_group = true;
                true
            }
        }
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn next_value(&mut self) -> Option<&[u8]> {
        if !self.in_group {
            return None;
        }
        self.advance_pending();
        let top = *self.heap.first()?;
        let (key, value) = self.runs[top].head().expect("runs in the heap have a head");
        if key != self.key.as_slice() {
            return None;
        }
        self.pending = Some(top);
        Some(value)
    }

    fn check(&mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Why a native merge could not combine a key's values: the plugin declared a merge its
/// values do not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {policy:?} merge needs {need}, but got a value of {got} bytes")]
pub struct MergeError {
    policy: MergePolicy,
    need: &'static str,
    got: usize,
}

/// Order-preserving `i64`: big-endian with the sign bit flipped (the SDK's `codec::i64_key`).
fn decode_i64(lane: &[u8]) -> i64 {
    (u64::from_be_bytes(lane.try_into().expect("8 bytes")) ^ (1 << 63)) as i64
}

fn encode_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// A native merge in progress over one key's values, fed in byte order.
#[derive(Debug)]
pub struct Accumulator {
    policy: MergePolicy,
    /// For `Sum` and `Count`: the running lanes.
    lanes: Vec<i64>,
    /// For the others: the value so far.
    bytes: Vec<u8>,
    seen: bool,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new(policy: MergePolicy) -> Self {
        Self {
            policy,
            lanes: Vec::new(),
            bytes: Vec::new(),
            seen: false,
        }
    }

    /// Adds the next value.
    ///
    /// # Errors
    /// If the value does not fit the policy (a `sum` value whose length is not a multiple of
    /// 8, or lengths that differ).
    pub fn add(&mut self, v: &[u8]) -> Result<(), MergeError> {
        let policy = self.policy;
        match policy {
            MergePolicy::Sum | MergePolicy::Count => {
                let (need, fits) = match policy {
                    MergePolicy::Count => ("one 8-byte count", v.len() == 8),
                    _ => (
                        "8-byte lanes of equal count",
                        v.len().is_multiple_of(8) && !v.is_empty(),
                    ),
                };
                if !fits || (self.seen && v.len() != self.lanes.len() * 8) {
                    return Err(MergeError {
                        policy,
                        need,
                        got: v.len(),
                    });
                }
                if self.seen {
                    for (lane, chunk) in self.lanes.iter_mut().zip(v.chunks_exact(8)) {
                        *lane = lane.wrapping_add(decode_i64(chunk));
                    }
                } else {
                    self.lanes.extend(v.chunks_exact(8).map(decode_i64));
                }
            }
            // Values arrive in byte order: the first is the smallest, the last the largest.
            MergePolicy::Min | MergePolicy::First => {
                if !self.seen {
                    self.bytes.extend_from_slice(v);
                }
            }
            MergePolicy::Max | MergePolicy::Last => {
                self.bytes.clear();
                self.bytes.extend_from_slice(v);
            }
            MergePolicy::Append => self.bytes.extend_from_slice(v),
        }
        self.seen = true;
        Ok(())
    }

    /// Writes the merged value to `out` and empties the accumulator for the next key.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.policy {
            MergePolicy::Sum | MergePolicy::Count => {
                out.extend(self.lanes.iter().flat_map(|&lane| encode_i64(lane)))
            }
            _ => out.extend_from_slice(&self.bytes),
        }
        self.lanes.clear();
        self.bytes.clear();
        self.seen = false;
    }
}

/// Why combining a stream of groups failed.
#[derive(Debug)]
pub enum CombineError<E> {
    /// A value did not fit the native merge; the key it belonged to.
    Merge(Vec<u8>, MergeError),
    /// Reading the source or writing the sink failed.
    Io(io::Error),
    /// The plugin's combine call failed.
    Call(E),
    /// The plugin's combiner emitted a key that was not in its batch.
    ForeignKey(Vec<u8>),
    /// The plugin's combiner emitted this key of its batch after pairs of a later group.
    OutOfOrder(Vec<u8>),
    /// The plugin's combiner returned no pair for the group with this key (it dropped the
    /// group, or filed its values under another group's key).
    MissingGroup(Vec<u8>),
}

/// Copies every pair of `source` to `sink`.
///
/// # Errors
/// If reading or writing fails.
pub fn copy_groups<S, K>(source: &mut S, sink: &mut K) -> io::Result<()>
where
    S: GroupSource + ?Sized,
    K: PairSink + ?Sized,
{
    let mut key = Vec::new();
    while source.next_group() {
        key.clear();
        key.extend_from_slice(source.key());
        while let Some(v) = source.next_value() {
            sink.push_pair(&key, v)?;
        }
    }
    source.check()
}

/// An appended value is written in pieces of about this size. Combining may run on any subset
/// of a key's values, so several pieces are as correct as one; one value for a key with a
/// hundred million values would be held whole, in memory, outside the job's memory budget.
pub const MAX_MERGED_VALUE: usize = 1 << 20;

/// Combines every group of `source` with a native merge, writing one pair per key to `sink`
/// (several for an `append` that grows past [`MAX_MERGED_VALUE`]).
///
/// # Errors
/// The first value that does not fit the policy (with its key), or a read or write error.
pub fn merge_groups<E, S, K>(
    source: &mut S,
    policy: MergePolicy,
    sink: &mut K,
) -> Result<(), CombineError<E>>
where
    S: GroupSource + ?Sized,
    K: PairSink + ?Sized,
{
    let mut acc = Accumulator::new(policy);
    let mut value = Vec::new();
    while source.next_group() {
        let mut pending = false;
        while let Some(v) = source.next_value() {
            if let Err(e) = acc.add(v) {
                return Err(CombineError::Merge(source.key().to_vec(), e));
            }
            pending = true;
            if acc.bytes.len() >= MAX_MERGED_VALUE {
                value.clear();
                acc.finish(&mut value);
                sink.push_pair(source.key(), &value)
                    .map_err(CombineError::Io)?;
                pending = false;
            }
        }
        if pending {
            value.clear();
            acc.finish(&mut value);
            sink.push_pair(source.key(), &value)
                .map_err(CombineError::Io)?;
        }
    }
    source.check().map_err(CombineError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shuffle::order::sharing_heads;

    pub(crate) fn run(pairs: &[(&str, &str)]) -> Run {
        let mut sorted = pairs.to_vec();
        sorted.sort();
        let mut run = Run::new();
        for (k, v) in sorted {
            run.push(k.as_bytes(), v.as_bytes());
        }
        run
    }

    fn groups(source: &mut impl GroupSource) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        while source.next_group() {
            let key = String::from_utf8(source.key().to_vec()).unwrap();
            let mut values = Vec::new();
            while let Some(v) = source.next_value() {
                values.push(String::from_utf8(v.to_vec()).unwrap());
            }
            out.push((key, values));
        }
        out
    }

    #[test]
    fn merges_runs_into_groups_in_key_then_value_order() {
        let runs = vec![
            run(&[("a", "1"), ("b", "1"), ("b", "2")]),
            run(&[]),
            run(&[("a", "0"), ("c", "5")]),
            run(&[("b", "0"), ("", "empty key")]),
        ];
        let mut m = Merger::from_runs(runs);
        let want = [
            ("", vec!["empty key"]),
            ("a", vec!["0", "1"]),
            ("b", vec!["0", "1", "2"]),
            ("c", vec!["5"]),
        ];
        let want: Vec<(String, Vec<String>)> = want
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect();
        assert_eq!(groups(&mut m), want);
        assert!(!m.next_group());
        assert!(m.next_value().is_none());
    }

    #[test]
    fn next_group_skips_the_unread_rest_of_a_group() {
        let mut m = Merger::from_runs(vec![run(&[("a", "1"), ("a", "2"), ("b", "3")])]);
        assert!(m.next_group());
        assert_eq!(m.next_value(), Some(&b"1"[..]));
        assert!(m.next_group());
        assert_eq!(m.key(), b"b");
        assert_eq!(m.next_value(), Some(&b"3"[..]));
        assert_eq!(m.next_value(), None);
        assert!(!m.next_group());
    }

    #[test]
    fn native_merges() {
        let lanes = |v: &[i64]| v.iter().flat_map(|&x| encode_i64(x)).collect::<Vec<u8>>();
        let cases: Vec<(MergePolicy, Vec<Vec<u8>>, Vec<u8>)> = vec![
            (
                MergePolicy::Sum,
                vec![lanes(&[1, -5]), lanes(&[2, 3])],
                lanes(&[3, -2]),
            ),
            (
                MergePolicy::Count,
                vec![lanes(&[1]), lanes(&[1]), lanes(&[4])],
                lanes(&[6]),
            ),
            (
                MergePolicy::Min,
                vec![b"a".to_vec(), b"b".to_vec()],
                b"a".to_vec(),
            ),
            (
                MergePolicy::First,
                vec![b"a".to_vec(), b"b".to_vec()],
                b"a".to_vec(),
            ),
            (
                MergePolicy::Max,
                vec![b"a".to_vec(), b"b".to_vec()],
                b"b".to_vec(),
            ),
            (
                MergePolicy::Last,
                vec![b"a".to_vec(), b"b".to_vec()],
                b"b".to_vec(),
            ),
            (
                MergePolicy::Append,
                vec![b"a".to_vec(), b"bc".to_vec()],
                b"abc".to_vec(),
            ),
            (
                MergePolicy::Sum,
                vec![lanes(&[i64::MAX]), lanes(&[1])],
                lanes(&[i64::MIN]),
            ),
        ];
        for (policy, values, want) in cases {
            let mut acc = Accumulator::new(policy);
            for v in &values {
                acc.add(v).unwrap();
            }
            let mut out = Vec::new();
            acc.finish(&mut out);
            assert_eq!(out, want, "{policy:?}");
            // Finishing leaves it ready for the next key.
            acc.add(&values[0]).unwrap();
            out.clear();
            acc.finish(&mut out);
            assert_eq!(out, values[0], "{policy:?} reused");
        }
        let err = Accumulator::new(MergePolicy::Sum).add(b"abc").unwrap_err();
        assert!(err.to_string().contains("8-byte lanes"), "{err}");
        let mut acc = Accumulator::new(MergePolicy::Sum);
        acc.add(&lanes(&[1])).unwrap();
        assert!(acc.add(&lanes(&[1, 2])).is_err());
        assert!(
            Accumulator::new(MergePolicy::Count)
                .add(&lanes(&[1, 2]))
                .is_err()
        );

        let mut source = Merger::from_runs(vec![run(&[("a", "x"), ("a", "y"), ("b", "z")])]);
        let mut merged = Run::new();
        merge_groups::<(), _, _>(&mut source, MergePolicy::Append, &mut merged).unwrap();
        assert_eq!(
            merged.iter().collect::<Vec<_>>(),
            [(&b"a"[..], &b"xy"[..]), (b"b", b"z")]
        );
    }

    #[test]
    fn a_long_append_is_written_in_bounded_pieces_that_concatenate_to_the_whole() {
        let piece = vec![7u8; 300 << 10];
        let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"small")];
        pairs.extend(std::iter::repeat_n((&b"hot"[..], &piece[..]), 10));
        let mut sorted = Run::new();
        for (k, v) in &pairs {
            sorted.push(k, v);
        }
        let mut source = Merger::from_runs(vec![sorted]);
        let mut merged = Run::new();
        merge_groups::<(), _, _>(&mut source, MergePolicy::Append, &mut merged).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = merged
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        let hot: Vec<&Vec<u8>> = got
            .iter()
            .filter(|(k, _)| k == b"hot")
            .map(|(_, v)| v)
            .collect();
        // 3 MiB in pieces of 4 x 300 KiB (the first that passes 1 MiB), then the rest.
        assert_eq!(
            hot.len(),
            3,
            "{:?}",
            hot.iter().map(|v| v.len()).collect::<Vec<_>>()
        );
        assert!(hot.iter().all(|v| v.len() < MAX_MERGED_VALUE + piece.len()));
        assert_eq!(hot.iter().map(|v| v.len()).sum::<usize>(), 10 * piece.len());
        assert_eq!(got[0], (b"a".to_vec(), b"small".to_vec()));
    }

    proptest::proptest! {
        /// Merging sorted runs and reading them as groups gives exactly what sorting all
        /// pairs at once gives, grouped.
        #[test]
        fn merging_runs_equals_one_sort(
            runs in proptest::collection::vec(
                proptest::collection::vec(
                    (sharing_heads(&[0, 16], 4, 3), sharing_heads(&[0, 8], 3, 3)),
                    0..20,
                ),
                0..6,
            )
        ) {
            let mut all: Vec<(Vec<u8>, Vec<u8>)> = runs.iter().flatten().cloned().collect();
            all.sort();
            let mut want: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
            for (k, v) in all {
                match want.last_mut() {
                    Some((last, vs)) if *last == k => vs.push(v),
                    _ => want.push((k, vec![v])),
                }
            }
            let runs: Vec<Run> = runs
                .into_iter()
                .map(|mut pairs| {
                    pairs.sort();
                    let mut run = Run::new();
                    for (k, v) in &pairs {
                        run.push(k, v);
                    }
                    run
                })
                .collect();
            let got = collect_groups(&mut Merger::from_runs(runs));
            proptest::prop_assert_eq!(got, want);
        }
    }
}
