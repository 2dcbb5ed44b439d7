//! Commits that survive retries and crashes, for one job run on a dataset.
//!
//! Everything a run writes lives under the dataset's work directory, in a subdirectory named
//! by the job's fingerprint (plugin digest, parameters, inputs, settings), so running the
//! same command again after a crash finds it and goes on where the crash stopped:
//!
//! ```text
//!  .out.sandmill/work/<fingerprint>/
//!      attempts/<task>-attempt-<n>/   each attempt writes only here
//!      shuffle/                       map output files (committed ones are named in tasks/)
//!      tasks/<task>.json              a task is committed once its record is here
//!      version/part-NNNNN             committed reduce output: the version being built
//!      publish-as                     written just before the version is published
//! ```
//!
//! A task commits by hard-linking its file or record into place: linking fails if the name
//! exists, so the first attempt to commit wins and a late duplicate is a no-op. The job
//! commits by writing the manifest and `_SUCCESS` into `version/` and publishing it as the
//! dataset's next version (an atomic switch). A failed or interrupted run leaves its committed
//! tasks for the next run, never anything visible in the dataset. The run holds the dataset's
//! [`DatasetGuard`] from [`JobCommitter::begin`] to its end, so no other job, rollback or
//! retention changes the dataset meanwhile.

use crate::dataset::{Dataset, DatasetGuard, Manifest, VersionId};
use crate::error::Error;
use crate::task::TaskId;
use std::io;
use std::path::{Path, PathBuf};

/// The name of the marker written last into a committed version.
pub const SUCCESS: &str = "_SUCCESS";

/// Stages one job run's output in a dataset and publishes it.
#[derive(Debug)]
pub struct JobCommitter {
    /// Held for the whole run: one job (or rollback) at a time per dataset.
    guard: DatasetGuard,
    work: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.into(),
        source,
    }
}

/// The name a task's files and record go by.
pub fn task_name(task: TaskId) -> String {
    match task {
        TaskId::Map(s) => format!("map-{}", s.0),
        TaskId::Reduce(p) => format!("reduce-{}", p.0),
    }
}

/// Links `from` to `to` unless `to` exists; `Ok(false)` if it did (another attempt won).
fn link_new(from: &Path, to: &Path) -> io::Result<bool> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

impl JobCommitter {
    /// Opens (or creates) the dataset at `output`, locks it, and opens the work directory of
    /// the job with this `fingerprint`; work left by runs of other jobs is removed.
    ///
    /// # Errors
    /// If `output` is something other than a dataset (unless `overwrite`), another run holds
    /// the dataset ([`DatasetError::Busy`](crate::dataset::DatasetError::Busy)), or the
    /// directories cannot be created.
    pub fn begin(output: &Path, overwrite: bool, fingerprint: &str) -> Result<Self, Error> {
        let guard = Dataset::open_or_create(output, overwrite)?.lock()?;
        let work_root = guard.work_dir();
        let work = work_root.join(fingerprint);
        if let Ok(entries) = std::fs::read_dir(&work_root) {
            for entry in entries.flatten() {
                if entry.path() != work {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        for dir in ["attempts", "shuffle", "tasks", "version"] {
            let dir = work.join(dir);
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        }
        // Attempts of an earlier, interrupted run are never committed: start clean.
        let attempts = work.join("attempts");
        let _ = std::fs::remove_dir_all(&attempts);
        std::fs::create_dir_all(&attempts).map_err(io_error(&attempts))?;
        crate::cleanup::register(&attempts);
        Ok(Self { guard, work })
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.guard
    }

    /// Where map tasks write their output files.
    pub fn shuffle_dir(&self) -> PathBuf {
        self.work.join("shuffle")
    }

    /// The version being built.
    pub fn version_dir(&self) -> PathBuf {
        self.work.join("version")
    }

    /// A fresh directory for one attempt of `task` to write into.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn attempt_dir(&self, task: TaskId, attempt: u32) -> io::Result<PathBuf> {
        let dir = self
            .work
            .join("attempts")
            .join(format!("{}-attempt-{attempt}", task_name(task)));
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Commits an attempt's file as `name` in the version being built. Returns `false` if
    /// another attempt committed it first (this attempt's file is then discarded).
    ///
    /// # Errors
    /// If linking fails.
    pub fn commit_file(&self, attempt_file: &Path, name: &str) -> io::Result<bool> {
        let target = self.version_dir().join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let won = link_new(attempt_file, &target)?;
        std::fs::remove_file(attempt_file)?;
        Ok(won)
    }

    /// Commits `task` by recording `record` (JSON). Returns `false` if it was committed
    /// already.
    ///
    /// # Errors
    /// If the record cannot be written.
    pub fn commit_task<T: serde::Serialize>(
        &self,
        task: TaskId,
        attempt: u32,
        record: &T,
    ) -> io::Result<bool> {
        let name = format!("{}.json", task_name(task));
        let attempt_file = self.attempt_dir(task, attempt)?.join(&name);
        std::fs::write(
            &attempt_file,
            serde_json::to_vec(record).map_err(io::Error::other)?,
        )?;
        crate::failpoint::hit("task-commit-before")?;
        let won = link_new(&attempt_file, &self.work.join("tasks").join(&name))?;
        std::fs::remove_file(&attempt_file)?;
        crate::failpoint::hit("task-commit-after")?;
        Ok(won)
    }

    /// The record of `task`, if it was committed (by this run or an earlier one).
    pub fn committed<T: serde::de::DeserializeOwned>(&self, task: TaskId) -> Option<T> {
        let path = self
            .work
            .join("tasks")
            .join(format!("{}.json", task_name(task)));
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes a whole file into the version being built.
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.version_dir().join(name);
        std::fs::write(&path, bytes).map_err(io_error(&path))
    }

    /// If an earlier run was interrupted while publishing, finishes that: returns the version
    /// it published.
    ///
    /// # Errors
    /// If the dataset cannot be switched.
    pub fn resume_publish(&self) -> Result<Option<VersionId>, Error> {
        let record = self.work.join("publish-as");
        let Ok(text) = std::fs::read_to_string(&record) else {
            return Ok(None);
        };
        let Ok(id) = text.trim().parse::<VersionId>() else {
            return Ok(None);
        };
        let version = self.version_dir();
        let id = if version.join(SUCCESS).exists() {
            self.guard.publish(&version)?
        } else if self.guard.version_dir(id).join(SUCCESS).exists() {
            self.guard.rollback(Some(id))?
        } else {
            return Ok(None);
        };
        Ok(Some(id))
    }

    /// Publishes the version: writes `manifest` and `_SUCCESS`, makes it the dataset's current
    /// version, keeps at most `keep` versions, and removes the work directory.
    ///
    /// # Errors
    /// If any step fails; the dataset then still shows its previous version.
    pub fn commit_job(self, manifest: &Manifest, keep: Option<usize>) -> Result<VersionId, Error> {
        let version = self.version_dir();
        manifest.write(&version)?;
        let success = version.join(SUCCESS);
        std::fs::write(&success, b"").map_err(io_error(&success))?;
        crate::failpoint::hit("job-commit").map_err(io_error(&version))?;
        let record = self.work.join("publish-as");
        let next = self.guard.next_version()?;
        std::fs::write(&record, next.to_string()).map_err(io_error(&record))?;
        let id = self.guard.publish(&version)?;
        crate::failpoint::hit("job-commit").map_err(io_error(&version))?;
        if let Some(keep) = keep {
            self.guard.retain(keep)?;
        }
        self.finish();
        Ok(id)
    }

    /// Removes the work directory of a job whose version is published.
    pub fn finish(self) {
        crate::cleanup::unregister(&self.work.join("attempts"));
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

impl Drop for JobCommitter {
    fn drop(&mut self) {
        // Uncommitted attempts are garbage; committed tasks stay for the next run.
        let attempts = self.work.join("attempts");
        if attempts.exists() {
            let _ = std::fs::remove_dir_all(&attempts);
            let _ = std::fs::create_dir_all(&attempts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DatasetError;
    use crate::task::PartitionId;

    #[test]
    fn duplicate_attempts_race_and_exactly_one_commit_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        let task = TaskId::Reduce(PartitionId(0));
        for round in 0..20 {
            let name = format!("part-{round:05}");
            let results: Vec<(u32, bool, bool)> = std::thread::scope(|scope| {
                let handles: Vec<_> = (1..=4u32)
                    .map(|attempt| {
                        let (committer, name) = (&committer, &name);
                        scope.spawn(move || {
                            let dir = committer.attempt_dir(task, attempt + 10 * round).unwrap();
                            let file = dir.join("part");
                            std::fs::write(&file, format!("attempt {attempt}")).unwrap();
                            let file_won = committer.commit_file(&file, name).unwrap();
                            let task = TaskId::Map(crate::input::SplitId(round));
                            let record_won = committer
                                .commit_task(task, attempt + 10 * round, &attempt)
                                .unwrap();
                            (attempt, file_won, record_won)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let file_winners: Vec<u32> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
            let record_winners: Vec<u32> = results.iter().filter(|r| r.2).map(|r| r.0).collect();
            assert_eq!(file_winners.len(), 1, "{results:?}");
            assert_eq!(record_winners.len(), 1, "{results:?}");
            let committed = std::fs::read_to_string(committer.version_dir().join(&name)).unwrap();
            assert_eq!(committed, format!("attempt {}", file_winners[0]));
            let record: u32 = committer
                .committed(TaskId::Map(crate::input::SplitId(round)))
                .unwrap();
            assert_eq!(record, record_winners[0]);
        }
    }

    #[test]
    fn a_second_run_or_a_rollback_on_a_dataset_in_use_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = JobCommitter::begin(&out, false, "job").unwrap();
        let err = JobCommitter::begin(&out, false, "job").unwrap_err();
        assert!(
            matches!(err, Error::Dataset(DatasetError::Busy { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("another sandmill run"), "{err}");
        // `sandmill rollback` takes the same guard.
        let err = Dataset::open(&out).unwrap().lock().unwrap_err();
        assert!(matches!(err, DatasetError::Busy { .. }), "{err}");
        drop(first);
        JobCommitter::begin(&out, false, "job").unwrap();
    }
}
