//! A dataset on object storage. Object stores have no links and no atomic renames, so the
//! switch between versions is an append-only log, as Delta Lake and Iceberg commit:
//!
//! ```text
//! s3://bucket/datasets/counts/
//!   _log/00000000000000000001.json    entry 1: publish version 1 (its manifest, its files)
//!   _log/00000000000000000002.json    entry 2: publish version 2
//!   _log/00000000000000000003.json    entry 3: roll back to version 1
//!   data/<job run>/<task>/<attempt>/part-00000    the files the entries name
//! ```
//!
//! Each entry is written once, with a conditional put (`If-None-Match: *`) of the next number:
//! of two writers appending at the same time one wins, and the other fails without having
//! changed anything ([`DatasetError::Conflict`]). The last entry is the current version; it
//! holds that version's whole manifest and the key of every file, so a reader reads one entry
//! and then only files that were complete before the entry existed: no reader sees a mix of
//! versions. A rollback is an entry too (a copy of the earlier version's entry), so the log
//! is also the dataset's history.

use super::ObjectUrl;
use crate::dataset::{DatasetError, Manifest, VersionId};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The log's prefix below the dataset.
const LOG: &str = "_log";

/// What an entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A job published a new version.
    Publish,
    /// `sandmill rollback` made an earlier version current again.
    Rollback,
}

/// One entry of the log: the version current from then on, whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Its number, from 1.
    pub seq: u64,
    /// What made it.
    pub action: Action,
    /// The version current from this entry on.
    pub version: VersionId,
    /// When it was written, UTC, RFC 3339 to the second.
    pub created: String,
    /// The version's manifest.
    pub manifest: Manifest,
    /// Each file of the manifest (by its path in the version) and its key relative to the
    /// dataset.
    pub keys: BTreeMap<String, String>,
}

/// One version, as [`ObjectDataset::versions`] lists it.
#[derive(Debug, Clone)]
pub struct Version {
    /// The entry that published it.
    pub entry: Entry,
    /// Whether it is current.
    pub current: bool,
}

/// A dataset at an `s3://` URL.
#[derive(Debug, Clone)]
pub struct ObjectDataset {
    root: ObjectUrl,
}

/// Now, as an entry records it.
fn now() -> String {
    crate::dataset::rfc3339(std::time::SystemTime::now())
}

fn entry_name(seq: u64) -> String {
    format!("{LOG}/{seq:020}.json")
}

impl ObjectDataset {
    /// The dataset at `url` (which need not exist yet).
    ///
    /// # Errors
    /// If `url` is not an `s3://` URL naming a key below a bucket.
    pub fn new(url: &Path) -> Result<ObjectDataset, DatasetError> {
        let root = ObjectUrl::parse(url).map_err(|source| DatasetError::Io {
            path: url.into(),
            source,
        })?;
        if root.key().is_empty() {
            return Err(DatasetError::InvalidOutput { path: url.into() });
        }
        Ok(ObjectDataset { root })
    }

    /// The dataset's URL.
    pub fn url(&self) -> &ObjectUrl {
        &self.root
    }

    /// The dataset's URL as a path.
    pub fn path(&self) -> PathBuf {
        self.root.to_path()
    }

    fn io(&self, what: &ObjectUrl) -> impl FnOnce(io::Error) -> DatasetError {
        let path = what.to_path();
        move |source| DatasetError::Io { path, source }
    }

    /// Every entry of the log, in order.
    ///
    /// # Errors
    /// If the log cannot be listed or an entry read.
    pub fn entries(&self) -> Result<Vec<Entry>, DatasetError> {
        let log = self.root.join(LOG);
        let mut entries = Vec::new();
        for object in super::list(&log).map_err(self.io(&log))? {
            if !object.url.name().ends_with(".json") {
                continue;
            }
            entries.push(self.read(&object.url)?);
        }
        Ok(entries)
    }

    fn read(&self, url: &ObjectUrl) -> Result<Entry, DatasetError> {
        let bytes = super::get(url).map_err(self.io(url))?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::Manifest {
            path: url.to_path(),
            message: format!("not a version log entry: {e}"),
        })
    }

    /// Whether any version was ever published.
    ///
    /// # Errors
    /// If the log cannot be listed.
    pub fn exists(&self) -> Result<bool, DatasetError> {
        let log = self.root.join(LOG);
        Ok(!super::list(&log).map_err(self.io(&log))?.is_empty())
    }

    /// Whether the prefix holds objects no Sandmill dataset has (at its top level, anything
    /// but `_log/`, `_work/`, `_plugins/` and `data/`), while no version was ever published:
    /// something else lives there.
    ///
    /// # Errors
    /// If it cannot be listed.
    pub fn is_foreign(&self) -> Result<bool, DatasetError> {
        if self.exists()? {
            return Ok(false);
        }
        let names = super::list_top(&self.root).map_err(self.io(&self.root))?;
        Ok(names
            .iter()
            .any(|n| !["_log/", "_work/", "_plugins/", "data/"].contains(&n.as_str())))
    }

    /// The current version's entry: the last one.
    ///
    /// # Errors
    /// If the log cannot be read.
    pub fn current(&self) -> Result<Option<Entry>, DatasetError> {
        Ok(self.entries()?.pop())
    }

    /// Every published version, oldest first, with the one current marked.
    ///
    /// # Errors
    /// If the log cannot be read.
    pub fn versions(&self) -> Result<Vec<Version>, DatasetError> {
        let entries = self.entries()?;
        let current = entries.last().map(|e| e.version);
        Ok(entries
            .into_iter()
            .filter(|e| e.action == Action::Publish)
            .map(|entry| Version {
                current: Some(entry.version) == current,
                entry,
            })
            .collect())
    }

    /// Appends `entry` as number `seq`, if no other writer took that number first.
    fn append(&self, entry: &Entry) -> Result<(), DatasetError> {
        let url = self.root.join(&entry_name(entry.seq));
        let json = serde_json::to_vec_pretty(entry).expect("a log entry is JSON");
        match super::create(&url, Bytes::from(json)).map_err(self.io(&url))? {
            true => Ok(()),
            false => Err(DatasetError::Conflict {
                dataset: self.path(),
                seq: entry.seq,
            }),
        }
    }

    /// Publishes a new version with `manifest`, whose files are at `keys` (relative to the
    /// dataset), all written already. Returns the new version's id.
    ///
    /// # Errors
    /// [`DatasetError::Conflict`] if another writer appended first; I/O errors of the store.
    pub fn publish(
        &self,
        manifest: Manifest,
        keys: BTreeMap<String, String>,
    ) -> Result<VersionId, DatasetError> {
        let entries = self.entries()?;
        let version = match entries.iter().map(|e| e.version).max() {
            None => VersionId::FIRST,
            Some(last) => last.next().ok_or_else(|| DatasetError::Io {
                path: self.path(),
                source: io::Error::other("every version id is used; publish to a new dataset"),
            })?,
        };
        let entry = Entry {
            seq: entries.last().map_or(1, |e| e.seq + 1),
            action: Action::Publish,
            version,
            created: now(),
            manifest,
            keys,
        };
        self.append(&entry)?;
        Ok(version)
    }

    /// Makes version `to` current again, or with `None` the version current before the
    /// current one (as on disk). Returns the version now current.
    ///
    /// # Errors
    /// [`DatasetError::NoSuchVersion`], [`DatasetError::NothingToRollBack`],
    /// [`DatasetError::NotFound`] for a dataset never published, a conflict or I/O errors.
    pub fn rollback(&self, to: Option<VersionId>) -> Result<VersionId, DatasetError> {
        let entries = self.entries()?;
        let Some(current) = entries.last() else {
            return Err(DatasetError::NotFound { path: self.path() });
        };
        let published = |id: VersionId| {
            entries
                .iter()
                .find(|e| e.action == Action::Publish && e.version == id)
        };
        let target = match to {
            Some(id) => published(id).ok_or_else(|| DatasetError::NoSuchVersion {
                dataset: self.path(),
                version: id,
            })?,
            // The version of the last entry before the current version became current.
            None => entries
                .iter()
                .rev()
                .skip_while(|e| e.version == current.version)
                .find_map(|e| published(e.version))
                .ok_or_else(|| DatasetError::NothingToRollBack {
                    dataset: self.path(),
                })?,
        };
        if target.version == current.version {
            return Ok(current.version);
        }
        let entry = Entry {
            seq: current.seq + 1,
            action: Action::Rollback,
            created: now(),
            ..target.clone()
        };
        self.append(&entry)?;
        Ok(entry.version)
    }

    /// The entry of version `version`, or of the current version.
    ///
    /// # Errors
    /// [`DatasetError::NoSuchVersion`] or [`DatasetError::NotFound`]; I/O errors.
    pub fn version(&self, version: Option<VersionId>) -> Result<Entry, DatasetError> {
        let entries = self.entries()?;
        let found = match version {
            None => entries.last(),
            Some(id) => entries
                .iter()
                .find(|e| e.action == Action::Publish && e.version == id),
        };
        match (found, version) {
            (Some(entry), _) => Ok(entry.clone()),
            (None, None) => Err(DatasetError::NotFound { path: self.path() }),
            (None, Some(id)) => Err(DatasetError::NoSuchVersion {
                dataset: self.path(),
                version: id,
            }),
        }
    }

    /// Downloads version `version` (or the current one) into the directory `to` (created if
    /// missing): its files at their paths, and its `_MANIFEST.json`. Each file is written
    /// under a temporary name, checked against the manifest's size and SHA-256, and renamed
    /// into place; other files in `to` are left alone. Returns the entry.
    ///
    /// # Errors
    /// No such version, a file that does not match its manifest, or I/O errors.
    pub fn download(&self, version: Option<VersionId>, to: &Path) -> Result<Entry, DatasetError> {
        let entry = self.version(version)?;
        let local = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DatasetError::Io { path, source }
        };
        for file in &entry.manifest.files {
            let key = entry
                .keys
                .get(&file.path)
                .ok_or_else(|| DatasetError::Manifest {
                    path: self.root.join(&entry_name(entry.seq)).to_path(),
                    message: format!("no key for {}", file.path),
                })?;
            let plain = Path::new(&file.path)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(DatasetError::Manifest {
                    path: self.root.join(&entry_name(entry.seq)).to_path(),
                    message: format!("{:?} is not a relative path inside the version", file.path),
                });
            }
            let target = to.join(&file.path);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(local(dir))?;
            }
            let url = self.root.join(key);
            let tmp = target.with_file_name(format!(
                ".{}.sandmill-tmp",
                target
                    .file_name()
                    .map_or_else(Default::default, |n| n.to_string_lossy())
            ));
            super::download(&url, None, &tmp).map_err(self.io(&url))?;
            let (sha256, bytes) = crate::dataset::sha256_file_len(&tmp).map_err(local(&tmp))?;
            if sha256 == file.sha256 && bytes == file.bytes {
                std::fs::rename(&tmp, &target).map_err(local(&target))?;
            } else {
                let _ = std::fs::remove_file(&tmp);
                return Err(DatasetError::Manifest {
                    path: url.to_path(),
                    message: format!(
                        "the object ({bytes} bytes, sha256 {sha256}) is not the file the \
                         manifest lists ({} bytes, sha256 {}): it was changed after it was \
                         published",
                        file.bytes, file.sha256
                    ),
                });
            }
        }
        std::fs::create_dir_all(to).map_err(local(to))?;
        entry.manifest.write(to)?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::OutputFile;
    use crate::object::{put, testing};

    fn manifest(files: &[(&str, &[u8])]) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "sandmill_version": "0", "wasmtime_version": "0", "job_digest": "d",
            "plugin": {"path": "p.wasm", "sha256": "0", "bytes": 0},
            "params": [], "format": "Lines", "reducers": 1, "inputs": [], "files": []
        }))
        .unwrap();
        for (path, bytes) in files {
            use sha2::Digest as _;
            m.files.push(OutputFile {
                path: (*path).to_owned(),
                bytes: bytes.len() as u64,
                records: 1,
                sha256: format!("{:x}", sha2::Sha256::digest(bytes)),
            });
        }
        m
    }

    /// Writes `files` under `data/<tag>/` and publishes them.
    fn publish(
        ds: &ObjectDataset,
        tag: &str,
        files: &[(&str, &[u8])],
    ) -> Result<VersionId, DatasetError> {
        let mut keys = BTreeMap::new();
        for (path, bytes) in files {
            let key = format!("data/{tag}/{path}");
            put(&ds.url().join(&key), Bytes::copy_from_slice(bytes)).unwrap();
            keys.insert((*path).to_owned(), key);
        }
        ds.publish(manifest(files), keys)
    }

    fn read_version(ds: &ObjectDataset, v: Option<VersionId>) -> BTreeMap<String, Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("got");
        ds.download(v, &to).unwrap();
        let mut out = BTreeMap::new();
        for entry in std::fs::read_dir(&to).unwrap() {
            let entry = entry.unwrap();
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            );
        }
        out
    }

    #[test]
    fn versions_publish_roll_back_and_download_byte_for_byte() {
        let ds = ObjectDataset::new(&testing::bucket().join("ds/counts").to_path()).unwrap();
        assert!(!ds.exists().unwrap());
        assert!(!ds.is_foreign().unwrap());
        put(&ds.url().join("_work/x/commit/map-0.json"), Bytes::new()).unwrap();
        assert!(
            !ds.is_foreign().unwrap(),
            "the work of a run that never published"
        );
        put(&ds.url().join("report.csv"), Bytes::new()).unwrap();
        assert!(ds.is_foreign().unwrap());
        assert!(matches!(
            ds.rollback(None),
            Err(DatasetError::NotFound { .. })
        ));
        let v1 = publish(&ds, "a", &[("part-00000", b"one\n")]).unwrap();
        assert!(
            !ds.is_foreign().unwrap(),
            "a dataset, whatever else is in it"
        );
        let v2 = publish(
            &ds,
            "b",
            &[("part-00000", b"two\n"), ("part-00001", b"2\n")],
        )
        .unwrap();
        assert_eq!((v1, v2), (VersionId(1), VersionId(2)));
        assert_eq!(read_version(&ds, None)["part-00001"], b"2\n");
        assert!(matches!(
            ds.rollback(Some(VersionId(9))),
            Err(DatasetError::NoSuchVersion { .. })
        ));
        assert_eq!(ds.rollback(None).unwrap(), v1);
        let now = read_version(&ds, None);
        assert_eq!(now["part-00000"], b"one\n");
        assert!(!now.contains_key("part-00001"));
        assert!(now.contains_key(Manifest::FILE));
        // Back again: the version current before.
        assert_eq!(ds.rollback(None).unwrap(), v2);
        assert_eq!(ds.rollback(Some(v2)).unwrap(), v2);
        let versions = ds.versions().unwrap();
        let listed: Vec<_> = versions
            .iter()
            .map(|v| (v.entry.version, v.current))
            .collect();
        assert_eq!(listed, [(v1, false), (v2, true)]);
        assert_eq!(ds.entries().unwrap().len(), 4);
        // A version published after a rollback gets a new id.
        assert_eq!(
            publish(&ds, "c", &[("part-00000", b"3\n")]).unwrap(),
            VersionId(3)
        );
        assert_eq!(read_version(&ds, Some(v1))["part-00000"], b"one\n");
    }

    #[test]
    fn a_second_writer_of_the_same_entry_conflicts_and_changes_nothing() {
        let ds = ObjectDataset::new(&testing::bucket().join("ds").to_path()).unwrap();
        publish(&ds, "a", &[("part-00000", b"a")]).unwrap();
        let entry = ds.current().unwrap().unwrap();
        // Another writer read the same log and appends entry 2 first.
        let mut other = entry.clone();
        other.seq = 2;
        ds.append(&other).unwrap();
        let mut late = entry;
        late.seq = 2;
        late.version = VersionId(7);
        assert!(matches!(
            ds.append(&late),
            Err(DatasetError::Conflict { seq: 2, .. })
        ));
        assert_eq!(ds.current().unwrap().unwrap().version, VersionId(1));
    }

    #[test]
    fn a_changed_object_is_refused_on_download() {
        let ds = ObjectDataset::new(&testing::bucket().join("ds").to_path()).unwrap();
        publish(&ds, "a", &[("part-00000", b"good")]).unwrap();
        put(
            &ds.url().join("data/a/part-00000"),
            Bytes::from_static(b"evil"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = ds.download(None, &dir.path().join("x")).unwrap_err();
        assert!(err.to_string().contains("manifest"), "{err}");
    }
}
