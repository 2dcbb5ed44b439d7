//! One map task attempt: read a split in batches, call the plugin, partition what it emits,
//! and hand it to the shuffle's [`MapOutputWriter`], which sorts, combines and spills it.

use crate::batch::{Flat, GroupBatch};
use crate::error::{FailureSite, RecordLocation, TaskError};
use crate::input::{BatchLimits, InputFile, InputFormat, InputSplit, RecordBatch, SplitReader};
use crate::plugin::{AttemptLog, BatchFormat, CallError, Combiner, Plugin, PluginInstance};
use crate::project::{Field, Projector, Source};
use crate::quota::OutputLimits;
use crate::shuffle::{
    self, Combine, CombineError, GroupSource, MapOutputWriter, MapRuns, MemoryBudget, PairSink,
    Partitioner, ShuffleDir, WriteError,
};
use crate::task::TaskId;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// What every map task of a job shares.
#[derive(Debug)]
pub struct MapContext<'a> {
    /// The compiled plugin.
    pub plugin: &'a Plugin,
    /// The job's parameters.
    pub params: &'a [(String, String)],
    /// Every input file; splits refer to them by index.
    pub files: &'a [InputFile],
    /// How records are cut.
    pub format: InputFormat,
    /// Parquet only: the columns to read (`--columns`), all if `None`.
    pub columns: Option<&'a [String]>,
    /// Batch limits for reading.
    pub batch: BatchLimits,
    /// Where keys go.
    pub partitioner: Partitioner,
    /// How to combine map output.
    pub combiner: Combiner,
    /// Bytes per batch of groups handed to a plugin combiner.
    pub group_batch_bytes: usize,
    /// The job's memory budget.
    pub budget: &'a MemoryBudget,
    /// Where spill files go.
    pub shuffle: &'a ShuffleDir,
    /// The job's allowance of bad records.
    pub bad_records: &'a BadRecords,
    /// What a map task may emit.
    pub limits: OutputLimits,
    /// Whether the output goes to a run file even when it would fit in memory (when a task in
    /// another process reads it).
    pub output_on_disk: bool,
    /// Numbers the lines of records that fail, reading each file once per task.
    pub lines: std::sync::Mutex<crate::input::LineNumbers>,
}

/// Counts for one task, summed into the job report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskCounts {
    /// Records (map) or pairs (reduce) read.
    pub records_in: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Pairs (map, after combining) or records (reduce) written.
    pub records_out: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Map only: pairs the plugin emitted, before combining.
    pub emitted: u64,
    /// Map only: times the sort buffer was spilled to disk.
    pub spills: u64,
    /// Map only: bytes written to spill and map output files (compressed).
    pub spilled_bytes: u64,
}

impl std::ops::AddAssign for TaskCounts {
    fn add_assign(&mut self, o: Self) {
        self.records_in += o.records_in;
        self.bytes_in += o.bytes_in;
        self.records_out += o.records_out;
        self.bytes_out += o.bytes_out;
        self.emitted += o.emitted;
        self.spills += o.spills;
        self.spilled_bytes += o.spilled_bytes;
    }
}

/// The result of a map task.
#[derive(Debug)]
pub struct MapOutput {
    /// Its output runs.
    pub runs: MapRuns,
    /// Its counts.
    pub counts: TaskCounts,
    /// Records quarantined under `--max-bad-records`.
    pub rejects: Vec<Reject>,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
    /// Pairs the task emitted into each segment of its output (partitions, then hot keys'
    /// shares), before combining.
    pub emitted: Vec<u64>,
}

/// Runs attempt `attempt` of the map task over `split`, calling `progress` with the input
/// bytes consumed. Its files are named after the attempt, so attempts never share a file.
///
/// # Errors
/// Unreadable input, the plugin's failure (located as precisely as possible), or an I/O error
/// while spilling.
pub fn run_map(
    ctx: &MapContext<'_>,
    split: &InputSplit,
    attempt: u32,
    progress: &dyn Fn(u64),
) -> Result<MapOutput, TaskError> {
    let task = TaskId::Map(split.id);
    let (mut instance, info) = ctx
        .plugin
        .instantiate(task, ctx.params)
        .map_err(|e| task_error(task, FailureSite::Task, e))?;
    let mut declared = Declared::new(ctx.format, info.fields);
    let mut reader =
        SplitReader::open_columns(split, ctx.files, ctx.format, ctx.batch, ctx.columns)
            .map_err(|source| TaskError::Input { task, source })?;
    let mut writer = MapOutputWriter::new(
        ctx.partitioner.segments(),
        ctx.shuffle,
        ctx.budget,
        attempt_files(ctx, split, attempt).map_err(|source| TaskError::Shuffle { task, source })?,
        ctx.combiner != Combiner::None,
    );
    if let Combiner::Merge(policy) = ctx.combiner {
        writer = writer.with_hash_merge(policy);
    }
    if ctx.output_on_disk {
        writer = writer.on_disk();
    }
    let write_error = |err| match err {
        WriteError::Io(source) => TaskError::Shuffle { task, source },
        WriteError::Combine(err) => err,
    };
    let mut counts = TaskCounts::default();
    let mut emitted_bytes = 0;
    let mut batch = RecordBatch::default();
    let mut rejects = Vec::new();
    let mut reported = 0;
    while reader
        .next_batch(&mut batch)
        .map_err(|source| TaskError::Input { task, source })?
    {
        counts.records_in += batch.len() as u64;
        let input = match &mut declared {
            None => MapInput::read(&mut batch, ctx.format),
            Some(declared) => {
                declared.project(&batch, |i, message| {
                    let Some(i) = i else {
                        let site = FailureSite::Record(header_location(ctx, &batch));
                        return Err(field_failure(task, site, None, &message));
                    };
                    if !ctx.bad_records.admits(rejects.len()) {
                        let site = FailureSite::Record(locate(ctx, &batch, i));
                        return Err(ctx.bad_records.refuse(field_failure(
                            task,
                            site,
                            Some(i),
                            &message,
                        )));
                    }
                    rejects.push(input_reject(
                        locate(ctx, &batch, i),
                        task,
                        format!("{FIELDS_REJECT}{message}"),
                        batch.record(i),
                    ));
                    Ok(())
                })?;
                declared.input(&batch)
            }
        };
        map_batch(
            ctx,
            task,
            &mut instance,
            input,
            &mut rejects,
            |pairs, instance| {
                // Checked before any of the pairs is shuffled.
                counts.emitted += (pairs.len() / 2) as u64;
                emitted_bytes += OutputLimits::map_cost(pairs.data.len(), pairs.len() / 2);
                ctx.limits
                    .check_map(emitted_bytes, counts.emitted)
                    .map_err(|limit| TaskError::LimitExceeded {
                        task,
                        limit,
                        site: FailureSite::Task,
                    })?;
                writer.push_batch(
                    &ctx.partitioner,
                    pairs.len() / 2,
                    |i| (pairs.get(2 * i), pairs.get(2 * i + 1)),
                    |writer| {
                        let mut combiner = TaskCombiner::new(ctx, task, instance);
                        writer.spill(&mut combiner).map_err(write_error)
                    },
                    |key, err| merge_error(task, key, err),
                )
            },
        )?;
        let read = reader.bytes_read();
        progress(read - reported);
        reported = read;
    }
    counts.bytes_in = reader.bytes_read();
    if attempt > VERIFY_ATTEMPTS && crate::failpoint::hit("nondeterminism-map").is_err() {
        // For testing --verify: the second run of the task emits one more pair.
        let key = b"nondeterminism";
        writer
            .push(&ctx.partitioner, key, &[0; 8])
            .map_err(|err| merge_error(task, key, err))?;
    }
    let (runs, stats) = writer
        .finish(&mut TaskCombiner::new(ctx, task, &mut instance))
        .map_err(write_error)?;
    counts.records_out = stats.pairs;
    counts.bytes_out = stats.bytes;
    counts.spills = stats.spills;
    counts.spilled_bytes = stats.spilled_bytes;
    Ok(MapOutput {
        runs,
        counts,
        rejects,
        log: instance.finish(),
        emitted: stats.emitted,
    })
}

/// The job's combiner for one map (or combine) task: a native merge, or the plugin's
/// `combine-groups`.
pub(crate) struct TaskCombiner<'i> {
    combiner: Combiner,
    instance: &'i mut PluginInstance,
    task: TaskId,
    batch_bytes: usize,
}

impl<'i> TaskCombiner<'i> {
    fn new(ctx: &MapContext<'_>, task: TaskId, instance: &'i mut PluginInstance) -> Self {
        Self::for_task(ctx.combiner, instance, task, ctx.group_batch_bytes)
    }

    /// `combiner`, calling the plugin (if it is the plugin's) in `instance` for `task`.
    pub(crate) fn for_task(
        combiner: Combiner,
        instance: &'i mut PluginInstance,
        task: TaskId,
        batch_bytes: usize,
    ) -> Self {
        Self {
            combiner,
            instance,
            task,
            batch_bytes,
        }
    }
}

impl Combine for TaskCombiner<'_> {
    type Error = TaskError;

    fn combine(
        &mut self,
        source: &mut dyn GroupSource,
        sink: &mut dyn PairSink,
    ) -> Result<(), TaskError> {
        let task = self.task;
        let result = match self.combiner {
            Combiner::None => shuffle::copy_groups(source, sink).map_err(CombineError::Io),
            Combiner::Merge(policy) => shuffle::merge_groups(source, policy, sink),
            Combiner::Plugin => {
                let instance = &mut *self.instance;
                shuffle::combine_with_batches(source, self.batch_bytes, sink, |groups| {
                    instance
                        .combine_groups(groups, None)
                        .map_err(|e| group_error(task, groups, e))
                })
            }
        };
        result.map_err(|err| match err {
            CombineError::Call(err) => err,
            CombineError::Io(source) => TaskError::Shuffle { task, source },
            CombineError::Merge(key, err) => merge_error(task, &key, err),
            CombineError::ForeignKey(key) => TaskError::Contract {
                task,
                site: FailureSite::Key(show_key(&key)),
                message: "combine-groups emitted a key that was not in its batch".into(),
            },
            CombineError::OutOfOrder(key) => TaskError::Contract {
                task,
                site: FailureSite::Key(show_key(&key)),
                message: "combine-groups emitted this key after a later group's pairs; pairs \
                          must come group by group, in the batch's order"
                    .into(),
            },
            CombineError::MissingGroup(key) => TaskError::Contract {
                task,
                site: FailureSite::Key(show_key(&key)),
                message: "combine-groups returned no pair for this group: it dropped the group \
                          or filed its values under another group's key; each group's values \
                          must be combined under its own key"
                    .into(),
            },
        })
    }
}

/// Creates the directory this attempt writes all its shuffle files into, and returns the
/// prefix its files are named by (`map-N-attempt-A/map-N`).
fn attempt_files(
    ctx: &MapContext<'_>,
    split: &InputSplit,
    attempt: u32,
) -> std::io::Result<String> {
    let dir = format!("map-{}-attempt-{attempt}", split.id.0);
    ctx.shuffle.fresh_dir(&dir)?;
    Ok(format!("{dir}/map-{}", split.id.0))
}

/// Attempt numbers above this are `--verify`'s second runs of a task.
pub const VERIFY_ATTEMPTS: u32 = 1000;

/// A value that does not fit the native merge the job declared.
fn merge_error(task: TaskId, key: &[u8], err: shuffle::MergeError) -> TaskError {
    TaskError::Contract {
        task,
        site: FailureSite::Key(show_key(key)),
        message: format!("the job declared a native merge its values do not fit: {err}"),
    }
}

/// A fresh, configured instance for `task`.
fn start(ctx: &MapContext<'_>, task: TaskId) -> Result<PluginInstance, TaskError> {
    ctx.plugin
        .instantiate(task, ctx.params)
        .map(|(instance, _)| instance)
        .map_err(|e| task_error(task, FailureSite::Task, e))
}

/// Turns a failed call into a task error about `site`.
pub(crate) fn task_error(task: TaskId, site: FailureSite, err: CallError) -> TaskError {
    match err {
        CallError::Record { message, .. } => TaskError::Plugin {
            task,
            site,
            message,
            bad_record: true,
        },
        CallError::Failed(message) => TaskError::Plugin {
            task,
            site,
            message,
            bad_record: false,
        },
        CallError::Params(message) => TaskError::Plugin {
            task,
            site,
            message: format!("invalid parameters: {message}"),
            bad_record: false,
        },
        CallError::Trap { trap, stderr } => TaskError::Trap {
            task,
            site,
            // A trap's description can hold a wasm backtrace named by the plugin.
            trap: crate::text::cut(trap, crate::text::MAX_PLUGIN_TEXT),
            stderr,
        },
        CallError::Limit(limit) => TaskError::LimitExceeded { task, limit, site },
        CallError::Contract(message) => TaskError::Contract {
            task,
            site,
            message,
        },
    }
}

/// Turns a failed combine or reduce call on `groups` into a task error naming the key.
pub(crate) fn group_error(task: TaskId, groups: &GroupBatch, err: CallError) -> TaskError {
    let site = match &err {
        CallError::Record { index, .. } if *index < groups.keys.len() => {
            FailureSite::Key(show_key(groups.keys.get(*index)))
        }
        _ => batch_site(groups),
    };
    task_error(task, site, err)
}

/// The keys of a batch of groups, for a failure about the whole batch: its one key, or the
/// range of its keys.
pub(crate) fn batch_site(groups: &GroupBatch) -> FailureSite {
    match groups.keys.len() {
        0 => FailureSite::Task,
        1 => FailureSite::Key(show_key(groups.keys.get(0))),
        count => FailureSite::Keys {
            first: show_key(groups.keys.get(0)),
            last: show_key(groups.keys.get(count - 1)),
            count,
        },
    }
}

/// A key as a person can read it: quoted text, or escaped bytes; long keys are cut.
pub(crate) fn show_key(key: &[u8]) -> String {
    const MAX: usize = 80;
    let shown = &key[..key.len().min(MAX)];
    let more = if key.len() > MAX { "…" } else { "" };
    match std::str::from_utf8(shown) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?}{more}"),
        _ => format!("b\"{}\"{more}", shown.escape_ascii()),
    }
}

/// Where record `index` of `batch` came from.
fn locate(ctx: &MapContext<'_>, batch: &RecordBatch, index: usize) -> RecordLocation {
    let file = &ctx.files[batch.file];
    let offset = batch.offsets[index];
    if let Some(group) = batch.row_group {
        // A Parquet row: its offset is its row number in the file.
        return RecordLocation {
            path: file.path.clone(),
            line: None,
            offset,
            row_group: Some(Box::new((group.index, offset - group.first_row))),
        };
    }
    let mut lines = ctx.lines.lock().unwrap_or_else(|e| e.into_inner());
    RecordLocation {
        path: file.path.clone(),
        line: lines.line(file, offset).ok(),
        offset,
        row_group: None,
    }
}

/// Which record of `range` a failed map call was about: the plugin names it for its own
/// errors; for a trap (or running out of memory) the range is bisected in fresh instances (the
/// task is deterministic) until one record alone traps.
fn culprit(
    ctx: &MapContext<'_>,
    task: TaskId,
    batch: &RecordBatch,
    format: BatchFormat,
    range: Range<usize>,
    err: &CallError,
) -> Option<usize> {
    match err {
        CallError::Record { index, .. } if range.start + index < range.end => {
            Some(range.start + index)
        }
        _ if range.len() == 1 => Some(range.start),
        e if e.is_trap() => bisect(ctx, task, batch, format, range),
        _ => None,
    }
}

/// The error for a failed map call on `range`, naming the record if it is known.
fn map_failure(
    ctx: &MapContext<'_>,
    task: TaskId,
    batch: &RecordBatch,
    range: Range<usize>,
    bad: Option<usize>,
    err: CallError,
) -> TaskError {
    let site = match bad {
        Some(i) => FailureSite::Record(locate(ctx, batch, i)),
        None => FailureSite::Records {
            first: locate(ctx, batch, range.start),
            count: range.len(),
        },
    };
    task_error(task, site, err)
}

/// Finds one record of `range` that traps on its own, if there is one.
fn bisect(
    ctx: &MapContext<'_>,
    task: TaskId,
    batch: &RecordBatch,
    format: BatchFormat,
    range: Range<usize>,
) -> Option<usize> {
    let traps = |range: Range<usize>| -> bool {
        let Ok(mut instance) = start(ctx, task) else {
            return false;
        };
        let mut records = Flat::default();
        for i in range {
            records.push(batch.record(i));
        }
        let header = batch.header.as_deref().unwrap_or(&[]);
        matches!(instance.map_batch(format, header, &mut records), Err(e) if e.is_trap())
    };
    let (mut lo, mut hi) = (range.start, range.end);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if traps(lo..mid) {
            hi = mid;
        } else if traps(mid..hi) {
            lo = mid;
        } else {
            return None;
        }
    }
    traps(lo..hi).then_some(lo)
}

/// The job-wide allowance of bad records (`--max-bad-records`), shared by all tasks of a
/// process. Only committed tasks use it up: an attempt that fails, or the second run of
/// `--verify`, quarantines records of its own without charging them, so retries and checks
/// never change whether a job passes.
#[derive(Debug, Default)]
pub struct BadRecords {
    /// `--max-bad-records`.
    pub(crate) limit: u64,
    /// Bad records of committed tasks.
    charged: AtomicU64,
}

impl BadRecords {
    /// An allowance of `limit` records; 0 fails on the first.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            charged: AtomicU64::new(0),
        }
    }

    /// The error of a bad record the allowance does not admit: `failure` itself without
    /// `--max-bad-records`, else [`TaskError::TooManyBadRecords`] holding it.
    pub(crate) fn refuse(&self, failure: TaskError) -> TaskError {
        match self.limit {
            0 => failure,
            limit => TaskError::TooManyBadRecords {
                limit,
                last: Box::new(failure),
            },
        }
    }

    /// Whether an attempt that has quarantined `held` records may quarantine one more, given
    /// what committed tasks used.
    pub(crate) fn admits(&self, held: usize) -> bool {
        self.charged.load(Ordering::SeqCst) + (held as u64) < self.limit
    }

    /// Charges a committing task's `n` bad records.
    ///
    /// # Errors
    /// The limit, if they would take the job over it (nothing is charged then).
    pub fn charge(&self, n: u64) -> Result<(), u64> {
        self.charged
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c + n <= self.limit).then_some(c + n)
            })
            .map(drop)
            .map_err(|_| self.limit)
    }

    /// Gives back what [`BadRecords::charge`] took for a task that did not commit after all.
    pub fn refund(&self, n: u64) {
        self.charged.fetch_sub(n, Ordering::SeqCst);
    }
}

/// A record the plugin could not process, or an output record it routed to a bad partition
/// name, quarantined under `--max-bad-records`; one line of the output's `_rejects.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    /// Where the record came from (its fields come first in the line).
    #[serde(flatten)]
    pub origin: RejectOrigin,
    /// The task that read or wrote it.
    pub task: String,
    /// What went wrong (inert, cut at 4 KiB).
    pub error: String,
    /// The record (lossily decoded, cut at 4 KiB).
    pub record: String,
}

/// Where a quarantined record came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum RejectOrigin {
    /// An input record a map task could not map.
    Input {
        /// The input file.
        file: String,
        /// Its 1-based line, if known.
        line: Option<u64>,
        /// The record's first byte in the file; for Parquet, its row number in the file.
        offset: u64,
        /// Parquet only: the record's row group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row_group: Option<u32>,
        /// Parquet only: the record's row in its row group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row: Option<u64>,
    },
    /// An output record of a reduce task that does not fit `--output-schema`.
    Schema {
        /// The key whose reduce wrote it (lossily decoded, inert, cut at 4 KiB).
        key: String,
        /// The output partition it was routed to (`""`: the top level; inert, cut at 4 KiB).
        partition: String,
        /// The field that does not fit (`""`: the record is not a JSON object).
        field: String,
    },
    /// An output record a reduce task routed to an output partition whose name is not safe.
    Output {
        /// The key whose reduce wrote it (lossily decoded, inert, cut at 4 KiB).
        key: String,
        /// The partition name (inert, cut at 4 KiB).
        partition: String,
    },
}

impl Reject {
    /// The order of `_rejects.jsonl`: input records by file and offset, then output records
    /// in the order their reduce tasks wrote them (the sort that uses it is stable).
    pub fn order(&self) -> (u8, &str, u64) {
        match &self.origin {
            RejectOrigin::Input { file, offset, .. } => (0, file, *offset),
            RejectOrigin::Output { .. } | RejectOrigin::Schema { .. } => (1, "", 0),
        }
    }
}

/// Text of the plugin's kept in a reject: bounded and inert, as everything of the plugin's in
/// `_rejects.jsonl`.
pub(crate) fn reject_text(text: &str) -> String {
    crate::text::cut(
        crate::text::inert(text).into_owned(),
        crate::text::MAX_PLUGIN_TEXT,
    )
}

/// A record or key as kept in a reject: lossily decoded, cut at 4 KiB.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned()
}

/// The failure of a job whose bad records go over `--max-bad-records` (`limit`), naming the
/// last of them (found by `task`).
pub fn too_many_bad_records(limit: u64, task: TaskId, last: Option<&Reject>) -> TaskError {
    let last = match last {
        None => TaskError::Plugin {
            task,
            site: FailureSite::Task,
            message: String::new(),
            bad_record: true,
        },
        Some(r) => match &r.origin {
            RejectOrigin::Input {
                file,
                line,
                offset,
                row_group,
                row,
            } => {
                let site = FailureSite::Record(RecordLocation {
                    path: file.clone().into(),
                    line: *line,
                    offset: *offset,
                    row_group: row_group.zip(*row).map(Box::new),
                });
                match r.error.strip_prefix(FIELDS_REJECT) {
                    Some(why) => field_failure(task, site, Some(0), why),
                    None => TaskError::Plugin {
                        task,
                        site,
                        message: r.error.clone(),
                        bad_record: true,
                    },
                }
            }
            RejectOrigin::Output { key, .. } => TaskError::PartitionName {
                task,
                site: FailureSite::Key(show_key(key.as_bytes())),
                message: r.error.clone(),
            },
            RejectOrigin::Schema { key, .. } => TaskError::OutputSchema {
                task,
                site: FailureSite::Key(show_key(key.as_bytes())),
                message: r.error.clone(),
            },
        },
    };
    TaskError::TooManyBadRecords {
        limit,
        last: Box::new(last),
    }
}

/// The quarantine entry of input record `record`, found at `location` by `task`.
fn input_reject(location: RecordLocation, task: TaskId, error: String, record: &[u8]) -> Reject {
    Reject {
        origin: RejectOrigin::Input {
            file: location.path.display().to_string(),
            line: location.line,
            offset: location.offset,
            row_group: location.row_group.as_deref().map(|&(group, _)| group),
            row: location.row_group.as_deref().map(|&(_, row)| row),
        },
        task: task.to_string(),
        error: reject_text(&error),
        record: lossy(record),
    }
}

/// How the error of a quarantined record that does not fit the declared fields begins, so
/// that [`too_many_bad_records`] names it as such.
const FIELDS_REJECT: &str = "does not fit the declared fields: ";

/// The failure of record `record` (`None`: the CSV header) that does not fit the declared
/// fields for `why`, saying what to do.
pub(crate) fn field_failure(
    task: TaskId,
    site: FailureSite,
    record: Option<usize>,
    why: &str,
) -> TaskError {
    let what_to_do = match record {
        Some(_) => "fix the record, or let --max-bad-records N quarantine such records",
        None => "give the file that column, or make the field optional in the job",
    };
    TaskError::BadField {
        task,
        site,
        message: format!("{why}; {what_to_do}"),
    }
}

/// Where the CSV header of `batch`'s file is: its first line.
fn header_location(ctx: &MapContext<'_>, batch: &RecordBatch) -> RecordLocation {
    RecordLocation {
        path: ctx.files[batch.file].path.clone(),
        line: Some(1),
        offset: 0,
        row_group: None,
    }
}

/// A batch for `map-batch`.
struct MapInput<'b> {
    /// The records the plugin maps: as read, or projected onto the declared fields (with the
    /// offsets of the records kept).
    batch: &'b mut RecordBatch,
    /// How they are laid out.
    format: BatchFormat,
    /// When projected: the batch as read, and the index there of each record of `batch`.
    read: Option<(&'b RecordBatch, &'b [u32])>,
}

impl<'b> MapInput<'b> {
    /// The records as read from input of `format`.
    fn read(batch: &'b mut RecordBatch, format: InputFormat) -> Self {
        Self {
            batch,
            format: BatchFormat::Input(format),
            read: None,
        }
    }
}

/// A map task's projection of its input onto the fields the job declared
/// ([`crate::project`]), when it declares any and its input has named fields.
pub(crate) struct Declared {
    projector: Projector,
    /// The last batch, projected: its records are the kept ones, in the layout of declared
    /// fields, with their offsets.
    batch: RecordBatch,
    /// For each record of `batch`, its index in the batch as read.
    kept: Vec<u32>,
}

impl Declared {
    /// The projection of `fields` from input of `format`, or `None` if there is nothing to
    /// project (no fields declared; or lines, which the plan refuses for a job that declares
    /// fields).
    pub(crate) fn new(format: InputFormat, fields: Vec<Field>) -> Option<Self> {
        let source = match format {
            _ if fields.is_empty() => return None,
            InputFormat::Lines => return None,
            InputFormat::JsonLines | InputFormat::Parquet => Source::Json,
            InputFormat::Csv => Source::Csv,
        };
        Some(Self {
            projector: Projector::new(fields, source),
            batch: RecordBatch::default(),
            kept: Vec::new(),
        })
    }

    /// Projects `read`, calling `bad(Some(i), why)` for each record `i` that does not fit
    /// (it is left out) and `bad(None, why)` once if its CSV header lacks a required field.
    ///
    /// # Errors
    /// What `bad` returns.
    pub(crate) fn project<E>(
        &mut self,
        read: &RecordBatch,
        mut bad: impl FnMut(Option<usize>, String) -> Result<(), E>,
    ) -> Result<(), E> {
        let out = &mut self.batch;
        out.data.clear();
        out.ends.clear();
        out.offsets.clear();
        out.file = read.file;
        out.header = None;
        out.row_group = read.row_group;
        self.kept.clear();
        if let Some(header) = &read.header
            && let Err(why) = self.projector.header(header)
        {
            // No record of the file can fit.
            return bad(None, why);
        }
        for i in 0..read.len() {
            match self.projector.project(read.record(i), &mut out.data) {
                Ok(()) => {
                    out.ends.push(out.data.len() as u32);
                    out.offsets.push(read.offsets[i]);
                    self.kept.push(i as u32);
                }
                Err(why) => bad(Some(i), why)?,
            }
        }
        Ok(())
    }

    /// The last projected batch, for `map-batch`.
    fn input<'b>(&'b mut self, read: &'b RecordBatch) -> MapInput<'b> {
        MapInput {
            batch: &mut self.batch,
            format: BatchFormat::Fields,
            read: Some((read, &self.kept)),
        }
    }

    /// The last projected batch's records.
    pub(crate) fn records(&self) -> &RecordBatch {
        &self.batch
    }
}

/// Maps `batch`, calling `emit` with the pairs of each successful call. A bad record fails the
/// task, or, while `--max-bad-records` allows, is quarantined into `rejects` and the rest of
/// the batch is mapped without it (in a fresh instance if the record trapped).
fn map_batch(
    ctx: &MapContext<'_>,
    task: TaskId,
    instance: &mut PluginInstance,
    input: MapInput<'_>,
    rejects: &mut Vec<Reject>,
    mut emit: impl FnMut(Flat, &mut PluginInstance) -> Result<(), TaskError>,
) -> Result<(), TaskError> {
    let MapInput {
        batch,
        format,
        read,
    } = input;
    let header = batch.header.clone();
    let header = header.as_deref().unwrap_or(&[]);
    let mut todo: Vec<Range<usize>> = Vec::with_capacity(4);
    todo.push(0..batch.len());
    let mut records = Flat::default();
    while let Some(range) = todo.pop() {
        if range.is_empty() {
            continue;
        }
        let result = if range == (0..batch.len()) {
            // The whole batch: lend its buffers instead of copying them.
            records.data = std::mem::take(&mut batch.data);
            records.ends = std::mem::take(&mut batch.ends);
            let result = instance.map_batch(format, header, &mut records);
            batch.data = std::mem::take(&mut records.data);
            batch.ends = std::mem::take(&mut records.ends);
            result
        } else {
            records.clear();
            for i in range.clone() {
                records.push(batch.record(i));
            }
            instance.map_batch(format, header, &mut records)
        };
        let err = match result {
            Ok(pairs) => {
                emit(pairs, instance).map_err(|mut err| {
                    if let TaskError::LimitExceeded { site, .. } = &mut err {
                        // The records whose pairs went over the limit.
                        *site = match range.len() {
                            1 => FailureSite::Record(locate(ctx, batch, range.start)),
                            count => FailureSite::Records {
                                first: locate(ctx, batch, range.start),
                                count,
                            },
                        };
                    }
                    err
                })?;
                continue;
            }
            Err(err) => err,
        };
        let bad = culprit(ctx, task, batch, format, range.clone(), &err);
        let Some(bad) = bad.filter(|_| ctx.bad_records.admits(rejects.len())) else {
            let failure = map_failure(ctx, task, batch, range, bad, err);
            return Err(ctx.bad_records.refuse(failure));
        };
        if matches!(err, CallError::Trap { .. } | CallError::Limit(_)) {
            // A trapped instance cannot be entered again.
            *instance = start(ctx, task)?;
        }
        // The record as read, not as projected onto the declared fields.
        let record = match read {
            Some((read, index)) => read.record(index[bad] as usize),
            None => batch.record(bad),
        };
        rejects.push(input_reject(
            locate(ctx, batch, bad),
            task,
            // The plugin's own message, without the record's index in the batch (the reject
            // names its file and line).
            match &err {
                CallError::Record { message, .. } => message.clone(),
                other => other.to_string(),
            },
            record,
        ));
        todo.push(bad + 1..range.end);
        todo.push(range.start..bad);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{batch_site, show_key};
    use crate::batch::GroupBatch;

    #[test]
    fn a_failure_about_a_batch_of_groups_names_its_keys() {
        let mut groups = GroupBatch::default();
        assert_eq!(batch_site(&groups).to_string(), "");
        for key in [&b"apple"[..], b"kiwi", b"pear"] {
            groups.keys.push(key);
            groups.values.push(b"1");
            groups.group_ends.push(groups.values.len() as u32);
            if groups.len() == 1 {
                assert_eq!(batch_site(&groups).to_string(), " on key \"apple\"");
            }
        }
        assert_eq!(
            batch_site(&groups).to_string(),
            " on one of the 3 keys \"apple\" to \"pear\""
        );
    }

    #[test]
    fn keys_are_shown_readably() {
        assert_eq!(show_key(b"word"), "\"word\"");
        assert_eq!(show_key(b"a\tb"), "b\"a\\tb\"");
        assert_eq!(
            show_key(&[0x80, 0, 0, 0, 0, 0, 0, 7]),
            "b\"\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x07\""
        );
        assert!(show_key(&[b'x'; 100]).ends_with("\"…"));
    }
}
