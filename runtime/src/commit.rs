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
//!      publish-as                     written just before the version is published: its
//!                                     id, and the `--keep` to apply after
//! ```
//!
//! A task commits by hard-linking its file or record into place: linking fails if the name
//! exists, so the first attempt to commit wins and a late duplicate is a no-op. The job
//! commits by writing the manifest and `_SUCCESS` into `version/` and publishing it as the
//! dataset's next version (an atomic switch). A failed or interrupted run leaves its committed
//! tasks for the next run, never anything visible in the dataset. The run holds the dataset's
//! [`DatasetGuard`] from [`JobCommitter::begin`] to its end, so no other job, rollback or
//! retention changes the dataset meanwhile.
//!
//! # Durable order
//!
//! A power cut may lose any write that was not synced, and may keep the synced ones in any
//! order. So each step below is synced (file contents with `sync_all`, names with a sync of
//! the directory holding them) before the next one starts, and a step that is on disk
//! implies that every step before it is too:
//!
//! 1. A part file: its bytes are synced in the attempt directory; then any partition
//!    directory it needs (`version/date=…/`) is created and the directory naming it synced;
//!    then it is linked into `version/` and that directory is synced
//!    ([`JobCommitter::commit_file`]).
//! 2. A task record: written and synced in the attempt directory, then linked into `tasks/`
//!    and `tasks/` synced ([`JobCommitter::commit_task`]). A reduce task commits its record
//!    only after its part files (step 1), so a record on disk names files on disk.
//! 3. Other files of the version (`_rejects.jsonl`): written, synced, `version/` synced
//!    ([`JobCommitter::write_file`]).
//! 4. The manifest: written under a temporary name, synced, renamed, `version/` synced.
//! 5. `_SUCCESS`: written, synced, `version/` synced. So `_SUCCESS` on disk means the
//!    manifest and every part file are.
//! 6. `publish-as` (the id, and the `--keep`): written, synced, the work directory synced.
//! 7. Publish ([`DatasetGuard::publish`]): `version/` is renamed into `versions/`, and
//!    `versions/` and the work directory are synced; `next-version` is written and synced;
//!    the link is switched and the directory holding it (the dataset's parent) synced.
//! 8. Retention deletes old versions (renamed out of `versions/` first), then syncs
//!    `versions/`; the work directory is removed and `work/` synced.
//!
//! What a crash leaves is cleaned up by the next run's [`JobCommitter::begin`]: a task record
//! that cannot be read or parsed (torn by a crash, or damaged) is not committed work, and is
//! removed, with a warning; so is a part file in `version/` whose reduce task has no record
//! (its attempt never committed, so the task runs again and commits its own file; with
//! first-writer-wins linking the stale file would otherwise win over the redo's).

pub(crate) mod parquet;
pub(crate) mod parts;

use crate::dataset::{Dataset, DatasetGuard, Manifest, VersionId, sync_dir};
use crate::error::Error;
use crate::task::{PartitionId, TaskId};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The name of the marker written last into a committed version.
pub const SUCCESS: &str = "_SUCCESS";

/// The work directory's record of the id a version is being published as.
const PUBLISH_AS: &str = "publish-as";

/// Stages one job run's output in a dataset and publishes it.
#[derive(Debug)]
pub struct JobCommitter {
    dataset: Dataset,
    /// Held for the whole run: one job (or rollback) at a time per dataset. `None` for a task
    /// attached to a run that another process holds the guard for.
    guard: Option<DatasetGuard>,
    work: PathBuf,
    /// Partition directories below `version/` whose names are synced.
    synced_dirs: Mutex<HashSet<PathBuf>>,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.into(),
        source,
    }
}

/// The partition whose reduce task writes files named `name` (`part-00003`, or
/// `part-00003.parquet`): the number in it.
fn part_partition(name: &str) -> Option<PartitionId> {
    let name = name.strip_suffix(".parquet").unwrap_or(name);
    let digits = name.strip_prefix("part-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(PartitionId)
}

/// Links `from` to `to` unless `to` exists; `Ok(false)` if it did (another attempt won).
fn link_new(from: &Path, to: &Path) -> io::Result<bool> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a new file at `path` and syncs it (the file, not its name).
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Every regular file below `dir`, recursively.
fn files_below(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            files_below(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

impl JobCommitter {
    /// Opens (or creates) the dataset at `output`, locks it, and opens the work directory of
    /// the job with this `fingerprint`; work left by runs of other jobs is removed, and so is
    /// whatever an interrupted run of this job left that is not committed (see the module
    /// docs).
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
        // The directories that will name records and part files.
        sync_dir(&work);
        sync_dir(&work_root);
        // Attempts of an earlier, interrupted run are never committed: start clean.
        let attempts = work.join("attempts");
        let _ = std::fs::remove_dir_all(&attempts);
        std::fs::create_dir_all(&attempts).map_err(io_error(&attempts))?;
        crate::cleanup::register(&attempts);
        let committer = Self {
            dataset: (*guard).clone(),
            guard: Some(guard),
            work,
            synced_dirs: Mutex::new(HashSet::new()),
        };
        committer.recover()?;
        Ok(committer)
    }

    /// Removes what an interrupted run left that is not committed work: task records that
    /// cannot be read or parsed, then part files no record covers. A version sealed for
    /// publishing (`_SUCCESS` and `publish-as`) is left whole for
    /// [`resume_publish`](Self::resume_publish).
    fn recover(&self) -> Result<(), Error> {
        let version = self.version_dir();
        if version.join(SUCCESS).exists() && self.work.join(PUBLISH_AS).exists() {
            return Ok(());
        }
        let tasks = self.tasks_dir();
        let entries = std::fs::read_dir(&tasks).map_err(io_error(&tasks))?;
        for entry in entries {
            let path = entry.map_err(io_error(&tasks))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
            if let Err(why) = parsed {
                discard_record(&path, &why);
            }
        }
        self.remove_uncommitted_parts(None)
            .map_err(io_error(&version))
    }

    /// Removes the part files in `version/` (of `only` that partition, or of every one) whose
    /// reduce task has no record, and `_SUCCESS` first if there are any. Call it only while no
    /// attempt of those tasks is committing: their files are not committed until the record is.
    fn remove_uncommitted_parts(&self, only: Option<PartitionId>) -> io::Result<()> {
        let version = self.version_dir();
        let mut files = Vec::new();
        files_below(&version, &mut files)?;
        let stale: Vec<PathBuf> = files
            .into_iter()
            .filter(|path| {
                let partition = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(part_partition);
                partition.is_some_and(|p| {
                    only.is_none_or(|only| only == p)
                        && !self.record_path(TaskId::Reduce(p)).exists()
                })
            })
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        // The version is no longer complete: unmark it before it loses a file.
        match std::fs::remove_file(version.join(SUCCESS)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => sync_dir(&version),
        }
        for path in &stale {
            std::fs::remove_file(path)?;
            if let Some(dir) = path.parent() {
                sync_dir(dir);
            }
        }
        Ok(())
    }

    /// Opens the work directory of a job run that another process started and holds the
    /// dataset's lock for (the run that planned the task): for `sandmill task run`. It takes no
    /// lock, removes nothing on open, and when dropped removes only its own attempts' files.
    ///
    /// # Errors
    /// If there is no dataset at `output` or no work directory for `fingerprint`.
    pub fn attach(output: &Path, fingerprint: &str) -> Result<Self, Error> {
        let dataset = Dataset::open_or_create(output, false)?;
        let work = dataset.work_dir().join(fingerprint);
        if !work.join("tasks").is_dir() {
            return Err(Error::Spec(format!(
                "no job run {fingerprint} in progress in dataset {}: the run that planned this \
                 task has finished or was started again; plan the task again",
                output.display()
            )));
        }
        Ok(Self {
            dataset,
            guard: None,
            work,
            synced_dirs: Mutex::new(HashSet::new()),
        })
    }

    /// The guard that lets this run change the dataset.
    fn guard(&self) -> Result<&DatasetGuard, Error> {
        self.guard.as_ref().ok_or_else(|| {
            Error::Bug("a task attached to another process's run tried to publish".into())
        })
    }

    /// The job run's work directory.
    pub fn work_dir(&self) -> PathBuf {
        self.work.clone()
    }

    /// Writes the spec of attempt `attempt` of `task`, for a task run by another process,
    /// into the work directory's `specs/`; returns its path.
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_spec(&self, task: TaskId, attempt: u32, spec: &[u8]) -> io::Result<PathBuf> {
        let dir = self.work.join("specs");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-attempt-{attempt}.json", task.name()));
        std::fs::write(&path, spec)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(path)
    }

    /// Removes a spec [`JobCommitter::write_spec`] wrote, once its task has run.
    pub fn remove_spec(&self, path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    /// Removes an attempt's directory and what is left in it (its files were committed, or
    /// will not be).
    pub fn discard_attempt(&self, dir: &Path) {
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// Where map tasks write their output files.
    pub fn shuffle_dir(&self) -> PathBuf {
        self.work.join("shuffle")
    }

    /// The version being built.
    pub fn version_dir(&self) -> PathBuf {
        self.work.join("version")
    }

    /// Where committed task records are.
    fn tasks_dir(&self) -> PathBuf {
        self.work.join("tasks")
    }

    /// Where `task`'s record is once it is committed.
    fn record_path(&self, task: TaskId) -> PathBuf {
        record_path(&self.work, task)
    }

    /// The run's committed records and map output, for a signal handler (which cannot
    /// borrow the committer).
    pub fn records(&self) -> Records {
        Records {
            work: self.work.clone(),
        }
    }

    /// A fresh directory for one attempt of `task` to write into.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn attempt_dir(&self, task: TaskId, attempt: u32) -> io::Result<PathBuf> {
        let _hold = crate::cleanup::hold()?;
        let dir = self
            .work
            .join("attempts")
            .join(format!("{}-attempt-{attempt}", task.name()));
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Creates `dir`, a directory in the version being built, and syncs the directories that
    /// name it and its parents up to `version/` (once per run for each).
    fn create_version_dir(&self, dir: &Path) -> io::Result<()> {
        let version = self.version_dir();
        std::fs::create_dir_all(dir)?;
        let mut synced = self.synced_dirs.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = dir;
        while at != version && !synced.contains(at) {
            let Some(parent) = at.parent() else { break };
            sync_dir(parent);
            synced.insert(at.to_path_buf());
            at = parent;
        }
        Ok(())
    }

    /// Commits an attempt's file as `name` in the version being built: syncs its bytes, links
    /// it into place and syncs the directory naming it. Returns `false` if another attempt
    /// committed it first (this attempt's file is then discarded).
    ///
    /// # Errors
    /// If syncing or linking fails.
    pub fn commit_file(&self, attempt_file: &Path, name: &str) -> io::Result<bool> {
        let target = self.version_dir().join(name);
        let dir = target.parent().unwrap_or(&target).to_path_buf();
        File::open(attempt_file)?.sync_all()?;
        self.create_version_dir(&dir)?;
        let won = link_new(attempt_file, &target)?;
        sync_dir(&dir);
        crate::failpoint::hit("commit-step")?;
        std::fs::remove_file(attempt_file)?;
        Ok(won)
    }

    /// Commits `task` by recording `record` (JSON): written and synced, then linked into
    /// `tasks/`, which is synced. Returns `false` if it was committed already.
    ///
    /// # Errors
    /// If the record cannot be written.
    pub fn commit_task<T: serde::Serialize>(
        &self,
        task: TaskId,
        attempt: u32,
        record: &T,
    ) -> io::Result<bool> {
        // An interrupt waits for a commit under way, so that it says truly what is committed.
        let _hold = crate::cleanup::hold()?;
        let name = format!("{}.json", task.name());
        let attempt_file = self.attempt_dir(task, attempt)?.join(&name);
        write_synced(
            &attempt_file,
            &serde_json::to_vec(record).map_err(io::Error::other)?,
        )?;
        crate::failpoint::hit("task-commit-before")?;
        let tasks = self.tasks_dir();
        let won = link_new(&attempt_file, &tasks.join(&name))?;
        sync_dir(&tasks);
        crate::failpoint::hit("commit-step")?;
        std::fs::remove_file(&attempt_file)?;
        crate::failpoint::hit("task-commit-after")?;
        Ok(won)
    }

    /// The record of `task`, if it was committed (by this run or an earlier one).
    ///
    /// A record that cannot be read or parsed as a `T` is not committed work: it is removed
    /// (with a warning on stderr), and so are the part files of a reduce task's, so that the
    /// task runs again and commits anew. (A record this run linked is always whole, so only
    /// an earlier run's can be torn; ask for a reduce task's before running it again.)
    pub fn committed<T: serde::de::DeserializeOwned>(&self, task: TaskId) -> Option<T> {
        let path = self.record_path(task);
        let why = match std::fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => e.to_string(),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(record) => return Some(record),
                Err(e) => e.to_string(),
            },
        };
        discard_record(&path, &why);
        if let TaskId::Reduce(partition) = task
            && let Err(e) = self.remove_uncommitted_parts(Some(partition))
        {
            eprintln!(
                "sandmill: warning: cannot remove the uncommitted part files of {task} in {}: {e}",
                self.version_dir().display()
            );
        }
        None
    }

    /// Whether every one of the files `names` is in the version being built.
    pub fn has_files<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        let version = self.version_dir();
        names.into_iter().all(|name| version.join(name).is_file())
    }

    /// Takes back the commit of `task` whose output is gone (a map task's output kept in
    /// the memory of a process that ended), so that the task can run and commit again.
    ///
    /// # Errors
    /// If its record cannot be removed.
    pub fn forget(&self, task: TaskId) -> io::Result<()> {
        match std::fs::remove_file(self.record_path(task)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Writes a whole file into the version being built, synced.
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.version_dir().join(name);
        write_synced(&path, bytes).map_err(io_error(&path))?;
        sync_dir(&self.version_dir());
        Ok(())
    }

    /// Removes what map task attempts left in the work directory's shuffle directory but
    /// the run files `keep`: what attempts interrupted by a crash or Ctrl-C left behind.
    pub fn remove_spills_except<'a>(&self, keep: impl IntoIterator<Item = &'a Path>) {
        self.records().remove_spills_except(keep);
    }

    /// Hard-links the file `relative` of the version directory `previous` into the version
    /// being built, so that the new version keeps it (`--overwrite-partitions`).
    ///
    /// # Errors
    /// If it cannot be linked.
    pub fn link_from(&self, previous: &Path, relative: &str) -> Result<(), Error> {
        let to = self.version_dir().join(relative);
        let io = io_error(&to);
        let linked = match to.parent() {
            Some(parent) => std::fs::create_dir_all(parent),
            None => Ok(()),
        }
        .and_then(
            |()| match std::fs::hard_link(previous.join(relative), &to) {
                // Carried over by an interrupted run of this job already: link it afresh.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::remove_file(&to)
                    .and_then(|()| std::fs::hard_link(previous.join(relative), &to)),
                linked => linked,
            },
        );
        linked.map_err(io)
    }

    /// If an earlier run was interrupted while publishing, finishes that (the switch, and the
    /// retention it was run with): returns the version it published.
    ///
    /// # Errors
    /// If the dataset cannot be switched.
    pub fn resume_publish(&self) -> Result<Option<VersionId>, Error> {
        let record = self.work.join(PUBLISH_AS);
        let Ok(text) = std::fs::read_to_string(&record) else {
            return Ok(None);
        };
        // `v000003`, then `keep 2` if the run had `--keep 2`.
        let mut lines = text.lines();
        let Some(Ok(id)) = lines.next().map(|l| l.trim().parse::<VersionId>()) else {
            return Ok(None);
        };
        let keep = lines
            .filter_map(|l| l.trim().strip_prefix("keep "))
            .find_map(|n| n.parse::<usize>().ok());
        let version = self.version_dir();
        let id = if version.join(SUCCESS).exists() {
            self.guard()?.publish(&version)?
        } else if self.guard()?.version_dir(id).join(SUCCESS).exists() {
            // Moved into place; the crash may have come before its time was recorded.
            if self.guard()?.published(id)?.is_none() {
                self.guard()?
                    .record_published(id, std::time::SystemTime::now())?;
            }
            self.guard()?.rollback(Some(id))?
        } else {
            return Ok(None);
        };
        if let Some(keep) = keep {
            self.guard()?.retain(keep)?;
        }
        Ok(Some(id))
    }

    /// Publishes the version: writes `manifest` and `_SUCCESS`, makes it the dataset's current
    /// version, keeps at most `keep` versions, and removes the work directory, in the durable
    /// order of the module docs.
    ///
    /// # Errors
    /// If any step fails; the dataset then still shows its previous version.
    pub fn commit_job(self, manifest: &Manifest, keep: Option<usize>) -> Result<VersionId, Error> {
        let version = self.version_dir();
        let step = || crate::failpoint::hit("commit-step").map_err(io_error(&version));
        // What a run killed while writing the manifest left, which would be published as a
        // data file.
        let tmp = format!("{}.tmp-", Manifest::FILE);
        for entry in std::fs::read_dir(&version).map_err(io_error(&version))? {
            let entry = entry.map_err(io_error(&version))?;
            if entry.file_name().to_string_lossy().starts_with(&tmp) {
                std::fs::remove_file(entry.path()).map_err(io_error(&entry.path()))?;
            }
        }
        manifest.write(&version)?;
        step()?;
        let success = version.join(SUCCESS);
        write_synced(&success, b"").map_err(io_error(&success))?;
        sync_dir(&version);
        crate::failpoint::hit("job-commit").map_err(io_error(&version))?;
        let record = self.work.join(PUBLISH_AS);
        let next = self.guard()?.next_version()?;
        let mut text = format!("{next}\n");
        if let Some(keep) = keep {
            text.push_str(&format!("keep {keep}\n"));
        }
        write_synced(&record, text.as_bytes()).map_err(io_error(&record))?;
        sync_dir(&self.work);
        step()?;
        let id = self.guard()?.publish(&version)?;
        crate::failpoint::hit("job-commit").map_err(io_error(&version))?;
        if let Some(keep) = keep {
            self.guard()?.retain(keep)?;
            step()?;
        }
        self.finish();
        Ok(id)
    }

    /// Ends a run whose output failed a quality gate: writes `manifest` (which says so)
    /// into the version, moves it to the dataset's `rejected/` without publishing it, and
    /// removes the work directory, so that a rerun runs the job afresh. Returns where the
    /// attempt is kept.
    ///
    /// # Errors
    /// If the manifest cannot be written or the version moved; the dataset still shows its
    /// previous version either way.
    pub fn reject_job(self, manifest: &Manifest) -> Result<PathBuf, Error> {
        let version = self.version_dir();
        manifest.write(&version)?;
        let kept = self.guard()?.keep_rejected(&version)?;
        self.finish();
        Ok(kept)
    }

    /// Ends a run that publishes nothing (its job made the current version already): its work
    /// directory is removed if no task is committed in it, and kept otherwise (what an
    /// interrupted forced run left), for a forced run to resume.
    pub fn close_unpublished(self) {
        let committed = std::fs::read_dir(self.tasks_dir())
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true);
        if !committed {
            self.finish();
        }
    }

    /// Removes the work directory of a job whose version is published.
    pub fn finish(self) {
        crate::cleanup::unregister(&self.work.join("attempts"));
        // Renamed away first, in one step: a process killed while removing it must not leave
        // some of the records without the `publish-as` that says the job is published (a
        // rerun would take them for an unfinished run). The next run removes the rest.
        let done = self
            .work
            .with_extension(format!("done-{}", std::process::id()));
        let removed = match std::fs::rename(&self.work, &done) {
            Ok(()) => &done,
            Err(_) => &self.work,
        };
        let _ = std::fs::remove_dir_all(removed);
        // A stale `publish-as` found again after a power cut would switch the link back.
        if let Some(root) = self.work.parent() {
            sync_dir(root);
        }
    }
}

/// Where the record of `task` is once it is committed, in the work directory `work`.
fn record_path(work: &Path, task: TaskId) -> PathBuf {
    work.join("tasks").join(format!("{}.json", task.name()))
}

/// A job run's committed records and map output, read and tidied without its
/// [`JobCommitter`]: for a signal handler, which outlives every borrow. It never removes a
/// record.
#[derive(Debug, Clone)]
pub struct Records {
    work: PathBuf,
}

impl Records {
    /// Whether the run's work directory is still there (it is removed once the job is
    /// published).
    pub fn exist(&self) -> bool {
        self.work.join("tasks").is_dir()
    }

    /// The record of `task`, if it is committed and can be read as a `T`.
    pub fn read<T: serde::de::DeserializeOwned>(&self, task: TaskId) -> Option<T> {
        let bytes = std::fs::read(record_path(&self.work, task)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes what map task attempts left in the work directory's shuffle directory but
    /// the run files `keep`: what attempts interrupted by a crash or Ctrl-C left behind.
    pub fn remove_spills_except<'a>(&self, keep: impl IntoIterator<Item = &'a Path>) {
        let keep: std::collections::BTreeSet<&Path> =
            keep.into_iter().filter_map(Path::parent).collect();
        for entry in std::fs::read_dir(self.work.join("shuffle"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if !keep.contains(path.as_path()) {
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
}

/// Removes a task record that cannot be read or parsed, saying so on stderr: it is not
/// committed work, and while it is there the task's next record cannot be linked in its
/// place.
fn discard_record(path: &Path, why: &str) {
    eprintln!(
        "sandmill: warning: removed the task record {}, which is torn or unreadable ({}); its \
         task runs again",
        path.display(),
        crate::text::inert(why)
    );
    if std::fs::remove_file(path).is_ok()
        && let Some(dir) = path.parent()
    {
        sync_dir(dir);
    }
}

impl Drop for JobCommitter {
    fn drop(&mut self) {
        // Uncommitted attempts are garbage; committed tasks stay for the next run. A task
        // attached to another process's run leaves the attempts of that run's other tasks.
        let attempts = self.work.join("attempts");
        if self.guard.is_some() && attempts.exists() {
            let _ = std::fs::remove_dir_all(&attempts);
            let _ = std::fs::create_dir_all(&attempts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DatasetError;

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

    /// Commits `text` as the part file `name` of `task`, and returns whether it won.
    fn commit_part(
        committer: &JobCommitter,
        task: TaskId,
        attempt: u32,
        name: &str,
        text: &str,
    ) -> bool {
        let dir = committer.attempt_dir(task, attempt).unwrap();
        let file = dir.join("part");
        std::fs::write(&file, text).unwrap();
        committer.commit_file(&file, name).unwrap()
    }

    #[test]
    fn a_torn_record_and_its_part_files_are_not_committed_work() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let work = tmp.path().join(".out.sandmill/work/job");
        let (torn, whole) = (
            TaskId::Reduce(PartitionId(0)),
            TaskId::Reduce(PartitionId(1)),
        );
        {
            let committer = JobCommitter::begin(&out, false, "job").unwrap();
            for (task, p) in [(torn, 0), (whole, 1)] {
                let names = [format!("part-0000{p}"), format!("date=x/part-0000{p}")];
                for name in &names {
                    assert!(commit_part(&committer, task, 1, name, "stale\n"));
                }
                assert!(committer.commit_task(task, 1, &names).unwrap());
            }
            std::fs::write(committer.version_dir().join(SUCCESS), "").unwrap();
        }
        // A crash tore one record: only its first half reached the disk.
        let record = work.join("tasks/reduce-0.json");
        let bytes = std::fs::read(&record).unwrap();
        std::fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();

        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        assert!(!record.exists(), "the torn record is removed");
        let version = committer.version_dir();
        for gone in ["part-00000", "date=x/part-00000", SUCCESS] {
            assert!(!version.join(gone).exists(), "{gone}");
        }
        for kept in ["part-00001", "date=x/part-00001"] {
            assert!(version.join(kept).exists(), "{kept}");
        }
        assert_eq!(committer.committed::<Vec<String>>(torn), None);
        let names: Vec<String> = committer.committed(whole).unwrap();
        assert_eq!(names, ["part-00001", "date=x/part-00001"]);

        // The task runs again, and its files and record commit.
        assert!(commit_part(&committer, torn, 1, "part-00000", "fresh\n"));
        assert!(committer.commit_task(torn, 1, &["part-00000"]).unwrap());
        assert_eq!(
            committer.committed::<Vec<String>>(torn).unwrap(),
            ["part-00000"]
        );
        assert_eq!(
            std::fs::read_to_string(version.join("part-00000")).unwrap(),
            "fresh\n"
        );
    }

    #[test]
    fn a_record_that_is_not_the_expected_shape_is_discarded_when_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        let (odd, good) = (
            TaskId::Reduce(PartitionId(0)),
            TaskId::Reduce(PartitionId(1)),
        );
        for (task, name) in [(odd, "part-00000"), (good, "part-00001")] {
            assert!(commit_part(&committer, task, 1, name, "x\n"));
        }
        committer.commit_task(odd, 1, &"not a number").unwrap();
        committer.commit_task(good, 1, &7u32).unwrap();
        // Valid JSON, so `begin` keeps it; not a `u32`, so it is not committed work either.
        let committer = {
            drop(committer);
            JobCommitter::begin(&out, false, "job").unwrap()
        };
        assert_eq!(committer.committed::<u32>(odd), None);
        assert!(!committer.version_dir().join("part-00000").exists());
        assert!(committer.committed::<u32>(odd).is_none());
        assert_eq!(committer.committed::<u32>(good), Some(7));
        assert!(committer.version_dir().join("part-00001").exists());
        assert!(commit_part(&committer, odd, 2, "part-00000", "y\n"));
        assert!(committer.commit_task(odd, 2, &8u32).unwrap());
        assert_eq!(committer.committed::<u32>(odd), Some(8));
    }

    #[test]
    fn a_version_sealed_for_publishing_is_left_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        {
            let committer = JobCommitter::begin(&out, false, "job").unwrap();
            // A part file without a record, in a version that is complete all the same
            // (written by `--overwrite-partitions`, say) and was about to be published.
            assert!(commit_part(
                &committer,
                TaskId::Reduce(PartitionId(5)),
                1,
                "part-00005",
                "x\n"
            ));
            std::fs::write(committer.version_dir().join(SUCCESS), "").unwrap();
            std::fs::write(committer.work.join(PUBLISH_AS), "v000001").unwrap();
        }
        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        assert!(committer.version_dir().join("part-00005").exists());
        assert_eq!(committer.resume_publish().unwrap(), Some(VersionId(1)));
        assert_eq!(
            std::fs::read_to_string(out.join("part-00005")).unwrap(),
            "x\n"
        );
    }

    #[test]
    fn a_manifest_left_half_written_by_a_killed_run_is_not_published() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        let task = TaskId::Reduce(PartitionId(0));
        assert!(commit_part(&committer, task, 1, "part-00000", "a\t1\n"));
        let version = committer.version_dir();
        std::fs::write(version.join("_MANIFEST.json.tmp-999-0"), "{\"half").unwrap();
        let manifest = Manifest {
            sandmill_version: "0.1.0".into(),
            wasmtime_version: "48.0.8".into(),
            job_digest: String::new(),
            plugin: crate::dataset::PluginDigest {
                path: "job.wasm".into(),
                sha256: String::new(),
                bytes: 0,
            },
            params: Vec::new(),
            format: "lines".into(),
            reducers: 1,
            inputs: Vec::new(),
            files: vec![crate::dataset::OutputFile::from_file(&version, "part-00000", 1).unwrap()],
            checks: Vec::new(),
            rejected: false,
            range_cuts: None,
            output_format: None,
            output_schema: None,
        };
        let id = committer.commit_job(&manifest, None).unwrap();
        let published = Dataset::open(&out).unwrap().version_dir(id);
        let problems = crate::dataset::verify_version(&published).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_publish_resumed_after_a_crash_keeps_as_many_versions_as_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let dataset = Dataset::open_or_create(&out, false).unwrap();
        for _ in 0..2 {
            let staged = dataset.staging_dir().join("x");
            std::fs::create_dir(&staged).unwrap();
            std::fs::write(staged.join(SUCCESS), "").unwrap();
            dataset.lock().unwrap().publish(&staged).unwrap();
        }
        {
            // Crashed after `publish-as`, with `--keep 1`.
            let committer = JobCommitter::begin(&out, false, "job").unwrap();
            std::fs::write(committer.version_dir().join(SUCCESS), "").unwrap();
            std::fs::write(committer.work.join(PUBLISH_AS), "v000003\nkeep 1\n").unwrap();
        }
        let committer = JobCommitter::begin(&out, false, "job").unwrap();
        assert_eq!(committer.resume_publish().unwrap(), Some(VersionId(3)));
        let ids: Vec<VersionId> = dataset.versions().unwrap().iter().map(|v| v.id).collect();
        assert_eq!(ids, [VersionId(3)]);
    }

    #[test]
    fn part_files_are_named_by_their_partition() {
        assert_eq!(part_partition("part-00003"), Some(PartitionId(3)));
        assert_eq!(part_partition("part-123456"), Some(PartitionId(123_456)));
        assert_eq!(part_partition("part-00007.parquet"), Some(PartitionId(7)));
        for other in [
            "part-",
            "part-+1",
            "part-1a",
            "_SUCCESS",
            "x-00001",
            "part-99999999999",
            "part-00001.json",
            "part-.parquet",
        ] {
            assert_eq!(part_partition(other), None, "{other}");
        }
    }
}
