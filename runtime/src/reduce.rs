//! One reduce task attempt: merge the partition's runs, hand key groups to the plugin in
//! bounded batches, and write what it returns as the partition's `part-NNNNN` file.

use crate::batch::GroupBatch;
use crate::commit::JobCommitter;
use crate::error::{FailureSite, TaskError};
use crate::map::{TaskCounts, group_error, show_key, task_error};
use crate::plugin::{AttemptLog, Plugin};
use crate::shuffle::{GroupBatcher, Merger, RunSource};
use crate::task::{PartitionId, TaskId};
use std::io::Write;

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

/// The result of a reduce task.
#[derive(Debug)]
pub struct ReduceOutput {
    /// The task.
    pub task: TaskId,
    /// Its counts.
    pub counts: TaskCounts,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
}

/// The output file name of `partition`.
pub fn part_name(partition: PartitionId) -> String {
    format!("part-{:05}", partition.0)
}

/// Runs one reduce task over the runs of `partition` (one per map task) and commits its part
/// file.
///
/// # Errors
/// The plugin's failure (naming the key), or an I/O error writing the part file.
pub fn run_reduce(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
) -> Result<ReduceOutput, TaskError> {
    let (path, out) = write_part(ctx, partition, runs, attempt, false)?;
    let name = part_name(partition);
    ctx.committer
        .commit_file(&path, &name)
        .map_err(|source| TaskError::Io {
            task: out.task,
            path,
            source,
        })?;
    Ok(out)
}

/// Runs the reduce task again without committing, for `--verify`, and returns where its part
/// file is (in an attempt directory).
///
/// # Errors
/// As [`run_reduce`].
pub fn rerun_for_verify(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
) -> Result<std::path::PathBuf, TaskError> {
    write_part(ctx, partition, runs, attempt, true).map(|(path, _)| path)
}

/// Writes the part file of `partition` into the attempt's directory.
fn write_part(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
    verifying: bool,
) -> Result<(std::path::PathBuf, ReduceOutput), TaskError> {
    let task = TaskId::Reduce(partition);
    let name = part_name(partition);
    let io_error = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| TaskError::Io { task, path, source }
    };
    let dir = ctx
        .committer
        .attempt_dir(task, attempt)
        .map_err(io_error(&ctx.committer.version_dir()))?;
    let path = dir.join(&name);
    let file = std::fs::File::create(&path).map_err(io_error(&path))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);

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
        let records = instance
            .reduce_groups(&mut batch, feed)
            .map_err(|e| group_error(task, &batch, e))?;
        for record in records.iter() {
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
            out.write_all(record)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(io_error(&path))?;
            counts.bytes_out += record.len() as u64 + 1;
        }
        counts.records_out += records.len() as u64;
    }
    let file = out
        .into_inner()
        .map_err(|e| io_error(&path)(e.into_error()))?;
    crate::failpoint::hit("part-write")
        .and_then(|()| file.sync_all())
        .map_err(io_error(&path))?;
    if verifying && crate::failpoint::hit("nondeterminism").is_err() {
        // For testing --verify: the second run writes one more byte.
        use std::io::Write as _;
        let mut file = &file;
        file.write_all(b"!").map_err(io_error(&path))?;
    }
    drop(file);
    Ok((
        path,
        ReduceOutput {
            task,
            counts,
            log: instance.finish(),
        },
    ))
}
