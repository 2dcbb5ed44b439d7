//! Versioned, immutable datasets behind an atomically switched link.
//!
//! `--output path/out` names a dataset. Each successful run publishes a new version, a
//! directory that is never modified again, and then switches the dataset's current pointer
//! to it. The pointer is `path/out` itself, a symbolic link, so readers keep reading
//! `path/out/part-00000` and see either the old version or the new one, never a mix. An
//! older version can be made current again (rollback), and old versions can be deleted
//! (retention).
//!
//! ```text
//!  path/out  ──symlink──▶  .out.sandmill/versions/v000002      (relative: the dataset can move)
//!  path/.out.sandmill/                                          (home: same file system as out)
//!      versions/v000001/  part-00000 … _MANIFEST.json _SUCCESS  (immutable)
//!      versions/v000002/  …
//!      staging/           versions being written, by the job's commit code
//!      work/              crash-resume state, owned by the scheduler
//!      next-version       the next id, so that ids are never reused after retention
//!      previous           the version current before the last switch: where a plain
//!                         rollback goes, and what retention keeps beside the current one
//!      published/v000002  when the version was published (RFC 3339, UTC): not in the
//!                         manifest, which holds no time so that reruns write the same bytes
//!      lock               locked by the one process changing the dataset (DatasetGuard)
//!      rejected/<time>-…/ attempts a quality gate kept from being published, with their
//!                         _MANIFEST.json (never current, never listed as versions)
//!
//!  publish:  rename(staging/<x>, versions/v000003)
//!            write(published/v000003)
//!            symlink(.out.sandmill/versions/v000003, .out.sandmill/current.tmp-…)
//!            rename(.out.sandmill/current.tmp-…, out)              ← the switch, atomic
//! ```
//!
//! This module owns the layout, the switch, rollback, retention and the manifest format
//! ([`Manifest`]). What goes into a version, and writing it under [`Dataset::staging_dir`],
//! is left to the job's commit code, as is making the files' contents durable (`sync_all`)
//! before [`DatasetGuard::publish`].
//!
//! Every change to a dataset (publish, rollback, retention) is a method of [`DatasetGuard`],
//! which [`Dataset::lock`] hands out to one process at a time: it holds an exclusive lock on
//! `home/lock`. A job holds it for its whole run, `sandmill rollback` for its switch, and
//! whoever comes second fails at once with [`DatasetError::Busy`] rather than wait. So
//! retention never deletes a version that a rollback is switching to, and the current
//! version it keeps is the one current when it deletes. Readers (and `sandmill versions`)
//! take no lock: the switch is atomic.

mod manifest;
mod published;
mod snapshot;

pub use manifest::{
    CheckOutcome, InputFingerprint, Manifest, OutputFile, PluginDigest, sha256_file,
    sha256_file_len, verify_version,
};
pub use published::{rfc3339, rfc3339_from_unix};
pub use snapshot::{Retained, Snapshot, SnapshotStage, stage_dataset};

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker written last into a complete version. The same name as
/// `commit::SUCCESS`, kept here so that this module depends on nothing else in the crate.
const SUCCESS: &str = "_SUCCESS";

/// The home's subdirectory holding published versions.
const VERSIONS: &str = "versions";
/// The home's subdirectory where versions are written before they are published.
const STAGING: &str = "staging";
/// The home's subdirectory for the scheduler's crash-resume state.
const WORK: &str = "work";
/// The home's file recording the next version id.
const NEXT_VERSION: &str = "next-version";
/// The home's file that [`Dataset::lock`] locks.
const LOCK: &str = "lock";
/// The version current before the last switch.
const PREVIOUS: &str = "previous";
/// The home's subdirectory keeping attempts a quality gate rejected.
const REJECTED: &str = "rejected";

/// How the temporary file that replaces the id file `name` starts.
fn id_tmp_prefix(name: &str) -> String {
    format!("{name}.tmp-")
}
/// Prefixes of short-lived entries in the home (see [`DatasetGuard::retain`] for their cleanup).
const LINK_TMP: &str = "current.tmp-";
/// How the temporary file that becomes a `published/<id>` record starts (it is written in the
/// home, where retention's clean-up looks, and renamed into `published/`).
const PUBLISHED_TMP: &str = "published.tmp-";
const REPLACED_TMP: &str = "replaced.tmp-";
const DELETING_TMP: &str = "deleting.tmp-";

/// A version number: `v000001`, `v000002`, …
///
/// Displayed with at least six digits (the name of the version's directory); parsed from
/// `v7`, `v000007` or `7`. Version numbers start at 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct VersionId(pub u32);

impl VersionId {
    /// The first version of a dataset.
    pub const FIRST: VersionId = VersionId(1);

    /// The version after this one, or `None` after `v4294967295`.
    pub fn next(self) -> Option<VersionId> {
        self.0.checked_add(1).map(VersionId)
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that callers can align a table with `{:>10}`.
        f.pad(&format!("v{:06}", self.0))
    }
}

/// A string that is not a version number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{input}`: expected a number from 1, such as v000007, v7 or 7")]
pub struct ParseVersionIdError {
    /// The string that was given.
    pub input: String,
}

impl FromStr for VersionId {
    type Err = ParseVersionIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionIdError { input: s.into() };
        let digits = s.strip_prefix(['v', 'V']).unwrap_or(s);
        // `u32::from_str` would also take "+7".
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        match digits.parse::<u32>() {
            Ok(0) | Err(_) => Err(err()),
            Ok(n) => Ok(VersionId(n)),
        }
    }
}

/// Why a dataset operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The output exists but is a plain directory, file or foreign link.
    #[error(
        "{} exists and is not a Sandmill dataset; remove it or pass --overwrite to replace it",
        path.display()
    )]
    NotADataset {
        /// The output path.
        path: PathBuf,
    },
    /// There is no dataset at this path.
    #[error(
        "no Sandmill dataset at {}; a successful `sandmill run --output {}` creates one",
        path.display(),
        path.display()
    )]
    NotFound {
        /// The output path.
        path: PathBuf,
    },
    /// The dataset has no such version (never published, or deleted by retention).
    #[error(
        "no version {version} in dataset {}; `sandmill versions {}` lists them",
        dataset.display(),
        dataset.display()
    )]
    NoSuchVersion {
        /// The dataset's output path.
        dataset: PathBuf,
        /// The version asked for.
        version: VersionId,
    },
    /// A rollback without a target, but no version is older than the current one.
    #[error(
        "nothing to roll back to: dataset {} has no version older than the current one; \
         `sandmill versions {}` lists them",
        dataset.display(),
        dataset.display()
    )]
    NothingToRollBack {
        /// The dataset's output path.
        dataset: PathBuf,
    },
    /// A directory to publish (or roll back to) has no `_SUCCESS` marker.
    #[error(
        "{} is not a complete version (it has no _SUCCESS), so it was not made current",
        path.display()
    )]
    Incomplete {
        /// The version directory.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A manifest could not be read, parsed or written.
    #[error("invalid manifest {}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Another process holds the dataset's [`DatasetGuard`]: a job is writing it, or a
    /// rollback is switching it.
    #[error(
        "dataset {} is in use by another sandmill run (a job writing it, or a rollback); \
         wait for that run to finish, then run this command again",
        dataset.display()
    )]
    Busy {
        /// The dataset's output path.
        dataset: PathBuf,
    },
    /// Another writer appended to a dataset's version log (on object storage) between this
    /// run reading it and appending: the conditional put of the entry lost.
    #[error(
        "dataset {} was changed by another run at the same time (it wrote log entry {seq} \
         first); nothing of this run was made current: run the command again",
        dataset.display()
    )]
    Conflict {
        /// The dataset's URL.
        dataset: PathBuf,
        /// The log entry both wrote.
        seq: u64,
    },
    /// The output path has no final component to name a dataset by.
    #[error(
        "--output {} must name a file or directory, not a root or `..`",
        path.display()
    )]
    InvalidOutput {
        /// The output path as given.
        path: PathBuf,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.into(),
        source,
    }
}

/// A suffix for temporary names that no other thread or process uses at the same time.
fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes a rename or creation in `dir` durable. Errors are ignored: some platforms and file
/// systems refuse to open or sync a directory, and there is nothing better to do there.
pub(crate) fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.symlink_metadata()?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

#[cfg(unix)]
fn symlink_dir(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

// Not atomic there: Windows cannot rename a link over another. Sandmill targets Unix.
#[cfg(windows)]
fn symlink_dir(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

#[cfg(not(any(unix, windows)))]
fn symlink_dir(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "datasets need symbolic links, which this platform does not have",
    ))
}

/// What is at the output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputState {
    /// Nothing: a new dataset, or one whose link was removed.
    Missing,
    /// This dataset's link, pointing at a version.
    Link(VersionId),
    /// Something else: a directory, a file, or a link Sandmill did not make.
    Foreign,
}

/// The version directory named `name`, if it is one. Only the canonical spelling counts,
/// so that the id always maps back to the same directory.
fn parse_version_dir(name: &OsStr) -> Option<VersionId> {
    let name = name.to_str()?;
    let id: VersionId = name.strip_prefix('v')?.parse().ok()?;
    (id.to_string() == name).then_some(id)
}

/// One published version, as listed by [`Dataset::versions`].
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// Its id.
    pub id: VersionId,
    /// Its directory, `home/versions/<id>`.
    pub path: PathBuf,
    /// Whether the dataset's link points at it.
    pub current: bool,
    /// Its `_MANIFEST.json`, or `None` if that is missing or unreadable.
    pub manifest: Option<Manifest>,
    /// How many data files it has (everything but `_SUCCESS` and `_MANIFEST.json`).
    pub files: usize,
    /// The total size of those data files.
    pub bytes: u64,
    /// When it was published, in UTC as RFC 3339 to the second (`2026-03-22T10:04:05Z`), or
    /// `None` if that was not recorded (a version published by a Sandmill older than the
    /// record, or by a run that crashed between moving it into place and recording the time).
    pub published: Option<String>,
}

/// A versioned dataset: the output link and its home directory.
///
/// Creating a `Dataset` value locks nothing; every method looks at the file system afresh.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The output path (`path/out`), normalised to `parent.join(name)`.
    output: PathBuf,
    /// `path/.out.sandmill`.
    home: PathBuf,
    /// `.out.sandmill`, the first component of the link's relative target.
    home_name: OsString,
    /// Whether a foreign directory or file at `output` may be replaced by the first publish.
    replace_foreign: bool,
}

impl Dataset {
    fn locate(output: &Path, replace_foreign: bool) -> Result<Dataset, DatasetError> {
        let name = output
            .file_name()
            .ok_or_else(|| DatasetError::InvalidOutput {
                path: output.into(),
            })?;
        // Dropping a trailing `/` matters: `out/` would follow the link.
        let parent = output.parent().unwrap_or(Path::new(""));
        let mut home_name = OsString::from(".");
        home_name.push(name);
        home_name.push(".sandmill");
        Ok(Dataset {
            output: parent.join(name),
            home: parent.join(&home_name),
            home_name,
            replace_foreign,
        })
    }

    /// The dataset named by `output`, created (home directories only: no version, no link)
    /// if it does not exist.
    ///
    /// If `replace_foreign` is true, a directory or file at `output` that is not a dataset
    /// link is accepted, and is replaced by the link at the first [`publish`](DatasetGuard::publish),
    /// so a job that fails leaves it untouched.
    ///
    /// # Errors
    /// [`DatasetError::NotADataset`] if `output` exists, is not this dataset's link, and
    /// `replace_foreign` is false; [`DatasetError::InvalidOutput`] if `output` has no final
    /// component; [`DatasetError::Io`] if the home directories cannot be created.
    pub fn open_or_create(output: &Path, replace_foreign: bool) -> Result<Dataset, DatasetError> {
        let dataset = Dataset::locate(output, replace_foreign)?;
        if dataset.output_state()? == OutputState::Foreign && !replace_foreign {
            return Err(dataset.not_a_dataset());
        }
        for dir in [
            dataset.versions_dir(),
            dataset.staging_dir(),
            dataset.work_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        }
        Ok(dataset)
    }

    /// An existing dataset, for listing its versions or rolling back.
    ///
    /// # Errors
    /// [`DatasetError::NotFound`] if there is no dataset home for `output`;
    /// [`DatasetError::NotADataset`] if there is one but `output` is something else (a job
    /// with `--overwrite` has not replaced it yet).
    pub fn open(output: &Path) -> Result<Dataset, DatasetError> {
        let dataset = Dataset::locate(output, false)?;
        if !dataset.versions_dir().is_dir() {
            return Err(DatasetError::NotFound {
                path: dataset.output,
            });
        }
        if dataset.output_state()? == OutputState::Foreign {
            return Err(dataset.not_a_dataset());
        }
        Ok(dataset)
    }

    /// The output path: the link readers read through.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// The dataset's home directory, `path/.out.sandmill`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `home/work`, for the scheduler's crash-resume state (created by
    /// [`open_or_create`](Self::open_or_create)).
    pub fn work_dir(&self) -> PathBuf {
        self.home.join(WORK)
    }

    /// `home/staging`, where versions are written before [`publish`](DatasetGuard::publish)
    /// (created by [`open_or_create`](Self::open_or_create)). On the same file system as
    /// the versions, so publishing is a rename.
    pub fn staging_dir(&self) -> PathBuf {
        self.home.join(STAGING)
    }

    /// `home/versions`.
    fn versions_dir(&self) -> PathBuf {
        self.home.join(VERSIONS)
    }

    /// The directory of version `id` (which may not exist).
    pub fn version_dir(&self, id: VersionId) -> PathBuf {
        self.versions_dir().join(id.to_string())
    }

    /// The link's target for version `id`, relative to the link's directory.
    fn link_target(&self, id: VersionId) -> PathBuf {
        Path::new(&self.home_name)
            .join(VERSIONS)
            .join(id.to_string())
    }

    /// The directory holding both the output link and the home.
    fn parent(&self) -> &Path {
        self.output.parent().unwrap_or(Path::new(""))
    }

    fn not_a_dataset(&self) -> DatasetError {
        DatasetError::NotADataset {
            path: self.output.clone(),
        }
    }

    fn output_state(&self) -> Result<OutputState, DatasetError> {
        let meta = match fs::symlink_metadata(&self.output) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(OutputState::Missing),
            Err(e) => return Err(io_error(&self.output)(e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(OutputState::Foreign);
        }
        let target = fs::read_link(&self.output).map_err(io_error(&self.output))?;
        let mut parts = target.components();
        let id = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (
                Some(Component::Normal(home)),
                Some(Component::Normal(versions)),
                Some(Component::Normal(version)),
                None,
            ) if home == self.home_name && versions == VERSIONS => parse_version_dir(version),
            _ => None,
        };
        Ok(id.map_or(OutputState::Foreign, OutputState::Link))
    }

    /// The version the link points to, if any.
    ///
    /// `None` if there is no link yet, or if the output is a foreign directory or file still
    /// waiting to be replaced by the first publish.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if the link cannot be read.
    pub fn current(&self) -> Result<Option<VersionId>, DatasetError> {
        Ok(match self.output_state()? {
            OutputState::Link(id) => Some(id),
            OutputState::Missing | OutputState::Foreign => None,
        })
    }

    /// The ids of published versions, ascending.
    fn published_ids(&self) -> Result<Vec<VersionId>, DatasetError> {
        let dir = self.versions_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir)(e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(&dir))?;
            let Some(id) = parse_version_dir(&entry.file_name()) else {
                continue;
            };
            // `DirEntry::file_type` does not follow links: a link here is not a version.
            if entry.file_type().map_err(io_error(&entry.path()))?.is_dir() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// All published versions, ascending, with their manifests and sizes.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if a version directory cannot be listed.
    pub fn versions(&self) -> Result<Vec<VersionInfo>, DatasetError> {
        let current = self.current()?;
        self.published_ids()?
            .into_iter()
            .map(|id| {
                let path = self.version_dir(id);
                let (files, bytes) = manifest::data_entries(&path)?
                    .iter()
                    .filter(|(_, meta)| meta.is_file())
                    .fold((0, 0), |(n, b), (_, meta)| (n + 1, b + meta.len()));
                Ok(VersionInfo {
                    id,
                    current: current == Some(id),
                    manifest: Manifest::read(&path).ok(),
                    files,
                    bytes,
                    published: self.published(id)?,
                    path,
                })
            })
            .collect()
    }

    /// When version `id` was published ([`VersionInfo::published`]), if that is recorded.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if the record exists but cannot be read.
    pub fn published(&self, id: VersionId) -> Result<Option<String>, DatasetError> {
        let path = self.published_record(id);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(published::parse_record(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // Not UTF-8: damaged, as a record that is not a time is.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// `home/published/<id>`.
    fn published_record(&self, id: VersionId) -> PathBuf {
        self.home.join(published::DIR).join(id.to_string())
    }

    /// The id recorded in `home/next-version`, if the file exists and makes sense.
    fn recorded_next(&self) -> Result<Option<VersionId>, DatasetError> {
        self.read_id(NEXT_VERSION)
    }

    /// The version id recorded in the home's file `name`, if there is one.
    fn read_id(&self, name: &str) -> Result<Option<VersionId>, DatasetError> {
        let path = self.home.join(name);
        match fs::read_to_string(&path) {
            // A damaged file is not fatal: each caller has a fallback.
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Records `id` in the home's file `name`, durably and in one step.
    fn write_id(&self, name: &str, id: VersionId) -> Result<(), DatasetError> {
        let tmp = self
            .home
            .join(format!("{}{}", id_tmp_prefix(name), unique_suffix()));
        self.write_line(&tmp, &self.home.join(name), &id.to_string())
    }

    /// Writes `line` and a newline to `tmp` (in the home), syncs it and renames it to `path`,
    /// then syncs the directory holding `path`: durably and in one step.
    fn write_line(&self, tmp: &Path, path: &Path, line: &str) -> Result<(), DatasetError> {
        let write = || -> io::Result<()> {
            use io::Write as _;
            let mut f = fs::File::create(tmp)?;
            writeln!(f, "{line}")?;
            f.sync_all()?;
            fs::rename(tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(tmp);
            io_error(path)(e)
        })?;
        sync_dir(path.parent().unwrap_or(&self.home));
        Ok(())
    }

    /// The version that was current before the last switch (a publish or a rollback), if it
    /// is still published: where a plain `sandmill rollback` goes, and what retention keeps.
    pub fn previous(&self) -> Result<Option<VersionId>, DatasetError> {
        let ids = self.published_ids()?;
        Ok(self.read_id(PREVIOUS)?.filter(|id| ids.contains(id)))
    }

    /// The id the next published version will get: one more than the largest ever
    /// published, `v000001` for a new dataset.
    ///
    /// Ids are never reused, even after retention deleted the newest versions: the largest
    /// id is recorded in `home/next-version`, and `versions/` is scanned as well, in case
    /// that file is missing or stale.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if `versions/` or `next-version` cannot be read, or (after four
    /// billion versions) if the ids are used up.
    pub fn next_version(&self) -> Result<VersionId, DatasetError> {
        let scanned = match self.published_ids()?.last() {
            None => VersionId::FIRST,
            Some(last) => last.next().ok_or_else(|| {
                io_error(&self.versions_dir())(io::Error::other(
                    "every version id is used; publish to a new dataset",
                ))
            })?,
        };
        Ok(self.recorded_next()?.map_or(scanned, |r| r.max(scanned)))
    }

    /// Takes the right to change this dataset, failing at once if another process has it.
    /// Publishing, rolling back and deleting versions are methods of the guard; it is released
    /// when dropped, or when the process ends however it ends (the lock is the operating
    /// system's, on `home/lock`, so a killed process leaves nothing to clean up).
    ///
    /// # Errors
    /// [`DatasetError::Busy`] if another process (or another guard in this one) holds it;
    /// [`DatasetError::Io`] if the lock file cannot be opened or locked.
    pub fn lock(&self) -> Result<DatasetGuard, DatasetError> {
        let path = self.home.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(DatasetGuard {
                dataset: self.clone(),
                _lock: file,
            }),
            Err(fs::TryLockError::WouldBlock) => Err(DatasetError::Busy {
                dataset: self.output.clone(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(io_error(&path)(e)),
        }
    }
}

/// The right to change a dataset, from [`Dataset::lock`]: one process (one guard) at a time
/// publishes, rolls back or deletes versions. It dereferences to the [`Dataset`] for
/// everything that only looks.
#[derive(Debug)]
pub struct DatasetGuard {
    dataset: Dataset,
    /// Locked while the guard lives.
    _lock: fs::File,
}

impl std::ops::Deref for DatasetGuard {
    type Target = Dataset;

    fn deref(&self) -> &Dataset {
        &self.dataset
    }
}

impl DatasetGuard {
    /// Records that ids below `next` are taken. Never lowers the recorded value.
    fn record_next(&self, next: VersionId) -> Result<(), DatasetError> {
        if self
            .recorded_next()?
            .is_some_and(|recorded| recorded >= next)
        {
            return Ok(());
        }
        self.write_id(NEXT_VERSION, next)?;
        Ok(())
    }

    /// Publishes a complete version directory written by the caller under
    /// [`staging_dir`](Dataset::staging_dir): renames it to `versions/<id>` with
    /// `id = next_version()`, syncs the directories involved, records the time
    /// ([`Dataset::published`]), and switches the link to it. A foreign directory or file
    /// accepted by `open_or_create(_, true)` is replaced now.
    /// Returns the new version's id.
    ///
    /// # Errors
    /// [`DatasetError::Incomplete`] (nothing is changed) if `staged` has no `_SUCCESS`;
    /// [`DatasetError::NotADataset`] if a foreign directory or file appeared at the output
    /// and this dataset was not opened to replace one; [`DatasetError::Io`] if a rename fails
    /// or the time cannot be recorded. If the version was moved into `versions/` but the
    /// switch failed, it stays there, not current; `rollback(Some(id))` can switch to it.
    pub fn publish(&self, staged: &Path) -> Result<VersionId, DatasetError> {
        if !staged.join(SUCCESS).is_file() {
            return Err(DatasetError::Incomplete {
                path: staged.into(),
            });
        }
        let state = self.output_state()?;
        if state == OutputState::Foreign && !self.replace_foreign {
            return Err(self.not_a_dataset());
        }

        // The guard keeps other Sandmill processes from publishing meanwhile; should the id
        // be taken all the same, its directory is in `versions/`, and the next scan gives a
        // larger one.
        let mut conflicts = 0;
        let id = loop {
            let id = self.next_version()?;
            match fs::rename(staged, self.version_dir(id)) {
                Ok(()) => break id,
                Err(e)
                    if conflicts < 16
                        && matches!(
                            e.kind(),
                            io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
                        ) =>
                {
                    conflicts += 1;
                }
                Err(e) => return Err(io_error(staged)(e)),
            }
        };
        sync_dir(&self.versions_dir());
        if let Some(from) = staged.parent() {
            sync_dir(from);
        }
        let next = id.next().unwrap_or(id);
        self.record_next(next)?;
        self.record_published(id, std::time::SystemTime::now())?;

        // A directory cannot be replaced by a rename, so a foreign one is moved aside first
        // (the output is missing between these two renames). A file or foreign link is
        // replaced by the switch itself.
        let aside = match state {
            OutputState::Foreign
                if fs::symlink_metadata(&self.output).is_ok_and(|m| m.is_dir()) =>
            {
                let aside = self.home.join(format!("{REPLACED_TMP}{}", unique_suffix()));
                fs::rename(&self.output, &aside).map_err(io_error(&self.output))?;
                Some(aside)
            }
            _ => None,
        };
        if let Err(e) = self.switch_to(id) {
            if let Some(aside) = &aside {
                let _ = fs::rename(aside, &self.output);
            }
            return Err(e);
        }
        if let Some(aside) = aside {
            // The version is published; a leftover is removed by the next `retain`.
            let _ = fs::remove_dir_all(aside);
        }
        Ok(id)
    }

    /// Keeps a staged version that must not be published (it failed a quality gate) in
    /// `home/rejected/<time>-<n>`, where it is never current and never listed as a version.
    /// Returns where it went.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if it cannot be moved.
    pub fn keep_rejected(&self, staged: &Path) -> Result<PathBuf, DatasetError> {
        let dir = self.home.join(REJECTED);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let stamp = published::rfc3339(std::time::SystemTime::now()).replace(':', "");
        let kept = dir.join(format!("{stamp}-{}", unique_suffix()));
        fs::rename(staged, &kept).map_err(io_error(staged))?;
        sync_dir(&dir);
        Ok(kept)
    }

    /// Records that version `id` was published at `time` ([`Dataset::published`]), replacing
    /// any record of it.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if the record cannot be written.
    pub fn record_published(
        &self,
        id: VersionId,
        time: std::time::SystemTime,
    ) -> Result<(), DatasetError> {
        let dir = self.home.join(published::DIR);
        if !dir.is_dir() {
            // A dataset made before versions recorded their time has none.
            fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            sync_dir(&self.home);
        }
        let tmp = self
            .home
            .join(format!("{PUBLISHED_TMP}{}", unique_suffix()));
        self.write_line(&tmp, &self.published_record(id), &published::rfc3339(time))
    }

    /// Points the link at version `id`: a new link under a temporary name, renamed over the
    /// old one, which replaces it atomically.
    fn switch_to(&self, id: VersionId) -> Result<(), DatasetError> {
        if let Some(current) = self.current()?
            && current != id
        {
            self.write_id(PREVIOUS, current)?;
        }
        let tmp = self.home.join(format!("{LINK_TMP}{}", unique_suffix()));
        // A leftover from a crashed process that had the same pid.
        let _ = fs::remove_file(&tmp);
        symlink_dir(&self.link_target(id), &tmp).map_err(io_error(&tmp))?;
        if let Err(e) = fs::rename(&tmp, &self.output) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&self.output)(e));
        }
        sync_dir(self.parent());
        Ok(())
    }

    /// Points the link at version `to` (older or newer than the current one), or, if `to` is
    /// `None`, at the version that was current before the last switch ([`Self::previous`]),
    /// or failing that the newest version older than the current one. Switching to the
    /// current version changes nothing. Returns the version now current.
    ///
    /// # Errors
    /// [`DatasetError::NoSuchVersion`] if `to` is not a published version;
    /// [`DatasetError::NothingToRollBack`] if `to` is `None` and no version is older than
    /// the current one (or there is no current one); [`DatasetError::NotADataset`] if the
    /// output is a foreign directory or file; [`DatasetError::Io`] if the switch fails.
    pub fn rollback(&self, to: Option<VersionId>) -> Result<VersionId, DatasetError> {
        let current = match self.output_state()? {
            OutputState::Foreign => return Err(self.not_a_dataset()),
            OutputState::Missing => None,
            OutputState::Link(id) => Some(id),
        };
        let ids = self.published_ids()?;
        let target = match to {
            Some(id) if ids.contains(&id) => id,
            Some(id) => {
                return Err(DatasetError::NoSuchVersion {
                    dataset: self.output.clone(),
                    version: id,
                });
            }
            None => self
                .previous()?
                .filter(|&id| Some(id) != current)
                .or_else(|| current.and_then(|cur| ids.iter().rev().find(|&&id| id < cur).copied()))
                .ok_or_else(|| DatasetError::NothingToRollBack {
                    dataset: self.output.clone(),
                })?,
        };
        let dir = self.version_dir(target);
        if !dir.join(SUCCESS).is_file() {
            return Err(DatasetError::Incomplete { path: dir });
        }
        if current != Some(target) {
            self.switch_to(target)?;
        }
        Ok(target)
    }

    /// Deletes the oldest versions so that at most `keep` remain: never the current one, nor
    /// (when `keep` is at least 2) the one current before it ([`Self::previous`], where a
    /// plain rollback goes). A `keep` of 0 is taken as 1. Returns the ids deleted, ascending.
    ///
    /// A deleted version's `published/` record goes with it. Ids stay taken after their
    /// versions are deleted. Leftovers of interrupted publishes
    /// and deletions in the home are removed too. The version kept as current is read under
    /// the guard, so no rollback can make a version current while it is being deleted.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if a version cannot be deleted. The versions deleted before it
    /// stay deleted.
    pub fn retain(&self, keep: usize) -> Result<Vec<VersionId>, DatasetError> {
        let keep = keep.max(1);
        self.remove_leftovers();
        let ids = self.published_ids()?;
        let Some(&newest) = ids.last() else {
            return Ok(Vec::new());
        };
        if ids.len() <= keep {
            return Ok(Vec::new());
        }
        // Record the largest id before deleting it, so that it is never handed out again.
        self.record_next(newest.next().unwrap_or(newest))?;
        // Stays current until this guard is dropped: every switch needs the guard.
        let current = self.current()?;
        // The version a rollback would go back to is kept too, if `keep` leaves room for it.
        let previous = self.previous()?.filter(|_| keep >= 2);
        let mut excess = ids.len() - keep;
        let mut deleted = Vec::new();
        for id in ids {
            if excess == 0 {
                break;
            }
            if current == Some(id) || previous == Some(id) {
                continue;
            }
            self.delete_version(id)?;
            deleted.push(id);
            excess -= 1;
        }
        sync_dir(&self.versions_dir());
        sync_dir(&self.home.join(published::DIR));
        Ok(deleted)
    }

    /// Deletes every version but the current one and those in `wanted`: what a pipeline's
    /// `keep` does to a stage's dataset, whose versions are wanted while a kept snapshot of
    /// the pipeline links to them. Returns the ids deleted, ascending.
    ///
    /// # Errors
    /// As [`Self::retain`].
    pub fn retain_only(
        &self,
        wanted: &std::collections::BTreeSet<VersionId>,
    ) -> Result<Vec<VersionId>, DatasetError> {
        self.remove_leftovers();
        let ids = self.published_ids()?;
        let Some(&newest) = ids.last() else {
            return Ok(Vec::new());
        };
        self.record_next(newest.next().unwrap_or(newest))?;
        let current = self.current()?;
        let mut deleted = Vec::new();
        for id in ids {
            if current != Some(id) && !wanted.contains(&id) {
                self.delete_version(id)?;
                deleted.push(id);
            }
        }
        sync_dir(&self.versions_dir());
        sync_dir(&self.home.join(published::DIR));
        Ok(deleted)
    }

    /// Deletes version `id` and its `published/` record.
    fn delete_version(&self, id: VersionId) -> Result<(), DatasetError> {
        // Out of `versions/` first, in one step, so that no half-deleted version is ever
        // listed.
        let dir = self.version_dir(id);
        let doomed = self
            .home
            .join(format!("{DELETING_TMP}{id}-{}", unique_suffix()));
        fs::rename(&dir, &doomed).map_err(io_error(&dir))?;
        fs::remove_dir_all(&doomed).map_err(io_error(&doomed))?;
        // After the version: a version is never listed without its time but for a crash.
        let record = self.published_record(id);
        match fs::remove_file(&record) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&record)(e)),
            _ => Ok(()),
        }
    }

    /// Best-effort removal of what interrupted publishes and deletions left in the home.
    /// Only entries untouched for a minute go: the guard excludes every other process that
    /// locks, but a younger entry may still belong to an older Sandmill whose rollback did
    /// not.
    fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.home) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let id_tmp = [NEXT_VERSION, PREVIOUS].map(id_tmp_prefix);
            if ![LINK_TMP, REPLACED_TMP, DELETING_TMP, PUBLISHED_TMP]
                .iter()
                .chain(&id_tmp.each_ref().map(String::as_str))
                .any(|prefix| name.starts_with(prefix))
            {
                continue;
            }
            // `DirEntry::metadata` does not follow links: this is the entry's own age.
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() >= 60);
            if stale {
                let _ = remove_any(&entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    /// The dataset at `out`, created if need be, locked.
    fn locked(out: &Path) -> DatasetGuard {
        Dataset::open_or_create(out, false).unwrap().lock().unwrap()
    }

    /// Writes a complete version under the staging directory: one part file per entry of
    /// `parts`, then `_SUCCESS`.
    fn stage(dataset: &Dataset, parts: &[&str]) -> PathBuf {
        let dir = dataset
            .staging_dir()
            .join(format!("job-{}", unique_suffix()));
        fs::create_dir(&dir).unwrap();
        for (i, text) in parts.iter().enumerate() {
            fs::write(dir.join(format!("part-{i:05}")), text).unwrap();
        }
        fs::write(dir.join(SUCCESS), "").unwrap();
        dir
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn success_marker_matches_commit() {
        assert_eq!(SUCCESS, crate::commit::SUCCESS);
    }

    #[test]
    fn version_ids_parse_and_display() {
        for (text, want) in [
            ("v7", Some(7)),
            ("v000007", Some(7)),
            ("7", Some(7)),
            ("V12", Some(12)),
            ("v1234567", Some(1_234_567)),
            ("v0", None),
            ("0", None),
            ("v", None),
            ("", None),
            ("+7", None),
            ("v-1", None),
            ("v7a", None),
            ("v99999999999", None),
        ] {
            let got = text.parse::<VersionId>();
            assert_eq!(got.as_ref().ok().map(|id| id.0), want, "{text:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains("v000007"), "{e}");
            }
        }
        assert_eq!(VersionId(7).to_string(), "v000007");
        assert_eq!(VersionId(1_234_567).to_string(), "v1234567");
        assert_eq!(format!("[{:>9}]", VersionId(3)), "[  v000003]");
        // Only canonical names are version directories.
        assert_eq!(parse_version_dir(OsStr::new("v000003")), Some(VersionId(3)));
        assert_eq!(parse_version_dir(OsStr::new("v3")), None);
        assert_eq!(parse_version_dir(OsStr::new("000003")), None);
    }

    #[test]
    fn publish_twice_switches_the_link() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        assert_eq!(ds.home(), tmp.path().join(".out.sandmill"));
        assert_eq!(ds.current().unwrap(), None);
        assert!(ds.versions().unwrap().is_empty());
        assert_eq!(ds.next_version().unwrap(), VersionId(1));
        assert!(!out.exists(), "no link before the first publish");
        assert!(ds.work_dir().is_dir() && ds.staging_dir().is_dir());

        let v1 = ds
            .publish(&stage(&ds, &["v1 part0\n", "v1 part1\n"]))
            .unwrap();
        let v2 = ds.publish(&stage(&ds, &["v2 part0\n"])).unwrap();
        assert_eq!((v1, v2), (VersionId(1), VersionId(2)));
        assert_eq!(ds.current().unwrap(), Some(v2));
        assert_eq!(
            fs::read_link(&out).unwrap(),
            Path::new(".out.sandmill/versions/v000002")
        );
        assert_eq!(read(&out.join("part-00000")), "v2 part0\n");
        assert!(!out.join("part-00001").exists());
        assert_eq!(ds.next_version().unwrap(), VersionId(3));
        assert!(
            names(&ds.staging_dir()).is_empty(),
            "staged dirs were moved"
        );

        let versions = ds.versions().unwrap();
        let summary: Vec<_> = versions
            .iter()
            .map(|v| (v.id, v.current, v.files, v.bytes))
            .collect();
        assert_eq!(
            summary,
            [(v1, false, 2, 18), (v2, true, 1, 9)],
            "{versions:#?}"
        );
        assert_eq!(versions[1].path, ds.version_dir(v2));
        assert!(versions[0].manifest.is_none());

        // `open` finds the same dataset; the home's entries are only the documented ones.
        let again = Dataset::open(&out).unwrap();
        assert_eq!(again.current().unwrap(), Some(v2));
        assert_eq!(
            names(ds.home()),
            [
                "lock",
                "next-version",
                "previous",
                "published",
                "staging",
                "versions",
                "work"
            ]
        );
        assert_eq!(names(tmp.path()), [".out.sandmill", "out"]);
    }

    #[test]
    fn a_dataset_can_be_moved() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = Dataset::open_or_create(&tmp.path().join("a/out/"), false)
            .unwrap()
            .lock()
            .unwrap();
        assert_eq!(ds.output(), tmp.path().join("a/out"));
        ds.publish(&stage(&ds, &["moved\n"])).unwrap();
        fs::rename(tmp.path().join("a"), tmp.path().join("b")).unwrap();
        let out = tmp.path().join("b/out");
        assert_eq!(read(&out.join("part-00000")), "moved\n");
        assert_eq!(
            Dataset::open(&out).unwrap().current().unwrap(),
            Some(VersionId(1))
        );
    }

    #[test]
    fn rollback_restores_the_previous_version_byte_for_byte() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        ds.publish(&stage(&ds, &["first\n", "one\n"])).unwrap();
        let before = (read(&out.join("part-00000")), read(&out.join("part-00001")));

        // A rollback with only one version has nowhere to go.
        let err = ds.rollback(None).unwrap_err();
        assert!(
            matches!(err, DatasetError::NothingToRollBack { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("sandmill versions"), "{err}");

        ds.publish(&stage(&ds, &["second\n"])).unwrap();
        assert_eq!(ds.rollback(None).unwrap(), VersionId(1));
        assert_eq!(ds.current().unwrap(), Some(VersionId(1)));
        assert_eq!(
            (read(&out.join("part-00000")), read(&out.join("part-00001"))),
            before
        );
        // A plain rollback goes back to the version current before the last switch: v2.
        assert_eq!(ds.rollback(None).unwrap(), VersionId(2));
        assert_eq!(ds.rollback(None).unwrap(), VersionId(1));

        assert_eq!(ds.rollback(Some(VersionId(2))).unwrap(), VersionId(2));
        assert_eq!(read(&out.join("part-00000")), "second\n");
        assert_eq!(ds.rollback(Some(VersionId(2))).unwrap(), VersionId(2));

        let err = ds.rollback(Some(VersionId(9))).unwrap_err();
        assert!(matches!(err, DatasetError::NoSuchVersion { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("no version v000009"), "{message}");
        assert!(message.contains("sandmill versions"), "{message}");
        assert_eq!(ds.current().unwrap(), Some(VersionId(2)));
    }

    #[test]
    fn retention_keeps_the_version_a_rollback_made_current_and_the_one_it_left() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        for text in ["one\n", "two\n", "three\n"] {
            ds.publish(&stage(&ds, &[text])).unwrap();
        }
        assert_eq!(ds.rollback(Some(VersionId(1))).unwrap(), VersionId(1));
        assert_eq!(ds.previous().unwrap(), Some(VersionId(3)));
        // Retention right after the rollback keeps both ends of it.
        assert_eq!(ds.retain(2).unwrap(), [VersionId(2)]);
        // A new run publishes v4: v1, current before it, is kept, not deleted as the oldest.
        ds.publish(&stage(&ds, &["four\n"])).unwrap();
        assert_eq!(ds.previous().unwrap(), Some(VersionId(1)));
        assert_eq!(ds.retain(2).unwrap(), [VersionId(3)]);
        assert_eq!(ds.rollback(None).unwrap(), VersionId(1));
        assert_eq!(read(&out.join("part-00000")), "one\n");
    }

    #[test]
    fn retain_keeps_the_current_version_and_ids_are_never_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        ds.publish(&stage(&ds, &["v1\n"])).unwrap();
        ds.publish(&stage(&ds, &["v2\n"])).unwrap();
        ds.rollback(None).unwrap();

        assert_eq!(ds.retain(5).unwrap(), []);
        assert_eq!(ds.retain(1).unwrap(), [VersionId(2)]);
        let ids: Vec<_> = ds.versions().unwrap().iter().map(|v| v.id).collect();
        assert_eq!(ids, [VersionId(1)]);
        assert_eq!(read(&out.join("part-00000")), "v1\n");
        assert_eq!(ds.next_version().unwrap(), VersionId(3));
        assert_eq!(ds.publish(&stage(&ds, &["v3\n"])).unwrap(), VersionId(3));

        ds.publish(&stage(&ds, &["v4\n"])).unwrap();
        ds.publish(&stage(&ds, &["v5\n"])).unwrap();
        assert_eq!(
            ds.retain(0).unwrap(),
            [VersionId(1), VersionId(3), VersionId(4)]
        );
        assert_eq!(names(&ds.versions_dir()), ["v000005"]);
        assert_eq!(
            names(ds.home()),
            [
                "lock",
                "next-version",
                "previous",
                "published",
                "staging",
                "versions",
                "work"
            ]
        );

        // Even without `next-version`, the scan of `versions/` never goes backwards.
        fs::remove_file(ds.home().join(NEXT_VERSION)).unwrap();
        assert_eq!(ds.next_version().unwrap(), VersionId(6));
        fs::write(ds.home().join(NEXT_VERSION), "garbage").unwrap();
        assert_eq!(ds.next_version().unwrap(), VersionId(6));
    }

    #[test]
    fn publish_records_the_time_and_retention_deletes_it_with_the_version() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        let before = rfc3339(std::time::SystemTime::now());
        ds.publish(&stage(&ds, &["v1\n"])).unwrap();
        let after = rfc3339(std::time::SystemTime::now());
        // The same fixed-width format: the strings order as the times do.
        let time = ds.published(VersionId(1)).unwrap().expect("recorded");
        assert!(before <= time && time <= after, "{before} {time} {after}");
        assert_eq!(
            read(&ds.home().join("published/v000001")),
            format!("{time}\n")
        );
        ds.publish(&stage(&ds, &["v2\n"])).unwrap();
        let listed: Vec<_> = ds
            .versions()
            .unwrap()
            .into_iter()
            .map(|v| v.published.is_some())
            .collect();
        assert_eq!(listed, [true, true]);
        // Nothing of the time is in the version itself.
        assert_eq!(
            names(&ds.version_dir(VersionId(2))),
            ["_SUCCESS", "part-00000"]
        );

        // A record that is not a time is no time; a rollback records none.
        fs::write(ds.home().join("published/v000002"), "\u{1b}[2J soon\n").unwrap();
        assert_eq!(ds.published(VersionId(2)).unwrap(), None);
        fs::write(ds.home().join("published/v000002"), [0xff, 0xfe]).unwrap();
        assert_eq!(ds.published(VersionId(2)).unwrap(), None);
        ds.rollback(None).unwrap();
        assert_eq!(ds.published(VersionId(1)).unwrap(), Some(time));

        assert_eq!(ds.retain(1).unwrap(), [VersionId(2)]);
        assert_eq!(names(&ds.home().join("published")), ["v000001"]);
        // A version published before times were recorded has none, and publishing creates
        // the directory again.
        fs::remove_dir_all(ds.home().join("published")).unwrap();
        assert_eq!(ds.versions().unwrap()[0].published, None);
        ds.publish(&stage(&ds, &["v3\n"])).unwrap();
        assert!(ds.published(VersionId(3)).unwrap().is_some());
    }

    #[test]
    fn a_foreign_output_is_refused_or_replaced_at_the_first_publish() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("part-00000"), "old\n").unwrap();

        let err = Dataset::open_or_create(&out, false).unwrap_err();
        assert!(matches!(err, DatasetError::NotADataset { .. }), "{err}");
        assert!(err.to_string().contains("--overwrite"), "{err}");
        assert!(!tmp.path().join(".out.sandmill").exists());
        assert!(matches!(
            Dataset::open(&out).unwrap_err(),
            DatasetError::NotFound { .. }
        ));

        let ds = Dataset::open_or_create(&out, true).unwrap();
        assert_eq!(ds.current().unwrap(), None);
        let staged = stage(&ds, &["new\n"]);
        assert_eq!(
            read(&out.join("part-00000")),
            "old\n",
            "untouched until publish"
        );
        assert!(matches!(
            Dataset::open(&out).unwrap_err(),
            DatasetError::NotADataset { .. }
        ));
        // A dataset opened without `replace_foreign` still refuses at publish time.
        let strict = Dataset::locate(&out, false).unwrap();
        assert!(matches!(
            strict.lock().unwrap().publish(&staged).unwrap_err(),
            DatasetError::NotADataset { .. }
        ));

        ds.lock().unwrap().publish(&staged).unwrap();
        assert!(out.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(read(&out.join("part-00000")), "new\n");
        assert_eq!(names(tmp.path()), [".out.sandmill", "out"]);
        assert_eq!(
            names(ds.home()),
            [
                "lock",
                "next-version",
                "published",
                "staging",
                "versions",
                "work"
            ]
        );
        // From now on it is a dataset: no --overwrite needed.
        Dataset::open_or_create(&out, false).unwrap();

        // A plain file is replaced too.
        let file = tmp.path().join("file-out");
        fs::write(&file, "old").unwrap();
        assert!(Dataset::open_or_create(&file, false).is_err());
        let ds = Dataset::open_or_create(&file, true)
            .unwrap()
            .lock()
            .unwrap();
        ds.publish(&stage(&ds, &["new\n"])).unwrap();
        assert_eq!(read(&file.join("part-00000")), "new\n");
    }

    #[test]
    fn a_link_sandmill_did_not_make_is_foreign() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(tmp.path().join("elsewhere")).unwrap();
        symlink_dir(Path::new("elsewhere"), &out).unwrap();
        let err = Dataset::open_or_create(&out, false).unwrap_err();
        assert!(matches!(err, DatasetError::NotADataset { .. }), "{err}");
        let ds = Dataset::open_or_create(&out, true).unwrap().lock().unwrap();
        ds.publish(&stage(&ds, &["x\n"])).unwrap();
        assert_eq!(ds.current().unwrap(), Some(VersionId(1)));
        assert!(tmp.path().join("elsewhere").is_dir(), "its target is kept");
    }

    #[test]
    fn publishing_without_success_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        ds.publish(&stage(&ds, &["good\n"])).unwrap();
        let staged = stage(&ds, &["half\n"]);
        fs::remove_file(staged.join(SUCCESS)).unwrap();

        let err = ds.publish(&staged).unwrap_err();
        assert!(matches!(err, DatasetError::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains("_SUCCESS"), "{err}");
        assert_eq!(ds.current().unwrap(), Some(VersionId(1)));
        assert_eq!(read(&out.join("part-00000")), "good\n");
        assert!(staged.is_dir(), "left for the caller to clean up");
        assert_eq!(ds.next_version().unwrap(), VersionId(2));
    }

    #[test]
    fn open_needs_an_existing_dataset() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Dataset::open(&tmp.path().join("nothing")).unwrap_err();
        assert!(matches!(err, DatasetError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("sandmill run --output"), "{err}");
        let err = Dataset::open_or_create(Path::new("/"), false).unwrap_err();
        assert!(matches!(err, DatasetError::InvalidOutput { .. }), "{err}");
    }

    #[test]
    fn readers_never_see_a_mix_of_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = locked(&out);
        let publish = |ds: &DatasetGuard| {
            let id = ds.next_version().unwrap();
            let staged = stage(ds, &[&format!("{id} part0\n"), &format!("{id} part1\n")]);
            assert_eq!(ds.publish(&staged).unwrap(), id);
        };
        publish(&ds);

        let stop = AtomicBool::new(false);
        let reads = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut reads = 0u32;
                // At least one read, however fast the writer is.
                loop {
                    assert!(Instant::now() < deadline, "the writer never finished");
                    // The link always resolves: the switch never leaves it missing.
                    let dir = fs::canonicalize(&out).unwrap();
                    let version = dir.file_name().unwrap().to_string_lossy().into_owned();
                    let part0 = read(&dir.join("part-00000"));
                    let part1 = read(&dir.join("part-00001"));
                    assert_eq!(part0, format!("{version} part0\n"));
                    assert_eq!(part1, format!("{version} part1\n"));
                    // Reading through the link works at every moment too.
                    let through_link = read(&out.join("part-00000"));
                    assert!(through_link.ends_with(" part0\n"), "{through_link:?}");
                    reads += 1;
                    if stop.load(Ordering::Relaxed) || reads >= 200_000 {
                        break reads;
                    }
                }
            });
            for round in 0..40 {
                publish(&ds);
                if round % 3 == 0 {
                    ds.rollback(None).unwrap();
                }
                if round % 7 == 0 {
                    ds.rollback(Some(VersionId(1))).unwrap();
                }
            }
            stop.store(true, Ordering::Relaxed);
            reader.join().unwrap()
        });
        assert!(reads > 0);
        // The last round published v000041 and rolled back from it.
        assert_eq!(ds.current().unwrap(), Some(VersionId(40)));
    }

    #[test]
    fn a_held_guard_makes_a_second_one_busy_until_it_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = Dataset::open_or_create(&out, false).unwrap();
        {
            let guard = ds.lock().unwrap();
            guard.publish(&stage(&ds, &["v1\n"])).unwrap();
            guard.publish(&stage(&ds, &["v2\n"])).unwrap();
        }

        // As a running job holds it; `sandmill rollback` then fails at once.
        let job = Dataset::open(&out).unwrap().lock().unwrap();
        let err = Dataset::open(&out).unwrap().lock().unwrap_err();
        assert!(matches!(err, DatasetError::Busy { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(&out.display().to_string()), "{message}");
        assert!(message.contains("another sandmill run"), "{message}");
        assert!(message.contains("wait for that run to finish"), "{message}");
        assert_eq!(ds.current().unwrap(), Some(VersionId(2)));
        assert_eq!(read(&out.join("part-00000")), "v2\n");

        drop(job);
        let guard = ds.lock().unwrap();
        assert_eq!(guard.rollback(None).unwrap(), VersionId(1));
        assert_eq!(read(&out.join("part-00000")), "v1\n");
    }

    #[test]
    fn retention_keeps_the_version_a_rollback_made_current() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = Dataset::open_or_create(&out, false).unwrap();
        for text in ["v1\n", "v2\n", "v3\n"] {
            ds.lock().unwrap().publish(&stage(&ds, &[text])).unwrap();
        }
        // A rollback between two jobs, then the next job publishes and keeps 2.
        ds.lock().unwrap().rollback(Some(VersionId(1))).unwrap();
        let guard = ds.lock().unwrap();
        assert_eq!(guard.retain(2).unwrap(), [VersionId(2)]);
        assert_eq!(read(&out.join("part-00000")), "v1\n");
        assert_eq!(names(&ds.versions_dir()), ["v000001", "v000003"]);
    }

    /// Whether the link points at a version without `_SUCCESS`, and still does when looked at
    /// again (a version stops being current before retention deletes it, so a link caught
    /// moving on is not dangling).
    fn dangling(out: &Path) -> Option<PathBuf> {
        let target = fs::read_link(out).ok()?;
        let dir = out.parent().unwrap().join(&target);
        let dangling = !dir.join(SUCCESS).is_file() && fs::read_link(out).ok()? == target;
        dangling.then_some(dir)
    }

    /// Sets its flag when dropped, also when the thread unwinds.
    struct StopOnDrop<'a>(&'a AtomicBool);

    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn rollbacks_racing_publish_and_retention_never_leave_the_link_dangling() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let ds = Dataset::open_or_create(&out, false).unwrap();
        ds.lock().unwrap().publish(&stage(&ds, &["v1\n"])).unwrap();

        let stop = AtomicBool::new(false);
        let (started, done) = (AtomicU64::new(0), AtomicU64::new(0));
        let (rollbacks, busy) = std::thread::scope(|s| {
            // Rolls back to the oldest version, the one retention deletes next.
            let roller = s.spawn(|| {
                let (mut rollbacks, mut busy) = (0u32, 0u32);
                while !stop.load(Ordering::SeqCst) {
                    started.fetch_add(1, Ordering::SeqCst);
                    match ds.lock() {
                        Ok(guard) => {
                            if let Some(&oldest) = guard.published_ids().unwrap().first() {
                                guard.rollback(Some(oldest)).unwrap();
                                rollbacks += 1;
                            }
                        }
                        Err(DatasetError::Busy { .. }) => busy += 1,
                        Err(e) => panic!("{e}"),
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
                (rollbacks, busy)
            });
            let checker = s.spawn(|| {
                let mut checks = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    assert_eq!(dangling(&out), None, "after {checks} checks");
                    checks += 1;
                }
            });
            // Should this thread panic, the others stop too (and the scope ends).
            let stopper = StopOnDrop(&stop);
            for round in 0..60 {
                let staged = stage(&ds, &[&format!("round {round}\n")]);
                let guard = loop {
                    match ds.lock() {
                        Ok(guard) => break guard,
                        Err(DatasetError::Busy { .. }) => std::thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                };
                guard.publish(&staged).unwrap();
                guard.retain(2).unwrap();
                assert_eq!(dangling(&out), None, "round {round}");
                drop(guard);
                // Let one rollback through, started after the guard was dropped.
                let after = started.load(Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while done.load(Ordering::SeqCst) <= after {
                    assert!(Instant::now() < deadline, "the rollback thread is stuck");
                    std::thread::yield_now();
                }
            }
            drop(stopper);
            checker.join().unwrap();
            roller.join().unwrap()
        });
        assert!(rollbacks >= 60, "{rollbacks} rollbacks, {busy} busy");
        let current = ds.current().unwrap().unwrap();
        assert!(ds.version_dir(current).join(SUCCESS).is_file());
        assert_eq!(ds.versions().unwrap().len(), 2);
    }
}
