//! One reduce task attempt: merge the partition's runs, hand key groups to the plugin in
//! bounded batches, and write what it returns as the partition's `part-NNNNN` file, at the top
//! level of the output and in each output partition (`date=2026-03-22/part-NNNNN`) it routes
//! records to.

use crate::batch::GroupBatch;
use crate::commit::JobCommitter;
use crate::error::{FailureSite, TaskError};
use crate::map::{TaskCounts, group_error, show_key, task_error};
use crate::plugin::{AttemptLog, Plugin};
use crate::shuffle::{GroupBatcher, Merger, RunSource};
use crate::task::{PartitionId, TaskId};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What every reduce task of a job shares.
#[derive(Debug)]
pub struct ReduceContext<'a> {
    /// The compiled plugin.
    pub plugin: &'a Plugin,
    /// The job's parameters.
    pub params: &'a [(String, String)],
    /// Where output goes.
    pub committer: &'a JobCommitter,
    /// Bytes per batch of groups.
    pub group_batch_bytes: usize,
}

/// One output file a reduce task wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartFile {
    /// Its path relative to the output: `part-00003` or `date=2026-03-22/part-00003`.
    pub name: String,
    /// The records (lines) in it.
    pub records: u64,
}

/// The result of a reduce task.
#[derive(Debug)]
pub struct ReduceOutput {
    /// The task.
    pub task: TaskId,
    /// Its counts.
    pub counts: TaskCounts,
    /// The files it committed, sorted by name.
    pub files: Vec<PartFile>,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
}

/// The output file name of `partition`.
pub fn part_name(partition: PartitionId) -> String {
    format!("part-{:05}", partition.0)
}

/// Runs one reduce task over the runs of `partition` (one per map task) and commits its part
/// files.
///
/// # Errors
/// The plugin's failure (naming the key), or an I/O error writing a part file.
pub fn run_reduce(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
) -> Result<ReduceOutput, TaskError> {
    let (dir, out) = write_parts(ctx, partition, runs, attempt, false)?;
    for file in &out.files {
        let path = dir.join(&file.name);
        ctx.committer
            .commit_file(&path, &file.name)
            .map_err(|source| TaskError::Io {
                task: out.task,
                path,
                source,
            })?;
    }
    Ok(out)
}

/// Runs the reduce task again without committing, for `--verify`: returns the attempt
/// directory its files are in, and what it wrote.
///
/// # Errors
/// As [`run_reduce`].
pub fn rerun_for_verify(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
) -> Result<(PathBuf, Vec<PartFile>), TaskError> {
    write_parts(ctx, partition, runs, attempt, true).map(|(dir, out)| (dir, out.files))
}

/// The open part files of one attempt, by output partition (`None`: the top level).
struct Parts<'a> {
    dir: &'a Path,
    name: String,
    open: BTreeMap<Option<String>, (BufWriter<File>, u64)>,
}

impl Parts<'_> {
    fn file(&mut self, partition: Option<&str>) -> std::io::Result<&mut (BufWriter<File>, u64)> {
        let key = partition.map(str::to_owned);
        if !self.open.contains_key(&key) {
            let dir = match partition {
                Some(p) => self.dir.join(p),
                None => self.dir.to_path_buf(),
            };
            std::fs::create_dir_all(&dir)?;
            let file = File::create(dir.join(&self.name))?;
            self.open
                .insert(key.clone(), (BufWriter::with_capacity(256 << 10, file), 0));
        }
        Ok(self.open.get_mut(&key).expect("just inserted"))
    }
}

/// Writes the part files of `partition` into the attempt's directory.
fn write_parts(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
    verifying: bool,
) -> Result<(PathBuf, ReduceOutput), TaskError> {
    let task = TaskId::Reduce(partition);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TaskError::Io { task, path, source }
    };
    let dir = ctx
        .committer
        .attempt_dir(task, attempt)
        .map_err(io_error(&ctx.committer.version_dir()))?;
    let mut parts = Parts {
        dir: &dir,
        name: part_name(partition),
        open: BTreeMap::new(),
    };

    let (mut instance, _) = ctx
        .plugin
        .instantiate(task, ctx.params)
        .map_err(|e| task_error(task, FailureSite::Task, e))?;
    let mut counts = TaskCounts::default();
    for run in runs {
        let (pairs, bytes) = run.size();
        counts.records_in += pairs;
        counts.bytes_in += bytes;
    }
    let read_error = |source| TaskError::Shuffle { task, source };
    let cursors = runs
        .iter()
        .map(RunSource::open)
        .collect::<std::io::Result<Vec<_>>>();
    let merger = Merger::new(cursors.map_err(read_error)?);
    let mut batcher = GroupBatcher::new(merger, ctx.group_batch_bytes);
    let mut batch = GroupBatch::default();
    while batcher.fill(&mut batch).map_err(read_error)? {
        let feed = batcher.feed(&batch);
        let output = instance
            .reduce_groups(&mut batch, feed)
            .map_err(|e| group_error(task, &batch, e))?;
        for (i, record) in output.records.iter().enumerate() {
            if let Some(at) = memchr::memchr(b'\n', record) {
                return Err(TaskError::Contract {
                    task,
                    site: FailureSite::Task,
                    message: format!(
                        "reduce emitted an output record with a newline at byte {at}: {}; \
                         output records are lines",
                        show_key(record)
                    ),
                });
            }
            let (out, records) = parts.file(output.partition(i)).map_err(io_error(&dir))?;
            out.write_all(record)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(io_error(&dir))?;
            *records += 1;
            counts.bytes_out += record.len() as u64 + 1;
        }
        counts.records_out += output.records.len() as u64;
    }
    if parts.open.is_empty() {
        // Every reducer leaves a part file, even an empty one.
        parts.file(None).map_err(io_error(&dir))?;
    }
    let mut files = Vec::with_capacity(parts.open.len());
    for (partition, (out, records)) in std::mem::take(&mut parts.open) {
        let name = match &partition {
            Some(p) => format!("{p}/{}", parts.name),
            None => parts.name.clone(),
        };
        let path = dir.join(&name);
        let file = out
            .into_inner()
            .map_err(|e| io_error(&path)(e.into_error()))?;
        crate::failpoint::hit("part-write")
            .and_then(|()| file.sync_all())
            .map_err(io_error(&path))?;
        if verifying && crate::failpoint::hit("nondeterminism-reduce").is_err() {
            // For testing --verify: the second run writes one more byte.
            (&file).write_all(b"!").map_err(io_error(&path))?;
        }
        files.push(PartFile { name, records });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((
        dir,
        ReduceOutput {
            task,
            counts,
            files,
            log: instance.finish(),
        },
    ))
}
