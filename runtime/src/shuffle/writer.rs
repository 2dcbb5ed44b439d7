//! One map task's output: buffered under a memory limit, sorted, combined and spilled when
//! full, and left at the end as one sorted run per partition, in memory if the budget allows,
//! otherwise in one run file merged from the spills (as in Spark's sort-based shuffle: one
//! data file per map task, not one file per reducer; where each partition's segment lies is
//! kept in memory and in the task's commit record, not in a file of its own). Runs kept in
//! memory are written to that run file too before the task commits ([`MapRuns::persist`]),
//! so that a resumed run finds every committed task's output; this process's reduce tasks
//! still read them from memory.
//!
//! ```text
//!  pairs ─► SortBuffer ──full──► sort ─► combine ─► spill-0 ┐
//!               │                               … spill-n ├─► merge ─► combine ─► map-N.data
//!               └──end, never spilled, fits the budget──► sort ─► combine ─► runs in memory
//!                                                          at commit: persist ─► map-N.data
//! ```

use super::aggregate::HashAggregator;
use super::buffer::SortBuffer;
use super::local::{MemoryBudget, ShuffleDir};
use super::merge::{GroupSource, MergeError, Merger, RunCursor, copy_groups};
use super::partition::Partitioner;
use super::policy::MergePolicy;
use super::run::{PairSink, Run};
use super::spill::{RunFile, RunFileWriter, RunReader, Segment};
use crate::task::PartitionId;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// How a map task's pairs are combined before they are written.
pub trait Combine {
    /// What a failed combine returns.
    type Error;
    /// Writes the groups of `source`, combined, to `sink`.
    ///
    /// # Errors
    /// The combiner's failure.
    fn combine(
        &mut self,
        source: &mut dyn GroupSource,
        sink: &mut dyn PairSink,
    ) -> Result<(), Self::Error>;
}

/// Why writing map output failed.
#[derive(Debug)]
pub enum WriteError<E> {
    /// A spill file could not be written or read.
    Io(io::Error),
    /// The combiner failed.
    Combine(E),
}

/// Where a map task's output is: one sorted run per partition.
#[derive(Debug)]
pub enum MapRuns {
    /// In memory; `held` bytes of the budget are reserved for them.
    Memory {
        /// One run per partition.
        runs: Vec<Run>,
        /// Bytes reserved from the budget.
        held: usize,
        /// Where [`MapRuns::persist`] writes them: the name a merged run file would have.
        path: PathBuf,
        /// The run file [`MapRuns::persist`] wrote, if it has; reduce tasks in this process
        /// still read the runs in memory.
        file: Option<RunFile>,
    },
    /// In a run file, one segment per partition.
    Disk(RunFile),
}

impl MapRuns {
    /// Makes the output durable before its task commits, so that a later run of the job can
    /// use it: runs kept in memory are written to a run file (the format of a spill, so that
    /// a reduce task reads either) and synced; they also stay in memory for this process's
    /// reduce tasks. Returns the file that holds the output.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn persist(&mut self) -> io::Result<RunFile> {
        match self {
            MapRuns::Disk(file)
            | MapRuns::Memory {
                file: Some(file), ..
            } => Ok(file.clone()),
            MapRuns::Memory {
                runs, path, file, ..
            } => {
                let mut sink = RunFileWriter::create(path)?;
                for run in runs.iter() {
                    for (key, value) in run.iter() {
                        sink.push_pair(key, value)?;
                    }
                    sink.finish_segment()?;
                }
                let written = sink.finish()?;
                *file = Some(written.clone());
                Ok(written)
            }
        }
    }

    /// Removes output that will not be used (a failed or verifying attempt's): its file and
    /// the attempt's directory, and its reservation of the memory budget.
    pub fn discard(&self, budget: &MemoryBudget) {
        let (file, dir) = match self {
            MapRuns::Disk(file) => (Some(file), file.path.parent()),
            MapRuns::Memory {
                held, path, file, ..
            } => {
                budget.release(*held);
                (file.as_ref(), path.parent())
            }
        };
        if let Some(file) = file {
            let _ = file.remove();
        }
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Hands out each partition's run, in partition order.
    pub fn into_sources(self) -> Vec<RunSource> {
        match self {
            MapRuns::Memory { runs, .. } => runs
                .into_iter()
                .map(|run| RunSource::Memory(Arc::new(run)))
                .collect(),
            MapRuns::Disk(file) => {
                let path = file.path;
                file.segments
                    .into_iter()
                    .map(|s| RunSource::Disk(path.clone(), s))
                    .collect()
            }
        }
    }
}

/// One partition's run of one map task, ready to be opened (as often as a reduce task is
/// attempted).
#[derive(Debug, Clone)]
pub enum RunSource {
    /// A run in memory.
    Memory(Arc<Run>),
    /// A segment of a run file.
    Disk(PathBuf, Segment),
}

impl RunSource {
    /// Opens the run for reading.
    ///
    /// # Errors
    /// If the run file cannot be read.
    pub fn open(&self) -> io::Result<RunCursor> {
        match self {
            RunSource::Memory(run) => Ok(RunCursor::memory(Arc::clone(run))),
            RunSource::Disk(path, segment) => RunReader::open(path, *segment).map(RunCursor::Disk),
        }
    }

    /// Pairs and bytes (uncompressed) in the run.
    pub fn size(&self) -> (u64, u64) {
        match self {
            RunSource::Memory(run) => (run.len() as u64, run.bytes() as u64),
            RunSource::Disk(_, segment) => (segment.pairs, segment.bytes),
        }
    }
}

/// What writing one map task's output did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteStats {
    /// Pairs pushed into each partition, before combining.
    pub emitted: Vec<u64>,
    /// Times the buffer was spilled.
    pub spills: u64,
    /// Bytes written to files (compressed).
    pub spilled_bytes: u64,
    /// Pairs in the final output.
    pub pairs: u64,
    /// Bytes of keys and values in the final output.
    pub bytes: u64,
    /// Whether combining was switched off because it did not shrink the data.
    pub combining_stopped: bool,
}

/// Pairs [`MapOutputWriter::push_batch`] hashes and prefetches at a time (16 was slower, 64
/// no faster).
const PUSH_BATCH: usize = 32;

/// Where pairs wait to be spilled.
#[derive(Debug)]
enum Buffer {
    /// Sorted when full, then combined (if at all) by the [`Combine`] given.
    Sort(SortBuffer),
    /// Combined as they arrive, by a native merge.
    Hash(HashAggregator),
}

/// Buffers, sorts, combines and spills one map task's output.
#[derive(Debug)]
pub struct MapOutputWriter<'a> {
    partitions: u32,
    dir: &'a ShuffleDir,
    budget: &'a MemoryBudget,
    /// Names this task's files: `<name>-spill-<n>.data`, `<name>.data`.
    name: String,
    buffer: Buffer,
    spills: Vec<RunFile>,
    /// Whether to call the combiner; switched off once it fails to shrink the data.
    combining: bool,
    /// Whether the output goes to a run file even if it fits in memory.
    on_disk: bool,
    stats: WriteStats,
}

impl<'a> MapOutputWriter<'a> {
    /// A writer for `partitions` partitions whose files are called `name…` in `dir`; it
    /// combines unless `combining` is false.
    pub fn new(
        partitions: u32,
        dir: &'a ShuffleDir,
        budget: &'a MemoryBudget,
        name: String,
        combining: bool,
    ) -> Self {
        Self {
            partitions,
            dir,
            budget,
            name,
            buffer: Buffer::Sort(SortBuffer::new(partitions, budget.sort_buffer())),
            spills: Vec::new(),
            combining,
            on_disk: false,
            stats: WriteStats {
                emitted: vec![0; partitions as usize],
                ..WriteStats::default()
            },
        }
    }

    /// Writes the output to a run file even when it would fit in memory, for a reader in
    /// another process.
    pub fn on_disk(mut self) -> Self {
        self.on_disk = true;
        self
    }

    /// Combines pairs as they arrive with the native merge `policy` instead of sorting them
    /// first, if the policy allows (its result must not depend on the order of values).
    pub fn with_hash_merge(mut self, policy: MergePolicy) -> Self {
        if self.combining && HashAggregator::supports(policy) {
            self.buffer = Buffer::Hash(HashAggregator::new(policy, self.budget.sort_buffer()));
        }
        self
    }

    /// Whether a pair of these sizes fits before the buffer must be spilled.
    pub fn has_room(&self, key: &[u8], value: &[u8]) -> bool {
        match &self.buffer {
            Buffer::Sort(buffer) => buffer.has_room(key, value),
            Buffer::Hash(agg) => agg.has_room(key, value),
        }
    }

    /// Adds a pair for the partition `partitioner` gives its key. Call
    /// [`MapOutputWriter::spill`] first when there is no room.
    ///
    /// # Errors
    /// With a hash merge, a value that does not fit the merge policy.
    pub fn push(
        &mut self,
        partitioner: &Partitioner,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), MergeError> {
        self.push_hashed(partitioner, key, value, None)
    }

    /// [`MapOutputWriter::push`], given the key's hash if a hash merge computed it.
    #[inline]
    fn push_hashed(
        &mut self,
        partitioner: &Partitioner,
        key: &[u8],
        value: &[u8],
        hash: Option<u64>,
    ) -> Result<(), MergeError> {
        let partition = match &mut self.buffer {
            Buffer::Sort(buffer) => {
                let partition = partitioner.partition(key);
                buffer.push(partition, key, value);
                partition
            }
            // Hashing merges most pairs into keys seen before: only new keys need a partition.
            Buffer::Hash(agg) => {
                let hash = hash.unwrap_or_else(|| agg.hash(key));
                agg.push_hashed(hash, key, value, || partitioner.partition(key))?
            }
        };
        if let Some(n) = self.stats.emitted.get_mut(partition.0 as usize) {
            *n += 1;
        }
        Ok(())
    }

    /// Adds the pairs `pair(0)` to `pair(n - 1)`, in order, exactly as a loop would that
    /// calls `spill` when [`MapOutputWriter::has_room`] says no, then
    /// [`MapOutputWriter::push`]: the same spills between the same pairs, and on a value that
    /// does not fit the merge, `bad_value` of that pair's key and the error, with the pairs
    /// before it pushed and none after.
    ///
    /// With a hash merge it goes [`PUSH_BATCH`] pairs at a time: hashes them and prefetches
    /// their index buckets, then the entries those name, then pushes them, so that the
    /// memory loads of a batch overlap instead of each push waiting for its own.
    ///
    /// # Errors
    /// The first error of `spill` or `bad_value`.
    pub fn push_batch<'p, E>(
        &mut self,
        partitioner: &Partitioner,
        n: usize,
        pair: impl Fn(usize) -> (&'p [u8], &'p [u8]),
        mut spill: impl FnMut(&mut Self) -> Result<(), E>,
        mut bad_value: impl FnMut(&[u8], MergeError) -> E,
    ) -> Result<(), E> {
        let mut hashes = [0u64; PUSH_BATCH];
        for start in (0..n).step_by(PUSH_BATCH) {
            let end = (start + PUSH_BATCH).min(n);
            let hashes = &mut hashes[..end - start];
            let hashed = match &self.buffer {
                Buffer::Hash(agg) => {
                    for (i, hash) in (start..end).zip(hashes.iter_mut()) {
                        *hash = agg.hash(pair(i).0);
                    }
                    agg.prefetch(hashes, false);
                    agg.prefetch(hashes, true);
                    true
                }
                Buffer::Sort(_) => false,
            };
            for (i, &hash) in (start..end).zip(hashes.iter()) {
                let (key, value) = pair(i);
                if !self.has_room(key, value) {
                    spill(self)?;
                }
                // A spill may have switched to sorting; the hash stays right for hashing (the
                // hasher is fixed).
                self.push_hashed(partitioner, key, value, hashed.then_some(hash))
                    .map_err(|err| bad_value(key, err))?;
            }
        }
        Ok(())
    }

    /// Writes every partition of the groups `source` gives, through the combiner, to `sink`.
    fn write_partitions<C: Combine, S: GroupSource>(
        &mut self,
        combiner: &mut C,
        sink: &mut RunFileWriter,
        mut source: impl FnMut(PartitionId) -> io::Result<S>,
    ) -> Result<(), WriteError<C::Error>> {
        for p in 0..self.partitions {
            let mut groups = source(PartitionId(p)).map_err(WriteError::Io)?;
            if self.combining {
                combiner
                    .combine(&mut groups, sink)
                    .map_err(WriteError::Combine)?;
            } else {
                copy_groups(&mut groups, sink).map_err(WriteError::Io)?;
            }
            sink.finish_segment().map_err(WriteError::Io)?;
        }
        Ok(())
    }

    /// Switches combining off if it kept more than 90% of the pairs.
    fn judge_combining(&mut self, pairs_in: u64, file: &RunFile) {
        let pairs_out: u64 = file.segments.iter().map(|s| s.pairs).sum();
        if self.combining && pairs_out * 10 > pairs_in * 9 {
            self.combining = false;
            self.stats.combining_stopped = true;
        }
    }

    /// Sorts, combines and writes the buffer to a new spill file, and empties it.
    ///
    /// # Errors
    /// If the spill file cannot be written, or the combiner fails.
    pub fn spill<C: Combine>(&mut self, combiner: &mut C) -> Result<(), WriteError<C::Error>> {
        let path = self
            .dir
            .file(&format!("{}-spill-{}.data", self.name, self.spills.len()));
        let mut sink = RunFileWriter::create(&path).map_err(WriteError::Io)?;
        let pairs_in = match &mut self.buffer {
            Buffer::Sort(buffer) => {
                let mut buffer = std::mem::replace(buffer, SortBuffer::new(self.partitions, 0));
                buffer.sort();
                let written = self.write_partitions(combiner, &mut sink, |p| Ok(buffer.groups(p)));
                let pairs_in = buffer.len() as u64;
                buffer.clear();
                self.buffer = Buffer::Sort(buffer);
                written?;
                pairs_in
            }
            Buffer::Hash(agg) => {
                let pairs_in = agg.pushed();
                write_entries(self.partitions, agg, &mut sink).map_err(WriteError::Io)?;
                pairs_in
            }
        };
        let file = sink.finish().map_err(WriteError::Io)?;
        self.judge_combining(pairs_in, &file);
        if !self.combining && matches!(self.buffer, Buffer::Hash(_)) {
            let limit = self.budget.sort_buffer();
            self.buffer = Buffer::Sort(SortBuffer::new(self.partitions, limit));
        }
        self.stats.spills += 1;
        self.stats.spilled_bytes += file.segments.iter().map(|s| s.len).sum::<u64>();
        self.spills.push(file);
        Ok(())
    }

    /// The task's output: in memory if it never spilled and the budget allows, otherwise one
    /// run file merged from the spills.
    ///
    /// # Errors
    /// If a file cannot be written or read, or the combiner fails.
    pub fn finish<C: Combine>(
        mut self,
        combiner: &mut C,
    ) -> Result<(MapRuns, WriteStats), WriteError<C::Error>> {
        if self.spills.is_empty()
            && !self.on_disk
            && let Some(runs) = self.finish_in_memory(combiner)?
        {
            return Ok((runs, std::mem::take(&mut self.stats)));
        }
        let empty = match &self.buffer {
            Buffer::Sort(buffer) => buffer.is_empty(),
            Buffer::Hash(agg) => agg.is_empty(),
        };
        if !empty || self.spills.is_empty() {
            self.spill(combiner)?;
        }
        self.buffer = Buffer::Sort(SortBuffer::new(self.partitions, 0));
        let file = if self.spills.len() == 1 {
            self.spills.pop().expect("one spill")
        } else {
            let spills = std::mem::take(&mut self.spills);
            let path = self.dir.file(&format!("{}.data", self.name));
            let mut sink = RunFileWriter::create(&path).map_err(WriteError::Io)?;
            self.write_partitions(combiner, &mut sink, |p| {
                let cursors = spills
                    .iter()
                    .map(|f| {
                        RunReader::open(&f.path, f.segments[p.0 as usize]).map(RunCursor::Disk)
                    })
                    .collect::<io::Result<Vec<_>>>()?;
                Ok(Merger::new(cursors))
            })?;
            let merged = sink.finish().map_err(WriteError::Io)?;
            let pairs_in = spills
                .iter()
                .flat_map(|f| &f.segments)
                .map(|s| s.pairs)
                .sum();
            self.judge_combining(pairs_in, &merged);
            self.stats.spilled_bytes += merged.segments.iter().map(|s| s.len).sum::<u64>();
            for spill in &spills {
                spill.remove().map_err(WriteError::Io)?;
            }
            merged
        };
        self.stats.pairs = file.segments.iter().map(|s| s.pairs).sum();
        self.stats.bytes = file.segments.iter().map(|s| s.bytes).sum();
        Ok((MapRuns::Disk(file), std::mem::take(&mut self.stats)))
    }

    /// Keeps the output of a task that never spilled in memory, if the budget has room.
    fn finish_in_memory<C: Combine>(
        &mut self,
        combiner: &mut C,
    ) -> Result<Option<MapRuns>, WriteError<C::Error>> {
        let mut runs: Vec<Run> = (0..self.partitions).map(|_| Run::new()).collect();
        let held = match &mut self.buffer {
            Buffer::Sort(buffer) => {
                let held = buffer.data_bytes() + buffer.len() * 8;
                if !self.budget.try_hold(held) {
                    return Ok(None);
                }
                buffer.sort();
                for (p, run) in runs.iter_mut().enumerate() {
                    let partition = PartitionId(p as u32);
                    if self.combining {
                        combiner
                            .combine(&mut buffer.groups(partition), run)
                            .map_err(WriteError::Combine)?;
                    } else {
                        buffer.copy_partition(partition, run);
                    }
                }
                held
            }
            Buffer::Hash(agg) => {
                let held = agg.bytes();
                if !self.budget.try_hold(held) {
                    return Ok(None);
                }
                let Ok(()) = agg.drain_sorted(|p, key, value| {
                    runs[p as usize].push(key, value);
                    Ok::<_, std::convert::Infallible>(())
                });
                held
            }
        };
        for run in &runs {
            self.stats.pairs += run.len() as u64;
            self.stats.bytes += run.bytes() as u64;
        }
        Ok(Some(MapRuns::Memory {
            runs,
            held,
            path: self.dir.file(&format!("{}.data", self.name)),
            file: None,
        }))
    }
}

impl Drop for MapOutputWriter<'_> {
    /// An unfinished writer (its task failed) removes its spill files.
    fn drop(&mut self) {
        for spill in &self.spills {
            let _ = spill.remove();
        }
    }
}

/// Drains the aggregator into `sink`, one segment per partition.
fn write_entries(
    partitions: u32,
    agg: &mut HashAggregator,
    sink: &mut RunFileWriter,
) -> io::Result<()> {
    // The entries come sorted by partition: close the segments of the partitions passed.
    let mut open = 0;
    agg.drain_sorted(|p, key, value| {
        while open < p {
            sink.finish_segment()?;
            open += 1;
        }
        sink.push_pair(key, value)
    })?;
    for _ in open..partitions {
        sink.finish_segment()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shuffle::MergePolicy;
    use crate::shuffle::{Partitioner, merge_groups};
    use proptest::prelude::*;

    /// A host native merge, as a combiner.
    struct Native(MergePolicy);

    impl Combine for Native {
        type Error = String;
        fn combine(
            &mut self,
            source: &mut dyn GroupSource,
            sink: &mut dyn PairSink,
        ) -> Result<(), String> {
            merge_groups::<(), _, _>(source, self.0, sink).map_err(|e| format!("{e:?}"))
        }
    }

    /// Each partition's pairs.
    type Partitions = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

    fn read(runs: MapRuns) -> Partitions {
        runs.into_sources()
            .into_iter()
            .map(|source| {
                let mut merger = Merger::new(vec![source.open().unwrap()]);
                let mut run = Run::new();
                copy_groups(&mut merger, &mut run).unwrap();
                run.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
            })
            .collect()
    }

    fn write(
        pairs: &[(Vec<u8>, Vec<u8>)],
        partitions: u32,
        memory: u64,
        combine: bool,
        hash: bool,
    ) -> (Partitions, WriteStats) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ShuffleDir::create(tmp.path()).unwrap();
        let budget = MemoryBudget::new(memory, 1);
        let partitioner = Partitioner::new(partitions, 7);
        let mut writer = MapOutputWriter::new(partitions, &dir, &budget, "map-0".into(), combine);
        if hash {
            writer = writer.with_hash_merge(MergePolicy::Sum);
        }
        for (k, v) in pairs {
            if !writer.has_room(k, v) {
                writer.spill(&mut Native(MergePolicy::Sum)).unwrap();
            }
            writer.push(&partitioner, k, v).unwrap();
        }
        let (mut runs, stats) = writer.finish(&mut Native(MergePolicy::Sum)).unwrap();
        // What a task commits for a resumed run: a run file holding the same pairs, wherever
        // the output was kept.
        let file = runs.persist().unwrap();
        let out = read(runs);
        assert_eq!(read(MapRuns::Disk(file)), out, "{stats:?}");
        // Spill files are gone; only the final output (if on disk) is left.
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(files <= 2, "{files} files left");
        (out, stats)
    }

    /// One in-memory sort of all pairs, per partition: the oracle.
    fn sorted(pairs: &[(Vec<u8>, Vec<u8>)], partitions: u32) -> Partitions {
        let partitioner = Partitioner::new(partitions, 7);
        let mut out = vec![Vec::new(); partitions as usize];
        for (k, v) in pairs {
            out[partitioner.partition(k).0 as usize].push((k.clone(), v.clone()));
        }
        for part in &mut out {
            part.sort();
        }
        out
    }

    fn count(n: i64) -> Vec<u8> {
        ((n as u64) ^ (1 << 63)).to_be_bytes().to_vec()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Spill + merge gives exactly what one in-memory sort gives, for random keys,
        /// values, memory budgets and partition counts.
        #[test]
        fn spill_and_merge_equal_one_sort(
            pairs in prop::collection::vec(
                (prop::collection::vec(0u8..6, 0..4), prop::collection::vec(any::<u8>(), 0..40)),
                0..400,
            ),
            partitions in 1u32..5,
            memory in prop_oneof![Just(64u64 << 10), 1u64 << 10..200 << 10, Just(1u64 << 30)],
        ) {
            let (got, stats) = write(&pairs, partitions, memory, false, false);
            prop_assert_eq!(got, sorted(&pairs, partitions), "{:?}", stats);
        }

        /// With a combiner, every key's values add up to the same totals however often the
        /// buffer spilled, and each partition stays sorted.
        #[test]
        fn combining_while_spilling_keeps_the_totals(
            keys in prop::collection::vec(prop::collection::vec(0u8..4, 0..3), 0..600),
            partitions in 1u32..4,
            memory in 1u64 << 10..100 << 10,
            hash in any::<bool>(),
        ) {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = keys.iter().map(|k| (k.clone(), count(1))).collect();
            let (got, _) = write(&pairs, partitions, memory, true, hash);
            let mut want = std::collections::BTreeMap::<Vec<u8>, i64>::new();
            for k in &keys {
                *want.entry(k.clone()).or_default() += 1;
            }
            let mut totals = std::collections::BTreeMap::<Vec<u8>, i64>::new();
            for part in &got {
                let mut sorted = part.clone();
                sorted.sort();
                prop_assert_eq!(&sorted, part);
                for (k, v) in part {
                    let n = (u64::from_be_bytes(v.as_slice().try_into().unwrap()) ^ (1 << 63)) as i64;
                    *totals.entry(k.clone()).or_default() += n;
                }
            }
            prop_assert_eq!(totals, want);
        }
    }

    /// What pushing pairs into a hash-merging writer did: the output and stats (if every
    /// pair fitted the merge), the number of pairs pushed before each spill, and the failing
    /// pair's key with the pairs pushed before it.
    type Pushed = (
        Option<(Partitions, WriteStats)>,
        Vec<u64>,
        Option<(Vec<u8>, u64)>,
    );

    /// Pushes `pairs` one by one (`batches` empty) or by [`MapOutputWriter::push_batch`] in
    /// batches of the sizes `batches` cycles through.
    fn push_all(
        pairs: &[(Vec<u8>, Vec<u8>)],
        policy: MergePolicy,
        memory: u64,
        batches: &[usize],
        weak_hash: bool,
    ) -> Pushed {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ShuffleDir::create(tmp.path()).unwrap();
        let budget = MemoryBudget::new(memory, 1);
        let partitioner = Partitioner::new(3, 7);
        let mut writer =
            MapOutputWriter::new(3, &dir, &budget, "map-0".into(), true).with_hash_merge(policy);
        if let Buffer::Hash(agg) = &mut writer.buffer {
            agg.weak_hash = weak_hash;
        }
        let pushed = |w: &MapOutputWriter<'_>| w.stats.emitted.iter().sum::<u64>();
        let mut spills = Vec::new();
        let mut result = Ok(());
        if batches.is_empty() {
            for (k, v) in pairs {
                if !writer.has_room(k, v) {
                    spills.push(pushed(&writer));
                    writer.spill(&mut Native(policy)).unwrap();
                }
                if let Err(err) = writer.push(&partitioner, k, v) {
                    result = Err((k.clone(), err));
                    break;
                }
            }
        } else {
            let mut start = 0;
            for &size in batches.iter().cycle() {
                let batch = &pairs[start..(start + size).min(pairs.len())];
                result = writer.push_batch(
                    &partitioner,
                    batch.len(),
                    |i| (&batch[i].0[..], &batch[i].1[..]),
                    |w| {
                        spills.push(pushed(w));
                        w.spill(&mut Native(policy)).map_err(|_| unreachable!())
                    },
                    |key, err| (key.to_vec(), err),
                );
                start += batch.len();
                if result.is_err() || start == pairs.len() {
                    break;
                }
            }
        }
        if let Err((key, _)) = result {
            return (None, spills, Some((key, pushed(&writer))));
        }
        let (runs, stats) = writer.finish(&mut Native(policy)).unwrap();
        (Some((read(runs), stats)), spills, None)
    }

    /// Each key's values merged by `policy` (`min` for first, `max` for last, as the
    /// aggregator's order-free merges mean).
    fn merged(
        pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
        policy: MergePolicy,
    ) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
        let mut out = std::collections::BTreeMap::<Vec<u8>, Vec<u8>>::new();
        for (k, v) in pairs {
            let merged = match out.get(&k) {
                None => v,
                Some(m) => match policy {
                    // A bad value (which the writer passes on once combining stopped) poisons
                    // its key's total.
                    MergePolicy::Sum if m.len() != 8 || v.len() != 8 => b"bad".to_vec(),
                    MergePolicy::Sum => {
                        let n = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap()) ^ (1 << 63);
                        count(n(m).wrapping_add(n(&v)) as i64)
                    }
                    MergePolicy::First => m.clone().min(v),
                    _ => m.clone().max(v),
                },
            };
            out.insert(k, merged);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Batches push exactly what pushing pair by pair does: the same spills after the same
        /// pairs, the same output and stats, the same bad value's key after the same pairs;
        /// and the output merges to what a sorted map of all pairs holds. With keys that
        /// collide on a few hashes, keys long enough for the arena, values that change length
        /// (first, max), spills in the middle of batches and bad values (sum).
        #[test]
        fn batch_push_equals_pushing_pair_by_pair(
            policy in prop::sample::select(vec![MergePolicy::Sum, MergePolicy::First, MergePolicy::Max]),
            raw in prop::collection::vec(
                (
                    0u16..300,
                    prop_oneof![8 => Just(0usize), 1 => Just(40), 1 => Just(3000)],
                    prop::collection::vec(0u8..3, 0..50),
                    0u32..400,
                ),
                0..700,
            ),
            memory in prop_oneof![Just(48u64 << 10), 40u64 << 10..400 << 10, Just(1u64 << 30)],
            batches in prop::collection::vec(1usize..80, 1..4),
            weak_hash in any::<bool>(),
        ) {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = raw
                .into_iter()
                .map(|(k, long, bytes, n)| {
                    let key = [format!("k{k}").into_bytes(), vec![b'x'; long]].concat();
                    let value = match policy {
                        // One value in 400 has the wrong length.
                        MergePolicy::Sum if n == 0 => b"bad".to_vec(),
                        MergePolicy::Sum => count(i64::from(n)),
                        _ => bytes,
                    };
                    (key, value)
                })
                .collect();
            let one_by_one = push_all(&pairs, policy, memory * 3, &[], weak_hash);
            let batched = push_all(&pairs, policy, memory * 3, &batches, weak_hash);
            prop_assert_eq!(&batched.1, &one_by_one.1, "spills");
            prop_assert_eq!(&batched.2, &one_by_one.2, "bad value");
            prop_assert_eq!(&batched.0, &one_by_one.0);
            if let Some((out, _)) = batched.0 {
                let got = merged(out.into_iter().flatten(), policy);
                prop_assert_eq!(got, merged(pairs, policy));
            }
        }
    }

    #[test]
    fn a_tiny_budget_spills_and_merges_into_one_file() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..5000u32)
            .map(|i| (format!("k{}", i % 50).into_bytes(), count(1)))
            .collect();
        let (got, stats) = write(&pairs, 3, 64 << 10, true, false);
        assert!(stats.spills > 1, "{stats:?}");
        assert!(
            !stats.combining_stopped,
            "summing 100 values per key shrinks the data"
        );
        let total: usize = got.iter().map(Vec::len).sum();
        assert!(
            (50..=50 * stats.spills as usize).contains(&total),
            "{total}"
        );

        // Distinct keys do not combine: combining stops after the first spill.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..5000u32)
            .map(|i| (i.to_be_bytes().to_vec(), count(1)))
            .collect();
        let (got, stats) = write(&pairs, 2, 64 << 10, true, false);
        assert!(stats.combining_stopped, "{stats:?}");
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 5000);

        // A large budget keeps the output in memory.
        let (_, stats) = write(&pairs, 2, 1 << 30, true, false);
        assert_eq!(stats.spills, 0);

        // Hash combining: word-count-like input collapses to one pair per key per spill.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
            .map(|i| (format!("k{}", i % 50).into_bytes(), count(1)))
            .collect();
        let (got, stats) = write(&pairs, 3, 64 << 10, true, true);
        assert_eq!(stats.spills, 0, "50 keys fit any buffer");
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 50);
        assert!(got.iter().flatten().all(|(_, v)| *v == count(400)));
    }
}
