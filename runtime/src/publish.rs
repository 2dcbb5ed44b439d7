//! Publishing a job run once every task has committed: the part files every reduce task's
//! record names, partitions carried over from the current version (`--overwrite-partitions`),
//! the quarantined records, the manifest, `_SUCCESS` and the switch to the new version.

use crate::commit::JobCommitter;
use crate::dataset::{Manifest, OutputFile, VersionId};
use crate::error::{Error, TaskError};
use crate::map::Reject;
use crate::plan::JobPlan;
use crate::spec::JobSpec;
use crate::task::{PartitionId, TaskId};
use crate::worker::{TaskDone, TaskRecord};

/// The file in the output that lists records quarantined under `--max-bad-records`.
pub const REJECTS: &str = "_rejects.jsonl";

/// What was published.
#[derive(Debug)]
pub struct Published {
    /// The new version.
    pub version: VersionId,
    /// Every reduce task's record, in partition order.
    pub reduces: Vec<TaskRecord>,
    /// Records quarantined.
    pub rejected: u64,
}

/// Publishes the run: checks the job-wide bounds over what every task committed (whichever
/// run or process committed it), writes the manifest and makes the version current.
/// `maps` are the map tasks.
///
/// # Errors
/// A job-wide bound exceeded, a missing record, or output that cannot be written; the dataset
/// then still shows its previous version.
pub fn publish(
    spec: &JobSpec,
    plan: &JobPlan,
    committer: JobCommitter,
    maps: &[TaskDone],
) -> Result<Published, Error> {
    let version_dir = committer.version_dir();
    let mut reduces = Vec::with_capacity(spec.reducers() as usize);
    let mut files = Vec::with_capacity(spec.reducers() as usize + 1);
    for p in 0..spec.reducers() {
        let task = TaskId::Reduce(PartitionId(p));
        let record: TaskRecord = committer
            .committed(task)
            .ok_or_else(|| Error::Bug(format!("{task} has no committed record at publish")))?;
        for file in &record.files {
            files.push(
                OutputFile::from_file(&version_dir, &file.name, file.records).map_err(
                    |source| Error::Output {
                        path: version_dir.join(&file.name),
                        source,
                    },
                )?,
            );
        }
        reduces.push(record);
    }
    check_job_output(spec, &reduces)?;
    if spec.overwrite_partitions() {
        carry_over_partitions(&committer, &mut files)?;
    }
    let reduce_rejects = reduces.iter().enumerate().flat_map(|(p, record)| {
        let task = TaskId::Reduce(PartitionId(p as u32));
        record.rejects.iter().map(move |r| (task, r))
    });
    let mut rejects: Vec<(TaskId, &Reject)> = maps
        .iter()
        .flat_map(|done| done.record.rejects.iter().map(|r| (done.task, r)))
        .chain(reduce_rejects)
        .collect();
    rejects.sort_by(|(_, a), (_, b)| a.order().cmp(&b.order()));
    check_bad_records(spec, &rejects)?;
    if !rejects.is_empty() {
        let mut lines = Vec::new();
        for (_, reject) in &rejects {
            serde_json::to_writer(&mut lines, reject).expect("a reject is JSON");
            lines.push(b'\n');
        }
        committer.write_file(REJECTS, &lines)?;
        files.push(
            OutputFile::from_file(&version_dir, REJECTS, rejects.len() as u64).map_err(
                |source| Error::Output {
                    path: version_dir.join(REJECTS),
                    source,
                },
            )?,
        );
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let rejected = rejects.len() as u64;
    let manifest = plan.manifest(spec, files);
    let version = committer.commit_job(&manifest, spec.keep())?;
    Ok(Published {
        version,
        reduces,
        rejected,
    })
}

/// The job-wide output limits over every committed reduce task: tasks run in separate
/// processes each saw only their own output. A job over a limit fails naming the reduce task
/// whose output took it over, as it does when the tasks share a process.
fn check_job_output(spec: &JobSpec, reduces: &[TaskRecord]) -> Result<(), Error> {
    let (mut bytes, mut records) = (0u64, 0u64);
    for (p, record) in reduces.iter().enumerate() {
        bytes = bytes.saturating_add(record.counts.bytes_out);
        records = records.saturating_add(record.counts.records_out);
        if let Err(limit) = spec.output_limits().check_job(bytes, records) {
            return Err(Error::Task(TaskError::LimitExceeded {
                task: TaskId::Reduce(PartitionId(p as u32)),
                limit,
                site: crate::error::FailureSite::Task,
            }));
        }
    }
    Ok(())
}

/// `--max-bad-records` over every committed task.
fn check_bad_records(spec: &JobSpec, rejects: &[(TaskId, &Reject)]) -> Result<(), Error> {
    let limit = spec.max_bad_records();
    if rejects.len() as u64 <= limit {
        return Ok(());
    }
    let (task, last) = rejects[rejects.len() - 1];
    Err(Error::Task(crate::map::too_many_bad_records(
        limit,
        task,
        Some(last),
    )))
}

/// `--overwrite-partitions`: the new version keeps every output partition of the current
/// version that this run did not write (hard-linked, so versions stay independent), and
/// replaces the ones it did. Rerunning one day's job thus replaces that day only.
fn carry_over_partitions(
    committer: &JobCommitter,
    files: &mut Vec<OutputFile>,
) -> Result<(), Error> {
    let dataset = committer.dataset();
    let Some(current) = dataset.current()? else {
        return Ok(());
    };
    let previous = dataset.version_dir(current);
    let manifest = Manifest::read(&previous)?;
    let partition = |path: &str| path.rsplit_once('/').map(|(dir, _)| dir.to_owned());
    let written: std::collections::BTreeSet<String> =
        files.iter().filter_map(|f| partition(&f.path)).collect();
    for file in manifest.files {
        match partition(&file.path) {
            Some(dir) if !written.contains(&dir) => {
                committer.link_from(&previous, &file.path)?;
                files.push(file);
            }
            _ => {}
        }
    }
    Ok(())
}
