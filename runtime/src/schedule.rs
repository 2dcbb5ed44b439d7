//! Running a job: plan splits, run map tasks in parallel, hand each partition's runs to a
//! reduce task, commit. Owns the thread pool and the map→reduce barrier; knows nothing of
//! record contents.

use crate::commit::OutputCommitter;
use crate::error::{Error, TaskError};
use crate::input::{self, InputSplit};
use crate::map::{self, BadRecords, MapContext, MapOutput, Reject, TaskCounts};
use crate::plugin::{AttemptLog, CallError, Plugin};
use crate::reduce::{self, ReduceContext, ReduceOutput};
use crate::shuffle::{MemoryBudget, Partitioner, RunSource, ShuffleDir};
use crate::spec::JobSpec;
use crate::task::{PartitionId, TaskId};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A phase of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading input and running map tasks (including sorting and combining).
    Map,
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
}

/// What a successful job did.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    /// The committed output directory.
    pub output: PathBuf,
    /// Input files read.
    pub files: usize,
    /// The map phase.
    pub map: PhaseReport,
    /// The reduce phase.
    pub reduce: PhaseReport,
    /// Each partition's size.
    pub partitions: Vec<PartitionReport>,
    /// The plugin's counters, summed over committed tasks.
    pub counters: BTreeMap<String, i64>,
    /// Log messages and counter updates the plugin made past its limits.
    pub dropped_log_messages: u64,
    /// Wall time of the whole job, from start to commit.
    pub wall: Duration,
    /// Records quarantined under `--max-bad-records`, written to [`REJECTS`] in the output.
    pub rejected: u64,
}

/// The file in the output that lists records quarantined under `--max-bad-records`.
pub const REJECTS: &str = "_rejects.jsonl";

/// Runs a job to completion and commits its output.
///
/// # Errors
/// Anything that stops the job: bad input or plugin, a task that failed, or output that
/// cannot be written. The output directory is then left as it was.
pub fn run(spec: &JobSpec, observer: &dyn Observer) -> Result<JobReport, Error> {
    let started = Instant::now();
    let files = input::resolve_inputs(spec.inputs())?;
    let plugin = Plugin::from_file(spec.plugin(), spec.limits())?;
    // Configure once up front, so bad parameters fail before any work (or output) is done.
    let info = match plugin.instantiate(TaskId::Map(input::SplitId(u32::MAX)), spec.params()) {
        Ok((_, info)) => info,
        Err(CallError::Params(message)) => return Err(Error::Params(message)),
        Err(err) => {
            return Err(Error::PluginLoad {
                path: spec.plugin().into(),
                reason: format!("it fails when configured: {err}"),
            });
        }
    };
    let committer = OutputCommitter::begin(spec.output(), spec.overwrite())?;
    let shuffle = ShuffleDir::create(spec.temp_dir()).map_err(|source| Error::Output {
        path: spec.temp_dir().into(),
        source,
    })?;
    let budget = MemoryBudget::new(spec.memory(), spec.threads());
    let bad_records = BadRecords::new(spec.max_bad_records());
    let splits = input::plan_splits(&files, split_size(spec, &files));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads())
        // Wasm execution and Cranelift want more than rayon's default 2 MiB.
        .stack_size(16 << 20)
        .thread_name(|i| format!("sandmill-worker-{i}"))
        .build()
        .map_err(|e| Error::Spec(format!("cannot start {} threads: {e}", spec.threads())))?;

    let partitioner = Partitioner::new(spec.reducers(), Partitioner::DEFAULT_SEED);
    let map_ctx = MapContext {
        plugin: &plugin,
        params: spec.params(),
        files: &files,
        format: spec.format(),
        batch: spec.batch_limits(),
        partitioner,
        combiner: info.combiner,
        group_batch_bytes: spec.group_batch_bytes(),
        budget: &budget,
        shuffle: &shuffle,
        bad_records: &bad_records,
    };
    let (outputs, map_report) = run_phase(
        &pool,
        observer,
        Phase::Map,
        &splits,
        splits.iter().map(InputSplit::len).sum(),
        spec.retry(),
        |split: &InputSplit, attempt| {
            let progress = |bytes| observer.progress(Phase::Map, bytes);
            map::run_map(&map_ctx, split, attempt, &progress)
        },
        |out: &MapOutput| (out.task, out.counts, &out.log),
    )?;

    // The barrier: every map task is done; give each partition its runs, in split order.
    let mut partitions: Vec<Vec<RunSource>> = (0..spec.reducers()).map(|_| Vec::new()).collect();
    let mut sizes = vec![PartitionReport::default(); spec.reducers() as usize];
    let mut logs = Vec::with_capacity(outputs.len() * 2);
    let mut rejects: Vec<Reject> = Vec::new();
    for out in outputs {
        rejects.extend(out.rejects);
        for (p, run) in out.runs.into_sources().into_iter().enumerate() {
            let (pairs, bytes) = run.size();
            sizes[p].pairs += pairs;
            sizes[p].bytes += bytes;
            if pairs > 0 {
                partitions[p].push(run);
            }
        }
        logs.push(out.log);
    }
    let reduce_ctx = ReduceContext {
        plugin: &plugin,
        params: spec.params(),
        committer: &committer,
        group_batch_bytes: spec.group_batch_bytes(),
    };
    let tasks: Vec<(PartitionId, Vec<RunSource>)> = partitions
        .into_iter()
        .enumerate()
        .map(|(p, runs)| (PartitionId(p as u32), runs))
        .collect();
    let total_pairs = sizes.iter().map(|s| s.pairs).sum();
    let (reduced, reduce_report) = run_phase(
        &pool,
        observer,
        Phase::Reduce,
        &tasks,
        total_pairs,
        spec.retry(),
        |(partition, runs): &(PartitionId, Vec<RunSource>), attempt| {
            let pairs = runs.iter().map(|r| r.size().0).sum();
            let out = reduce::run_reduce(&reduce_ctx, *partition, runs, attempt);
            observer.progress(Phase::Reduce, pairs);
            out
        },
        |out: &ReduceOutput| (out.task, out.counts, &out.log),
    )?;
    for (size, out) in sizes.iter_mut().zip(&reduced) {
        size.records_out = out.counts.records_out;
    }
    logs.extend(reduced.into_iter().map(|r| r.log));

    drop(shuffle);
    if !rejects.is_empty() {
        rejects.sort_by(|a, b| (&a.file, a.offset).cmp(&(&b.file, b.offset)));
        let mut lines = Vec::new();
        for reject in &rejects {
            serde_json::to_writer(&mut lines, reject).expect("a reject is JSON");
            lines.push(b'\n');
        }
        committer.write_file(REJECTS, &lines)?;
    }
    let output = committer.commit_job()?;
    let mut counters = BTreeMap::new();
    let mut dropped = 0;
    for log in &logs {
        for (name, v) in &log.counters {
            let c: &mut i64 = counters.entry(name.clone()).or_default();
            *c = c.wrapping_add(*v);
        }
        dropped += log.dropped_messages + log.dropped_counters;
    }
    Ok(JobReport {
        output,
        files: files.len(),
        map: map_report,
        reduce: reduce_report,
        partitions: sizes,
        counters,
        dropped_log_messages: dropped,
        wall: started.elapsed(),
        rejected: rejects.len() as u64,
    })
}

/// The split size for this input: about four splits per thread so that the threads finish
/// together, at least 1 MiB so that a task is worth starting, and never more than
/// `--split-size`.
fn split_size(spec: &JobSpec, files: &[input::InputFile]) -> u64 {
    let total: u64 = files.iter().map(|f| f.len).sum();
    let per_thread = total / (4 * spec.threads() as u64).max(1);
    spec.split_size().min(per_thread.max(1 << 20))
}

/// How often, and how patiently, a task whose failure may be transient is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per task, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for each further one.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (2, 3, …).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }

    /// Runs `task` (given the attempt number, from 1) until it succeeds, fails in a way that
    /// would fail again, or has used its attempts.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn run<O>(
        &self,
        mut task: impl FnMut(u32) -> Result<O, TaskError>,
    ) -> Result<O, TaskError> {
        let mut attempt = 1;
        loop {
            match task(attempt) {
                Err(err) if err.is_retryable() && attempt < self.max_attempts => {
                    attempt += 1;
                    std::thread::sleep(self.delay(attempt));
                }
                result => return result,
            }
        }
    }
}

/// Runs one task per item on the pool, in parallel, each with retries, stopping at the first
/// failure; results keep the items' order.
#[allow(
    clippy::too_many_arguments,
    reason = "a private helper with one caller per phase"
)]
fn run_phase<I: Sync, O: Send>(
    pool: &rayon::ThreadPool,
    observer: &dyn Observer,
    phase: Phase,
    items: &[I],
    units: u64,
    retry: RetryPolicy,
    task: impl Fn(&I, u32) -> Result<O, TaskError> + Sync + Send,
    summary: impl Fn(&O) -> (TaskId, TaskCounts, &AttemptLog),
) -> Result<(Vec<O>, PhaseReport), Error> {
    let started = Instant::now();
    observer.phase_started(phase, items.len(), units);
    let outputs: Vec<O> = pool.install(|| {
        items
            .par_iter()
            .map(|item| retry.run(|attempt| task(item, attempt)))
            .collect::<Result<Vec<O>, TaskError>>()
    })?;
    let mut report = PhaseReport {
        tasks: items.len(),
        ..PhaseReport::default()
    };
    for out in &outputs {
        let (id, counts, log) = summary(out);
        report.counts += counts;
        observer.task_committed(id, log);
    }
    report.wall = started.elapsed();
    observer.phase_finished(phase);
    Ok((outputs, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::PartitionId;

    fn io_failure() -> TaskError {
        TaskError::Io {
            task: TaskId::Reduce(PartitionId(0)),
            path: "x".into(),
            source: std::io::Error::other("disk hiccup"),
        }
    }

    #[test]
    fn transient_failures_are_retried_with_growing_backoff_and_others_are_not() {
        let retry = RetryPolicy {
            backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let mut calls = Vec::new();
        let got = retry.run(|attempt| {
            calls.push(attempt);
            if attempt < 3 {
                Err(io_failure())
            } else {
                Ok(attempt)
            }
        });
        assert_eq!(got.unwrap(), 3);
        assert_eq!(calls, [1, 2, 3]);

        let mut calls = 0;
        let err = retry.run(|_| -> Result<(), _> {
            calls += 1;
            Err(io_failure())
        });
        assert!(err.is_err());
        assert_eq!(calls, 4, "max_attempts");

        let mut calls = 0;
        let plugin_failure = retry.run(|_| -> Result<(), _> {
            calls += 1;
            Err(TaskError::Plugin {
                task: TaskId::Reduce(PartitionId(0)),
                site: crate::error::FailureSite::Task,
                message: "bad record".into(),
            })
        });
        assert!(plugin_failure.is_err());
        assert_eq!(calls, 1, "the same input would fail the same way");

        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(2), Duration::from_millis(100));
        assert_eq!(policy.delay(3), Duration::from_millis(200));
        assert_eq!(policy.delay(30), Duration::from_secs(5));
    }
}
