//! Running a job: plan splits, run map tasks in parallel, hand each partition's runs to a
//! reduce task, commit. Owns the thread pool and the map→reduce barrier; knows nothing of
//! record contents.

use crate::commit::JobCommitter;
use crate::dataset::{InputFingerprint, Manifest, OutputFile, PluginDigest, VersionId};
use crate::error::{Error, TaskError};
use crate::input::{self, InputSplit};
use crate::map::{self, BadRecords, MapContext, Reject, TaskCounts};
use crate::plugin::{AttemptLog, CallError, Compiled, Plugin};
use crate::quota::JobOutput;
use crate::reduce::{self, PartFile, ReduceContext};
use crate::shuffle::{MapRuns, MemoryBudget, Partitioner, RunFile, RunSource, ShuffleDir};
use crate::spec::JobSpec;
use crate::task::{PartitionId, TaskId};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// The dataset the job published to.
    pub output: PathBuf,
    /// The version it published.
    pub version: VersionId,
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
}

/// The file in the output that lists records quarantined under `--max-bad-records`.
pub const REJECTS: &str = "_rejects.jsonl";

impl JobReport {
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
            resumed_tasks: 0,
            files,
            map: PhaseReport::default(),
            reduce: PhaseReport::default(),
            partitions: Vec::new(),
            counters: BTreeMap::new(),
            dropped_log_messages: 0,
            dropped_stdio_bytes: 0,
            plugin_cpu: Duration::ZERO,
            peak_rss: crate::usage::peak_rss(),
            wall,
            compiled,
            rejected: 0,
        }
    }
}

/// What a committed task leaves for the rest of the job, and for a run that resumes it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TaskRecord {
    /// Its counts.
    pub counts: TaskCounts,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
    /// Map tasks: records quarantined under `--max-bad-records`.
    pub rejects: Vec<Reject>,
    /// Map tasks: the run file holding their output, if it went to disk (output kept in memory
    /// is lost with the process, so such a task runs again if a resumed run needs it).
    pub run_file: Option<RunFile>,
    /// Reduce tasks: the part files they committed.
    pub files: Vec<PartFile>,
}

/// A map task done: by this run, or committed by an earlier one.
struct MapDone {
    task: TaskId,
    record: TaskRecord,
    /// Its output, unless no reduce task still needs it.
    runs: Option<MapRuns>,
}

/// Runs a job to completion and publishes its output as a new version of the dataset.
///
/// If an earlier run of the same job (same plugin, parameters, inputs and settings) stopped
/// part way, the tasks it committed are not run again.
///
/// # Errors
/// Anything that stops the job: bad input or plugin, a task that failed, or output that
/// cannot be written. The dataset then still shows its previous version.
pub fn run(spec: &JobSpec, observer: &dyn Observer) -> Result<JobReport, Error> {
    let started = Instant::now();
    let files = input::resolve_inputs(spec.inputs())?;
    let plugin = Plugin::from_file(spec.plugin(), spec.limits(), spec.compile_cache())?;
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
    let splits = input::plan_splits(&files, split_size(spec, &files));
    let identity = JobIdentity::new(spec, &files, &splits)?;
    let committer = JobCommitter::begin(spec.output(), spec.overwrite(), &identity.fingerprint)?;
    if let Some(version) = committer.resume_publish()? {
        // An earlier run had finished everything but the switch; it is done now.
        committer.finish();
        return Ok(JobReport::resumed(
            spec,
            version,
            files.len(),
            plugin.compiled().clone(),
            started.elapsed(),
        ));
    }
    let shuffle = match spec.temp_dir_given() {
        Some(dir) => ShuffleDir::create(dir),
        None => ShuffleDir::existing(&committer.shuffle_dir()),
    }
    .map_err(|source| Error::Output {
        path: spec.temp_dir(),
        source,
    })?;
    remove_uncommitted_spills(&committer, &splits);
    let budget = MemoryBudget::new(spec.memory(), spec.threads());
    let bad_records = BadRecords::new(spec.max_bad_records());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads())
        // Wasm execution and Cranelift want more than rayon's default 2 MiB.
        .stack_size(16 << 20)
        .thread_name(|i| format!("sandmill-worker-{i}"))
        .build()
        .map_err(|e| Error::Spec(format!("cannot start {} threads: {e}", spec.threads())))?;

    let reducers = spec.reducers();
    let job_output = JobOutput::new(spec.output_limits(), reducers);
    let pending: Vec<PartitionId> = (0..reducers)
        .map(PartitionId)
        .filter(
            |&p| match committer.committed::<TaskRecord>(TaskId::Reduce(p)) {
                Some(record) => {
                    // Output an earlier run committed counts against the job's limits too.
                    job_output.add_committed(record.counts.bytes_out, record.counts.records_out);
                    false
                }
                None => true,
            },
        )
        .collect();
    let resumed = AtomicUsize::new(reducers as usize - pending.len());
    let partitioner = Partitioner::new(reducers, Partitioner::DEFAULT_SEED);
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
        limits: spec.output_limits(),
    };
    let commit_error = |task, source| TaskError::Io {
        task,
        path: committer.version_dir(),
        source,
    };
    let (maps, map_report) = run_phase(
        &pool,
        observer,
        Phase::Map,
        &splits,
        splits.iter().map(InputSplit::len).sum(),
        spec.retry(),
        |split: &InputSplit, attempt| {
            let task = TaskId::Map(split.id);
            if let Some(record) = committer.committed::<TaskRecord>(task) {
                let runs = match &record.run_file {
                    _ if pending.is_empty() => Some(None),
                    Some(file) if file.path.exists() => Some(Some(MapRuns::Disk(file.clone()))),
                    _ => None, // its output was kept in memory: run it again
                };
                if let Some(runs) = runs {
                    resumed.fetch_add(1, Ordering::Relaxed);
                    observer.progress(Phase::Map, split.len());
                    return Ok(MapDone { task, record, runs });
                }
            }
            let progress = |bytes| observer.progress(Phase::Map, bytes);
            let out = map::run_map(&map_ctx, split, attempt, &progress)?;
            let run_file = match &out.runs {
                MapRuns::Disk(file) => Some(file.clone()),
                MapRuns::Memory { .. } => None,
            };
            let record = TaskRecord {
                counts: out.counts,
                log: out.log,
                rejects: out.rejects,
                run_file,
                files: Vec::new(),
            };
            committer
                .commit_task(task, attempt, &record)
                .map_err(|e| commit_error(task, e))?;
            if spec
                .verify()
                .is_some_and(|fraction| sampled(task, fraction))
            {
                verify_map(&map_ctx, split, attempt, &out.runs)?;
            }
            Ok(MapDone {
                task,
                record,
                runs: Some(out.runs),
            })
        },
        |done: &MapDone| (done.task, done.record.counts, &done.record.log),
    )?;

    // The barrier: every map task is done; give each partition its runs, in split order.
    let mut partitions: Vec<Vec<RunSource>> = (0..reducers).map(|_| Vec::new()).collect();
    let mut sizes = vec![PartitionReport::default(); reducers as usize];
    let mut records: Vec<TaskRecord> = Vec::with_capacity(maps.len() + reducers as usize);
    for done in maps {
        for (p, run) in done
            .runs
            .map(MapRuns::into_sources)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let (pairs, bytes) = run.size();
            sizes[p].pairs += pairs;
            sizes[p].bytes += bytes;
            if pairs > 0 {
                partitions[p].push(run);
            }
        }
        records.push(done.record);
    }
    let reduce_ctx = ReduceContext {
        plugin: &plugin,
        params: spec.params(),
        committer: &committer,
        group_batch_bytes: spec.group_batch_bytes(),
        limits: spec.output_limits(),
        output: &job_output,
    };
    let tasks: Vec<(PartitionId, Vec<RunSource>)> = pending
        .iter()
        .map(|&p| (p, std::mem::take(&mut partitions[p.0 as usize])))
        .collect();
    let total_pairs = tasks
        .iter()
        .flat_map(|(_, runs)| runs)
        .map(|r| r.size().0)
        .sum();
    let (_, reduce_report) = run_phase(
        &pool,
        observer,
        Phase::Reduce,
        &tasks,
        total_pairs,
        spec.retry(),
        |(partition, runs): &(PartitionId, Vec<RunSource>), attempt| {
            let task = TaskId::Reduce(*partition);
            let pairs = runs.iter().map(|r| r.size().0).sum();
            let out = reduce::run_reduce(&reduce_ctx, *partition, runs, attempt)?;
            let record = TaskRecord {
                counts: out.counts,
                log: out.log,
                files: out.files,
                ..TaskRecord::default()
            };
            committer
                .commit_task(task, attempt, &record)
                .map_err(|e| commit_error(task, e))?;
            if spec
                .verify()
                .is_some_and(|fraction| sampled(task, fraction))
            {
                verify_reduce(&reduce_ctx, task, runs, attempt)?;
            }
            observer.progress(Phase::Reduce, pairs);
            Ok((task, record))
        },
        |(task, record): &(TaskId, TaskRecord)| (*task, record.counts, &record.log),
    )?;
    drop(shuffle);

    // Every partition's record, whichever run committed it.
    let mut files_out = Vec::with_capacity(reducers as usize + 1);
    let version_dir = committer.version_dir();
    for p in 0..reducers {
        let task = TaskId::Reduce(PartitionId(p));
        let record: TaskRecord = committer.committed(task).ok_or_else(|| {
            Error::Spec(format!(
                "{task} has no committed record; this is a bug in Sandmill, please report it"
            ))
        })?;
        sizes[p as usize].records_out = record.counts.records_out;
        for file in &record.files {
            files_out.push(
                OutputFile::from_file(&version_dir, &file.name, file.records).map_err(
                    |source| Error::Output {
                        path: version_dir.join(&file.name),
                        source,
                    },
                )?,
            );
        }
        records.push(record);
    }
    if spec.overwrite_partitions() {
        carry_over_partitions(&committer, &mut files_out)?;
    }
    files_out.sort_by(|a, b| a.path.cmp(&b.path));
    let mut rejects: Vec<&Reject> = records.iter().flat_map(|r| &r.rejects).collect();
    if !rejects.is_empty() {
        rejects.sort_by(|a, b| (&a.file, a.offset).cmp(&(&b.file, b.offset)));
        let mut lines = Vec::new();
        for reject in &rejects {
            serde_json::to_writer(&mut lines, reject).expect("a reject is JSON");
            lines.push(b'\n');
        }
        committer.write_file(REJECTS, &lines)?;
        files_out.push(
            OutputFile::from_file(&version_dir, REJECTS, rejects.len() as u64).map_err(
                |source| Error::Output {
                    path: version_dir.join(REJECTS),
                    source,
                },
            )?,
        );
    }
    let rejected = rejects.len() as u64;
    let manifest = identity.manifest(spec, files_out);
    let version = committer.commit_job(&manifest, spec.keep())?;

    let mut counters = BTreeMap::new();
    let mut dropped = 0;
    let mut dropped_stdio = 0;
    for record in &records {
        dropped_stdio += record.log.dropped_stdio_bytes;
        for (name, v) in &record.log.counters {
            let c: &mut i64 = counters.entry(name.clone()).or_default();
            *c = c.wrapping_add(*v);
        }
        dropped += record.log.dropped_messages + record.log.dropped_counters;
    }
    Ok(JobReport {
        output: spec.output().to_path_buf(),
        version,
        resumed_tasks: resumed.into_inner(),
        files: files.len(),
        map: map_report,
        reduce: reduce_report,
        partitions: sizes,
        counters,
        dropped_log_messages: dropped,
        dropped_stdio_bytes: dropped_stdio,
        plugin_cpu: plugin.cpu_used(),
        peak_rss: crate::usage::peak_rss(),
        wall: started.elapsed(),
        compiled: plugin.compiled().clone(),
        rejected,
    })
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
    let version = committer.version_dir();
    for file in manifest.files {
        let Some(dir) = partition(&file.path) else {
            continue;
        };
        if written.contains(&dir) {
            continue;
        }
        let (from, to) = (previous.join(&file.path), version.join(&file.path));
        let io = |source| Error::Output {
            path: to.clone(),
            source,
        };
        std::fs::create_dir_all(version.join(&dir)).map_err(io)?;
        std::fs::hard_link(&from, &to).map_err(io)?;
        files.push(file);
    }
    Ok(())
}

/// Removes the shuffle's attempt directories that no committed map task refers to: what
/// attempts interrupted by a crash or Ctrl-C left behind.
fn remove_uncommitted_spills(committer: &JobCommitter, splits: &[InputSplit]) {
    let keep: std::collections::BTreeSet<PathBuf> = splits
        .iter()
        .filter_map(|s| committer.committed::<TaskRecord>(TaskId::Map(s.id)))
        .filter_map(|record| record.run_file?.path.parent().map(PathBuf::from))
        .collect();
    for entry in std::fs::read_dir(committer.shuffle_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        if !keep.contains(&entry.path()) {
            let _ = std::fs::remove_dir_all(entry.path())
                .or_else(|_| std::fs::remove_file(entry.path()));
        }
    }
}

/// Whether `--verify` with this `fraction` reruns `task`: a fixed choice per task, so the
/// same tasks are checked on every run.
fn sampled(task: TaskId, fraction: f64) -> bool {
    let draw = crate::shuffle::hash(&task.seed().to_le_bytes(), 0x7e51f) % 1_000_000;
    (draw as f64) < fraction * 1_000_000.0
}

/// Runs the map task again and compares its output with the committed one's.
fn verify_map(
    ctx: &MapContext<'_>,
    split: &InputSplit,
    attempt: u32,
    committed: &MapRuns,
) -> Result<(), TaskError> {
    let task = TaskId::Map(split.id);
    let again = map::run_map(ctx, split, attempt + map::VERIFY_ATTEMPTS, &|_| {})?;
    let digests = digest_runs(committed).and_then(|first| Ok((first, digest_runs(&again.runs)?)));
    match &again.runs {
        MapRuns::Disk(file) => {
            let _ = file.remove();
            if let Some(dir) = file.path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        MapRuns::Memory { held, .. } => ctx.budget.release(*held),
    }
    let (first, second) = digests.map_err(|source| TaskError::Shuffle { task, source })?;
    if first != second {
        return Err(TaskError::Nondeterministic {
            task,
            detail: format!("map output sha256 {first} then {second}"),
        });
    }
    Ok(())
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

/// Runs the reduce task again and compares its part file with the committed one.
fn verify_reduce(
    ctx: &ReduceContext<'_>,
    task: TaskId,
    runs: &[RunSource],
    attempt: u32,
) -> Result<(), TaskError> {
    let TaskId::Reduce(partition) = task else {
        return Ok(());
    };
    let (dir, files) =
        reduce::rerun_for_verify(ctx, partition, runs, attempt + map::VERIFY_ATTEMPTS)?;
    let digest = |path: &std::path::Path| {
        crate::dataset::sha256_file(path).map_err(|source| TaskError::Io {
            task,
            path: path.to_path_buf(),
            source,
        })
    };
    let committed: TaskRecord = ctx.committer.committed(task).unwrap_or_default();
    let names = |files: &[PartFile]| files.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    let mut differs = None;
    if names(&committed.files) != names(&files) {
        differs = Some(format!(
            "files {:?} then {:?}",
            names(&committed.files),
            names(&files)
        ));
    }
    if differs.is_none() {
        for file in &files {
            let first = digest(&ctx.committer.version_dir().join(&file.name))?;
            let second = digest(&dir.join(&file.name))?;
            if first != second {
                differs = Some(format!("{} sha256 {first} then {second}", file.name));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    match differs {
        Some(detail) => Err(TaskError::Nondeterministic { task, detail }),
        None => Ok(()),
    }
}

/// What identifies a job, for resuming it and for its manifest.
struct JobIdentity {
    plugin: PluginDigest,
    inputs: Vec<InputFingerprint>,
    /// A digest of everything that decides the job's output and how it is cut into tasks.
    fingerprint: String,
}

impl JobIdentity {
    fn new(
        spec: &JobSpec,
        files: &[input::InputFile],
        splits: &[InputSplit],
    ) -> Result<Self, Error> {
        use sha2::Digest;
        let plugin = PluginDigest::from_file(spec.plugin()).map_err(|e| Error::PluginLoad {
            path: spec.plugin().into(),
            reason: e.to_string(),
        })?;
        let inputs = files
            .iter()
            .map(|f| {
                InputFingerprint::from_file(&f.path).map_err(|source| {
                    Error::Input(input::InputError::Io {
                        path: f.path.clone(),
                        source,
                    })
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut hasher = sha2::Sha256::new();
        let identity = serde_json::json!({
            "sandmill": env!("CARGO_PKG_VERSION"),
            "plugin": plugin.sha256,
            "params": spec.params(),
            "format": format!("{:?}", spec.format()),
            "reducers": spec.reducers(),
            "seed": Partitioner::DEFAULT_SEED,
            "inputs": inputs,
            "splits": splits.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
        });
        hasher.update(identity.to_string().as_bytes());
        let fingerprint = format!("{:x}", hasher.finalize())[..32].to_string();
        Ok(Self {
            plugin,
            inputs,
            fingerprint,
        })
    }

    fn manifest(self, spec: &JobSpec, files: Vec<OutputFile>) -> Manifest {
        Manifest {
            sandmill_version: env!("CARGO_PKG_VERSION").to_string(),
            wasmtime_version: crate::plugin::WASMTIME_VERSION.to_string(),
            plugin: self.plugin,
            params: spec.params().to_vec(),
            format: format!("{:?}", spec.format()),
            reducers: spec.reducers(),
            inputs: self.inputs,
            files,
        }
    }
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
