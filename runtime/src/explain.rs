//! `sandmill run --dry-run`: what a job would do (its inputs, splits, tasks, partitions and
//! the version it would publish) without running a task or writing to the output.
//!
//! The plugin is loaded and configured with the job's parameters, as a run does first, so a
//! plugin that does not load or rejects its parameters fails the dry run the same way.

use crate::dataset::{Dataset, DatasetError, PluginDigest};
use crate::error::Error;
use crate::plan::{self, SplitSize};
use crate::plugin::Combiner;
use crate::spec::JobSpec;
use crate::task::TaskId;
use std::path::PathBuf;

/// A job's plan, as `--dry-run` shows it (and `--summary-json` writes it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explain {
    /// The plugin that would run.
    pub plugin: PluginDigest,
    /// How map output would be combined: `none`, `plugin` or the native merge's name.
    pub combiner: String,
    /// Input files found.
    pub files: usize,
    /// Their bytes.
    pub input_bytes: u64,
    /// The size splits are cut to, and why.
    pub split_size: SplitSize,
    /// The map tasks, one per split, in order.
    pub map_tasks: Vec<MapTaskPlan>,
    /// Reduce tasks: one per partition, each writing `part-NNNNN`.
    pub reducers: u32,
    /// How keys are assigned to partitions: `hash` or `range`.
    pub partitioner: String,
    /// `--partitioner range`: the cut points chosen from the sample of map output keys
    /// (each key as its text, or `hex:` and its bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_cuts: Option<Vec<String>>,
    /// `--side-input`: each side input's name, files and bytes, which every task may read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub side_inputs: Vec<SideInputPlan>,
    /// `--hot-key`: the keys spread over `salt` combine tasks each (as their text, or `hex:`
    /// and their bytes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hot_keys: Vec<String>,
    /// `--salt`: combine tasks per hot key; absent without hot keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<u32>,
    /// Threads (or task processes) that would run at once.
    pub threads: usize,
    /// The output dataset.
    pub output: PathBuf,
    /// Its current version, if it has one.
    pub current_version: Option<String>,
    /// The version a successful run would publish.
    pub next_version: String,
}

/// One side input of the plan (`--side-input NAME=PATH`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SideInputPlan {
    /// The name tasks ask for it by.
    pub name: String,
    /// Its files.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// One map task of the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MapTaskPlan {
    /// Its name, `map-N`.
    pub task: String,
    /// Bytes it reads.
    pub bytes: u64,
    /// The byte ranges it reads, file by file.
    pub ranges: Vec<RangePlan>,
}

/// A byte range of one input file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RangePlan {
    /// The file.
    pub path: PathBuf,
    /// Its first byte.
    pub start: u64,
    /// One past its last byte.
    pub end: u64,
}

/// Plans `spec` and reports the plan, writing nothing to the output.
///
/// # Errors
/// What a run would fail with before its first task: a plugin that does not load or
/// rejects its parameters, missing input, or an output that is not a dataset.
pub fn explain(spec: &JobSpec) -> Result<Explain, Error> {
    let plugin = plan::load_plugin(spec)?;
    let plan = plan::plan(spec, &plugin)?;
    let (current, next) = if crate::object::is_url(spec.output()) {
        let entries = crate::object::log::ObjectDataset::new(spec.output())?.entries()?;
        let next = entries
            .iter()
            .map(|e| e.version)
            .max()
            .map_or(Some(crate::dataset::VersionId::FIRST), |v| v.next())
            .ok_or_else(|| Error::Spec("every version id of the dataset is used".into()))?;
        (entries.last().map(|e| e.version.to_string()), next)
    } else {
        match Dataset::open(spec.output()) {
            Ok(dataset) => (
                dataset.current()?.map(|v| v.to_string()),
                dataset.next_version()?,
            ),
            Err(DatasetError::NotFound { .. }) => (None, crate::dataset::VersionId::FIRST),
            Err(DatasetError::NotADataset { .. }) if spec.overwrite() => {
                (None, crate::dataset::VersionId::FIRST)
            }
            Err(err) => return Err(err.into()),
        }
    };
    let map_tasks = plan
        .splits
        .iter()
        .map(|split| MapTaskPlan {
            task: TaskId::Map(split.id).name(),
            bytes: split.len(),
            ranges: split
                .ranges
                .iter()
                .map(|r| RangePlan {
                    path: plan.files[r.file].path.clone(),
                    start: r.start,
                    end: r.end,
                })
                .collect(),
        })
        .collect();
    Ok(Explain {
        combiner: match plan.info.combiner {
            Combiner::None => "none".to_owned(),
            Combiner::Plugin => "plugin".to_owned(),
            Combiner::Merge(policy) => format!("{policy:?}").to_lowercase(),
        },
        plugin: plan.plugin,
        files: plan.files.len(),
        input_bytes: plan.files.iter().map(|f| f.len).sum(),
        split_size: plan.split_size,
        map_tasks,
        reducers: spec.reducers(),
        partitioner: match spec.partitioner() {
            crate::spec::PartitionerKind::Hash => "hash".to_owned(),
            crate::spec::PartitionerKind::Range => "range".to_owned(),
        },
        range_cuts: plan.range_cuts.as_deref().map(plan::cut_texts),
        side_inputs: plan
            .side_inputs
            .iter()
            .map(|side| SideInputPlan {
                name: side.name.clone(),
                files: side.files.len(),
                bytes: side.files.iter().map(|f| f.len).sum(),
            })
            .collect(),
        hot_keys: spec
            .hot_keys()
            .iter()
            .map(|k| crate::text::key_text(k))
            .collect(),
        salt: (!spec.hot_keys().is_empty()).then(|| spec.salt()),
        threads: spec.threads(),
        output: spec.output().to_path_buf(),
        current_version: current,
        next_version: next.to_string(),
    })
}
