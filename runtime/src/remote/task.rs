//! One task of a job on object storage, on whatever machine runs it (`sandmill task run` on a
//! Ray node, or a thread of `sandmill run`): fetch the plugin by digest, fetch a reduce task's
//! runs with ranged reads, run the task against a private scratch directory exactly as a local
//! task runs, upload what it made under its attempt's token, and commit by a conditional put
//! ([`layout`](super::layout)).

use super::layout::{Commit, Work, attempt_token};
use crate::cleanup::Scratch;
use crate::commit::JobCommitter;
use crate::dataset::OutputFile;
use crate::error::{Error, TaskError};
use crate::object::{self, ObjectUrl};
use crate::plan::{RunRef, TaskInput, TaskSpec};
use crate::plugin::CompileCache;
use crate::shuffle::MapRuns;
use crate::task::{PartitionId, TaskId};
use crate::worker::TaskDone;
use std::path::{Path, PathBuf};

/// The local copy of the plugin at `url` with digest `sha256`, fetched once per machine into
/// `plugins/` beside the compile cache (or into `scratch`, without one).
fn fetch_plugin(url: &Path, sha256: &str, scratch: &Path) -> Result<PathBuf, Error> {
    if !object::is_url(url) {
        // Planned against a local plugin (a thread of `sandmill run`): use it.
        return Ok(url.to_path_buf());
    }
    let dir = CompileCache::default_dir()
        .and_then(|d| d.parent().map(|p| p.join("plugins")))
        .unwrap_or_else(|| scratch.to_path_buf());
    ObjectUrl::parse(url)
        .and_then(|object| object::fetch_verified(&object, sha256, &dir))
        .map_err(|e| Error::PluginLoad {
            path: url.into(),
            reason: format!("{e}; run the job again"),
        })
}

/// A reduce task's runs, fetched from where the map tasks' records say: for each map task in
/// order, its partition's segment of its run, with one ranged read, into `dir`.
fn fetch_runs(
    work: &Work,
    task: TaskId,
    partition: PartitionId,
    runs: &[RunRef],
    dir: &Path,
) -> Result<Vec<RunRef>, TaskError> {
    let mut local = Vec::with_capacity(runs.len());
    for run in runs {
        let RunRef::Committed { split } = run else {
            local.push(run.clone());
            continue;
        };
        let map = TaskId::Map(*split);
        let lost = |why: String| TaskError::Shuffle {
            task,
            source: std::io::Error::other(format!(
                "{map} has {why}; run the job again to rerun it"
            )),
        };
        let commit = work
            .committed(map)
            .map_err(|source| TaskError::Shuffle { task, source })?
            .ok_or_else(|| lost("not committed".into()))?;
        let file = commit
            .record
            .run_file
            .ok_or_else(|| lost("no run file".into()))?;
        let segment = *file
            .segments
            .get(partition.0 as usize)
            .ok_or_else(|| lost(format!("no segment for partition {}", partition.0)))?;
        if segment.pairs == 0 {
            continue;
        }
        let url =
            ObjectUrl::parse(&file.path).map_err(|source| TaskError::Shuffle { task, source })?;
        let path = dir.join(format!("{}.run", map.name()));
        object::download(
            &url,
            Some(segment.offset..segment.offset + segment.len),
            &path,
        )
        .map_err(|source| TaskError::Shuffle { task, source })?;
        local.push(RunRef::File {
            split: *split,
            path,
            segment: crate::shuffle::Segment {
                offset: 0,
                ..segment
            },
        });
    }
    Ok(local)
}

/// Runs the task `spec` describes, whose job writes an `s3://` dataset, and commits it there.
/// A task already committed (by an earlier attempt whose answer was lost) is not run again.
///
/// # Errors
/// Anything that stops the task; nothing of a failed attempt is committed.
pub fn run_task(spec: &TaskSpec, compile_key: Option<[u8; 32]>) -> Result<TaskDone, Error> {
    let task = spec.task();
    let traffic = object::traffic();
    let work = Work::new(&spec.job, &spec.fingerprint)?;
    let store_error = |source| Error::Task(TaskError::Shuffle { task, source });
    if let Some(commit) = work.committed(task).map_err(store_error)? {
        return Ok(done(task, commit));
    }
    let name = format!(
        "sandmill-{}-{}",
        task.name(),
        attempt_token(spec.attempt).trim_start_matches("attempt-")
    );
    let scratch = Scratch::new(&name).map_err(|source| Error::Output {
        path: std::env::temp_dir().join(&name),
        source,
    })?;
    let plugin = fetch_plugin(spec.job.plugin(), &spec.plugin_sha256, scratch.path())?;
    let cache = match spec.job.compile_cache() {
        Some(cache) if !object::is_url(spec.job.plugin()) => Some(cache.clone()),
        _ => CompileCache::default_dir().map(CompileCache::new),
    };
    let mut local = TaskSpec {
        job: spec.job.relocated(plugin, cache),
        ..spec.clone()
    };
    if let TaskInput::Reduce { partition, runs } = &mut local.input {
        let dir = scratch.subdir("runs").map_err(|source| Error::Output {
            path: scratch.path().join("runs"),
            source,
        })?;
        *runs = fetch_runs(&work, task, *partition, runs, &dir)?;
    }
    let committer = JobCommitter::begin(&scratch.path().join("out"), false, &spec.fingerprint)?;
    let (ran, cpu) =
        crate::worker::run_task_in(&local, compile_key, &committer, &committer.shuffle_dir())?;
    let token = attempt_token(spec.attempt);
    let mut uploaded = Vec::new();
    let upload = |from: &Path, to: ObjectUrl, uploaded: &mut Vec<ObjectUrl>| {
        object::upload(from, &to).map_err(store_error)?;
        uploaded.push(to);
        Ok::<_, Error>(())
    };
    let mut record = ran.record;
    let mut files = Vec::new();
    if let Some(run) = &mut record.run_file {
        let url = work.run_url(task, &token);
        upload(&run.path, url.clone(), &mut uploaded)?;
        run.path = url.to_path();
    }
    let version = committer.version_dir();
    for part in &record.files {
        let file = OutputFile::from_file(&version, &part.name, part.records).map_err(|source| {
            Error::Output {
                path: version.join(&part.name),
                source,
            }
        })?;
        let key = work.data_key(task, &token, &part.name);
        upload(
            &version.join(&part.name),
            work.dataset().join(&key),
            &mut uploaded,
        )?;
        files.push(file);
    }
    drop(ran.runs);
    let mut commit = Commit {
        token,
        record,
        files,
        plugin_cpu_ns: u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX),
        traffic: object::Traffic::default(),
    };
    // Everything but the record itself, whose put comes next.
    commit.traffic = object::traffic().since(traffic);
    // An error may hide a put that took effect (its answer lost): then this attempt's objects
    // may be the task's, and are left for the job's clean-up, which keeps what is committed.
    if work.commit(task, &commit).map_err(store_error)? {
        return Ok(done(task, commit));
    }
    for url in &uploaded {
        let _ = object::delete(url);
    }
    let winner = work.committed(task).map_err(store_error)?.ok_or_else(|| {
        store_error(std::io::Error::other(
            "another attempt committed first but its record cannot be read; run the job again",
        ))
    })?;
    Ok(done(task, winner))
}

fn done(task: TaskId, commit: Commit) -> TaskDone {
    let runs = commit.record.run_file.clone().map(MapRuns::Disk);
    TaskDone {
        task,
        record: commit.record,
        runs,
    }
}
