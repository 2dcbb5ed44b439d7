//! Jobs whose tasks share no disk: an `s3://` output (or `--temp-dir`), or `--executor ray`.
//! Sandmill plans the job here, as for a local run; every task is then plain data (a
//! [`TaskSpec`] naming objects, not files) that any machine with the `sandmill` binary and
//! the store's credentials can run ([`task::run_task`]): it fetches what it reads, runs the
//! task as a local task runs, uploads what it wrote under its own attempt and commits by a
//! conditional put ([`layout`]). The reduce tasks are submitted with the map tasks and find
//! their runs through the map tasks' commit records, so whoever schedules them only has to
//! hold each reduce task until the map tasks end: the thread pool here, or Ray
//! ([`ray`]). Publishing appends an entry to the dataset's log
//! ([`crate::object::log`]); then the job run's work is removed.
//!
//! A run that stops part way leaves its commit records: running the same command again
//! resumes, running only the tasks not committed.

pub mod layout;
pub mod ray;
pub mod task;

use crate::error::{Error, TaskError};
use crate::object::log::ObjectDataset;
use crate::object::{self, ObjectUrl};
use crate::plan::{self, JobPlan, RunRef, TaskInput, TaskSpec};
use crate::plugin::Plugin;
use crate::schedule::{JobReport, Observer, PartitionReport, Phase, PhaseReport, Tally};
use crate::spec::{ExecutorKind, JobSpec};
use crate::task::{PartitionId, TaskId};
use crate::worker::TaskRecord;
use layout::{Commit, Work};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

/// One task to run, and the tasks it must wait for.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its spec (attempt 1).
    pub spec: TaskSpec,
    /// The tasks that must have committed first (a reduce task's map tasks).
    pub after: Vec<TaskId>,
}

/// What the runner of a job's tasks tells the job as tasks commit.
pub trait Progress: Sync {
    /// `task` committed (in this run or in the one that resumed).
    fn committed(&self, task: TaskId);
}

/// Refuses what a job on object storage does not do (yet), before anything runs.
fn check(spec: &JobSpec) -> Result<(), Error> {
    let unsupported = |what: &str| {
        Err(Error::Spec(format!(
            "{what} is not supported for a job with an s3:// output or --executor ray yet"
        )))
    };
    if !object::is_url(spec.output()) {
        return Err(Error::Spec(format!(
            "--output {} must be an s3:// dataset when {}: the machines that run the tasks \
             share no disk",
            spec.output().display(),
            if spec.executor() == ExecutorKind::Ray {
                "--executor is ray"
            } else {
                "--temp-dir is on object storage"
            }
        )));
    }
    if spec.keep().is_some() {
        return unsupported("--keep");
    }
    if spec.overwrite_partitions() {
        return unsupported("--overwrite-partitions");
    }
    if spec.executor() == ExecutorKind::Process {
        return unsupported("--executor process");
    }
    if !spec.checks().is_empty() {
        return unsupported("--check");
    }
    if spec.output_partition().is_some() {
        return unsupported("--output-partition");
    }
    if spec.executor() == ExecutorKind::Ray
        && let Some(side) = spec.side_inputs().iter().find(|s| !object::is_url(&s.path))
    {
        return Err(Error::Spec(format!(
            "--side-input {}={} must be on s3:// with --executor ray: the nodes that run the \
             tasks share no disk",
            side.name,
            side.path.display()
        )));
    }
    Ok(())
}

/// Runs a job whose output is on object storage ([`JobSpec::is_remote`]) and publishes it as
/// a new version of the dataset's log.
///
/// # Errors
/// As [`crate::schedule::run`]; the dataset then still shows its previous version.
pub fn run(spec: &JobSpec, observer: &dyn Observer) -> Result<JobReport, Error> {
    let started = Instant::now();
    let traffic = object::traffic();
    check(spec)?;
    let plugin = plan::load_plugin(spec)?;
    let plan = plan::plan(spec, &plugin)?;
    let dataset = ObjectDataset::new(spec.output())?;
    if !spec.overwrite() && dataset.is_foreign()? {
        return Err(Error::Spec(format!(
            "{} holds objects but is not a Sandmill dataset (it has no _log/); name a new \
             prefix, or pass --overwrite to publish a dataset there beside them",
            spec.output().display()
        )));
    }
    let current = dataset.current()?;
    if let Some(entry) = &current
        && !spec.force()
        && entry.manifest.job_digest == plan.job_digest
    {
        return Ok(JobReport::unchanged(
            spec,
            entry.version,
            plan.files.len(),
            plugin.compiled().clone(),
            started.elapsed(),
        ));
    }
    let work = Work::new(spec, &plan.fingerprint)?;
    let store = |url: &ObjectUrl| {
        let path = url.to_path();
        move |source| Error::Output { path, source }
    };
    // The plugin, by digest, for every node (kept if already there).
    let plugin_url = work.plugin(&plan.plugin.sha256);
    if spec.executor() == ExecutorKind::Ray {
        object::create_from_file(spec.plugin(), &plugin_url).map_err(store(&plugin_url))?;
    }
    let job = match spec.executor() {
        ExecutorKind::Ray => spec.relocated(plugin_url.to_path(), None),
        _ => spec.clone(),
    };

    let committed = work.commits().map_err(store(work.dataset()))?;
    let resumed = committed.len();
    let pending = pending_tasks(&plan, &job, &committed);
    let phases = Phases::start(observer, &plan, spec.reducers(), &committed, &work);
    match spec.executor() {
        ExecutorKind::Ray => ray::run(&job, &pending, &phases)?,
        _ => run_here(spec, &pending, &phases)?,
    }
    let commits = work.commits().map_err(store(work.dataset()))?;
    let walls = phases.finish();
    let done = Done {
        commits,
        walls,
        started,
        resumed,
        traffic,
    };
    publish(spec, &plan, &plugin, &dataset, &work, observer, done)
}

/// What the tasks of a run left for publishing.
struct Done {
    commits: BTreeMap<String, Commit>,
    /// The map and reduce phases' wall times.
    walls: (std::time::Duration, std::time::Duration),
    started: Instant,
    resumed: usize,
    /// This thread's traffic when the job started.
    traffic: object::Traffic,
}

/// The tasks left to run: every map task not committed, and every reduce task not committed
/// (waiting for all map tasks).
fn pending_tasks(
    plan: &JobPlan,
    job: &JobSpec,
    committed: &BTreeMap<String, Commit>,
) -> Vec<Pending> {
    // A reduce task waits for the map tasks still to run (the others committed already).
    let maps: Vec<TaskId> = plan
        .splits
        .iter()
        .map(|s| TaskId::Map(s.id))
        .filter(|t| !committed.contains_key(&t.name()))
        .collect();
    let mut pending: Vec<Pending> = plan
        .splits
        .iter()
        .filter(|s| !committed.contains_key(&TaskId::Map(s.id).name()))
        .map(|split| Pending {
            spec: plan.map_task(job, split, 1),
            after: Vec::new(),
        })
        .collect();
    let runs: Vec<RunRef> = plan
        .splits
        .iter()
        .map(|s| RunRef::Committed { split: s.id })
        .collect();
    for p in (0..job.reducers()).map(PartitionId) {
        if committed.contains_key(&TaskId::Reduce(p).name()) {
            continue;
        }
        pending.push(Pending {
            spec: plan.reduce_task(job, p, runs.clone(), 1),
            after: maps.clone(),
        });
    }
    pending
}

/// Tells the observer of phases and progress as tasks commit: map until every map task
/// committed, then reduce.
struct Phases<'a> {
    observer: &'a dyn Observer,
    /// Where the map tasks' records are, to size the reduce phase.
    work: &'a Work,
    /// Each map task's input bytes, by task name.
    splits: BTreeMap<String, u64>,
    reducers: u32,
    started: Instant,
    state: Mutex<PhaseState>,
}

struct PhaseState {
    maps_left: BTreeSet<String>,
    /// When the map phase ended, from the start; `None` until then.
    map_wall: Option<std::time::Duration>,
    /// Each reduce task's pairs, by task name, once the reduce phase started.
    pairs: BTreeMap<String, u64>,
}

impl<'a> Phases<'a> {
    /// Starts the map phase (the reduce phase too if every map task committed already).
    fn start(
        observer: &'a dyn Observer,
        plan: &JobPlan,
        reducers: u32,
        committed: &BTreeMap<String, Commit>,
        work: &'a Work,
    ) -> Phases<'a> {
        let splits: BTreeMap<String, u64> = plan
            .splits
            .iter()
            .map(|s| (TaskId::Map(s.id).name(), s.len()))
            .collect();
        let (done, left): (Vec<_>, Vec<_>) = splits
            .iter()
            .partition(|(name, _)| committed.contains_key(*name));
        observer.phase_started(Phase::Map, splits.len(), splits.values().sum());
        observer.progress(Phase::Map, done.iter().map(|(_, bytes)| **bytes).sum());
        let phases = Phases {
            observer,
            work,
            reducers,
            started: Instant::now(),
            state: Mutex::new(PhaseState {
                maps_left: left.into_iter().map(|(name, _)| name.clone()).collect(),
                map_wall: None,
                pairs: BTreeMap::new(),
            }),
            splits,
        };
        phases.maybe_start_reduce();
        phases
    }

    /// Once no map task is left, ends the map phase and starts the reduce phase, sized by the
    /// map tasks' records.
    fn maybe_start_reduce(&self) {
        let mut state = self.state.lock().expect("phase state");
        if !state.maps_left.is_empty() || state.map_wall.is_some() {
            return;
        }
        state.map_wall = Some(self.started.elapsed());
        self.observer.phase_finished(Phase::Map);
        let commits = self.work.commits().unwrap_or_default();
        let mut total = 0;
        let mut done = 0;
        for p in 0..self.reducers {
            let name = TaskId::Reduce(PartitionId(p)).name();
            let n: u64 = commits
                .values()
                .filter_map(|c| c.record.run_file.as_ref())
                .filter_map(|f| f.segments.get(p as usize))
                .map(|s| s.pairs)
                .sum();
            total += n;
            if commits.contains_key(&name) {
                done += n;
            }
            state.pairs.insert(name, n);
        }
        self.observer
            .phase_started(Phase::Reduce, self.reducers as usize, total);
        self.observer.progress(Phase::Reduce, done);
    }

    /// Ends the reduce phase; returns the map and reduce phases' wall times.
    fn finish(&self) -> (std::time::Duration, std::time::Duration) {
        let state = self.state.lock().expect("phase state");
        let total = self.started.elapsed();
        if state.map_wall.is_some() {
            self.observer.phase_finished(Phase::Reduce);
        }
        let map = state.map_wall.unwrap_or(total);
        (map, total.saturating_sub(map))
    }
}

impl Progress for Phases<'_> {
    fn committed(&self, task: TaskId) {
        let name = task.name();
        match task {
            TaskId::Map(_) => {
                let bytes = self.splits.get(&name).copied().unwrap_or(0);
                self.observer.progress(Phase::Map, bytes);
                let empty = {
                    let mut state = self.state.lock().expect("phase state");
                    state.maps_left.remove(&name);
                    state.maps_left.is_empty()
                };
                if empty {
                    self.maybe_start_reduce();
                }
            }
            TaskId::Reduce(_) => {
                let pairs = {
                    let state = self.state.lock().expect("phase state");
                    state.pairs.get(&name).copied().unwrap_or(0)
                };
                self.observer.progress(Phase::Reduce, pairs);
            }
            // The plan refuses --hot-key on object storage: no combine task runs here.
            TaskId::Combine(_) => {}
        }
    }
}

/// Runs the pending tasks on a pool of this process's threads: the map tasks, then the reduce
/// tasks; each attempt as a node runs it ([`task::run_task`]), retried as `--max-attempts`
/// allows.
fn run_here(spec: &JobSpec, pending: &[Pending], progress: &dyn Progress) -> Result<(), Error> {
    let pool = crate::executor::pool(spec.threads())
        .map_err(|e| Error::Spec(format!("cannot start {} threads: {e}", spec.threads())))?;
    let (maps, reduces): (Vec<&Pending>, Vec<&Pending>) = pending
        .iter()
        .partition(|p| matches!(p.spec.input, TaskInput::Map { .. }));
    for group in [maps, reduces] {
        pool.install(|| {
            group.par_iter().try_for_each(|pending| {
                spec.retry().run(|attempt| {
                    let spec = TaskSpec {
                        attempt,
                        ..pending.spec.clone()
                    };
                    task::run_task(&spec, None).map_err(|e| as_task_error(spec.task(), e))
                })?;
                progress.committed(pending.spec.task());
                Ok::<_, TaskError>(())
            })
        })?;
    }
    Ok(())
}

/// A task's error, as a task error (keeping whether another attempt may pass).
fn as_task_error(task: TaskId, err: Error) -> TaskError {
    match err {
        Error::Task(err) => err,
        err => TaskError::Worker {
            task,
            class: err.class(),
            retryable: err.is_retryable(),
            message: err.to_string(),
        },
    }
}

/// Publishes what every task committed as a new version of the dataset, then removes the
/// job run's work and the attempts that lost.
fn publish(
    spec: &JobSpec,
    plan: &JobPlan,
    plugin: &Plugin,
    dataset: &ObjectDataset,
    work: &Work,
    observer: &dyn Observer,
    done: Done,
) -> Result<JobReport, Error> {
    let commits = &done.commits;
    let commit_of = |task: TaskId| {
        commits
            .get(&task.name())
            .ok_or_else(|| Error::Bug(format!("{task} has no commit record at publish")))
    };
    let maps: Vec<(TaskId, &Commit)> = plan
        .splits
        .iter()
        .map(|s| commit_of(TaskId::Map(s.id)).map(|c| (TaskId::Map(s.id), c)))
        .collect::<Result<_, _>>()?;
    let reduces: Vec<(TaskId, &Commit)> = (0..spec.reducers())
        .map(|p| TaskId::Reduce(PartitionId(p)))
        .map(|t| commit_of(t).map(|c| (t, c)))
        .collect::<Result<_, _>>()?;
    let reduce_records: Vec<TaskRecord> = reduces.iter().map(|(_, c)| c.record.clone()).collect();
    crate::publish::check_job_output(spec, &reduce_records)?;
    let (rejected, rejects) = crate::publish::rejects(
        spec,
        maps.iter().map(|(t, c)| (*t, &c.record)),
        &reduce_records,
    )?;
    let mut files = Vec::new();
    let mut keys = BTreeMap::new();
    let mut kept = BTreeSet::new();
    for (task, commit) in &reduces {
        kept.insert(commit.token.clone());
        for file in &commit.files {
            keys.insert(
                file.path.clone(),
                work.data_key(*task, &commit.token, &file.path),
            );
            files.push(file.clone());
        }
    }
    if let Some(lines) = rejects {
        let key = format!("data/{}/{}", plan.fingerprint, crate::publish::REJECTS);
        let url = dataset.url().join(&key);
        let path = url.to_path();
        object::put(&url, lines.clone().into()).map_err(|source| Error::Output { path, source })?;
        use sha2::Digest as _;
        files.push(crate::dataset::OutputFile {
            path: crate::publish::REJECTS.to_owned(),
            bytes: lines.len() as u64,
            records: rejected,
            sha256: format!("{:x}", sha2::Sha256::digest(&lines)),
        });
        keys.insert(crate::publish::REJECTS.to_owned(), key);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = plan.manifest(spec, files);
    let version = dataset.publish(manifest, keys)?;
    // Published: the work is garbage now. A failure to remove it costs only space.
    if let Err(e) = work.collect_garbage(&kept) {
        eprintln!("warning: the job's work on object storage was not all removed: {e}");
    }

    let (map_wall, reduce_wall) = done.walls;
    let mut map = PhaseReport {
        tasks: maps.len(),
        wall: map_wall,
        ..PhaseReport::default()
    };
    let mut reduce = PhaseReport {
        tasks: reduces.len(),
        wall: reduce_wall,
        ..PhaseReport::default()
    };
    let mut partitions = vec![PartitionReport::default(); spec.reducers() as usize];
    for (task, commit) in &maps {
        map.counts += commit.record.counts;
        observer.task_committed(*task, &commit.record.log);
        if let Some(file) = &commit.record.run_file {
            for (p, segment) in file.segments.iter().enumerate() {
                partitions[p].pairs += segment.pairs;
                partitions[p].bytes += segment.bytes;
            }
        }
    }
    for (p, (task, commit)) in reduces.iter().enumerate() {
        reduce.counts += commit.record.counts;
        partitions[p].records_out = commit.record.counts.records_out;
        observer.task_committed(*task, &commit.record.log);
    }
    let mut cpu = plugin.cpu_used();
    let mut traffic = object::traffic().since(done.traffic);
    for (_, commit) in maps.iter().chain(&reduces) {
        cpu += std::time::Duration::from_nanos(commit.plugin_cpu_ns);
        traffic += commit.traffic;
    }
    let tally = Tally::of(maps.iter().chain(&reduces).map(|(_, c)| &c.record));
    Ok(JobReport {
        output: spec.output().to_path_buf(),
        version,
        unchanged: false,
        resumed_tasks: done.resumed,
        files: plan.files.len(),
        map,
        reduce,
        partitions,
        hot_shares: Vec::new(),
        counters: tally.counters,
        dropped_log_messages: tally.dropped_log_messages,
        dropped_stdio_bytes: tally.dropped_stdio_bytes,
        plugin_cpu: cpu,
        peak_rss: crate::usage::peak_rss(),
        wall: done.started.elapsed(),
        compiled: plugin.compiled().clone(),
        rejected,
        verified_tasks: tally.verified_tasks,
        combined: plan.info.combiner != crate::plugin::Combiner::None,
        object_storage: Some(traffic),
        checks: Vec::new(),
    })
}
