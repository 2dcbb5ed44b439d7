//! Planning a job: its input files, splits, partitions and tasks, as plain data. A
//! [`TaskSpec`] describes one task attempt completely (the job's settings, the plugin's
//! digest, the input ranges or the map output to read), so any process can run it
//! ([`crate::worker`]); serialized as JSON, it is what `sandmill task run --spec` reads.

use crate::dataset::{InputFingerprint, Manifest, OutputFile, PluginDigest};
use crate::error::Error;
use crate::input::{self, InputFile, InputSplit, SplitId};
use crate::plugin::{CallError, JobInfo, Plugin};
use crate::shuffle::{Partitioner, Segment};
use crate::side_input::{self, SideInputFiles, SideInputs};
use crate::spec::{JobSpec, PartitionerKind};
use crate::task::{PartitionId, TaskId};
use std::path::PathBuf;

/// What a job reads and how it is cut into tasks; fixed when the job starts.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// Every input file, sorted by path, as found when planned.
    pub files: Vec<InputFile>,
    /// The map tasks' splits.
    pub splits: Vec<InputSplit>,
    /// The plugin's digest.
    pub plugin: PluginDigest,
    /// What the plugin declared when configured with the job's parameters.
    pub info: JobInfo,
    /// A digest of everything that decides the job's output and how it is cut into tasks:
    /// the name of the job run's work directory, which a resumed run finds again.
    pub fingerprint: String,
    /// The size the splits were cut to, and why.
    pub split_size: SplitSize,
    /// `--partitioner range`: the cut points between partitions, strictly increasing, chosen
    /// from the plan's sample of map output keys ([`crate::sample`]); `None` hashes keys.
    pub range_cuts: Option<Vec<Vec<u8>>>,
    /// The job digest, recorded in its version's manifest ([`Manifest::job_digest`]): a job
    /// whose digest is the current version's is unchanged, and publishes nothing unless
    /// forced. A SHA-256 (hex) of everything that decides the bytes a successful run
    /// publishes, the manifest included:
    ///
    /// - the Sandmill and wasmtime versions (a new release may write other bytes, and its
    ///   manifest names itself);
    /// - the plugin's SHA-256 (not its path: the same plugin elsewhere is the same job);
    /// - the parameters, in the order given;
    /// - the input format, the number of reducers and the partitioner's seed;
    /// - `--partitioner range`'s cut points (which follow from the rest, but are what puts
    ///   each key in its part file);
    /// - every input file's path, size and modification time (its fingerprint);
    /// - `--overwrite-partitions`, whose version also holds the current version's partitions
    ///   that the run does not write (rerunning the same job with it on the version it made
    ///   changes nothing; without it, the other partitions go);
    /// - each side input's name and its files' paths, sizes and modification times.
    ///
    /// Not in it: what only decides how a run goes or whether it may fail, never the bytes of
    /// a run that succeeds: threads, split size, memory budget, temporary directory,
    /// executor, retries, the sandbox's limits, the output limits, `--max-record-size`,
    /// `--max-bad-records`, `--verify`, `--keep` and the compile cache. (So a rerun with a
    /// stricter `--max-bad-records` than the run that made the current version is unchanged,
    /// not failed; `--force` runs it.)
    pub job_digest: String,
    /// The side inputs' files, as found when planned (each task reads these, and fails if
    /// one changed since).
    pub side_inputs: Vec<SideInputFiles>,
}

/// The size input was cut to and why: `--split-size` is an upper bound, lowered so that every
/// thread gets work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SplitSize {
    /// The size splits were cut to.
    pub bytes: u64,
    /// `--split-size`.
    pub given: u64,
    /// Why `bytes` is what it is.
    pub rule: SplitRule,
}

/// Why the splits have the size they have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitRule {
    /// `--split-size`: the input is large enough to give every thread several splits of it.
    Given,
    /// The input divided by four splits per thread, so that the threads finish together.
    PerThread {
        /// The threads the job runs on.
        threads: usize,
    },
    /// The smallest split worth starting a task for (1 MiB): the input is small.
    Minimum,
}

impl SplitSize {
    /// The smallest split size chosen for a small input.
    pub const MINIMUM: u64 = 1 << 20;

    /// The split size for `total` input bytes: about four splits per thread so that the
    /// threads finish together, at least [`SplitSize::MINIMUM`] so that a task is worth
    /// starting, and never more than `--split-size`.
    pub fn choose(given: u64, threads: usize, total: u64) -> SplitSize {
        let per_thread = total / (4 * threads as u64).max(1);
        let (bytes, rule) = if given <= per_thread.max(Self::MINIMUM) {
            (given, SplitRule::Given)
        } else if per_thread >= Self::MINIMUM {
            (per_thread, SplitRule::PerThread { threads })
        } else {
            (Self::MINIMUM, SplitRule::Minimum)
        };
        SplitSize { bytes, given, rule }
    }
}

impl std::fmt::Display for SplitSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        match self.rule {
            SplitRule::Given => write!(f, "{:.1} MiB (--split-size)", mib(self.bytes)),
            SplitRule::PerThread { threads } => write!(
                f,
                "{:.1} MiB: the input over 4 splits for each of {threads} threads, below \
                 --split-size {:.1} MiB",
                mib(self.bytes),
                mib(self.given)
            ),
            SplitRule::Minimum => write!(
                f,
                "{:.1} MiB: the smallest split, the input being small (--split-size {:.1} MiB)",
                mib(self.bytes),
                mib(self.given)
            ),
        }
    }
}

/// The job's plugin, with its side inputs loaded (once per job run: every task of this
/// process shares them).
///
/// # Errors
/// A plugin that does not load; side inputs that are missing, unreadable or together larger
/// than `--max-side-input-bytes`.
pub fn load_plugin(spec: &JobSpec) -> Result<Plugin, Error> {
    let plugin = Plugin::from_file(spec.plugin(), spec.limits(), spec.compile_cache())?;
    if spec.side_inputs().is_empty() {
        return Ok(plugin);
    }
    let files = side_input::resolve(spec.side_inputs())?;
    let side = SideInputs::load(&files, spec.max_side_input_bytes())?;
    Ok(plugin.with_side_inputs(side))
}

/// Plans `spec` with its loaded `plugin` ([`load_plugin`]): configures the plugin once (so bad parameters fail
/// before any work is done), resolves the inputs and cuts them into splits.
///
/// # Errors
/// Bad parameters, missing or unreadable input, or a plugin that fails when configured.
pub fn plan(spec: &JobSpec, plugin: &Plugin) -> Result<JobPlan, Error> {
    let files = input::resolve_inputs(spec.inputs())?;
    let side_inputs = plugin.side_inputs().files().to_vec();
    let loaded: Vec<&str> = side_inputs.iter().map(|s| s.name.as_str()).collect();
    let given: Vec<&str> = spec.side_inputs().iter().map(|s| s.name.as_str()).collect();
    if loaded != given {
        return Err(Error::Bug(format!(
            "the job names side inputs {given:?} but its plugin was loaded with {loaded:?}"
        )));
    }
    let info = match plugin.instantiate(TaskId::Map(SplitId(u32::MAX)), spec.params()) {
        Ok((_, info)) => info,
        Err(CallError::Params(message)) => return Err(Error::Params(message)),
        Err(err) => {
            return Err(Error::PluginLoad {
                path: spec.plugin().into(),
                reason: format!("it fails when configured: {err}"),
            });
        }
    };
    if !info.fields.is_empty() && spec.format() == input::InputFormat::Lines {
        let fields: Vec<String> = info.fields.iter().map(ToString::to_string).collect();
        return Err(Error::Spec(format!(
            "{} declares the input fields it reads ({}), which need structured input: run it \
             with --format jsonl, csv or parquet, not --format lines",
            spec.plugin().display(),
            crate::text::cut(fields.join(", "), 300)
        )));
    }
    let total = files.iter().map(|f| f.len).sum();
    let split_size = SplitSize::choose(spec.split_size(), spec.threads(), total);
    let splits = match spec.format() {
        // Row groups are the units of Parquet: their footers say where they lie.
        input::InputFormat::Parquet => {
            input::plan_parquet_splits(&files, split_size.bytes, spec.columns())?
        }
        _ => input::plan_splits(&files, split_size.bytes),
    };
    if !spec.hot_keys().is_empty() {
        check_salting(spec, &info)?;
    }
    let range_cuts = match spec.partitioner() {
        PartitionerKind::Hash => None,
        // One partition needs no cut, and no sample.
        PartitionerKind::Range if spec.reducers() <= 1 => Some(Vec::new()),
        PartitionerKind::Range => {
            let sample = crate::sample::sample_keys(spec, plugin, &files, &splits)?;
            Some(crate::shuffle::cut_points(sample, spec.reducers()))
        }
    };
    let digest = PluginDigest::from_file(spec.plugin()).map_err(|e| Error::PluginLoad {
        path: spec.plugin().into(),
        reason: e.to_string(),
    })?;
    let cuts = range_cuts.as_deref();
    let side = side_fingerprints(&side_inputs);
    let fingerprint = fingerprint(spec, &digest, &files, &splits, cuts, &side);
    let job_digest = job_digest(spec, &digest, &files, cuts, &side);
    Ok(JobPlan {
        side_inputs,
        files,
        splits,
        plugin: digest,
        info,
        fingerprint,
        split_size,
        range_cuts,
        job_digest,
    })
}

/// Whether `spec`'s hot keys can be salted: its shares are combined, and then merged again,
/// so the job needs a combiner; and its combine tasks run on this machine.
fn check_salting(spec: &JobSpec, info: &JobInfo) -> Result<(), Error> {
    if info.combiner == crate::plugin::Combiner::None {
        return Err(Error::Spec(format!(
            "--hot-key {}: the job needs a combiner to salt a key (its shares are combined, then \
             merged again for the reduce), and {} declares none (no native merge policy, no \
             combine-groups); run it without --hot-key",
            crate::text::key_text(&spec.hot_keys()[0]),
            spec.plugin().display()
        )));
    }
    if spec.is_remote() {
        return Err(Error::Spec(
            "--hot-key runs its combine tasks on this machine; a job on object storage (an \
             s3:// --output or --temp-dir, or --executor ray) cannot salt keys yet: run it \
             without --hot-key"
                .into(),
        ));
    }
    Ok(())
}

/// The fingerprints of the input files, as the manifest records them.
fn input_fingerprints(files: &[InputFile]) -> Vec<InputFingerprint> {
    files
        .iter()
        .map(|f| InputFingerprint {
            path: f.path.to_string_lossy().into_owned(),
            bytes: f.len,
            modified_ns: f.modified_ns,
            partitions: Vec::new(),
        })
        .collect()
}

/// The cut points as the manifest, `--dry-run` and the digests name them.
pub fn cut_texts(cuts: &[Vec<u8>]) -> Vec<String> {
    cuts.iter().map(|c| crate::text::key_text(c)).collect()
}

/// Adds range partitioning's cut points to a digest's `identity`; a hashed job's identity
/// stays as it always was, so its digest does not change.
fn with_cuts(mut identity: serde_json::Value, cuts: Option<&[Vec<u8>]>) -> serde_json::Value {
    if let Some(cuts) = cuts {
        identity["range_cuts"] = serde_json::json!(cut_texts(cuts));
    }
    identity
}

/// The side inputs' names and file fingerprints, for the job's digests; `None` without side
/// inputs (so that the digests of jobs without them stay what they were).
fn side_fingerprints(side_inputs: &[SideInputFiles]) -> Option<serde_json::Value> {
    if side_inputs.is_empty() {
        return None;
    }
    let named: Vec<_> = side_inputs
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "files": input_fingerprints(&s.files)}))
        .collect();
    Some(serde_json::Value::Array(named))
}

/// Adds `side` to a digest's identity, if there are side inputs.
fn with_side(mut identity: serde_json::Value, side: &Option<serde_json::Value>) -> String {
    if let (Some(side), Some(map)) = (side, identity.as_object_mut()) {
        map.insert("side_inputs".into(), side.clone());
    }
    identity.to_string()
}

fn fingerprint(
    spec: &JobSpec,
    plugin: &PluginDigest,
    files: &[InputFile],
    splits: &[InputSplit],
    cuts: Option<&[Vec<u8>]>,
    side: &Option<serde_json::Value>,
) -> String {
    use sha2::Digest;
    let identity = serde_json::json!({
        "sandmill": env!("CARGO_PKG_VERSION"),
        "plugin": plugin.sha256,
        "params": spec.params(),
        "format": format!("{:?}", spec.format()),
        "reducers": spec.reducers(),
        "seed": Partitioner::DEFAULT_SEED,
        "inputs": input_fingerprints(files),
        "splits": splits.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
        // Tasks committed without verifying must not be taken as verified, nor the other way.
        "verify": spec.verify(),
    });
    let mut identity = with_columnar(with_cuts(identity, cuts), spec);
    if !spec.hot_keys().is_empty() {
        // Salting changes the map tasks' output and adds tasks, not the bytes published: it
        // is in the fingerprint, not the job digest.
        let keys: Vec<String> = spec
            .hot_keys()
            .iter()
            .map(|k| crate::text::key_text(k))
            .collect();
        identity["hot_keys"] = serde_json::json!(keys);
        identity["salt"] = serde_json::json!(spec.salt());
    }
    let digest = sha2::Sha256::digest(with_side(identity, side).as_bytes());
    format!("{digest:x}")[..32].to_string()
}

/// The digest [`JobPlan::job_digest`] describes.
fn job_digest(
    spec: &JobSpec,
    plugin: &PluginDigest,
    files: &[InputFile],
    cuts: Option<&[Vec<u8>]>,
    side: &Option<serde_json::Value>,
) -> String {
    use sha2::Digest;
    let identity = serde_json::json!({
        "sandmill": env!("CARGO_PKG_VERSION"),
        "wasmtime": crate::plugin::WASMTIME_VERSION,
        "plugin": plugin.sha256,
        "params": spec.params(),
        "format": format!("{:?}", spec.format()),
        "reducers": spec.reducers(),
        "seed": Partitioner::DEFAULT_SEED,
        "inputs": input_fingerprints(files),
        "overwrite_partitions": spec.overwrite_partitions(),
    });
    // Settings added later go in only when used, so that the digests of jobs that do not
    // use them stay what they were (a rerun of such a job is still unchanged).
    let mut identity = identity;
    if let Some(partition) = spec.output_partition() {
        identity["output_partition"] = partition.into();
    }
    if !spec.checks().is_empty() {
        identity["checks"] = serde_json::to_value(spec.checks()).expect("checks are JSON");
    }
    let identity = with_columnar(with_cuts(identity, cuts), spec);
    format!(
        "{:x}",
        sha2::Sha256::digest(with_side(identity, side).as_bytes())
    )
}

/// `identity` with the Parquet settings that decide the output (the columns read, the output
/// schema), added only when they are set, so that the digests of other jobs stay as they were.
fn with_columnar(mut identity: serde_json::Value, spec: &JobSpec) -> serde_json::Value {
    if let Some(columns) = spec.columns() {
        identity["columns"] = serde_json::json!(columns);
    }
    if let Some(schema) = spec.output_format().schema() {
        identity["output_schema"] = serde_json::json!(schema.to_string());
    }
    identity
}

impl JobPlan {
    /// The spec of attempt `attempt` of the map task of `split`. It holds only the files
    /// the split reads (its ranges renumbered to index them), not every input file: a job
    /// of many small files would otherwise hold files × splits of them.
    pub fn map_task(&self, spec: &JobSpec, split: &InputSplit, attempt: u32) -> TaskSpec {
        let mut split = split.clone();
        let mut files = Vec::with_capacity(split.ranges.len());
        for range in &mut split.ranges {
            files.push(self.files[range.file].clone());
            range.file = files.len() - 1;
        }
        TaskSpec {
            files,
            ..self.task(spec, TaskInput::Map { split }, attempt)
        }
    }

    /// The spec of attempt `attempt` of the reduce task of `partition`, reading `runs`.
    pub fn reduce_task(
        &self,
        spec: &JobSpec,
        partition: PartitionId,
        runs: Vec<RunRef>,
        attempt: u32,
    ) -> TaskSpec {
        self.task(spec, TaskInput::Reduce { partition, runs }, attempt)
    }

    /// The spec of attempt `attempt` of combine task `task`, reading `runs` (the task's salt
    /// segment of each map task's output).
    pub fn combine_task(
        &self,
        spec: &JobSpec,
        task: u32,
        runs: Vec<RunRef>,
        attempt: u32,
    ) -> TaskSpec {
        self.task(spec, TaskInput::Combine { task, runs }, attempt)
    }

    /// The partition whose reduce sees hot key `h` (`--hot-key`), and so merges the results
    /// of its combine tasks.
    pub fn hot_home(&self, spec: &JobSpec, h: usize) -> PartitionId {
        let partitioner = match &self.range_cuts {
            None => Partitioner::new(spec.reducers(), Partitioner::DEFAULT_SEED),
            Some(cuts) => Partitioner::range(spec.reducers(), cuts.clone()),
        };
        partitioner.home(&spec.hot_keys()[h])
    }

    fn task(&self, spec: &JobSpec, input: TaskInput, attempt: u32) -> TaskSpec {
        TaskSpec {
            job: spec.clone(),
            plugin_sha256: self.plugin.sha256.clone(),
            fingerprint: self.fingerprint.clone(),
            shuffle_dir: PathBuf::new(),
            files: Vec::new(),
            side_inputs: self.side_inputs.clone(),
            input,
            attempt,
            range_cuts: self.range_cuts.clone(),
        }
    }

    /// The manifest of the version this plan publishes, listing `files`.
    pub fn manifest(&self, spec: &JobSpec, files: Vec<OutputFile>) -> Manifest {
        Manifest {
            sandmill_version: env!("CARGO_PKG_VERSION").to_string(),
            wasmtime_version: crate::plugin::WASMTIME_VERSION.to_string(),
            job_digest: self.job_digest.clone(),
            plugin: self.plugin.clone(),
            params: spec.params().to_vec(),
            format: format!("{:?}", spec.format()),
            reducers: spec.reducers(),
            inputs: input_fingerprints(&self.files),
            files,
            checks: Vec::new(),
            rejected: false,
            range_cuts: self.range_cuts.as_deref().map(cut_texts),
            output_format: spec.output_format().schema().map(|_| "parquet".to_owned()),
            output_schema: spec.output_format().schema().map(ToString::to_string),
        }
    }
}

/// One task attempt, described completely.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TaskSpec {
    /// The job's settings.
    pub job: JobSpec,
    /// The SHA-256 of the plugin planned with; a task refuses to run another.
    pub plugin_sha256: String,
    /// The job run's fingerprint: the name of its work directory in the output dataset.
    pub fingerprint: String,
    /// Where map tasks write their output and reduce tasks find it.
    pub shuffle_dir: PathBuf,
    /// The input files a map task's split reads, which its ranges refer to by index (none
    /// for a reduce task).
    pub files: Vec<InputFile>,
    /// The side inputs' files as planned: the task loads them itself (bounded by the job's
    /// `--max-side-input-bytes`), and fails if one changed since.
    #[serde(default)]
    pub side_inputs: Vec<SideInputFiles>,
    /// What the task reads.
    pub input: TaskInput,
    /// The attempt, from 1.
    pub attempt: u32,
    /// `--partitioner range`: the plan's cut points, which a map task partitions by; `None`
    /// hashes keys.
    #[serde(default)]
    pub range_cuts: Option<Vec<Vec<u8>>>,
}

impl TaskSpec {
    /// The partitioner a map task assigns keys by: the plan's, so that every process, local,
    /// `sandmill task run` or a Ray task's, puts every key where the others do.
    ///
    /// A map task puts every pair of a hot key (`--hot-key`) in one share of it, share
    /// `split % salt`: so map tasks spread a hot key over its shares, and within a task the
    /// key still has one place, where the map-side combiner merges it as it does any key.
    pub fn partitioner(&self) -> Partitioner {
        let partitioner = match &self.range_cuts {
            None => Partitioner::new(self.job.reducers(), Partitioner::DEFAULT_SEED),
            Some(cuts) => Partitioner::range(self.job.reducers(), cuts.clone()),
        };
        let share = match &self.input {
            TaskInput::Map { split } => split.id.0,
            _ => 0,
        };
        partitioner.salted(self.job.hot_keys().to_vec(), self.job.salt(), share)
    }

    /// The task.
    pub fn task(&self) -> TaskId {
        match &self.input {
            TaskInput::Map { split } => TaskId::Map(split.id),
            TaskInput::Reduce { partition, .. } => TaskId::Reduce(*partition),
            TaskInput::Combine { task, .. } => TaskId::Combine(*task),
        }
    }

    /// Units of work the task does, for progress: input bytes (map) or pairs (reduce, of
    /// the runs on disk).
    pub fn units(&self) -> u64 {
        match &self.input {
            TaskInput::Map { split } => split.len(),
            TaskInput::Reduce { runs, .. } | TaskInput::Combine { runs, .. } => runs
                .iter()
                .map(|run| match run {
                    RunRef::File { segment, .. } | RunRef::Combined { segment, .. } => {
                        segment.pairs
                    }
                    RunRef::Memory { .. } | RunRef::Committed { .. } => 0,
                })
                .sum(),
        }
    }

    /// A spec written as JSON ([`TaskSpec::to_json`]), read from `origin`.
    ///
    /// # Errors
    /// [`Error::Spec`] if it is not a task spec, or its job settings are unusable.
    pub fn from_json(bytes: &[u8], origin: &std::path::Path) -> Result<TaskSpec, Error> {
        let spec: TaskSpec = serde_json::from_slice(bytes)
            .map_err(|e| Error::Spec(format!("{} is not a task spec: {e}", origin.display())))?;
        // A spec names a whole job's settings: check them as `sandmill run` does.
        let job = spec.job.clone().checked()?;
        Ok(TaskSpec { job, ..spec })
    }

    /// The spec as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a task spec is JSON")
    }
}

/// What a task reads.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum TaskInput {
    /// A map task reads one split of the input.
    Map {
        /// Its split.
        split: InputSplit,
    },
    /// A reduce task reads one partition of every map task's output, in map task order.
    Reduce {
        /// Its partition.
        partition: PartitionId,
        /// Each map task's run for the partition (empty runs left out), then the results of
        /// the combine tasks of the hot keys whose partition it is.
        runs: Vec<RunRef>,
    },
    /// A combine task reads one share of a hot key from every map task's output.
    Combine {
        /// Its number: share `task % salt` of hot key `task / salt`.
        task: u32,
        /// Each map task's run of the share's segment (empty runs left out).
        runs: Vec<RunRef>,
    },
}

/// Where one map task's output for one partition is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum RunRef {
    /// A segment of a committed map task's run file.
    File {
        /// The map task's split.
        split: SplitId,
        /// The run file.
        path: PathBuf,
        /// The partition's segment of it.
        segment: Segment,
    },
    /// Held in the memory of the process that ran the map task (the local executor).
    Memory {
        /// The map task's split.
        split: SplitId,
    },
    /// The run file a committed combine task wrote: one share of a hot key, combined.
    Combined {
        /// The combine task.
        task: u32,
        /// The run file.
        path: PathBuf,
        /// Its one segment.
        segment: Segment,
    },
    /// Wherever the map task's commit record says, once it has committed: a job on object
    /// storage, whose reduce tasks are submitted with the map tasks and look their runs up
    /// when they start ([`remote`](crate::remote)).
    Committed {
        /// The map task's split.
        split: SplitId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The rule agrees with its definition: `--split-size`, lowered to four splits per
        /// thread, never below the minimum; and it names the bound that decided.
        #[test]
        fn split_size_is_the_given_size_lowered_per_thread(
            given in 1u64..(1 << 30),
            threads in 1usize..64,
            total in 0u64..(1 << 36),
        ) {
            let size = SplitSize::choose(given, threads, total);
            let per_thread = total / (4 * threads as u64);
            prop_assert_eq!(size.bytes, given.min(per_thread.max(SplitSize::MINIMUM)));
            prop_assert_eq!(size.given, given);
            match size.rule {
                SplitRule::Given => prop_assert_eq!(size.bytes, given),
                SplitRule::PerThread { threads: t } => {
                    prop_assert_eq!(t, threads);
                    prop_assert_eq!(size.bytes, per_thread);
                    prop_assert!(size.bytes < given);
                }
                SplitRule::Minimum => {
                    prop_assert_eq!(size.bytes, SplitSize::MINIMUM);
                    prop_assert!(size.bytes < given && per_thread < SplitSize::MINIMUM);
                }
            }
        }
    }

    #[test]
    fn a_40_mib_file_on_2_threads_is_cut_in_8_and_says_why() {
        let size = SplitSize::choose(64 << 20, 2, 40 << 20);
        assert_eq!(size.bytes, 5 << 20);
        assert_eq!(
            size.to_string(),
            "5.0 MiB: the input over 4 splits for each of 2 threads, below --split-size 64.0 MiB"
        );
    }
}
