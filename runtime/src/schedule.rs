//! Running a job, phase by phase:
//!
//! 1. [`plan`](crate::plan): inputs, splits and tasks, as plain data ([`TaskSpec`]); a job
//!    that made the dataset's current version stops here, unchanged, unless forced;
//! 2. the map tasks, run by an [`Executor`] (each task a function of its spec, see
//!    [`worker`](crate::worker)), skipping those an interrupted run of the same job committed;
//! 3. the barrier: each partition's runs, in split order, become the reduce tasks' specs;
//! 4. the reduce tasks, run by the executor;
//! 5. [`publish`](crate::publish): manifest, `_SUCCESS`, the version switch.
//!
//! Knows nothing of record contents, nor of files: those are the input, shuffle and commit
//! modules' business.

use crate::commit::JobCommitter;
use crate::dataset::VersionId;
use crate::error::Error;
use crate::executor::{Executor, ExecutorKind, LocalExecutor, ProcessExecutor};
use crate::map::{BadRecords, TaskCounts};
use crate::plan::{self, RunRef, TaskSpec};
use crate::plugin::{AttemptLog, Compiled};
use crate::quota::JobOutput;
use crate::shuffle::{MapRuns, MemoryBudget, RunSource, ShuffleDir};
use crate::spec::JobSpec;
use crate::task::{PartitionId, TaskId};
use crate::worker::{TaskDone, TaskEnv, TaskRecord};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A phase of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading input and running map tasks (including sorting and combining).
    Map,
    /// Combining the shares of hot keys (`--hot-key`), between map and reduce.
    Combine,
    /// Merging, running reduce tasks and writing output.
    Reduce,
}

/// Watches a job run, for progress bars and logs. Every method has a do-nothing default.
pub trait Observer: Sync {
    /// A phase starts with `tasks` tasks and `units` of work (input bytes for map, pairs for
    /// reduce).
    fn phase_started(&self, phase: Phase, tasks: usize, units: u64) {
        let _ = (phase, tasks, units);
    }
    /// `units` more of the phase's work is done.
    fn progress(&self, phase: Phase, units: u64) {
        let _ = (phase, units);
    }
    /// A task committed; `log` is what its plugin logged.
    fn task_committed(&self, task: TaskId, log: &AttemptLog) {
        let _ = (task, log);
    }
    /// A phase ended.
    fn phase_finished(&self, phase: Phase) {
        let _ = phase;
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

/// What a phase did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PhaseReport {
    /// Tasks run.
    pub tasks: usize,
    /// Summed counts.
    pub counts: TaskCounts,
    /// Wall time.
    pub wall: Duration,
}

/// One partition's size, to make skew visible.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PartitionReport {
    /// Pairs shuffled into it.
    pub pairs: u64,
    /// Bytes of keys and values shuffled into it.
    pub bytes: u64,
    /// Output records written.
    pub records_out: u64,
    /// Pairs the map tasks emitted into it, before combining (for a hot key's share, into the
    /// share): the work a partition would have without a combiner, which salting spreads.
    pub records: u64,
}

/// What a successful job did.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    /// The dataset the job published to.
    pub output: PathBuf,
    /// The version it published; if [`unchanged`](Self::unchanged), the current version,
    /// which this same job made.
    pub version: VersionId,
    /// Whether the job was unchanged since the current version: the same plugin, parameters,
    /// inputs and output settings ([`JobPlan::job_digest`](crate::plan::JobPlan::job_digest)).
    /// Then no task ran and nothing was published (`--force` publishes anyway).
    pub unchanged: bool,
    /// Tasks not run because an earlier, interrupted run of the same job had committed them.
    pub resumed_tasks: usize,
    /// Input files read.
    pub files: usize,
    /// The map phase.
    pub map: PhaseReport,
    /// The reduce phase.
    pub reduce: PhaseReport,
    /// Each partition's size.
    pub partitions: Vec<PartitionReport>,
    /// Each combine task's size, in task order (`--hot-key`; `--salt` per key): the pairs of
    /// its share of a hot key, combined into few for the key's partition.
    pub hot_shares: Vec<PartitionReport>,
    /// The plugin's counters, summed over committed tasks.
    pub counters: BTreeMap<String, i64>,
    /// Log messages and counter updates the plugin made past its limits.
    pub dropped_log_messages: u64,
    /// Bytes of stdout and stderr the plugin wrote past its limits, in committed tasks.
    pub dropped_stdio_bytes: u64,
    /// CPU time the plugin used, over every task attempt (failed and verifying ones too).
    pub plugin_cpu: Duration,
    /// The most memory the process held resident at once, up to the job's end (bytes).
    pub peak_rss: u64,
    /// Wall time of the whole job, from start to commit.
    pub wall: Duration,
    /// How the plugin's machine code was obtained.
    pub compiled: Compiled,
    /// Records quarantined under `--max-bad-records`, written to [`REJECTS`] in the output.
    pub rejected: u64,
    /// Tasks `--verify` ran twice before they committed, finding the same output (this run's
    /// and resumed ones).
    pub verified_tasks: usize,
    /// Whether the map output was combined (the plugin declared a combiner).
    pub combined: bool,
    /// For a job on object storage: what every task and the job itself read from and wrote
    /// to the store.
    pub object_storage: Option<crate::object::Traffic>,
    /// What each quality gate found; all passed, or the job would have failed.
    pub checks: Vec<crate::dataset::CheckOutcome>,
}

pub use crate::publish::REJECTS;

impl JobReport {
    /// The report of a run whose job made the current version already: nothing ran.
    pub(crate) fn unchanged(
        spec: &JobSpec,
        version: VersionId,
        files: usize,
        compiled: Compiled,
        wall: Duration,
    ) -> Self {
        JobReport {
            unchanged: true,
            ..JobReport::resumed(spec, version, files, compiled, wall)
        }
    }

    /// The report of a run that only had to finish an interrupted publish.
    fn resumed(
        spec: &JobSpec,
        version: VersionId,
        files: usize,
        compiled: Compiled,
        wall: Duration,
    ) -> Self {
        JobReport {
            output: spec.output().to_path_buf(),
            version,
            unchanged: false,
            resumed_tasks: 0,
            files,
            map: PhaseReport::default(),
            reduce: PhaseReport::default(),
            partitions: Vec::new(),
            hot_shares: Vec::new(),
            counters: BTreeMap::new(),
            dropped_log_messages: 0,
            dropped_stdio_bytes: 0,
            plugin_cpu: Duration::ZERO,
            peak_rss: crate::usage::peak_rss(),
            wall,
            compiled,
            rejected: 0,
            verified_tasks: 0,
            combined: false,
            object_storage: None,
            checks: Vec::new(),
        }
    }
}

/// Runs a job to completion and publishes its output as a new version of the dataset.
///
/// If an earlier run of the same job (same plugin, parameters, inputs and settings) stopped
/// part way, the tasks it committed are not run again. If the dataset's current version was
/// made by this same job ([`JobPlan::job_digest`](crate::plan::JobPlan::job_digest)), no task
/// runs and nothing is published, unless the spec says [`force`](JobSpec::force): the report
/// says [`unchanged`](JobReport::unchanged).
///
/// # Errors
/// Anything that stops the job: bad input or plugin, a task that failed, or output that
/// cannot be written. The dataset then still shows its previous version.
pub fn run(spec: &JobSpec, observer: &dyn Observer) -> Result<JobReport, Error> {
    let started = Instant::now();
    if crate::failpoint::hit("panic").is_err() {
        panic!("injected panic at failpoint panic");
    }
    let plugin = plan::load_plugin(spec)?;
    let plan = plan::plan(spec, &plugin)?;
    let committer = JobCommitter::begin(spec.output(), spec.overwrite(), &plan.fingerprint)?;
    if let Some(version) = committer.resume_publish()? {
        // An earlier run had finished everything but the switch; it is done now.
        committer.finish();
        return Ok(JobReport::resumed(
            spec,
            version,
            plan.files.len(),
            plugin.compiled().clone(),
            started.elapsed(),
        ));
    }
    if !spec.force()
        && let Some(version) = crate::publish::unchanged_since(&committer, &plan)?
    {
        committer.close_unpublished();
        return Ok(JobReport::unchanged(
            spec,
            version,
            plan.files.len(),
            plugin.compiled().clone(),
            started.elapsed(),
        ));
    }
    let _ = crate::failpoint::hit("planned");
    let shuffle_path = spec
        .temp_dir_given()
        .map_or_else(|| committer.shuffle_dir(), PathBuf::from);
    let shuffle = match spec.temp_dir_given() {
        Some(dir) => ShuffleDir::create(dir),
        None => ShuffleDir::existing(&shuffle_path),
    }
    .map_err(|source| Error::Output {
        path: shuffle_path,
        source,
    })?;
    let threads = |e| Error::Spec(format!("cannot start {} threads: {e}", spec.threads()));
    let executor: Box<dyn Executor> = match spec.executor() {
        ExecutorKind::Local => Box::new(LocalExecutor::new(spec.threads()).map_err(threads)?),
        ExecutorKind::Ray => {
            return Err(Error::Bug(
                "a job for Ray was planned to run on this machine only".into(),
            ));
        }
        ExecutorKind::Process => {
            let program = std::env::current_exe().map_err(|e| {
                Error::Spec(format!(
                    "cannot find the sandmill program to run tasks: {e}"
                ))
            })?;
            Box::new(ProcessExecutor::new(spec.threads(), program).map_err(threads)?)
        }
    };

    // What an earlier, interrupted run of this job committed.
    let reducers = spec.reducers();
    let bad_records = BadRecords::new(spec.max_bad_records());
    let job_output = JobOutput::new(spec.output_limits(), reducers);
    let shares = combine_tasks(spec);
    let (pending, mut maps, mut combines) = committed_work(&committer, &plan, spec, |record| {
        // Output an earlier run committed counts against the job's limits too, and so do the
        // records it quarantined.
        job_output.add_committed(record.counts.bytes_out, record.counts.records_out);
        let _ = bad_records.charge(record.rejects.len() as u64);
    })?;
    for done in maps.iter().flatten() {
        let _ = bad_records.charge(done.record.rejects.len() as u64);
    }
    let resumed = maps.iter().flatten().count()
        + combines.iter().flatten().count()
        + (reducers as usize - pending.len());
    let _watch = watch_interrupts(&committer, &plan, spec);

    let budget = MemoryBudget::new(spec.memory(), spec.threads());
    let no_runs = BTreeMap::new();
    let mut env = TaskEnv {
        plugin: &plugin,
        combiner: plan.info.combiner,
        committer: &committer,
        shuffle: &shuffle,
        budget: &budget,
        bad_records: &bad_records,
        output: &job_output,
        held: &no_runs,
        map_output_on_disk: executor.separate_processes(),
    };
    let map_tasks: Vec<TaskSpec> = plan
        .splits
        .iter()
        .zip(&maps)
        .filter(|(_, done)| done.is_none())
        .map(|(split, _)| with_shuffle(plan.map_task(spec, split, 1), &shuffle))
        .collect();
    let resumed_bytes = plan
        .splits
        .iter()
        .zip(&maps)
        .filter(|(_, done)| done.is_some())
        .map(|(split, _)| split.len())
        .sum();
    let total_bytes = plan.splits.iter().map(|s| s.len()).sum();
    let (ran, mut map_report) = run_phase(
        executor.as_ref(),
        &env,
        observer,
        Phase::Map,
        &map_tasks,
        (total_bytes, resumed_bytes),
        spec,
    )?;
    let mut ran = ran.into_iter();
    for slot in &mut maps {
        match slot {
            Some(done) => {
                // Resumed tasks count in the report as if this run had done them.
                map_report.tasks += 1;
                map_report.counts += done.record.counts;
                observer.task_committed(done.task, &done.record.log);
            }
            None => *slot = ran.next(),
        }
    }
    let mut maps: Vec<TaskDone> = maps.into_iter().flatten().collect();

    // The barrier: every map task is done; give each partition its runs, in split order.
    let (held, mut partitions, mut sizes) = barrier(&mut maps, reducers, shares);
    env.held = &held;
    // The hot keys' shares: combined by tasks of their own, whose results join the runs of
    // the key's partition (after the map tasks' runs).
    let combine_specs: Vec<TaskSpec> = (0..shares)
        .filter(|&n| combines[n as usize].is_none() && home_pending(spec, &plan, n, &pending))
        .filter(|&n| !partitions[(reducers + n) as usize].is_empty())
        .map(|n| {
            let runs = partitions[(reducers + n) as usize].clone();
            with_shuffle(plan.combine_task(spec, n, runs, 1), &shuffle)
        })
        .collect();
    let mut hot_shares = sizes.split_off(reducers as usize);
    if !combine_specs.is_empty() {
        let pairs = combine_specs.iter().map(TaskSpec::units).sum();
        let (ran, _) = run_phase(
            executor.as_ref(),
            &env,
            observer,
            Phase::Combine,
            &combine_specs,
            (pairs, 0),
            spec,
        )?;
        for done in ran {
            if let TaskId::Combine(n) = done.task {
                combines[n as usize] = Some(done);
            }
        }
    }
    for (n, done) in combines.iter().enumerate() {
        let Some(TaskDone { record, .. }) = done else {
            continue;
        };
        let Some(file) = record.run_file.as_ref().filter(|f| f.segments.len() == 1) else {
            continue;
        };
        hot_shares[n].records_out = record.counts.records_out;
        let home = plan.hot_home(spec, n / spec.salt() as usize);
        partitions[home.0 as usize].push(RunRef::Combined {
            task: n as u32,
            path: file.path.clone(),
            segment: file.segments[0],
        });
    }
    let reduce_tasks: Vec<TaskSpec> = pending
        .iter()
        .map(|&p| {
            let runs = partitions[p.0 as usize].clone();
            with_shuffle(plan.reduce_task(spec, p, runs, 1), &shuffle)
        })
        .collect();
    let pairs = pending.iter().map(|p| sizes[p.0 as usize].pairs).sum();
    let (_, reduce_report) = run_phase(
        executor.as_ref(),
        &env,
        observer,
        Phase::Reduce,
        &reduce_tasks,
        (pairs, 0),
        spec,
    )?;
    drop(held);
    drop(shuffle);

    let checks = CheckJobs {
        spec,
        dir: committer.work_dir().join("checks"),
    };
    let published = crate::publish::publish(spec, &plan, committer, &maps, &checks)?;
    for (size, record) in sizes.iter_mut().zip(&published.reduces) {
        size.records_out = record.counts.records_out;
    }
    let tally = Tally::of(maps.iter().map(|m| &m.record).chain(&published.reduces));
    Ok(JobReport {
        output: spec.output().to_path_buf(),
        version: published.version,
        unchanged: false,
        resumed_tasks: resumed,
        files: plan.files.len(),
        map: map_report,
        reduce: reduce_report,
        partitions: sizes,
        hot_shares,
        counters: tally.counters,
        dropped_log_messages: tally.dropped_log_messages,
        dropped_stdio_bytes: tally.dropped_stdio_bytes,
        plugin_cpu: plugin.cpu_used(),
        peak_rss: crate::usage::peak_rss(),
        wall: started.elapsed(),
        compiled: plugin.compiled().clone(),
        rejected: published.rejected,
        verified_tasks: tally.verified_tasks,
        combined: plan.info.combiner != crate::plugin::Combiner::None,
        object_storage: None,
        checks: published.checks,
    })
}

/// Runs a job's plugin checks ([`Check::Plugin`](crate::gate::Check::Plugin)) as jobs of
/// their own, over the staged output, with one reduce task and the job's sandbox limits; each
/// writes a dataset below `dir`, in the job's work directory, which goes with it.
struct CheckJobs<'a> {
    spec: &'a JobSpec,
    dir: PathBuf,
}

impl crate::gate::PluginCheck for CheckJobs<'_> {
    fn run(
        &self,
        check: &crate::gate::Check,
        files: &[PathBuf],
    ) -> Result<crate::gate::Verdict, Error> {
        let crate::gate::Check::Plugin { plugin, params, .. } = check else {
            return Err(Error::Bug(format!("check {check} is not a plugin")));
        };
        let index = self
            .spec
            .checks()
            .iter()
            .position(|c| c == check)
            .unwrap_or(0);
        let output = self.dir.join(format!("check-{index}"));
        if files.is_empty() {
            // No output at all: the check sees no record, and a job needs an input.
            return Ok(crate::gate::Verdict {
                pass: false,
                reason: "the output has no files to check".into(),
            });
        }
        // A Parquet output's rows reach the check plugin as JSON objects, as any Parquet input.
        let parquet = files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "parquet"));
        let format = match parquet {
            true => crate::InputFormat::Parquet,
            false => crate::InputFormat::Lines,
        };
        let mut job = JobSpec::builder(plugin)
            .inputs(files.iter().cloned())
            .format(format)
            .output(&output)
            .reducers(1)
            .threads(self.spec.threads())
            .limits(self.spec.limits())
            .memory(self.spec.memory())
            .compile_cache(self.spec.compile_cache().cloned())
            .force(true);
        for (k, v) in params {
            job = job.param(k, v);
        }
        let job = job.build()?;
        let report = run(&job, &Quiet).map_err(|e| {
            Error::Spec(format!(
                "check {check} could not run: {e}; fix the check plugin {}",
                plugin.display()
            ))
        })?;
        let dataset = crate::dataset::Dataset::open(&output)?;
        let manifest = crate::dataset::Manifest::read(&dataset.version_dir(report.version))?;
        let version = dataset.version_dir(report.version);
        let parts: Vec<PathBuf> = manifest
            .files
            .iter()
            .filter(|f| f.path != crate::publish::REJECTS)
            .map(|f| version.join(&f.path))
            .collect();
        crate::gate::read_verdict(check, &parts)
    }
}

/// What the committed tasks' records add up to, for the [`JobReport`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counters: BTreeMap<String, i64>,
    pub(crate) dropped_log_messages: u64,
    pub(crate) dropped_stdio_bytes: u64,
    pub(crate) verified_tasks: usize,
}

impl Tally {
    pub(crate) fn of<'a>(records: impl IntoIterator<Item = &'a TaskRecord>) -> Tally {
        let mut tally = Tally::default();
        for record in records {
            tally.verified_tasks += usize::from(record.verified);
            tally.dropped_stdio_bytes += record.log.dropped_stdio_bytes;
            for (name, v) in &record.log.counters {
                let c: &mut i64 = tally.counters.entry(name.clone()).or_default();
                *c = c.wrapping_add(*v);
            }
            tally.dropped_log_messages += record.log.dropped_messages + record.log.dropped_counters;
        }
        tally
    }
}

/// The reduce tasks no run has committed (`committed` is called with the record of each that
/// one has), and each map task an earlier run committed whose output is still usable. Spill
/// files of the other map tasks' attempts are removed.
fn committed_work(
    committer: &JobCommitter,
    plan: &crate::plan::JobPlan,
    spec: &JobSpec,
    mut committed: impl FnMut(&TaskRecord),
) -> Result<CommittedWork, Error> {
    let reducers = spec.reducers();
    let pending: Vec<PartitionId> = (0..reducers)
        .map(PartitionId)
        .filter(
            |&p| match committer.committed::<TaskRecord>(TaskId::Reduce(p)) {
                // A record whose files are gone (removed by hand, or by a crash of a
                // clean-up) is not committed work either.
                Some(record) if !committer.has_files(record.files.iter().map(|f| &f.name[..])) => {
                    let _ = committer.forget(TaskId::Reduce(p));
                    true
                }
                Some(record) => {
                    committed(&record);
                    false
                }
                None => true,
            },
        )
        .collect();
    let maps: Vec<Option<TaskDone>> = plan
        .splits
        .iter()
        .map(|split| resumed_map(committer, TaskId::Map(split.id), pending.is_empty()))
        .collect::<Result<_, _>>()?;
    // A combine task's result is needed while its hot key's partition is to be reduced.
    let combines: Vec<Option<TaskDone>> = (0..combine_tasks(spec))
        .map(|n| {
            resumed_map(
                committer,
                TaskId::Combine(n),
                !home_pending(spec, plan, n, &pending),
            )
        })
        .collect::<Result<_, _>>()?;
    committer.remove_spills_except(
        maps.iter()
            .chain(&combines)
            .flatten()
            .filter_map(|done| done.record.run_file.as_ref())
            .map(|file| file.path.as_path()),
    );
    Ok((pending, maps, combines))
}

/// What [`committed_work`] finds: the reduce tasks to run, then the map and combine tasks
/// an earlier run committed (by split, by combine task).
type CommittedWork = (
    Vec<PartitionId>,
    Vec<Option<TaskDone>>,
    Vec<Option<TaskDone>>,
);

/// The number of combine tasks of `spec`: `--salt` for each `--hot-key`.
fn combine_tasks(spec: &JobSpec) -> u32 {
    spec.hot_keys().len() as u32 * spec.salt()
}

/// Whether the partition that merges combine task `n`'s result is still to be reduced.
fn home_pending(
    spec: &JobSpec,
    plan: &crate::plan::JobPlan,
    n: u32,
    pending: &[PartitionId],
) -> bool {
    pending.contains(&plan.hot_home(spec, (n / spec.salt()) as usize))
}

/// Registers the job with [`crate::cleanup`]: an interrupt then removes what map task
/// attempts that did not commit left, and says how many tasks are committed for a rerun to
/// reuse (counting the map tasks whose run file is still there, as [`resumed_map`] does).
fn watch_interrupts(
    committer: &JobCommitter,
    plan: &crate::plan::JobPlan,
    spec: &JobSpec,
) -> crate::cleanup::Watch {
    let records = committer.records();
    let splits: Vec<crate::input::SplitId> = plan.splits.iter().map(|s| s.id).collect();
    let (reducers, temp_dir) = (spec.reducers(), spec.temp_dir_given().is_some());
    let combines = combine_tasks(spec);
    crate::cleanup::watch(move || {
        if !records.exist() {
            return None;
        }
        let mut committed = crate::cleanup::Committed {
            map_tasks: splits.len(),
            reduce_tasks: reducers as usize,
            temp_dir,
            ..Default::default()
        };
        let mut kept = Vec::new();
        for &split in &splits {
            match records.read::<TaskRecord>(TaskId::Map(split)) {
                None => {}
                Some(TaskRecord {
                    run_file: Some(file),
                    ..
                }) if file.path.exists() => {
                    committed.maps += 1;
                    kept.push(file.path);
                }
                Some(_) => committed.maps_lost += 1,
            }
        }
        for n in 0..combines {
            if let Some(TaskRecord {
                run_file: Some(file),
                ..
            }) = records.read::<TaskRecord>(TaskId::Combine(n))
            {
                kept.push(file.path);
            }
        }
        records.remove_spills_except(kept.iter().map(PathBuf::as_path));
        committed.reduces = (0..reducers)
            .filter(|&p| {
                records
                    .read::<TaskRecord>(TaskId::Reduce(PartitionId(p)))
                    .is_some()
            })
            .count();
        Some(committed)
    })
}

/// The tasks of a job that are left to run, for a scheduler that runs them itself
/// (`sandmill task plan`): the map tasks no run has committed, or once there are none, the
/// reduce tasks; each as the spec of its first attempt.
#[derive(Debug)]
pub enum NextTasks {
    /// Map tasks to run.
    Map(Vec<TaskSpec>),
    /// Reduce tasks to run (every map task is committed).
    Reduce(Vec<TaskSpec>),
    /// Every task is committed: running the job (`sandmill run`, same settings) publishes.
    Publish,
    /// The job had been published already (an interrupted publish is finished now).
    Published(VersionId),
    /// The dataset's current version was made by this same job: there is nothing to run or
    /// publish (unless forced; see [`run`]).
    Unchanged(VersionId),
}

/// Plans `spec` and says which of its tasks are left to run, as specs another process can
/// run (`sandmill task run`); their map output goes to the dataset's work directory. Running
/// every spec, then planning again until [`NextTasks::Publish`], then [`run`] with the same
/// spec publishes the same version `run` alone would have.
///
/// # Errors
/// As [`run`] before its first task.
pub fn next_tasks(spec: &JobSpec) -> Result<NextTasks, Error> {
    if spec.is_remote() {
        return Err(Error::Spec(
            "`sandmill task plan` plans jobs on this machine's disk; a job on object storage \
             (an s3:// --output or --temp-dir, or --executor ray) runs with `sandmill run`, \
             which plans it and runs its tasks as `sandmill task run --spec -`"
                .into(),
        ));
    }
    if !spec.hot_keys().is_empty() {
        return Err(Error::Spec(
            "`sandmill task plan` does not plan the combine tasks of --hot-key; run a job \
             with --hot-key with `sandmill run` (--executor process runs each of its tasks in \
             a process of its own)"
                .into(),
        ));
    }
    let plugin = plan::load_plugin(spec)?;
    let plan = plan::plan(spec, &plugin)?;
    let committer = JobCommitter::begin(spec.output(), spec.overwrite(), &plan.fingerprint)?;
    if let Some(version) = committer.resume_publish()? {
        committer.finish();
        return Ok(NextTasks::Published(version));
    }
    if !spec.force()
        && let Some(version) = crate::publish::unchanged_since(&committer, &plan)?
    {
        committer.close_unpublished();
        return Ok(NextTasks::Unchanged(version));
    }
    let shuffle = committer.shuffle_dir();
    let at = |spec: TaskSpec| TaskSpec {
        shuffle_dir: shuffle.clone(),
        ..spec
    };
    let (pending, mut maps, _) = committed_work(&committer, &plan, spec, |_| {})?;
    let maps_left: Vec<TaskSpec> = plan
        .splits
        .iter()
        .zip(&maps)
        .filter(|(_, done)| done.is_none())
        .map(|(split, _)| at(plan.map_task(spec, split, 1)))
        .collect();
    if !maps_left.is_empty() {
        return Ok(NextTasks::Map(maps_left));
    }
    if pending.is_empty() {
        return Ok(NextTasks::Publish);
    }
    let mut maps: Vec<TaskDone> = maps.drain(..).flatten().collect();
    let (_, partitions, _) = barrier(&mut maps, spec.reducers(), 0);
    Ok(NextTasks::Reduce(
        pending
            .iter()
            .map(|&p| at(plan.reduce_task(spec, p, partitions[p.0 as usize].clone(), 1)))
            .collect(),
    ))
}

/// `spec` with map output going to (and read from) `shuffle`.
fn with_shuffle(spec: TaskSpec, shuffle: &ShuffleDir) -> TaskSpec {
    TaskSpec {
        shuffle_dir: shuffle.path().to_path_buf(),
        ..spec
    }
}

/// The map task `task` as an earlier run committed it, if its output is still there for the
/// reduce tasks that need it (`no_reduce_pending`: none does). A task whose run file is gone
/// (it was in `--temp-dir`, or removed by hand) has its commit taken back, and runs again.
fn resumed_map(
    committer: &JobCommitter,
    task: TaskId,
    no_reduce_pending: bool,
) -> Result<Option<TaskDone>, Error> {
    let Some(record) = committer.committed::<TaskRecord>(task) else {
        return Ok(None);
    };
    let runs = match &record.run_file {
        _ if no_reduce_pending => None,
        Some(file) if file.path.exists() => Some(MapRuns::Disk(file.clone())),
        _ => {
            committer.forget(task).map_err(|source| Error::Output {
                path: committer.work_dir(),
                source,
            })?;
            return Ok(None);
        }
    };
    Ok(Some(TaskDone { task, record, runs }))
}

/// Map output held in this process's memory: one run per partition, by map task.
type HeldRuns = BTreeMap<crate::input::SplitId, Vec<RunSource>>;

/// Each segment's runs from every map task, in split order (empty ones left out): the
/// partitions', then the `shares` of the hot keys'; the runs held in memory, by map task; and
/// each segment's size.
fn barrier(
    maps: &mut [TaskDone],
    reducers: u32,
    shares: u32,
) -> (HeldRuns, Vec<Vec<RunRef>>, Vec<PartitionReport>) {
    let segments = (reducers + shares) as usize;
    let mut held = BTreeMap::new();
    let mut partitions: Vec<Vec<RunRef>> = (0..segments).map(|_| Vec::new()).collect();
    let mut sizes = vec![PartitionReport::default(); segments];
    for done in maps {
        let TaskId::Map(split) = done.task else {
            continue;
        };
        for (size, &n) in sizes.iter_mut().zip(&done.record.emitted) {
            size.records += n;
        }
        let Some(runs) = done.runs.take() else {
            continue;
        };
        let in_memory = matches!(runs, MapRuns::Memory { .. });
        let sources = runs.into_sources();
        for (p, run) in sources.iter().enumerate().take(segments) {
            let (pairs, bytes) = run.size();
            sizes[p].pairs += pairs;
            sizes[p].bytes += bytes;
            if pairs == 0 {
                continue;
            }
            partitions[p].push(match run {
                RunSource::Memory(_) => RunRef::Memory { split },
                RunSource::Disk(path, segment) => RunRef::File {
                    split,
                    path: path.clone(),
                    segment: *segment,
                },
            });
        }
        if in_memory {
            held.insert(split, sources);
        }
    }
    (held, partitions, sizes)
}

/// Runs one phase's `tasks` on `executor` and reports on it; `units` is the phase's work and
/// how much of it earlier runs did.
fn run_phase(
    executor: &dyn Executor,
    env: &TaskEnv<'_>,
    observer: &dyn Observer,
    phase: Phase,
    tasks: &[TaskSpec],
    (units, done_before): (u64, u64),
    spec: &JobSpec,
) -> Result<(Vec<TaskDone>, PhaseReport), Error> {
    let started = Instant::now();
    observer.phase_started(phase, tasks.len(), units);
    if done_before > 0 {
        observer.progress(phase, done_before);
    }
    let progress = |n| observer.progress(phase, n);
    let done = executor.run_tasks(env, tasks, spec.retry(), &progress)?;
    let mut report = PhaseReport {
        tasks: tasks.len(),
        ..PhaseReport::default()
    };
    for task in &done {
        report.counts += task.record.counts;
        observer.task_committed(task.task, &task.record.log);
    }
    report.wall = started.elapsed();
    observer.phase_finished(phase);
    Ok((done, report))
}
