//! Several datasets published together: a pipeline's output is a dataset whose versions are
//! *snapshots*, each a directory of links to one version of every stage's dataset.
//!
//! ```text
//!  warehouse  ──symlink──▶  .warehouse.sandmill/versions/v000004/          (the switch)
//!      parsed  ─▶ ../../stages/.parsed.sandmill/versions/v000002            (immutable)
//!      revenue ─▶ ../../stages/.revenue.sandmill/versions/v000003
//!      _PIPELINE.json   which version of each stage, and the parameters
//!      _SUCCESS
//!  .warehouse.sandmill/stages/parsed, stages/revenue, ...   the stages' own datasets
//! ```
//!
//! A reader opens `warehouse/revenue/part-00000`: the path resolves through the pipeline's
//! link, then the snapshot's, and every version it reaches is immutable. Publishing a
//! snapshot is one [`DatasetGuard::publish`], one atomic switch, so a reader sees every stage's
//! new version or every stage's old one, never some of each; a rollback of the pipeline's
//! dataset switches them all back together.

use super::{Dataset, DatasetError, DatasetGuard, SUCCESS, VersionId, io_error, sync_dir};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The subdirectory of a pipeline's dataset home holding its stages' datasets.
const STAGES: &str = "stages";
/// How a snapshot being written in the staging directory is named.
const SNAPSHOT_TMP: &str = "snapshot-";

/// What a snapshot holds: `_PIPELINE.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The pipeline's parameters, sorted by name, as the run substituted them.
    pub params: Vec<(String, String)>,
    /// Every stage's dataset and the version of it the snapshot shows, in stage order.
    pub stages: Vec<SnapshotStage>,
}

/// One stage's dataset in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotStage {
    /// The stage.
    pub stage: String,
    /// Its dataset's name: the link's name in the snapshot.
    pub dataset: String,
    /// The version the snapshot links to.
    pub version: VersionId,
}

impl Snapshot {
    /// The file in a snapshot that describes it.
    pub const FILE: &'static str = "_PIPELINE.json";

    /// Reads the snapshot a version of a pipeline's dataset holds.
    ///
    /// # Errors
    /// [`DatasetError::Manifest`] if it is missing or does not parse.
    pub fn read(version: &Path) -> Result<Snapshot, DatasetError> {
        let path = version.join(Self::FILE);
        let bytes = fs::read(&path).map_err(|e| DatasetError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::Manifest {
            path,
            message: e.to_string(),
        })
    }
}

/// What [`DatasetGuard::retain_snapshots`] deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retained {
    /// The pipeline dataset's versions (snapshots).
    pub snapshots: Vec<VersionId>,
    /// Each stage dataset's versions, by the dataset's name.
    pub stages: Vec<(String, Vec<VersionId>)>,
}

/// The dataset of the stage writing `name` in the pipeline whose dataset is `pipeline`.
///
/// # Errors
/// [`DatasetError::InvalidOutput`] if `name` is not one plain file name.
pub fn stage_dataset(pipeline: &Dataset, name: &str) -> Result<PathBuf, DatasetError> {
    let plain = !name.is_empty()
        && !name.starts_with(['.', '_'])
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
    if !plain {
        return Err(DatasetError::InvalidOutput {
            path: PathBuf::from(name),
        });
    }
    Ok(pipeline.home().join(STAGES).join(name))
}

impl DatasetGuard {
    /// A pipeline's `keep`: keeps at most `keep` snapshots, as [`DatasetGuard::retain`]
    /// does for any dataset, then deletes every version of every stage's dataset that no
    /// kept snapshot links to and that is not the stage's current one (from which a
    /// rerun resumes). Returns the versions deleted: the pipeline's, then each stage
    /// dataset's by name, for those that lost any.
    ///
    /// # Errors
    /// A snapshot that cannot be read, a stage dataset busy with another run, or a version
    /// that cannot be deleted; what was deleted before stays deleted, and every link of a
    /// kept snapshot still resolves.
    pub fn retain_snapshots(&self, keep: usize) -> Result<Retained, DatasetError> {
        let mut retained = Retained {
            snapshots: self.retain(keep)?,
            stages: Vec::new(),
        };
        let mut wanted: std::collections::BTreeMap<String, std::collections::BTreeSet<_>> =
            Default::default();
        for version in self.versions()? {
            for stage in Snapshot::read(&self.version_dir(version.id))?.stages {
                wanted
                    .entry(stage.dataset)
                    .or_default()
                    .insert(stage.version);
            }
        }
        let stages = self.home().join(STAGES);
        let mut names: Vec<String> = match fs::read_dir(&stages) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&stages)(e)),
        };
        names.sort();
        let none = std::collections::BTreeSet::new();
        for name in names {
            let dataset = match Dataset::open(&stages.join(&name)) {
                Ok(dataset) => dataset,
                // A stage whose first run never published has no dataset yet.
                Err(DatasetError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let deleted = dataset
                .lock()?
                .retain_only(wanted.get(&name).unwrap_or(&none))?;
            if !deleted.is_empty() {
                retained.stages.push((name, deleted));
            }
        }
        Ok(retained)
    }

    /// Publishes `snapshot` as a new version of this (a pipeline's) dataset: a directory of
    /// links, one per stage, to the versions it names of the stage datasets
    /// ([`stage_dataset`]), which must exist. Unless the current version holds the same
    /// snapshot already: then nothing changes, and `Ok(None)`.
    ///
    /// # Errors
    /// [`DatasetError::NoSuchVersion`] if a stage's version is not published;
    /// [`DatasetError::Io`] if the snapshot cannot be written or switched to.
    pub fn publish_snapshot(&self, snapshot: &Snapshot) -> Result<Option<VersionId>, DatasetError> {
        if let Some(current) = self.current()?
            && Snapshot::read(&self.version_dir(current)).ok().as_ref() == Some(snapshot)
        {
            return Ok(None);
        }
        // What a run killed while writing a snapshot left (the guard excludes every other
        // writer, so none is being written now).
        if let Ok(entries) = fs::read_dir(self.staging_dir()) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(SNAPSHOT_TMP)
                {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let staged = self
            .staging_dir()
            .join(format!("{SNAPSHOT_TMP}{}", super::unique_suffix()));
        fs::create_dir_all(&staged).map_err(io_error(&staged))?;
        let written = self.write_snapshot(&staged, snapshot);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&staged);
            return Err(e);
        }
        self.publish(&staged).map(Some)
    }

    fn write_snapshot(&self, staged: &Path, snapshot: &Snapshot) -> Result<(), DatasetError> {
        for stage in &snapshot.stages {
            let dataset = Dataset::open(&stage_dataset(self, &stage.dataset)?)?;
            if !dataset.version_dir(stage.version).join(SUCCESS).is_file() {
                return Err(DatasetError::NoSuchVersion {
                    dataset: dataset.output().into(),
                    version: stage.version,
                });
            }
            // From `versions/<id>/<name>` (the snapshot once published) up to the home.
            let target = Path::new("../..")
                .join(STAGES)
                .join(dataset.home().file_name().unwrap_or_default())
                .join(super::VERSIONS)
                .join(stage.version.to_string());
            let link = staged.join(&stage.dataset);
            super::symlink_dir(&target, &link).map_err(io_error(&link))?;
        }
        let path = staged.join(Snapshot::FILE);
        let mut json = serde_json::to_vec_pretty(snapshot).expect("a snapshot is JSON");
        json.push(b'\n');
        let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
            let mut file = fs::File::create(path)?;
            file.write_all(bytes)?;
            file.sync_all()
        };
        write(&path, &json).map_err(io_error(&path))?;
        let success = staged.join(SUCCESS);
        write(&success, b"").map_err(io_error(&success))?;
        sync_dir(staged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Publishes a version of the stage dataset `name` holding `part-00000` with `text`.
    fn publish_stage(pipeline: &Dataset, name: &str, text: &str) -> VersionId {
        let stage = Dataset::open_or_create(&stage_dataset(pipeline, name).unwrap(), false)
            .unwrap()
            .lock()
            .unwrap();
        let dir = stage
            .staging_dir()
            .join(format!("job-{}", super::super::unique_suffix()));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("part-00000"), text).unwrap();
        fs::write(dir.join(SUCCESS), "").unwrap();
        stage.publish(&dir).unwrap()
    }

    fn snapshot(stages: &[(&str, VersionId)]) -> Snapshot {
        Snapshot {
            params: vec![("date".into(), "2026-03-22".into())],
            stages: stages
                .iter()
                .map(|&(name, version)| SnapshotStage {
                    stage: format!("make-{name}"),
                    dataset: name.into(),
                    version,
                })
                .collect(),
        }
    }

    #[test]
    fn a_snapshot_shows_every_stage_s_version_through_one_link_and_switches_them_together() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("warehouse");
        let pipeline = Dataset::open_or_create(&out, false).unwrap();
        let a1 = publish_stage(&pipeline, "a", "a1\n");
        let b1 = publish_stage(&pipeline, "b", "b1\n");
        let guard = pipeline.lock().unwrap();
        let first = guard
            .publish_snapshot(&snapshot(&[("a", a1), ("b", b1)]))
            .unwrap()
            .unwrap();
        let read = |name: &str| fs::read_to_string(out.join(name).join("part-00000")).unwrap();
        assert_eq!((read("a"), read("b")), ("a1\n".into(), "b1\n".into()));

        // New stage versions are invisible until the next snapshot, then visible together.
        let a2 = publish_stage(&pipeline, "a", "a2\n");
        let b2 = publish_stage(&pipeline, "b", "b2\n");
        assert_eq!((read("a"), read("b")), ("a1\n".into(), "b1\n".into()));
        let second = guard
            .publish_snapshot(&snapshot(&[("a", a2), ("b", b2)]))
            .unwrap()
            .unwrap();
        assert_eq!((read("a"), read("b")), ("a2\n".into(), "b2\n".into()));
        assert_eq!(
            Snapshot::read(&out).unwrap(),
            snapshot(&[("a", a2), ("b", b2)])
        );

        // The same snapshot again publishes nothing; a rollback switches both back.
        let same = guard.publish_snapshot(&snapshot(&[("a", a2), ("b", b2)]));
        assert_eq!(same.unwrap(), None);
        assert_eq!(guard.rollback(None).unwrap(), first);
        assert_eq!((read("a"), read("b")), ("a1\n".into(), "b1\n".into()));
        assert!(second > first);
    }

    #[test]
    fn a_snapshot_of_a_version_that_does_not_exist_publishes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("warehouse");
        let pipeline = Dataset::open_or_create(&out, false).unwrap();
        let a1 = publish_stage(&pipeline, "a", "a1\n");
        let guard = pipeline.lock().unwrap();
        let err = guard
            .publish_snapshot(&snapshot(&[("a", a1), ("a", VersionId(9))]))
            .unwrap_err();
        assert!(matches!(err, DatasetError::NoSuchVersion { .. }), "{err}");
        assert_eq!(guard.current().unwrap(), None);
        let staged: Vec<_> = fs::read_dir(guard.staging_dir()).unwrap().collect();
        assert!(staged.is_empty(), "the half-written snapshot is removed");
    }

    #[test]
    fn stage_names_are_plain_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        let pipeline = Dataset::open_or_create(&tmp.path().join("w"), false).unwrap();
        assert!(stage_dataset(&pipeline, "revenue").is_ok());
        for bad in ["", "a/b", "..", ".hidden", "_x", "/abs"] {
            assert!(stage_dataset(&pipeline, bad).is_err(), "{bad:?}");
        }
    }
}
