//! [`JobSpec`]: everything a job run needs, validated before anything runs.

use crate::columnar::OutputSchema;
use crate::error::Error;
use crate::error::TaskError;
use crate::gate::Check;
use crate::input::{BatchLimits, InputFormat};
use crate::plugin::{CompileCache, Limits};
use crate::quota::OutputLimits;
use crate::side_input::SideInputArg;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default number of reduce tasks (and part files). A constant, not the machine's thread
/// count, so that the same command writes the same part files and manifest on every machine.
pub const DEFAULT_REDUCERS: u32 = 8;

/// The default split size: large files are cut into pieces of about this many bytes.
pub const DEFAULT_SPLIT_SIZE: u64 = 64 << 20;

/// A validated description of one job run. Build it with [`JobSpec::builder`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JobSpec {
    plugin: PathBuf,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    format: InputFormat,
    reducers: u32,
    threads: usize,
    split_size: u64,
    params: Vec<(String, String)>,
    overwrite: bool,
    limits: Limits,
    batch: BatchLimits,
    group_batch_bytes: usize,
    memory: u64,
    temp_dir: Option<PathBuf>,
    compile_cache: Option<CompileCache>,
    retry: RetryPolicy,
    keep: Option<usize>,
    verify: Option<f64>,
    overwrite_partitions: bool,
    /// Publish even if the current version was made by the same job.
    #[serde(default)]
    force: bool,
    max_bad_records: u64,
    output_limits: OutputLimits,
    executor: ExecutorKind,
    /// The Ray cluster of `--executor ray` (`--ray-address`), if not the environment's.
    #[serde(default)]
    ray_address: Option<String>,
    /// Quality gates the output must pass before it is published (`--check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    checks: Vec<Check>,
    /// The output partition every record goes into (`--output-partition date=2026-03-22`),
    /// below any the plugin routes it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_partition: Option<String>,
    /// How keys are assigned to reduce partitions (`--partitioner`).
    #[serde(default)]
    partitioner: PartitionerKind,
    /// The most input bytes `--partitioner range` maps to sample the keys (`--sample-size`).
    #[serde(default = "default_sample_size")]
    sample_size: u64,
    /// Keys whose pairs are spread over `salt` combine tasks (`--hot-key`), in the order given.
    #[serde(default)]
    hot_keys: Vec<Vec<u8>>,
    /// Combine tasks per hot key (`--salt`).
    #[serde(default = "default_salt")]
    salt: u32,
    /// `--side-input NAME=PATH`, in the order given.
    #[serde(default)]
    side_inputs: Vec<SideInputArg>,
    /// `--max-side-input-bytes`.
    #[serde(default = "default_max_side_input_bytes")]
    max_side_input_bytes: u64,
    /// Parquet input only: the columns read (`--columns`); all if `None`.
    #[serde(default)]
    columns: Option<Vec<String>>,
    /// What the part files are (`--output-format`, `--output-schema`).
    #[serde(default)]
    output_format: OutputFormat,
}

fn default_max_side_input_bytes() -> u64 {
    crate::side_input::DEFAULT_MAX_BYTES
}

/// The default `--salt`: combine tasks each `--hot-key` is spread over.
pub const DEFAULT_SALT: u32 = 8;

fn default_salt() -> u32 {
    DEFAULT_SALT
}

/// The default `--sample-size`: input bytes mapped to choose range partitioning's cut points.
pub const DEFAULT_SAMPLE_SIZE: u64 = 4 << 20;

fn default_sample_size() -> u64 {
    DEFAULT_SAMPLE_SIZE
}

/// How keys are assigned to reduce partitions (`--partitioner`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionerKind {
    /// A stable hash of the key: even for most keys, in no order.
    #[default]
    Hash,
    /// Key ranges, cut at a sorted sample of the map output keys (TeraSort): even, and the
    /// part files concatenated in order are sorted.
    Range,
}

/// What a job's part files hold (`--output-format`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutputFormat {
    /// The records as the plugin emits them, one per line (`part-00000`): `lines` or `jsonl`.
    #[default]
    Lines,
    /// Parquet files (`part-00000.parquet`) of this schema (`--output-schema`); each record
    /// is a JSON object with its fields.
    Parquet(OutputSchema),
}

impl OutputFormat {
    /// The schema of a Parquet output.
    pub fn schema(&self) -> Option<&OutputSchema> {
        match self {
            OutputFormat::Lines => None,
            OutputFormat::Parquet(schema) => Some(schema),
        }
    }
}

impl JobSpec {
    /// A builder for a job that runs `plugin`.
    pub fn builder(plugin: impl Into<PathBuf>) -> JobSpecBuilder {
        JobSpecBuilder {
            spec: JobSpec {
                plugin: plugin.into(),
                inputs: Vec::new(),
                output: PathBuf::new(),
                format: InputFormat::Lines,
                reducers: 0,
                threads: 0,
                split_size: DEFAULT_SPLIT_SIZE,
                params: Vec::new(),
                overwrite: false,
                limits: Limits::default(),
                batch: BatchLimits::default(),
                group_batch_bytes: 1 << 20,
                memory: 0,
                temp_dir: None,
                compile_cache: None,
                retry: RetryPolicy::default(),
                keep: None,
                verify: None,
                overwrite_partitions: false,
                force: false,
                max_bad_records: 0,
                output_limits: OutputLimits::default(),
                executor: ExecutorKind::Local,
                ray_address: None,
                checks: Vec::new(),
                output_partition: None,
                partitioner: PartitionerKind::Hash,
                sample_size: DEFAULT_SAMPLE_SIZE,
                hot_keys: Vec::new(),
                salt: DEFAULT_SALT,
                side_inputs: Vec::new(),
                max_side_input_bytes: crate::side_input::DEFAULT_MAX_BYTES,
                columns: None,
                output_format: OutputFormat::Lines,
            },
        }
    }

    /// The plugin file.
    pub fn plugin(&self) -> &Path {
        &self.plugin
    }
    /// The `--input` arguments: files, directories or globs.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs
    }
    /// The output directory.
    pub fn output(&self) -> &Path {
        &self.output
    }
    /// How input is cut into records.
    pub fn format(&self) -> InputFormat {
        self.format
    }
    /// The number of reduce partitions (and part files).
    pub fn reducers(&self) -> u32 {
        self.reducers
    }
    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
    /// The target split size in bytes.
    pub fn split_size(&self) -> u64 {
        self.split_size
    }
    /// The job's parameters, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
    /// Whether an existing output is replaced.
    pub fn overwrite(&self) -> bool {
        self.overwrite
    }
    /// The sandbox's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }
    /// Input batch limits.
    pub fn batch_limits(&self) -> BatchLimits {
        self.batch
    }
    /// Bytes per batch of key groups handed to the plugin.
    pub fn group_batch_bytes(&self) -> usize {
        self.group_batch_bytes
    }
    /// The memory budget for the shuffle, in bytes.
    pub fn memory(&self) -> u64 {
        self.memory
    }
    /// `--temp-dir`, if given; otherwise spill files go to the dataset's work directory, where
    /// a resumed run finds them.
    pub fn temp_dir_given(&self) -> Option<&Path> {
        self.temp_dir.as_deref()
    }
    /// Where compiled plugins are kept between runs, if anywhere.
    pub fn compile_cache(&self) -> Option<&CompileCache> {
        self.compile_cache.as_ref()
    }
    /// Whether a run replaces only the output partitions it writes (`--overwrite-partitions`).
    pub fn overwrite_partitions(&self) -> bool {
        self.overwrite_partitions
    }
    /// Whether a run publishes a new version even if the dataset's current version was made
    /// by the same job (the same [job digest](crate::plan::JobPlan::job_digest)): `--force`.
    pub fn force(&self) -> bool {
        self.force
    }
    /// The share of tasks `--verify` runs twice, if verifying.
    pub fn verify(&self) -> Option<f64> {
        self.verify
    }
    /// How many versions of the dataset to keep (`--keep`); `None` keeps all.
    pub fn keep(&self) -> Option<usize> {
        self.keep
    }
    /// How failed tasks are retried.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }
    /// How many bad records may be quarantined before the job fails (0: none).
    pub fn max_bad_records(&self) -> u64 {
        self.max_bad_records
    }
    /// How much the plugin may write.
    pub fn output_limits(&self) -> OutputLimits {
        self.output_limits
    }

    /// Who runs the tasks (`--executor`).
    pub fn executor(&self) -> ExecutorKind {
        self.executor
    }

    /// The Ray cluster's address (`--ray-address`), if given.
    pub fn ray_address(&self) -> Option<&str> {
        self.ray_address.as_deref()
    }
    /// The side inputs (`--side-input NAME=PATH`), in the order given.
    pub fn side_inputs(&self) -> &[SideInputArg] {
        &self.side_inputs
    }
    /// The bytes of records all side inputs may hold in memory together.
    pub fn max_side_input_bytes(&self) -> u64 {
        self.max_side_input_bytes
    }

    /// The quality gates its output must pass before it is published.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The output partition every record is written under (`--output-partition`), if any.
    pub fn output_partition(&self) -> Option<&str> {
        self.output_partition.as_deref()
    }

    /// This spec reading `inputs` instead of its own (a pipeline stage reading the version of
    /// an earlier stage that this run made).
    pub fn with_inputs(&self, inputs: Vec<PathBuf>) -> JobSpec {
        JobSpec {
            inputs,
            ..self.clone()
        }
    }

    /// How keys are assigned to reduce partitions (`--partitioner`).
    pub fn partitioner(&self) -> PartitionerKind {
        self.partitioner
    }

    /// The most input bytes `--partitioner range` maps to sample the keys (`--sample-size`).
    pub fn sample_size(&self) -> u64 {
        self.sample_size
    }

    /// The keys declared hot (`--hot-key`), whose pairs are combined in [`salt`](Self::salt)
    /// shares before their partition's reduce.
    pub fn hot_keys(&self) -> &[Vec<u8>] {
        &self.hot_keys
    }

    /// Combine tasks each hot key is spread over (`--salt`).
    pub fn salt(&self) -> u32 {
        self.salt
    }

    /// Parquet input only: the columns read (`--columns`); all if `None`.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// What the part files hold (`--output-format`).
    pub fn output_format(&self) -> &OutputFormat {
        &self.output_format
    }

    /// Whether the job reads or writes object storage where tasks share no disk: an `s3://`
    /// output or `--temp-dir`, or the Ray executor. Such a job runs as
    /// [`remote`](crate::remote) describes.
    pub fn is_remote(&self) -> bool {
        crate::object::is_url(&self.output)
            || self.temp_dir.as_deref().is_some_and(crate::object::is_url)
            || self.executor == ExecutorKind::Ray
    }

    /// This spec as a task on another machine sees it: the plugin at `plugin` (fetched from
    /// object storage) and that machine's compile cache, not this one's.
    pub(crate) fn relocated(&self, plugin: PathBuf, cache: Option<CompileCache>) -> JobSpec {
        JobSpec {
            plugin,
            compile_cache: cache,
            ..self.clone()
        }
    }

    /// Checks a spec that did not come from a builder (one read from a file) as
    /// [`JobSpecBuilder::build`] does.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the first problem.
    pub fn checked(self) -> Result<JobSpec, Error> {
        JobSpecBuilder { spec: self }.build()
    }
}

/// How often, and how patiently, a task whose failure may be transient is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Which executor runs a job's tasks (`--executor`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecutorKind {
    /// Threads of this process.
    #[default]
    Local,
    /// One `sandmill task run` process per task attempt.
    Process,
    /// A Ray task per task, each a `sandmill task run` process on a node of a Ray cluster.
    Ray,
}

/// Builds a [`JobSpec`]; [`JobSpecBuilder::build`] checks it.
#[derive(Debug, Clone)]
pub struct JobSpecBuilder {
    spec: JobSpec,
}

impl JobSpecBuilder {
    /// Adds an input: a file, a directory (read recursively) or a glob.
    pub fn input(mut self, input: impl Into<PathBuf>) -> Self {
        self.spec.inputs.push(input.into());
        self
    }
    /// Adds several inputs.
    pub fn inputs<P: Into<PathBuf>>(mut self, inputs: impl IntoIterator<Item = P>) -> Self {
        self.spec.inputs.extend(inputs.into_iter().map(Into::into));
        self
    }
    /// Sets the output directory.
    pub fn output(mut self, output: impl Into<PathBuf>) -> Self {
        self.spec.output = output.into();
        self
    }
    /// Sets the input format (default: lines).
    pub fn format(mut self, format: InputFormat) -> Self {
        self.spec.format = format;
        self
    }
    /// Sets the number of reducers (default: [`DEFAULT_REDUCERS`], whatever the machine).
    pub fn reducers(mut self, reducers: u32) -> Self {
        self.spec.reducers = reducers;
        self
    }
    /// Sets the number of threads (default: the number of CPUs).
    pub fn threads(mut self, threads: usize) -> Self {
        self.spec.threads = threads;
        self
    }
    /// Sets the split size in bytes (default 64 MiB).
    pub fn split_size(mut self, bytes: u64) -> Self {
        self.spec.split_size = bytes;
        self
    }
    /// Adds a parameter for the plugin.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.params.push((key.into(), value.into()));
        self
    }
    /// Replaces an existing output (default: refuse).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.spec.overwrite = overwrite;
        self
    }
    /// Sets the sandbox's limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.spec.limits = limits;
        self
    }
    /// Sets the input batch limits.
    pub fn batch_limits(mut self, batch: BatchLimits) -> Self {
        self.spec.batch = batch;
        self
    }
    /// Sets the bytes per batch of key groups.
    pub fn group_batch_bytes(mut self, bytes: usize) -> Self {
        self.spec.group_batch_bytes = bytes;
        self
    }

    /// Sets the memory budget of the shuffle (default: a quarter of the machine's RAM).
    pub fn memory(mut self, bytes: u64) -> Self {
        self.spec.memory = bytes;
        self
    }
    /// Sets how tasks whose failure may be transient are retried (default: 4 attempts).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.spec.retry = retry;
        self
    }
    /// Lets up to `n` records the plugin rejects (or traps on) be quarantined into the
    /// output's `_rejects.jsonl` instead of failing the job (default 0).
    pub fn max_bad_records(mut self, n: u64) -> Self {
        self.spec.max_bad_records = n;
        self
    }
    /// Sets how much the plugin may write (default: [`OutputLimits::default`]).
    pub fn output_limits(mut self, limits: OutputLimits) -> Self {
        self.spec.output_limits = limits;
        self
    }
    /// Sets where spill files go (default: the system's temporary directory).
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spec.temp_dir = Some(dir.into());
        self
    }
    /// Keeps compiled plugins in `cache` between runs (default: compile every run).
    pub fn compile_cache(mut self, cache: Option<CompileCache>) -> Self {
        self.spec.compile_cache = cache;
        self
    }
    /// Makes a run replace only the output partitions it writes, keeping the others of the
    /// current version.
    pub fn overwrite_partitions(mut self, yes: bool) -> Self {
        self.spec.overwrite_partitions = yes;
        self
    }
    /// Makes a run publish a new version even if the current one was made by the same job,
    /// which it otherwise reports as unchanged without running a task.
    pub fn force(mut self, yes: bool) -> Self {
        self.spec.force = yes;
        self
    }
    /// Runs a `fraction` of the tasks twice and fails if their outputs differ.
    pub fn verify(mut self, fraction: f64) -> Self {
        self.spec.verify = Some(fraction);
        self
    }
    /// Keeps at most `n` versions of the dataset, deleting the oldest (never the current one).
    pub fn keep(mut self, n: usize) -> Self {
        self.spec.keep = Some(n);
        self
    }

    /// Who runs the tasks: threads of this process (the default), or a process per task.
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.spec.executor = executor;
        self
    }
    /// The Ray cluster `--executor ray` submits to (`HOST:PORT`); default `RAY_ADDRESS`.
    pub fn ray_address(mut self, address: Option<String>) -> Self {
        self.spec.ray_address = address;
        self
    }
    /// Reads only these columns of a Parquet input (`--columns`); default all.
    pub fn columns(mut self, columns: Vec<String>) -> Self {
        self.spec.columns = Some(columns);
        self
    }
    /// What the part files hold (default: lines).
    pub fn output_format(mut self, format: OutputFormat) -> Self {
        self.spec.output_format = format;
        self
    }

    /// Adds a quality gate the output must pass before it is published.
    pub fn check(mut self, check: Check) -> Self {
        self.spec.checks.push(check);
        self
    }
    /// Writes every record under the output partition `partition` (`date=2026-03-22`), so
    /// that with [`overwrite_partitions`](Self::overwrite_partitions) a run replaces that
    /// partition only.
    pub fn output_partition(mut self, partition: Option<String>) -> Self {
        self.spec.output_partition = partition;
        self
    }
    /// Assigns keys to reduce partitions by hash (the default) or by sampled key ranges.
    pub fn partitioner(mut self, kind: PartitionerKind) -> Self {
        self.spec.partitioner = kind;
        self
    }
    /// Sets the most input bytes range partitioning maps to sample the keys (default 4 MiB).
    pub fn sample_size(mut self, bytes: u64) -> Self {
        self.spec.sample_size = bytes;
        self
    }

    /// Declares `key` hot: its pairs are spread over [`salt`](Self::salt) combine tasks, whose
    /// partial results its partition's reduce merges (the output is the same).
    pub fn hot_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.spec.hot_keys.push(key.into());
        self
    }
    /// Sets the combine tasks each hot key is spread over (default [`DEFAULT_SALT`]).
    pub fn salt(mut self, n: u32) -> Self {
        self.spec.salt = n;
        self
    }
    /// Adds a side input (`--side-input NAME=PATH`): a file, directory, glob or dataset every
    /// plugin call may read whole.
    pub fn side_input(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.spec.side_inputs.push(SideInputArg {
            name: name.into(),
            path: path.into(),
        });
        self
    }

    /// Sets the bytes of records all side inputs may hold together (default 256 MiB).
    pub fn max_side_input_bytes(mut self, bytes: u64) -> Self {
        self.spec.max_side_input_bytes = bytes;
        self
    }

    /// Checks the spec and fills in defaults.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the first problem.
    pub fn build(self) -> Result<JobSpec, Error> {
        let mut spec = self.spec;
        let bad = |msg: String| Err(Error::Spec(msg));
        if spec.inputs.is_empty() {
            return bad("no --input given; name at least one file, directory or glob".into());
        }
        if spec.output.as_os_str().is_empty() {
            return bad("no --output given; name the directory to write".into());
        }
        if spec.threads == 0 {
            spec.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        if spec.reducers == 0 {
            spec.reducers = DEFAULT_REDUCERS;
        }
        if spec.reducers > 100_000 {
            return bad(format!("--reducers {} is more than 100000", spec.reducers));
        }
        if spec.split_size == 0 {
            return bad("--split-size must be at least 1 byte".into());
        }
        if spec.sample_size == 0 {
            return bad("--sample-size must be at least 1 byte".into());
        }
        if !(1..=1000).contains(&spec.salt) {
            return bad(format!(
                "--salt {}: give the number of combine tasks a hot key is spread over, 1 to 1000",
                spec.salt
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = spec.hot_keys.iter().find(|k| !seen.insert(*k)) {
            return bad(format!(
                "--hot-key {} is given twice",
                crate::text::key_text(twice)
            ));
        }
        if spec.hot_keys.len() > 100 {
            return bad(format!(
                "{} --hot-key flags: give at most 100 (salting is for the few keys that hold \
                 most pairs)",
                spec.hot_keys.len()
            ));
        }
        if let Some((k, _)) = spec.params.iter().find(|(k, _)| k.is_empty()) {
            return bad(format!(
                "--param {k:?}: a parameter needs a name, as in key=value"
            ));
        }
        if spec.memory == 0 {
            spec.memory = crate::shuffle::default_memory();
        }
        if spec.memory < 64 << 10 {
            return bad(format!(
                "--memory {} bytes is too small; give at least 64KiB",
                spec.memory
            ));
        }
        if let Some(f) = spec.verify
            && !(f > 0.0 && f <= 1.0)
        {
            return bad(format!("--verify={f}: give a fraction of tasks in (0, 1]"));
        }
        for check in &spec.checks {
            check.validate().map_err(Error::Spec)?;
        }
        if let Some(partition) = &spec.output_partition {
            crate::batch::check_partition_name(partition).map_err(|why| {
                Error::Spec(format!(
                    "--output-partition {partition:?} {why}; give a directory such as \
                     date=2026-03-22"
                ))
            })?;
        }
        if spec.keep == Some(0) {
            return bad("--keep must be at least 1: the current version is always kept".into());
        }
        if spec.group_batch_bytes == 0 {
            spec.group_batch_bytes = 1;
        }
        for side in &spec.side_inputs {
            crate::side_input::check_name(&side.name)
                .map_err(|e| Error::Spec(format!("--side-input: {e}")))?;
        }
        if let Some(columns) = &spec.columns {
            if spec.format != InputFormat::Parquet {
                return bad(
                    "--columns picks columns of a Parquet input; give --format parquet \
                            too, or leave --columns out"
                        .into(),
                );
            }
            if columns.is_empty() {
                return bad("--columns names no column; name at least one, as in \
                            --columns user_id,amount_cents"
                    .into());
            }
            for (i, c) in columns.iter().enumerate() {
                if c.is_empty() {
                    return bad("--columns has an empty column name".into());
                }
                if columns[..i].contains(c) {
                    return bad(format!("--columns names {c:?} twice"));
                }
            }
        }
        let out = spec.output_limits;
        for (value, flag, unit) in [
            (out.task_bytes, "--max-task-output", "byte"),
            (out.job_bytes, "--max-output", "byte"),
            (out.task_records, "--max-task-output-records", "record"),
            (out.job_records, "--max-output-records", "record"),
            (out.map_bytes, "--max-map-output", "byte"),
            (out.map_pairs, "--max-map-output-pairs", "pair"),
        ] {
            if value == 0 {
                return bad(format!(
                    "{flag} must be at least 1 {unit}: a limit of 0 fails on any output"
                ));
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let spec = JobSpec::builder("p.wasm")
            .input("in")
            .output("out")
            .build()
            .unwrap();
        assert!(spec.threads() >= 1);
        assert_eq!(spec.reducers(), DEFAULT_REDUCERS);
        // Not the machine's thread count: the same command writes the same output everywhere.
        for threads in [1, 3, 64] {
            let spec = JobSpec::builder("p.wasm")
                .input("in")
                .output("out")
                .threads(threads)
                .build()
                .unwrap();
            assert_eq!(spec.reducers(), DEFAULT_REDUCERS, "{threads} threads");
        }
        assert_eq!(spec.split_size(), DEFAULT_SPLIT_SIZE);
        assert_eq!(spec.output_limits(), OutputLimits::default());

        let cases: Vec<(JobSpecBuilder, &str)> = vec![
            (JobSpec::builder("p").output("o"), "no --input"),
            (JobSpec::builder("p").input("i"), "no --output"),
            (
                JobSpec::builder("p").input("i").output("o").split_size(0),
                "--split-size",
            ),
            (
                JobSpec::builder("p")
                    .input("i")
                    .output("o")
                    .reducers(100_001),
                "--reducers",
            ),
            (
                JobSpec::builder("p").input("i").output("o").param("", "v"),
                "needs a name",
            ),
            (
                JobSpec::builder("p").input("i").output("o").memory(1 << 10),
                "--memory",
            ),
            (
                JobSpec::builder("p")
                    .input("i")
                    .output("o")
                    .output_limits(OutputLimits {
                        job_bytes: 0,
                        ..OutputLimits::default()
                    }),
                "--max-output must be at least 1 byte",
            ),
            (
                JobSpec::builder("p")
                    .input("i")
                    .output("o")
                    .output_limits(OutputLimits {
                        map_pairs: 0,
                        ..OutputLimits::default()
                    }),
                "--max-map-output-pairs must be at least 1 pair",
            ),
        ];
        for (builder, want) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    fn io_failure() -> TaskError {
        TaskError::Io {
            task: crate::task::TaskId::Reduce(crate::task::PartitionId(0)),
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
                task: crate::task::TaskId::Reduce(crate::task::PartitionId(0)),
                site: crate::error::FailureSite::Task,
                message: "bad record".into(),
                bad_record: true,
            })
        });
        assert!(plugin_failure.is_err());
        assert_eq!(calls, 1, "the same input would fail the same way");

        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(2), Duration::from_millis(100));
        assert_eq!(policy.delay(3), Duration::from_millis(200));
        assert_eq!(policy.delay(30), Duration::from_secs(5));
    }

    #[test]
    fn columns_need_parquet_input_and_distinct_names() {
        let parquet = || {
            JobSpec::builder("p")
                .input("i")
                .output("o")
                .format(InputFormat::Parquet)
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let spec = parquet().columns(names(&["b", "a"])).build().unwrap();
        assert_eq!(spec.columns(), Some(&names(&["b", "a"])[..]));
        assert_eq!(parquet().build().unwrap().columns(), None);
        let cases: Vec<(JobSpecBuilder, &str)> = vec![
            (
                JobSpec::builder("p")
                    .input("i")
                    .output("o")
                    .columns(names(&["a"])),
                "give --format parquet",
            ),
            (parquet().columns(Vec::new()), "names no column"),
            (parquet().columns(names(&["a", ""])), "empty column name"),
            (
                parquet().columns(names(&["a", "b", "a"])),
                "names \"a\" twice",
            ),
        ];
        for (builder, expected) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn an_output_schema_round_trips_through_a_task_spec() {
        let schema = OutputSchema::parse("user_id:int64,note:string?").unwrap();
        let spec = JobSpec::builder("p")
            .input("i")
            .output("o")
            .output_format(OutputFormat::Parquet(schema.clone()))
            .build()
            .unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        let back: JobSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.output_format().schema(), Some(&schema));
        // A spec of an older Sandmill, without the fields: lines, every column.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("output_format");
        old.as_object_mut().unwrap().remove("columns");
        let old: JobSpec = serde_json::from_value(old).unwrap();
        assert_eq!(old.output_format(), &OutputFormat::Lines);
        assert_eq!(old.columns(), None);
    }
}
