//! Publishing a job run once every task has committed: the part files every reduce task's
//! record names, partitions carried over from the current version (`--overwrite-partitions`),
//! the quarantined records, the manifest, `_SUCCESS` and the switch to the new version. And
//! before any task runs, whether there is anything to publish: a job that made the current
//! version already is unchanged ([`unchanged_since`]).

use crate::commit::JobCommitter;
use crate::dataset::{CheckOutcome, InputFingerprint, Manifest, OutputFile, VersionId};
use crate::error::{Error, TaskError};
use crate::gate::{self, PluginCheck};
use crate::map::Reject;
use crate::plan::JobPlan;
use crate::spec::JobSpec;
use crate::task::{PartitionId, TaskId};
use crate::worker::{TaskDone, TaskRecord};
use std::collections::BTreeSet;

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
    /// What each of the job's quality gates found (all passed).
    pub checks: Vec<CheckOutcome>,
}

/// Publishes the run: checks the job-wide bounds over what every task committed (whichever
/// run or process committed it), runs the job's quality gates over the staged version
/// (`plugins` runs those that are plugins), writes the manifest and makes the version
/// current. `maps` are the map tasks.
///
/// # Errors
/// A job-wide bound exceeded, a missing record, or output that cannot be written; the dataset
/// then still shows its previous version. [`Error::Rejected`] if a gate failed: the attempt
/// is then kept, unpublished, with a manifest saying which check failed and by how much.
pub fn publish(
    spec: &JobSpec,
    plan: &JobPlan,
    committer: JobCommitter,
    maps: &[TaskDone],
    plugins: &dyn PluginCheck,
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
    let carried = if spec.overwrite_partitions() {
        carry_over_partitions(&committer, &mut files)?
    } else {
        None
    };
    let maps = maps.iter().map(|done| (done.task, &done.record));
    let (rejected, lines) = rejects(spec, maps, &reduces)?;
    if let Some(lines) = lines {
        committer.write_file(REJECTS, &lines)?;
        files.push(
            OutputFile::from_file(&version_dir, REJECTS, rejected).map_err(|source| {
                Error::Output {
                    path: version_dir.join(REJECTS),
                    source,
                }
            })?,
        );
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let checks = gates(spec, &committer, &files, plugins)?;
    let mut manifest = plan.manifest(spec, files);
    if let Some(carried) = carried {
        manifest.inputs = carried.inputs(manifest.inputs);
    }
    manifest.checks = checks.clone();
    let failed: Vec<CheckOutcome> = checks.iter().filter(|c| !c.passed).cloned().collect();
    if !failed.is_empty() {
        manifest.rejected = true;
        let output = spec.output().to_path_buf();
        let kept = committer.reject_job(&manifest)?;
        return Err(Error::Rejected {
            output,
            failed,
            kept,
        });
    }
    let version = committer.commit_job(&manifest, spec.keep())?;
    Ok(Published {
        version,
        reduces,
        rejected,
        checks,
    })
}

/// Runs the job's quality gates over the staged version's data files (the whole version,
/// partitions carried over included; not the quarantined records).
fn gates(
    spec: &JobSpec,
    committer: &JobCommitter,
    files: &[OutputFile],
    plugins: &dyn PluginCheck,
) -> Result<Vec<CheckOutcome>, Error> {
    if spec.checks().is_empty() {
        return Ok(Vec::new());
    }
    let dataset = committer.dataset();
    let current = match dataset.current()? {
        Some(id) => Some((id, records_of(&Manifest::read(&dataset.version_dir(id))?))),
        None => None,
    };
    let data: Vec<OutputFile> = files
        .iter()
        .filter(|f| f.path != REJECTS)
        .cloned()
        .collect();
    let version_dir = committer.version_dir();
    let staged = gate::Staged {
        dir: &version_dir,
        files: &data,
        current,
    };
    gate::evaluate(spec.checks(), &staged, plugins)
}

/// The number of records in a version: in its data files, not its quarantined records.
pub(crate) fn records_of(manifest: &Manifest) -> u64 {
    manifest
        .files
        .iter()
        .filter(|f| f.path != REJECTS)
        .map(|f| f.records)
        .sum()
}

/// The records every committed task quarantined, checked against `--max-bad-records`: how
/// many, and the contents of [`REJECTS`] if there are any (one JSON line each, in input
/// order). `reduces` are in partition order.
///
/// # Errors
/// More bad records than the job allows.
pub(crate) fn rejects<'a>(
    spec: &JobSpec,
    maps: impl Iterator<Item = (TaskId, &'a TaskRecord)>,
    reduces: &'a [TaskRecord],
) -> Result<(u64, Option<Vec<u8>>), Error> {
    let reduce_rejects = reduces.iter().enumerate().flat_map(|(p, record)| {
        let task = TaskId::Reduce(PartitionId(p as u32));
        record.rejects.iter().map(move |r| (task, r))
    });
    let mut rejects: Vec<(TaskId, &Reject)> = maps
        .flat_map(|(task, record)| record.rejects.iter().map(move |r| (task, r)))
        .chain(reduce_rejects)
        .collect();
    rejects.sort_by(|(_, a), (_, b)| a.order().cmp(&b.order()));
    check_bad_records(spec, &rejects)?;
    if rejects.is_empty() {
        return Ok((0, None));
    }
    let mut lines = Vec::new();
    for (_, reject) in &rejects {
        serde_json::to_writer(&mut lines, reject).expect("a reject is JSON");
        lines.push(b'\n');
    }
    Ok((rejects.len() as u64, Some(lines)))
}

/// The job-wide output limits over every committed reduce task: tasks run in separate
/// processes each saw only their own output. A job over a limit fails naming the reduce task
/// whose output took it over, as it does when the tasks share a process.
pub(crate) fn check_job_output(spec: &JobSpec, reduces: &[TaskRecord]) -> Result<(), Error> {
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

/// The dataset's current version, if this job made it: its manifest's job digest is the
/// plan's ([`JobPlan::job_digest`] lists what that covers). Running the job again would
/// publish the same bytes. A current version without a readable manifest was made by no
/// known job.
///
/// # Errors
/// If the dataset's link cannot be read.
pub fn unchanged_since(
    committer: &JobCommitter,
    plan: &JobPlan,
) -> Result<Option<VersionId>, Error> {
    let dataset = committer.dataset();
    let Some(current) = dataset.current()? else {
        return Ok(None);
    };
    Ok(match Manifest::read(&dataset.version_dir(current)) {
        Ok(manifest)
            if !manifest.job_digest.is_empty() && manifest.job_digest == plan.job_digest =>
        {
            Some(current)
        }
        _ => None,
    })
}

/// The output partition (`date=2026-03-22`, or `a=1/b=2`) a file of a version is in: its
/// directory; `None` for a top-level file.
fn partition_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(dir, _)| dir)
}

/// What `--overwrite-partitions` carried over from the version before: the partitions, and the
/// inputs they were made from.
#[derive(Debug)]
struct Carried {
    /// Every partition of the version before.
    before: BTreeSet<String>,
    /// Those this run did not write, carried over.
    kept: BTreeSet<String>,
    /// The partitions this run wrote.
    written: BTreeSet<String>,
    /// The version before's inputs.
    inputs: Vec<InputFingerprint>,
}

impl Carried {
    /// The inputs of the new version, given this run's: those of the version before that went
    /// into a partition carried over, each listing those partitions, and this run's, each
    /// listing the partitions it wrote. One input in both (the same path, size and
    /// modification time) is listed once. With nothing carried over, this run's inputs made
    /// the whole version, and are listed without partitions, as in any other manifest.
    fn inputs(self, run: Vec<InputFingerprint>) -> Vec<InputFingerprint> {
        if self.kept.is_empty() {
            return run;
        }
        let mut by_input: std::collections::BTreeMap<(String, u128, u64), BTreeSet<String>> =
            std::collections::BTreeMap::new();
        for input in self.inputs {
            // An input listed without partitions went into every partition of its version.
            let made: BTreeSet<&String> = if input.partitions.is_empty() {
                self.before.iter().collect()
            } else {
                input.partitions.iter().collect()
            };
            let kept: BTreeSet<String> = made
                .into_iter()
                .filter(|p| self.kept.contains(*p))
                .cloned()
                .collect();
            if !kept.is_empty() {
                by_input
                    .entry((input.path, input.modified_ns, input.bytes))
                    .or_default()
                    .extend(kept);
            }
        }
        for input in run {
            by_input
                .entry((input.path, input.modified_ns, input.bytes))
                .or_default()
                .extend(self.written.iter().cloned());
        }
        by_input
            .into_iter()
            .map(
                |((path, modified_ns, bytes), partitions)| InputFingerprint {
                    path,
                    bytes,
                    modified_ns,
                    partitions: partitions.into_iter().collect(),
                },
            )
            .collect()
    }
}

/// `--overwrite-partitions`: the new version keeps every output partition of the current
/// version that this run did not write (hard-linked, so versions stay independent), and
/// replaces the ones it did. Rerunning one day's job thus replaces that day only. Returns
/// what was carried over, or `None` if there is no current version.
fn carry_over_partitions(
    committer: &JobCommitter,
    files: &mut Vec<OutputFile>,
) -> Result<Option<Carried>, Error> {
    let dataset = committer.dataset();
    let Some(current) = dataset.current()? else {
        return Ok(None);
    };
    let previous = dataset.version_dir(current);
    let manifest = Manifest::read(&previous)?;
    let written: BTreeSet<String> = files
        .iter()
        .filter_map(|f| partition_of(&f.path))
        .map(str::to_owned)
        .collect();
    let mut carried = Carried {
        before: BTreeSet::new(),
        kept: BTreeSet::new(),
        written,
        inputs: manifest.inputs,
    };
    for file in manifest.files {
        let Some(dir) = partition_of(&file.path).map(str::to_owned) else {
            continue;
        };
        carried.before.insert(dir.clone());
        if !carried.written.contains(&dir) {
            committer.link_from(&previous, &file.path)?;
            files.push(file);
            carried.kept.insert(dir);
        }
    }
    Ok(Some(carried))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str, modified_ns: u128, partitions: &[&str]) -> InputFingerprint {
        InputFingerprint {
            path: path.into(),
            bytes: 10,
            modified_ns,
            partitions: partitions.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn set(partitions: &[&str]) -> BTreeSet<String> {
        partitions.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn the_inputs_of_a_version_with_carried_partitions_are_those_of_every_partition_it_holds() {
        struct Case {
            name: &'static str,
            before: &'static [&'static str],
            kept: &'static [&'static str],
            written: &'static [&'static str],
            inputs_before: Vec<InputFingerprint>,
            run: Vec<InputFingerprint>,
            want: Vec<InputFingerprint>,
        }
        let cases = [
            Case {
                name: "a plain version, one day rerun from a new input",
                before: &["d=22", "d=23"],
                kept: &["d=22"],
                written: &["d=23"],
                inputs_before: vec![input("both.txt", 1, &[])],
                run: vec![input("day2.txt", 2, &[])],
                want: vec![
                    input("both.txt", 1, &["d=22"]),
                    input("day2.txt", 2, &["d=23"]),
                ],
            },
            Case {
                name: "an input whose every partition was replaced is no longer listed",
                before: &["d=22", "d=23"],
                kept: &["d=22"],
                written: &["d=23"],
                inputs_before: vec![input("a.txt", 1, &["d=22"]), input("b.txt", 1, &["d=23"])],
                run: vec![input("b.txt", 5, &[])],
                want: vec![input("a.txt", 1, &["d=22"]), input("b.txt", 5, &["d=23"])],
            },
            Case {
                name: "the same input in both is listed once, with both its partitions",
                before: &["d=22", "d=23"],
                kept: &["d=22"],
                written: &["d=23", "d=24"],
                inputs_before: vec![input("all.txt", 1, &["d=22", "d=23"])],
                run: vec![input("all.txt", 1, &[])],
                want: vec![input("all.txt", 1, &["d=22", "d=23", "d=24"])],
            },
            Case {
                name: "nothing carried over: the run made the whole version",
                before: &["d=23"],
                kept: &[],
                written: &["d=23"],
                inputs_before: vec![input("old.txt", 1, &[])],
                run: vec![input("new.txt", 2, &[])],
                want: vec![input("new.txt", 2, &[])],
            },
        ];
        for case in cases {
            let carried = Carried {
                before: set(case.before),
                kept: set(case.kept),
                written: set(case.written),
                inputs: case.inputs_before,
            };
            assert_eq!(carried.inputs(case.run), case.want, "{}", case.name);
        }
    }

    #[test]
    fn a_file_s_partition_is_its_directory() {
        assert_eq!(partition_of("part-00000"), None);
        assert_eq!(
            partition_of("date=2026-03-22/part-00000"),
            Some("date=2026-03-22")
        );
        assert_eq!(partition_of("a=1/b=2/part-00003"), Some("a=1/b=2"));
    }
}
