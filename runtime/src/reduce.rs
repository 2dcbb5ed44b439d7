//! One reduce task attempt: merge the partition's runs, hand key groups to the plugin in
//! bounded batches, and write what it returns as the partition's `part-NNNNN` file, at the top
//! level of the output and in each output partition (`date=2026-03-22/part-NNNNN`) it routes
//! records to. What it writes is bounded ([`OutputLimits`]), and so are the files it holds open
//! and their buffers, however many partitions the plugin routes to.

use crate::batch::{GroupBatch, OutputBatch, check_partition_name};
use crate::columnar::{OutputSchema, RowEncoder};
use crate::commit::JobCommitter;
pub use crate::commit::parts::PartFile;
use crate::commit::parts::{Parts, PartsError};
use crate::error::{FailureSite, TaskError};
use crate::map::{
    BadRecords, Reject, RejectOrigin, TaskCounts, batch_site, group_error, lossy, reject_text,
    show_key, task_error,
};
use crate::plugin::{AttemptLog, Plugin};
use crate::quota::{JobOutput, OutputLimits};
use crate::shuffle::{GroupBatcher, Merger, RunSource};
use crate::task::{PartitionId, TaskId};
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
    /// What a reduce task may write.
    pub limits: OutputLimits,
    /// What all reduce tasks wrote, against the job-wide limits.
    pub output: &'a JobOutput,
    /// Whether a task that writes no record leaves an empty part file: yes but with
    /// `--overwrite-partitions` (see `Parts::finish`).
    pub empty_part: bool,
    /// The job's allowance of bad records (here: records routed to a bad partition name, or
    /// that do not fit the output schema).
    pub bad_records: &'a BadRecords,
    /// The output partition every record goes below (`--output-partition`).
    pub output_partition: Option<&'a str>,
    /// The schema of a Parquet output (`--output-schema`); `None` for lines.
    pub schema: Option<&'a OutputSchema>,
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
    /// Records quarantined under `--max-bad-records`: routed to a bad partition name.
    pub rejects: Vec<Reject>,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
}

/// The output file name of `partition`.
pub fn part_name(partition: PartitionId) -> String {
    format!("part-{:05}", partition.0)
}

/// Runs one attempt of the reduce task over the runs of `partition` (one per map task) and
/// writes its part files into the attempt's directory, committing nothing: returns that
/// directory and what it wrote. `verifying` marks the second run of `--verify`, whose output
/// does not count against the job's limits.
///
/// # Errors
/// The plugin's failure (naming the key), or an I/O error writing a part file.
pub fn run_reduce(
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
    let mut parts = Parts::new(&dir, part_name(partition), ctx.limits, ctx.schema);
    if !verifying {
        // A rerun for --verify writes nothing that is kept, so it does not count.
        ctx.output.start_attempt(partition);
    }

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
    let parts_error = |site: FailureSite| {
        move |err| match err {
            PartsError::Io(path, source) => TaskError::Io { task, path, source },
            PartsError::Limit(limit) => TaskError::LimitExceeded { task, limit, site },
        }
    };
    let cursors = runs
        .iter()
        .map(RunSource::open)
        .collect::<std::io::Result<Vec<_>>>();
    let merger = Merger::new(cursors.map_err(read_error)?);
    let mut batcher = GroupBatcher::new(merger, ctx.group_batch_bytes);
    let mut batch = GroupBatch::default();
    let mut rejects = Vec::new();
    while batcher.fill(&mut batch).map_err(read_error)? {
        let feed = batcher.feed(&batch);
        let mut output = instance
            .reduce_groups(&mut batch, feed)
            .map_err(|e| group_error(task, &batch, e))?;
        let site = batch_site(&batch);
        // Records lie back to back in `data`: a newline in it is a newline in a record.
        if let Some(pos) = memchr::memchr(b'\n', &output.records.data) {
            let i = output
                .records
                .ends
                .partition_point(|&end| end as usize <= pos);
            let record = output.records.get(i);
            let at = pos - (output.records.ends[i] as usize - record.len());
            return Err(TaskError::Contract {
                task,
                site,
                message: format!(
                    "reduce emitted an output record with a newline at byte {at}: {}; \
                     output records are lines",
                    show_key(record)
                ),
            });
        }
        reject_bad_partitions(ctx, task, &batch, &mut output, &mut rejects)?;
        if let Some(schema) = ctx.schema {
            reject_bad_rows(ctx, task, schema, &batch, &mut output, &mut rejects)?;
        }
        if let Some(prefix) = ctx.output_partition {
            output.place_under(prefix);
        }
        // Checked before anything of the batch is written: output over a limit never reaches
        // the disk.
        let (bytes, records) = (
            output.records.data.len() as u64 + output.records.len() as u64,
            output.records.len() as u64,
        );
        let limit_error = |limit| TaskError::LimitExceeded {
            task,
            limit,
            site: site.clone(),
        };
        ctx.limits
            .check_task(counts.bytes_out + bytes, counts.records_out + records)
            .map_err(limit_error)?;
        if !verifying {
            ctx.output
                .add(partition, bytes, records)
                .map_err(limit_error)?;
        }
        parts.write(&output).map_err(parts_error(site.clone()))?;
        counts.bytes_out += bytes;
        counts.records_out += records;
    }
    let files = parts
        .finish(verifying, ctx.empty_part)
        .map_err(parts_error(FailureSite::Task))?;
    Ok((
        dir,
        ReduceOutput {
            task,
            counts,
            files,
            rejects,
            log: instance.finish(),
        },
    ))
}

/// Takes the records `output` routes to an output partition whose name is not safe
/// ([`check_partition_name`]) out of it: each is a bad record, quarantined into `rejects` while
/// `--max-bad-records` allows, else the task fails naming the partition and the record's key.
///
/// # Errors
/// [`TaskError::PartitionName`] for the first bad record past the allowance (inside
/// [`TaskError::TooManyBadRecords`] when there is one).
fn reject_bad_partitions(
    ctx: &ReduceContext<'_>,
    task: TaskId,
    groups: &GroupBatch,
    output: &mut OutputBatch,
    rejects: &mut Vec<Reject>,
) -> Result<(), TaskError> {
    let bad: Vec<Option<String>> = output
        .partitions
        .iter()
        .map(|p| check_partition_name(p).err())
        .collect();
    if bad.iter().all(Option::is_none) {
        return Ok(());
    }
    let mut dropped = vec![false; output.records.len()];
    for (i, &route) in output.routes.iter().enumerate() {
        let Some(why) = (route as usize)
            .checked_sub(1)
            .and_then(|p| bad[p].as_ref())
        else {
            continue;
        };
        let partition = &output.partitions[route as usize - 1];
        let key = groups.keys.get(output.group_of(i));
        let message = format!(
            "output partition {} {why}; escape each key and value with \
             sandmill_sdk::partition::escape (every other byte as %XX, as Hive does), or build \
             the name with sandmill_sdk::Partition",
            crate::text::quoted(&crate::text::cut(
                partition.clone(),
                crate::text::MAX_PLUGIN_TEXT
            ))
        );
        if !ctx.bad_records.admits(rejects.len()) {
            let failure = TaskError::PartitionName {
                task,
                site: FailureSite::Key(show_key(key)),
                message,
            };
            return Err(ctx.bad_records.refuse(failure));
        }
        rejects.push(Reject {
            origin: RejectOrigin::Output {
                key: reject_text(&lossy(key)),
                partition: reject_text(partition),
            },
            task: task.to_string(),
            error: reject_text(&message),
            record: lossy(output.records.get(i)),
        });
        dropped[i] = true;
    }
    output.drop_records(&dropped);
    Ok(())
}

/// Takes the records of `output` that do not fit the Parquet output's `schema` out of it: each
/// is a bad record, quarantined into `rejects` while `--max-bad-records` allows, else the task
/// fails naming the key, the record (its place in the key's output) and the field.
///
/// # Errors
/// [`TaskError::OutputSchema`] for the first bad record past the allowance (inside
/// [`TaskError::TooManyBadRecords`] when there is one).
fn reject_bad_rows(
    ctx: &ReduceContext<'_>,
    task: TaskId,
    schema: &OutputSchema,
    groups: &GroupBatch,
    output: &mut OutputBatch,
    rejects: &mut Vec<Reject>,
) -> Result<(), TaskError> {
    let mut dropped: Option<Vec<bool>> = None;
    for i in 0..output.records.len() {
        let record = output.records.get(i);
        let Err(err) = RowEncoder::check(schema, record) else {
            continue;
        };
        let group = output.group_of(i);
        let key = groups.keys.get(group);
        // The record's place among its key's records.
        let first = match group {
            0 => 0,
            g => output.group_ends[g - 1] as usize,
        };
        let message = format!(
            "record {} of the key's output: {err}; the record is {}",
            i - first + 1,
            show_key(record)
        );
        if !ctx.bad_records.admits(rejects.len()) {
            let failure = TaskError::OutputSchema {
                task,
                site: FailureSite::Key(show_key(key)),
                message,
            };
            return Err(ctx.bad_records.refuse(failure));
        }
        rejects.push(Reject {
            origin: RejectOrigin::Schema {
                key: reject_text(&lossy(key)),
                partition: reject_text(output.partition(i).unwrap_or("")),
                field: reject_text(err.field.as_deref().unwrap_or("")),
            },
            task: task.to_string(),
            error: reject_text(&message),
            record: lossy(record),
        });
        dropped.get_or_insert_with(|| vec![false; output.records.len()])[i] = true;
    }
    if let Some(dropped) = dropped {
        output.drop_records(&dropped);
    }
    Ok(())
}

/// Commits the part files an attempt wrote into `dir` to the version being built.
///
/// # Errors
/// An I/O error linking a file.
pub fn commit_parts(
    ctx: &ReduceContext<'_>,
    dir: &Path,
    out: &ReduceOutput,
) -> Result<(), TaskError> {
    let task = out.task;
    for file in &out.files {
        let path = dir.join(&file.name);
        ctx.committer
            .commit_file(&path, &file.name)
            .map_err(|source| TaskError::Io { task, path, source })?;
    }
    Ok(())
}
