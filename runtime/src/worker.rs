//! One task, run from its [`TaskSpec`]: a map task reads its split, a reduce task merges its
//! runs; each is checked by `--verify` before anything is committed, then committed by
//! first-writer-wins. A task is a function of its spec and the storage it is handed
//! ([`TaskEnv`]), so any process can run it: the local executor's threads, or
//! `sandmill task run --spec FILE` in a process of its own.

use crate::commit::JobCommitter;
use crate::dataset::PluginDigest;
use crate::error::{Error, FailureSite, TaskError};
use crate::input::SplitId;
use crate::map::{self, BadRecords, MapContext, Reject, TaskCounts};
use crate::plan::{RunRef, TaskInput, TaskSpec};
use crate::plugin::{AttemptLog, Combiner, CompileCache, Plugin};
use crate::quota::JobOutput;
use crate::reduce::{self, PartFile, ReduceContext};
use crate::shuffle::{MapRuns, MemoryBudget, RunFile, RunSource, ShuffleDir};
use crate::side_input::SideInputs;
use crate::task::TaskId;
use std::collections::BTreeMap;
use std::path::Path;

/// What a committed task leaves for the rest of the job, and for a run that resumes it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TaskRecord {
    /// Its counts.
    pub counts: TaskCounts,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
    /// Records quarantined under `--max-bad-records`: input records a map task could not map,
    /// output records a reduce task routed to a bad partition name.
    pub rejects: Vec<Reject>,
    /// Map tasks: the run file holding their output, written before the record commits even
    /// when the output is also kept in memory, so that a resumed run reuses the task. (`None`
    /// only in a record of an older Sandmill, whose task then runs again.)
    pub run_file: Option<RunFile>,
    /// Reduce tasks: the part files they committed.
    pub files: Vec<PartFile>,
    /// Whether `--verify` ran the task twice before it committed (and the runs agreed).
    #[serde(default)]
    pub verified: bool,
    /// Map tasks: the pairs they emitted into each segment of their output (partitions, then
    /// hot keys' shares), before combining: what the summary's records per partition add up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emitted: Vec<u64>,
}

/// What the tasks of one job share in one process: the compiled plugin and the storage they
/// read and commit to.
#[derive(Debug)]
pub struct TaskEnv<'a> {
    /// The compiled plugin.
    pub plugin: &'a Plugin,
    /// The combiner the plugin declared when configured.
    pub combiner: Combiner,
    /// The job run's work directory, where tasks commit.
    pub committer: &'a JobCommitter,
    /// Where map tasks write their output.
    pub shuffle: &'a ShuffleDir,
    /// The process's memory budget for the shuffle.
    pub budget: &'a MemoryBudget,
    /// The job's allowance of bad records.
    pub bad_records: &'a BadRecords,
    /// What reduce tasks wrote, against the job-wide output limits.
    pub output: &'a JobOutput,
    /// Map output held in this process's memory, by map task, one run per partition (what
    /// [`RunRef::Memory`] refers to).
    pub held: &'a BTreeMap<SplitId, Vec<RunSource>>,
    /// Whether map output must go to disk even when it fits in memory: when a task in
    /// another process reads it.
    pub map_output_on_disk: bool,
}

/// A committed task: its record, and for a map task its output.
#[derive(Debug)]
pub struct TaskDone {
    /// The task.
    pub task: TaskId,
    /// Its committed record (this attempt's, or an earlier attempt's that committed first).
    pub record: TaskRecord,
    /// Map tasks: the output, unless only the record's run file has it.
    pub runs: Option<MapRuns>,
}

/// Runs the task `spec` describes, verifies it if `--verify` samples it, and commits it;
/// `progress` is called with units of work done (input bytes, pairs).
///
/// # Errors
/// The task's failure; nothing of a failed attempt is committed.
pub fn run_task(
    env: &TaskEnv<'_>,
    spec: &TaskSpec,
    progress: &dyn Fn(u64),
) -> Result<TaskDone, TaskError> {
    match &spec.input {
        TaskInput::Map { split } => run_map_task(env, spec, split, progress),
        TaskInput::Reduce {
            partition,
            runs: refs,
        } => {
            let runs = sources(env, spec.task(), partition.0 as usize, refs)?;
            let done = run_reduce_task(env, spec, *partition, &runs)
                .map_err(|err| corrupt_run(env, spec.task(), refs, err))?;
            progress(runs.iter().map(|r| r.size().0).sum());
            Ok(done)
        }
        TaskInput::Combine {
            task: n,
            runs: refs,
        } => {
            // Hot key shares follow the partitions in each map task's output.
            let segment = spec.job.reducers() as usize + *n as usize;
            let runs = sources(env, spec.task(), segment, refs)?;
            let done = run_combine_task(env, spec, *n, &runs)
                .map_err(|err| corrupt_run(env, spec.task(), refs, err))?;
            progress(runs.iter().map(|r| r.size().0).sum());
            Ok(done)
        }
    }
}

/// A reduce task's failure to read its input: if a committed map task's run file is corrupt
/// (damaged on disk), takes that map task's commit back, so that the next run of the job runs
/// it again instead of failing on the same file forever, and says so.
fn corrupt_run(env: &TaskEnv<'_>, task: TaskId, refs: &[RunRef], err: TaskError) -> TaskError {
    let TaskError::Shuffle { source, .. } = &err else {
        return err;
    };
    if source.kind() != std::io::ErrorKind::InvalidData {
        return err;
    }
    for run in refs {
        let (owner, path, segment) = match run {
            RunRef::File {
                split,
                path,
                segment,
            } => (TaskId::Map(*split), path, segment),
            RunRef::Combined {
                task,
                path,
                segment,
            } => (TaskId::Combine(*task), path, segment),
            RunRef::Memory { .. } | RunRef::Committed { .. } => continue,
        };
        let readable = crate::shuffle::RunReader::open(path, *segment).and_then(|mut reader| {
            while reader.head().is_some() {
                reader.advance()?;
            }
            Ok(())
        });
        if let Err(source) = readable {
            let map = owner;
            let _ = env.committer.forget(map);
            let _ = RunFile {
                path: path.clone(),
                segments: Vec::new(),
            }
            .remove();
            return TaskError::CorruptRun {
                task,
                map,
                path: path.clone(),
                source,
            };
        }
    }
    err
}

/// Whether `--verify` checks `task`: a fixed choice per task, so the same tasks are checked
/// on every run.
fn sampled(spec: &TaskSpec) -> bool {
    spec.job.verify().is_some_and(|fraction| {
        let seed = spec.task().seed().to_le_bytes();
        let draw = crate::shuffle::hash(&seed, 0x7e51f) % 1_000_000;
        (draw as f64) < fraction * 1_000_000.0
    })
}

fn map_context<'a>(env: &'a TaskEnv<'a>, spec: &'a TaskSpec) -> MapContext<'a> {
    MapContext {
        plugin: env.plugin,
        params: spec.job.params(),
        files: &spec.files,
        format: spec.job.format(),
        columns: spec.job.columns(),
        batch: spec.job.batch_limits(),
        partitioner: spec.partitioner(),
        combiner: env.combiner,
        group_batch_bytes: spec.job.group_batch_bytes(),
        budget: env.budget,
        shuffle: env.shuffle,
        bad_records: env.bad_records,
        limits: spec.job.output_limits(),
        output_on_disk: env.map_output_on_disk,
        lines: Default::default(),
    }
}

fn run_map_task(
    env: &TaskEnv<'_>,
    spec: &TaskSpec,
    split: &crate::input::InputSplit,
    progress: &dyn Fn(u64),
) -> Result<TaskDone, TaskError> {
    let task = spec.task();
    let ctx = map_context(env, spec);
    let mut out = map::run_map(&ctx, split, spec.attempt, progress)?;
    let checked = match sampled(spec) {
        true => verify_map(&ctx, spec, split, &out),
        false => Ok(()),
    }
    // Bad records count against the allowance only once their task commits.
    .and_then(|()| {
        env.bad_records
            .charge(out.rejects.len() as u64)
            .map_err(|limit| map::too_many_bad_records(limit, task, out.rejects.last()))
    });
    // Output kept in memory is written to a run file before the task commits, so that a run
    // resumed after an interruption reuses every committed map task whatever `--memory` is.
    let in_memory = matches!(out.runs, MapRuns::Memory { .. });
    let persisted = checked.and_then(|()| {
        out.runs.persist().map_err(|source| {
            env.bad_records.refund(out.rejects.len() as u64);
            TaskError::Shuffle { task, source }
        })
    });
    let run_file = match persisted {
        Ok(file) => file,
        Err(err) => {
            out.runs.discard(ctx.budget);
            return Err(err);
        }
    };
    if in_memory {
        out.counts.spilled_bytes += run_file.segments.iter().map(|s| s.len).sum::<u64>();
    }
    let record = TaskRecord {
        counts: out.counts,
        log: out.log,
        rejects: out.rejects,
        run_file: Some(run_file),
        files: Vec::new(),
        verified: sampled(spec),
        emitted: std::mem::take(&mut out.emitted),
    };
    let committed_now = env.committer.commit_task(task, spec.attempt, &record);
    if let Ok(true) = committed_now {
        return Ok(TaskDone {
            task,
            record,
            runs: Some(out.runs),
        });
    }
    // Not committed by this attempt: its charge and its output go.
    env.bad_records.refund(record.rejects.len() as u64);
    out.runs.discard(ctx.budget);
    committed_now.map_err(|source| commit_error(env, task, source))?;
    // Another attempt committed first: its output is the task's.
    let record = committed(env.committer, task)?;
    let Some(file) = record.run_file.clone() else {
        return Err(TaskError::Io {
            task,
            path: env.committer.shuffle_dir(),
            source: std::io::Error::other(
                "the attempt that committed first named no run file (a record of an older \
                 Sandmill); run the job again",
            ),
        });
    };
    Ok(TaskDone {
        task,
        record,
        runs: Some(MapRuns::Disk(file)),
    })
}

/// Runs the map task a second time and compares its output (and bad records) with the first
/// run's.
fn verify_map(
    ctx: &MapContext<'_>,
    spec: &TaskSpec,
    split: &crate::input::InputSplit,
    first: &map::MapOutput,
) -> Result<(), TaskError> {
    let task = spec.task();
    let again = map::run_map(ctx, split, spec.attempt + map::VERIFY_ATTEMPTS, &|_| {})?;
    let digests = digest_runs(&first.runs).and_then(|a| Ok((a, digest_runs(&again.runs)?)));
    again.runs.discard(ctx.budget);
    let (a, b) = digests.map_err(|source| TaskError::Shuffle { task, source })?;
    let detail = if a != b {
        format!("map output sha256 {a} then {b}")
    } else if first.rejects != again.rejects {
        format!(
            "{} bad records then {}",
            first.rejects.len(),
            again.rejects.len()
        )
    } else {
        return Ok(());
    };
    Err(TaskError::Nondeterministic { task, detail })
}

fn commit_error(env: &TaskEnv<'_>, task: TaskId, source: std::io::Error) -> TaskError {
    TaskError::Io {
        task,
        path: env.committer.work_dir(),
        source,
    }
}

/// The committed record of `task`, which must exist.
fn committed(committer: &JobCommitter, task: TaskId) -> Result<TaskRecord, TaskError> {
    committer.committed(task).ok_or_else(|| TaskError::Io {
        task,
        path: committer.work_dir(),
        source: std::io::Error::other(
            "its record was committed but cannot be read back; run the job again",
        ),
    })
}

/// The runs a reduce or combine task reads, in map task order (then combine task order):
/// `segment` of each map task's output.
fn sources(
    env: &TaskEnv<'_>,
    task: TaskId,
    segment: usize,
    runs: &[RunRef],
) -> Result<Vec<RunSource>, TaskError> {
    runs.iter()
        .map(|run| match run {
            RunRef::File { path, segment, .. } | RunRef::Combined { path, segment, .. } => {
                Ok(RunSource::Disk(path.clone(), *segment))
            }
            RunRef::Committed { split } => Err(TaskError::Shuffle {
                task,
                source: std::io::Error::other(format!(
                    "the run of map task {} is on object storage: the job's output must be \
                     s3:// for a task to look it up",
                    split.0
                )),
            }),
            RunRef::Memory { split } => env
                .held
                .get(split)
                .and_then(|runs| runs.get(segment))
                .cloned()
                .ok_or_else(|| TaskError::Shuffle {
                    task,
                    source: std::io::Error::other(format!(
                        "the output of map task {} is held in another process's memory",
                        split.0
                    )),
                }),
        })
        .collect()
}

fn run_reduce_task(
    env: &TaskEnv<'_>,
    spec: &TaskSpec,
    partition: crate::task::PartitionId,
    runs: &[RunSource],
) -> Result<TaskDone, TaskError> {
    let task = spec.task();
    let ctx = ReduceContext {
        plugin: env.plugin,
        params: spec.job.params(),
        committer: env.committer,
        group_batch_bytes: spec.job.group_batch_bytes(),
        limits: spec.job.output_limits(),
        output: env.output,
        empty_part: !spec.job.overwrite_partitions(),
        bad_records: env.bad_records,
        output_partition: spec.job.output_partition(),
        schema: spec.job.output_format().schema(),
    };
    let (dir, out) = reduce::run_reduce(&ctx, partition, runs, spec.attempt, false)?;
    let _remove = Discard(env.committer, &dir);
    if sampled(spec) {
        let attempt = spec.attempt + map::VERIFY_ATTEMPTS;
        let (again_dir, again) = reduce::run_reduce(&ctx, partition, runs, attempt, true)?;
        let _remove_again = Discard(env.committer, &again_dir);
        let detail = match differs(task, &dir, &out.files, &again_dir, &again.files)? {
            None if out.rejects != again.rejects => Some(format!(
                "{} bad records then {}",
                out.rejects.len(),
                again.rejects.len()
            )),
            detail => detail,
        };
        if let Some(detail) = detail {
            return Err(TaskError::Nondeterministic { task, detail });
        }
    }
    // Bad records count against the allowance only once their task commits.
    env.bad_records
        .charge(out.rejects.len() as u64)
        .map_err(|limit| map::too_many_bad_records(limit, task, out.rejects.last()))?;
    if let Err(err) = reduce::commit_parts(&ctx, &dir, &out) {
        env.bad_records.refund(out.rejects.len() as u64);
        return Err(err);
    }
    let record = TaskRecord {
        counts: out.counts,
        log: out.log,
        rejects: out.rejects,
        files: out.files,
        verified: sampled(spec),
        ..TaskRecord::default()
    };
    let won = env
        .committer
        .commit_task(task, spec.attempt, &record)
        .map_err(|source| commit_error(env, task, source));
    if !matches!(won, Ok(true)) {
        // Not committed by this attempt: its charge goes.
        env.bad_records.refund(record.rejects.len() as u64);
    }
    let record = if won? {
        record
    } else {
        committed(env.committer, task)?
    };
    Ok(TaskDone {
        task,
        record,
        runs: None,
    })
}

/// Runs a combine task (one share of a hot key) and commits its run file by first-writer-wins.
/// `--verify` does not run it twice: what it writes, the reduce that reads it checks.
fn run_combine_task(
    env: &TaskEnv<'_>,
    spec: &TaskSpec,
    n: u32,
    runs: &[RunSource],
) -> Result<TaskDone, TaskError> {
    let task = spec.task();
    let ctx = crate::combine::CombineContext {
        plugin: env.plugin,
        params: spec.job.params(),
        combiner: env.combiner,
        group_batch_bytes: spec.job.group_batch_bytes(),
        shuffle: env.shuffle,
    };
    let out = crate::combine::run_combine(&ctx, n, runs, spec.attempt)?;
    let record = TaskRecord {
        counts: out.counts,
        log: out.log,
        run_file: Some(out.file.clone()),
        ..TaskRecord::default()
    };
    let won = env
        .committer
        .commit_task(task, spec.attempt, &record)
        .map_err(|source| commit_error(env, task, source));
    if !matches!(won, Ok(true)) {
        let _ = out.file.remove();
    }
    let record = if won? {
        record
    } else {
        committed(env.committer, task)?
    };
    let runs = record.run_file.clone().map(MapRuns::Disk);
    Ok(TaskDone { task, record, runs })
}

/// Removes an attempt's directory when dropped.
struct Discard<'a>(&'a JobCommitter, &'a Path);

impl Drop for Discard<'_> {
    fn drop(&mut self) {
        self.0.discard_attempt(self.1);
    }
}

/// How two runs of a reduce task's output differ, if they do.
fn differs(
    task: TaskId,
    first_dir: &Path,
    first: &[PartFile],
    second_dir: &Path,
    second: &[PartFile],
) -> Result<Option<String>, TaskError> {
    let names = |files: &[PartFile]| files.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    if names(first) != names(second) {
        return Ok(Some(format!(
            "files {:?} then {:?}",
            names(first),
            names(second)
        )));
    }
    let digest = |path: &Path| {
        crate::dataset::sha256_file(path).map_err(|source| TaskError::Io {
            task,
            path: path.to_path_buf(),
            source,
        })
    };
    for file in first {
        let a = digest(&first_dir.join(&file.name))?;
        let b = digest(&second_dir.join(&file.name))?;
        if a != b {
            return Ok(Some(format!("{} sha256 {a} then {b}", file.name)));
        }
    }
    Ok(None)
}

/// A SHA-256 of every partition's pairs, wherever they are.
fn digest_runs(runs: &MapRuns) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut add = |key: &[u8], value: &[u8]| {
        hasher.update((key.len() as u64).to_le_bytes());
        hasher.update(key);
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    };
    match runs {
        MapRuns::Memory { runs, .. } => {
            for (p, run) in runs.iter().enumerate() {
                add(b"partition", &(p as u64).to_le_bytes());
                run.iter().for_each(|(k, v)| add(k, v));
            }
        }
        MapRuns::Disk(file) => {
            for (p, segment) in file.segments.iter().enumerate() {
                add(b"partition", &(p as u64).to_le_bytes());
                let mut reader = crate::shuffle::RunReader::open(&file.path, *segment)?;
                while let Some((k, v)) = reader.head() {
                    add(k, v);
                    reader.advance()?;
                }
            }
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// The result `sandmill task run` prints: one line of JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskResult {
    /// `map-3`, `reduce-0`.
    pub task: String,
    /// The attempt that ran.
    pub attempt: u32,
    /// `ok`, or the class of failure ([`crate::error::ExitClass::name`]).
    pub status: String,
    /// Whether running it again may succeed.
    pub retryable: bool,
    /// The failure, on one line.
    pub error: Option<String>,
    /// The committed task's counts.
    pub counts: Option<TaskCounts>,
    /// The committed task's plugin log: its messages, counters and captured stdout and
    /// stderr (those of the attempt that committed it, which may be another process's).
    #[serde(default)]
    pub log: Option<AttemptLog>,
}

/// Runs one task in this process from its spec, as `sandmill task run --spec FILE` does:
/// loads the plugin (checking it is the one planned), attaches to the job run's work
/// directory without taking the dataset's lock (the run that planned it holds that), runs the
/// task and commits it. With `compile_key`, the spec's compile cache authenticates its entries
/// with that key (a spec never holds the key: it is written to disk).
///
/// # Errors
/// Anything that stops the task.
pub fn run_task_alone(spec: &TaskSpec, compile_key: Option<[u8; 32]>) -> Result<TaskDone, Error> {
    let committer = JobCommitter::attach(spec.job.output(), &spec.fingerprint)?;
    run_task_in(spec, compile_key, &committer, &spec.shuffle_dir).map(|(done, _)| done)
}

/// Runs one task in this process, as [`run_task_alone`] does, committing to `committer`, with
/// map output in `shuffle_dir`; returns it with the CPU time the plugin used.
///
/// # Errors
/// Anything that stops the task.
pub(crate) fn run_task_in(
    spec: &TaskSpec,
    compile_key: Option<[u8; 32]>,
    committer: &JobCommitter,
    shuffle_dir: &Path,
) -> Result<(TaskDone, std::time::Duration), Error> {
    let cache = spec.job.compile_cache().map(|cache| match compile_key {
        Some(key) => CompileCache::with_key(cache.dir(), key),
        None => cache.clone(),
    });
    let mut plugin = Plugin::from_file(spec.job.plugin(), spec.job.limits(), cache.as_ref())?;
    if !spec.side_inputs.is_empty() {
        // In a process of its own, a task loads the side inputs itself, bounded as the job
        // was, from the files as planned (one changed since fails the task).
        let side = SideInputs::load(&spec.side_inputs, spec.job.max_side_input_bytes())?;
        plugin = plugin.with_side_inputs(side);
    }
    let digest = PluginDigest::from_file(spec.job.plugin()).map_err(|e| Error::PluginLoad {
        path: spec.job.plugin().into(),
        reason: e.to_string(),
    })?;
    if digest.sha256 != spec.plugin_sha256 {
        return Err(Error::PluginLoad {
            path: spec.job.plugin().into(),
            reason: format!(
                "it changed since the job was planned (sha256 {}, planned {}); run the job \
                 again",
                digest.sha256, spec.plugin_sha256
            ),
        });
    }
    let (_, info) = plugin
        .instantiate(spec.task(), spec.job.params())
        .map_err(|e| crate::map::task_error(spec.task(), FailureSite::Task, e))?;
    let shuffle = ShuffleDir::existing(shuffle_dir).map_err(|source| Error::Output {
        path: shuffle_dir.to_path_buf(),
        source,
    })?;
    let budget = MemoryBudget::new(spec.job.memory(), 1);
    let bad_records = BadRecords::new(spec.job.max_bad_records());
    let output = JobOutput::new(spec.job.output_limits(), spec.job.reducers());
    let held = BTreeMap::new();
    let env = TaskEnv {
        plugin: &plugin,
        combiner: info.combiner,
        committer,
        shuffle: &shuffle,
        budget: &budget,
        bad_records: &bad_records,
        output: &output,
        held: &held,
        map_output_on_disk: true,
    };
    let done = run_task(&env, spec, &|_| {})?;
    Ok((done, plugin.cpu_used()))
}
