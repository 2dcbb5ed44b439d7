//! Pipelines: jobs in stages, each reading files or the datasets of earlier stages, all
//! published together.
//!
//! A [`Pipeline`] names an output (a dataset, as `--output` does) and its [`Stage`]s. Each
//! stage is an ordinary job ([`JobSpec`]) writing a dataset of its own
//! ([`stage_dataset`]), so it resumes after a crash, and is skipped when unchanged, exactly
//! as `sandmill run` is (same plugin, parameters, inputs and settings as its current version:
//! [`JobReport::unchanged`]). [`run`] runs them in the [`dag`]'s waves, the stages of a wave at
//! the same time; a stage that reads an earlier stage's dataset reads the version of it this
//! run made (or found unchanged), by its immutable directory. When every stage has
//! succeeded, one snapshot linking to each stage's version is published as the pipeline
//! output's next version ([`Snapshot`]): readers of `output/<dataset>/` see all the stages'
//! new versions at once, or all the old ones. A stage that fails (a task, or a quality gate)
//! leaves the snapshot as it was: the stages before it keep their new versions in their own
//! datasets, unpublished, and are found unchanged by the rerun.

pub mod dag;

use crate::dataset::{Dataset, Snapshot, SnapshotStage, VersionId};
use crate::error::Error;
use crate::schedule::{JobReport, Quiet};
use crate::spec::JobSpec;
use std::path::{Path, PathBuf};

pub use crate::dataset::stage_dataset;

/// One stage: a job, the dataset it writes, and the datasets of other stages it reads.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage's name.
    pub name: String,
    /// The name of the dataset it writes: `output/<dataset>/` in the pipeline's output.
    pub dataset: String,
    /// The datasets of other stages it reads.
    pub reads: Vec<String>,
    /// Its job. Its output is [`Pipeline::stage_output`] of `dataset`, and an input in an
    /// earlier stage's dataset is a path through that dataset's
    /// [`stage_output`](Pipeline::stage_output) (`<stage output>/date=2026-03-22`).
    pub spec: JobSpec,
}

/// A pipeline run: its output, its parameters (recorded in each snapshot) and its stages.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline's dataset, whose versions are snapshots of every stage's dataset.
    pub output: PathBuf,
    /// The parameters the stages were made with, for the snapshot.
    pub params: Vec<(String, String)>,
    /// The stages, in file order.
    pub stages: Vec<Stage>,
    /// How many snapshots to keep (`keep` in the pipeline file); the stage versions only
    /// deleted snapshots link to go with them. `None` keeps all.
    pub keep: Option<usize>,
}

/// What a pipeline run did.
#[derive(Debug)]
pub struct PipelineReport {
    /// The pipeline output's version now current.
    pub version: VersionId,
    /// Whether the run published it, or found every stage's dataset as the current snapshot
    /// shows it already.
    pub published: bool,
    /// Each stage's report, in file order.
    pub stages: Vec<JobReport>,
    /// What `keep` deleted.
    pub retained: crate::dataset::Retained,
}

/// Watches a pipeline run. Called from the threads that run stages.
pub trait PipelineObserver: Sync {
    /// A stage starts.
    fn stage_started(&self, stage: &Stage) {
        let _ = stage;
    }
    /// A stage succeeded.
    fn stage_finished(&self, stage: &Stage, report: &JobReport) {
        let _ = (stage, report);
    }
}

impl PipelineObserver for Quiet {}

/// What a stage's current state is, for `sandmill pipeline status`.
#[derive(Debug)]
pub struct StageStatus {
    /// Its wave: 0 for stages that read no other stage's dataset.
    pub wave: usize,
    /// The version its dataset shows now, if any.
    pub current: Option<VersionId>,
    /// The version of its dataset the pipeline's current snapshot shows, if any.
    pub published: Option<VersionId>,
}

impl Pipeline {
    /// The output path of the stage writing `dataset` in the pipeline at `output`: the
    /// link through which later stages read it.
    ///
    /// # Errors
    /// If `dataset` is not a plain name, or `output` cannot be a dataset.
    pub fn stage_output(output: &Path, dataset: &str) -> Result<PathBuf, Error> {
        let root = Dataset::open_or_create(output, false)?;
        stage_dataset(&root, dataset).map_err(|_| {
            Error::Spec(format!(
                "stage output {dataset:?} must be a plain name (letters, digits, `-`, `_`, `.`; \
                 not starting with `.` or `_`): it is a directory in {}",
                output.display()
            ))
        })
    }

    /// The stages in the order they run: waves of indices into [`stages`](Self::stages).
    ///
    /// # Errors
    /// [`Error::Spec`] naming a cycle, a duplicate or a dataset no stage writes.
    pub fn waves(&self) -> Result<Vec<Vec<usize>>, Error> {
        let nodes: Vec<dag::Node> = self
            .stages
            .iter()
            .map(|s| dag::Node {
                name: s.name.clone(),
                writes: s.dataset.clone(),
                reads: s.reads.clone(),
            })
            .collect();
        dag::waves(&nodes).map_err(|e| Error::Spec(format!("pipeline: {e}")))
    }

    /// Each stage's wave and versions, in file order.
    ///
    /// # Errors
    /// As [`waves`](Self::waves), or a dataset that cannot be read.
    pub fn status(&self) -> Result<Vec<StageStatus>, Error> {
        let waves = self.waves()?;
        let root = Dataset::open_or_create(&self.output, false)?;
        let snapshot = match root.current()? {
            Some(v) => Snapshot::read(&root.version_dir(v)).ok(),
            None => None,
        };
        let mut status: Vec<StageStatus> = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            let wave = waves
                .iter()
                .position(|w| w.contains(&status.len()))
                .unwrap_or(0);
            let current = match Dataset::open(stage.spec.output()) {
                Ok(dataset) => dataset.current()?,
                Err(_) => None,
            };
            let published = snapshot.as_ref().and_then(|s| {
                s.stages
                    .iter()
                    .find(|s| s.dataset == stage.dataset)
                    .map(|s| s.version)
            });
            status.push(StageStatus {
                wave,
                current,
                published,
            });
        }
        Ok(status)
    }
}

/// Runs `pipeline`: every stage, wave by wave, then publishes the snapshot of their datasets
/// as the pipeline output's next version (unless it shows that already). The pipeline's
/// dataset stays locked throughout, so a second run of it fails at once as busy.
///
/// # Errors
/// The first stage that failed, named ([`Error::Stage`]); the pipeline's output then shows
/// what it showed before.
pub fn run(pipeline: &Pipeline, observer: &dyn PipelineObserver) -> Result<PipelineReport, Error> {
    let waves = pipeline.waves()?;
    let root = Dataset::open_or_create(&pipeline.output, false)?;
    let guard = root.lock()?;
    let mut reports: Vec<Option<JobReport>> = pipeline.stages.iter().map(|_| None).collect();
    for wave in waves {
        let done = std::thread::scope(|scope| {
            let running: Vec<_> = wave
                .iter()
                .map(|&i| {
                    let stage = &pipeline.stages[i];
                    let inputs = inputs_of(pipeline, stage, &reports);
                    let handle = std::thread::Builder::new()
                        .name(format!("stage-{}", stage.name))
                        .spawn_scoped(scope, move || {
                            observer.stage_started(stage);
                            let report = crate::run(&stage.spec.with_inputs(inputs?), &Quiet)?;
                            observer.stage_finished(stage, &report);
                            Ok::<_, Error>(report)
                        });
                    (i, handle)
                })
                .collect();
            running
                .into_iter()
                .map(|(i, handle)| {
                    let result = match handle {
                        Ok(handle) => handle.join().unwrap_or_else(|panic| {
                            std::panic::resume_unwind(panic);
                        }),
                        Err(e) => Err(Error::Spec(format!("cannot start a thread: {e}"))),
                    };
                    (i, result)
                })
                .collect::<Vec<_>>()
        });
        let mut failed = None;
        for (i, result) in done {
            match result {
                Ok(report) => reports[i] = Some(report),
                Err(source) if failed.is_none() => {
                    failed = Some(Error::Stage {
                        stage: pipeline.stages[i].name.clone(),
                        source: Box::new(source),
                    });
                }
                Err(_) => {}
            }
        }
        if let Some(err) = failed {
            return Err(err);
        }
    }
    let stages: Vec<JobReport> = reports
        .into_iter()
        .map(|r| r.ok_or_else(|| Error::Bug("a stage did not run".into())))
        .collect::<Result<_, _>>()?;
    let mut params = pipeline.params.clone();
    params.sort();
    let snapshot = Snapshot {
        params,
        stages: pipeline
            .stages
            .iter()
            .zip(&stages)
            .map(|(stage, report)| SnapshotStage {
                stage: stage.name.clone(),
                dataset: stage.dataset.clone(),
                version: report.version,
            })
            .collect(),
    };
    let _ = crate::failpoint::hit("pipeline-publish");
    let published = guard.publish_snapshot(&snapshot)?;
    let version = match published {
        Some(v) => v,
        None => guard
            .current()?
            .ok_or_else(|| Error::Bug("an unchanged pipeline has no version".into()))?,
    };
    let retained = match pipeline.keep {
        Some(keep) => guard.retain_snapshots(keep)?,
        None => Default::default(),
    };
    Ok(PipelineReport {
        version,
        published: published.is_some(),
        stages,
        retained,
    })
}

/// The stage's inputs, with each path through an earlier stage's dataset link turned into
/// the same path in the version of it this run made: immutable, so the stage reads what the
/// snapshot will show, and its fingerprint names that version.
fn inputs_of(
    pipeline: &Pipeline,
    stage: &Stage,
    reports: &[Option<JobReport>],
) -> Result<Vec<PathBuf>, Error> {
    let mut inputs = Vec::with_capacity(stage.spec.inputs().len());
    for input in stage.spec.inputs() {
        let mut resolved = input.clone();
        for (upstream, report) in pipeline.stages.iter().zip(reports) {
            let Ok(rest) = input.strip_prefix(upstream.spec.output()) else {
                continue;
            };
            let report = report.as_ref().ok_or_else(|| {
                Error::Bug(format!(
                    "stage {} reads {} before it ran",
                    stage.name, upstream.name
                ))
            })?;
            let dataset = Dataset::open(upstream.spec.output())?;
            resolved = dataset.version_dir(report.version).join(rest);
        }
        inputs.push(resolved);
    }
    Ok(inputs)
}
