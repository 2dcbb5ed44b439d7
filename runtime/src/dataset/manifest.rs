//! `_MANIFEST.json`: what a version holds and how it was made, and checking a version
//! against it. Filling in a manifest (counting records, knowing the plugin and parameters)
//! is left to the job's commit code; the `from_file` constructors do the hashing.

use super::{DatasetError, SUCCESS, io_error, sync_dir, unique_suffix};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

/// A version's `_MANIFEST.json`.
///
/// It holds no timestamps or host names, so a rerun of the same job writes the same bytes
/// (when a version was published is recorded beside it, in the dataset home's `published/`).
/// List `files` and `inputs` in a stable order (sorted by path) to keep it that way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The Sandmill version that ran the job.
    pub sandmill_version: String,
    /// The wasmtime version that ran the plugin.
    pub wasmtime_version: String,
    /// A digest of the job run that made the version: of everything that decides the bytes
    /// it publishes (the plugin's SHA-256, parameters, inputs by fingerprint, and the settings
    /// `JobPlan::job_digest` lists). A run whose digest equals the current version's
    /// would publish the same bytes again, so it publishes nothing unless forced. Empty in
    /// manifests written before it was recorded, which then match no run.
    #[serde(default)]
    pub job_digest: String,
    /// The plugin that was run.
    pub plugin: PluginDigest,
    /// The job's `--param key=value` pairs, in the order given.
    pub params: Vec<(String, String)>,
    /// The input format (`lines`, `jsonl`, `csv`).
    pub format: String,
    /// The number of reduce partitions.
    pub reducers: u32,
    /// The input files read.
    pub inputs: Vec<InputFingerprint>,
    /// The version's data files: every file in it but `_SUCCESS` and `_MANIFEST.json`.
    pub files: Vec<OutputFile>,
    /// The quality gates the output was checked against before publishing, and what each
    /// found. Left out of the JSON when the job declared none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckOutcome>,
    /// True in the manifest of an attempt a failed check kept from being published (kept in
    /// the dataset home's `rejected/`, never in `versions/`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
    /// `--partitioner range`: the cut points between partitions (each key as its text, or
    /// `hex:` and its bytes); absent for hashed partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_cuts: Option<Vec<String>>,
    /// The part files' format if they are not lines: `parquet` (`--output-format`). Left out
    /// of the JSON for lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// The schema of Parquet part files (`--output-schema`, as `name:type[?],…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<String>,
}

/// What one quality gate (`gate::Check`) found in a version's output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckOutcome {
    /// The check, as it displays (`records 10..1000`).
    pub check: String,
    /// Whether the output passed it.
    pub passed: bool,
    /// What was measured and, for a failure, by how much it missed.
    pub detail: String,
}

/// Identifies the plugin a version was made with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginDigest {
    /// The plugin's path as given to `sandmill run`.
    pub path: String,
    /// The hex SHA-256 of the `.wasm` file.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Identifies one input file as it was when the job read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFingerprint {
    /// The file's path as resolved from `--input`.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its modification time, in nanoseconds since the Unix epoch. With the size, this is how
    /// the job tells whether an input changed (as Hadoop and Spark do); hashing every input
    /// would read all of it a second time.
    pub modified_ns: u128,
    /// The output partitions of the version (`date=2026-03-22`, sorted) made from this input,
    /// when the version holds partitions made by different runs (`--overwrite-partitions`
    /// carried some over from the version before). Empty (and left out of the JSON) when the
    /// input went into the whole version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
}

/// One data file of a version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputFile {
    /// Its path relative to the version directory, `/`-separated (`date=2026-03-22/part-00000`).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The number of records (lines) in it.
    pub records: u64,
    /// Its hex SHA-256.
    pub sha256: String,
}

/// Hashes a file in pieces. Returns the hex SHA-256 and the number of bytes read.
fn digest(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                bytes += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, bytes))
}

/// The hex SHA-256 of a file, read in pieces rather than whole.
///
/// # Errors
/// If the file cannot be opened or read.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    digest(path).map(|(hex, _)| hex)
}

/// The hex SHA-256 of a file and its length.
///
/// # Errors
/// If the file cannot be opened or read.
pub fn sha256_file_len(path: &Path) -> io::Result<(String, u64)> {
    digest(path)
}

impl PluginDigest {
    /// The first 12 characters of [`sha256`](Self::sha256), enough to tell plugins apart in a
    /// listing. Cut at a character, not a byte: an edited manifest may hold any string.
    pub fn short_sha256(&self) -> &str {
        match self.sha256.char_indices().nth(12) {
            Some((end, _)) => &self.sha256[..end],
            None => &self.sha256,
        }
    }

    /// Hashes the plugin at `path`.
    ///
    /// # Errors
    /// If the file cannot be read.
    pub fn from_file(path: &Path) -> io::Result<PluginDigest> {
        let (sha256, bytes) = digest(path)?;
        Ok(PluginDigest {
            path: path.to_string_lossy().into_owned(),
            sha256,
            bytes,
        })
    }
}

impl InputFingerprint {
    /// Fingerprints the input file at `path` by its size and modification time.
    ///
    /// # Errors
    /// If the file's metadata cannot be read.
    pub fn from_file(path: &Path) -> io::Result<InputFingerprint> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(InputFingerprint {
            path: path.to_string_lossy().into_owned(),
            bytes: meta.len(),
            modified_ns,
            partitions: Vec::new(),
        })
    }
}

impl OutputFile {
    /// Describes the file `relative` (`/`-separated) in the version directory `dir`, which
    /// holds `records` records.
    ///
    /// # Errors
    /// If the file cannot be read, or `relative` is not a plain relative path.
    pub fn from_file(dir: &Path, relative: &str, records: u64) -> io::Result<OutputFile> {
        let path = join_relative(dir, relative).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{relative:?} is not a plain relative path"),
            )
        })?;
        let (sha256, bytes) = digest(&path)?;
        Ok(OutputFile {
            path: relative.into(),
            bytes,
            records,
            sha256,
        })
    }
}

impl Manifest {
    /// The manifest's file name in a version directory.
    pub const FILE: &'static str = "_MANIFEST.json";

    /// Writes the manifest into `dir` as pretty JSON with a trailing newline: to a temporary
    /// name first, synced, then renamed, so a reader never sees half a manifest; then `dir`
    /// is synced, so the manifest's name is as durable as its contents.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if the file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<(), DatasetError> {
        let path = dir.join(Self::FILE);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| DatasetError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        json.push(b'\n');
        let tmp = dir.join(format!("{}.tmp-{}", Self::FILE, unique_suffix()));
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error(&path)(e)
        })?;
        sync_dir(dir);
        Ok(())
    }

    /// Reads the manifest in `dir`.
    ///
    /// # Errors
    /// [`DatasetError::Io`] if it cannot be read (its `source` has kind `NotFound` if there
    /// is none); [`DatasetError::Manifest`] if it is not a valid manifest.
    pub fn read(dir: &Path) -> Result<Manifest, DatasetError> {
        let path = dir.join(Self::FILE);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::Manifest {
            path,
            message: e.to_string(),
        })
    }
}

/// `dir` joined with a `/`-separated relative path, or `None` if that path is empty,
/// absolute, or has `.`, `..` or empty segments: a manifest names only files inside its
/// version.
fn join_relative(dir: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for segment in relative.split('/') {
        let mut parts = Path::new(segment).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(part)), None) if part == segment => path.push(part),
            _ => return None,
        }
    }
    Some(path)
}

/// Every entry of a version directory that is not a directory, recursively, with its
/// `/`-separated relative path and its own (not followed) metadata, sorted by path. The
/// top-level `_SUCCESS` and `_MANIFEST.json` are left out.
pub(super) fn data_entries(dir: &Path) -> Result<Vec<(String, fs::Metadata)>, DatasetError> {
    fn walk(
        dir: &Path,
        prefix: &str,
        out: &mut Vec<(String, fs::Metadata)>,
    ) -> Result<(), DatasetError> {
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && (name == SUCCESS || name == Manifest::FILE) {
                continue;
            }
            let relative = format!("{prefix}{name}");
            let meta = entry.metadata().map_err(io_error(&entry.path()))?;
            if meta.is_dir() {
                walk(&entry.path(), &format!("{relative}/"), out)?;
            } else {
                out.push((relative, meta));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Checks a version directory against its manifest: every listed file exists with the
/// listed size and checksum, no unlisted data file exists (`_SUCCESS` and
/// `_MANIFEST.json` aside), and `_SUCCESS` is there. Returns the problems found, one
/// sentence each; empty if the version verifies. Record counts are not checked.
///
/// # Errors
/// If the manifest cannot be read or parsed, or the directory cannot be listed.
pub fn verify_version(dir: &Path) -> Result<Vec<String>, DatasetError> {
    let manifest = Manifest::read(dir)?;
    let mut problems = Vec::new();
    if !dir.join(SUCCESS).is_file() {
        problems.push(format!("{SUCCESS} is missing"));
    }
    let mut listed = BTreeSet::new();
    for file in &manifest.files {
        let name = &file.path;
        let Some(path) = join_relative(dir, name) else {
            problems.push(format!(
                "{name:?} is listed but is not a plain relative path inside the version"
            ));
            continue;
        };
        if !listed.insert(name.as_str()) {
            problems.push(format!("{name} is listed twice"));
            continue;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{name} is missing"));
                continue;
            }
            Err(e) => {
                problems.push(format!("{name} cannot be read: {e}"));
                continue;
            }
        };
        if !meta.is_file() {
            problems.push(format!("{name} is not a regular file"));
        } else if meta.len() != file.bytes {
            problems.push(format!(
                "{name} has {} bytes; the manifest says {}",
                meta.len(),
                file.bytes
            ));
        } else {
            match sha256_file(&path) {
                Ok(sha256) if sha256.eq_ignore_ascii_case(&file.sha256) => {}
                Ok(sha256) => problems.push(format!(
                    "{name} has SHA-256 {sha256}; the manifest says {}",
                    file.sha256
                )),
                Err(e) => problems.push(format!("{name} cannot be read: {e}")),
            }
        }
    }
    for (name, _) in data_entries(dir)? {
        if !listed.contains(name.as_str()) {
            problems.push(format!("{name} is not listed in the manifest"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version directory with two data files (one in a subdirectory), its manifest and
    /// `_SUCCESS`.
    fn version(dir: &Path) -> Manifest {
        fs::create_dir_all(dir.join("date=2026-03-22")).unwrap();
        fs::write(dir.join("part-00000"), "a\t1\nb\t2\n").unwrap();
        fs::write(dir.join("date=2026-03-22/part-00001"), "c\t3\n").unwrap();
        let plugin = dir.join("../job.wasm");
        fs::write(&plugin, b"\0asm").unwrap();
        let manifest = Manifest {
            sandmill_version: "0.1.0".into(),
            wasmtime_version: "48.0.8".into(),
            job_digest: "0123abcd".into(),
            plugin: PluginDigest::from_file(&plugin).unwrap(),
            params: vec![("min".into(), "2".into()), ("lang".into(), "en".into())],
            format: "lines".into(),
            reducers: 2,
            inputs: vec![InputFingerprint::from_file(&plugin).unwrap()],
            files: vec![
                OutputFile::from_file(dir, "date=2026-03-22/part-00001", 1).unwrap(),
                OutputFile::from_file(dir, "part-00000", 2).unwrap(),
            ],
            checks: Vec::new(),
            rejected: false,
            range_cuts: None,
            output_format: None,
            output_schema: None,
        };
        manifest.write(dir).unwrap();
        fs::write(dir.join(SUCCESS), "").unwrap();
        manifest
    }

    #[test]
    fn sha256_of_known_strings() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        for (content, want) in [
            (
                &b""[..],
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ] {
            fs::write(&path, content).unwrap();
            assert_eq!(sha256_file(&path).unwrap(), want);
        }
        // Larger than one read buffer: the pieces add up to the whole.
        let big = vec![7u8; 200_000];
        fs::write(&path, &big).unwrap();
        let (hex, bytes) = digest(&path).unwrap();
        assert_eq!(bytes, 200_000);
        let whole: String = Sha256::digest(&big)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, whole);
    }

    #[test]
    fn manifest_round_trips_and_is_deterministic() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        let manifest = version(&dir);
        assert_eq!(Manifest::read(&dir).unwrap(), manifest);
        let first = fs::read(dir.join(Manifest::FILE)).unwrap();
        assert!(first.ends_with(b"}\n"));
        manifest.write(&dir).unwrap();
        assert_eq!(fs::read(dir.join(Manifest::FILE)).unwrap(), first);
        assert_eq!(manifest.files[1].bytes, 8);
        assert_eq!(manifest.plugin.bytes, 4);

        fs::write(dir.join(Manifest::FILE), "{\"sandmill_version\": 1}").unwrap();
        let err = Manifest::read(&dir).unwrap_err();
        assert!(matches!(err, DatasetError::Manifest { .. }), "{err}");
        let err = Manifest::read(tmp.path()).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }), "{err}");
    }

    #[test]
    fn older_manifests_read_and_plain_inputs_list_no_partitions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        let mut manifest = version(&dir);
        let json = fs::read_to_string(dir.join(Manifest::FILE)).unwrap();
        assert!(json.contains("\"job_digest\": \"0123abcd\""), "{json}");
        // An input that went into the whole version says nothing of partitions, so a plain
        // job's manifest is what it was before partitions were listed.
        assert!(!json.contains("partitions"), "{json}");

        // Written before the job digest was: it reads, with a digest no run has.
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value.as_object_mut().unwrap().remove("job_digest");
        fs::write(dir.join(Manifest::FILE), value.to_string()).unwrap();
        assert_eq!(Manifest::read(&dir).unwrap().job_digest, "");

        manifest.inputs[0].partitions = vec!["date=2026-03-22".into()];
        manifest.write(&dir).unwrap();
        let json = fs::read_to_string(dir.join(Manifest::FILE)).unwrap();
        assert!(
            json.contains("\"partitions\": [\n        \"date=2026-03-22\""),
            "{json}"
        );
        assert_eq!(Manifest::read(&dir).unwrap(), manifest);
    }

    #[test]
    fn verify_finds_changed_missing_and_extra_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        version(&dir);
        assert_eq!(verify_version(&dir).unwrap(), Vec::<String>::new());

        // One byte changed, same size.
        fs::write(dir.join("part-00000"), "a\t1\nb\t3\n").unwrap();
        let problems = verify_version(&dir).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("part-00000 has SHA-256"),
            "{problems:?}"
        );

        fs::write(dir.join("part-00000"), "a\t1\n").unwrap();
        let problems = verify_version(&dir).unwrap();
        assert_eq!(
            problems,
            ["part-00000 has 4 bytes; the manifest says 8"],
            "{problems:?}"
        );

        fs::remove_file(dir.join("date=2026-03-22/part-00001")).unwrap();
        fs::write(dir.join("date=2026-03-22/part-00002"), "extra\n").unwrap();
        fs::remove_file(dir.join(SUCCESS)).unwrap();
        let problems = verify_version(&dir).unwrap();
        assert_eq!(
            problems,
            [
                "_SUCCESS is missing",
                "date=2026-03-22/part-00001 is missing",
                "part-00000 has 4 bytes; the manifest says 8",
                "date=2026-03-22/part-00002 is not listed in the manifest",
            ]
        );
    }

    #[test]
    fn the_short_digest_is_cut_at_a_character() {
        let digest = |sha256: &str| PluginDigest {
            path: "job.wasm".into(),
            sha256: sha256.into(),
            bytes: 0,
        };
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest(hex).short_sha256(), "ba7816bf8f01");
        assert_eq!(digest("ab").short_sha256(), "ab");
        assert_eq!(digest("").short_sha256(), "");
        // Byte 12 falls inside a character: `&sha256[..12]` would panic here.
        assert_eq!(digest("0123456789aé-tail").short_sha256(), "0123456789aé");
        assert_eq!(digest("ééééééééééééé").short_sha256(), "éééééééééééé");
        assert_eq!(digest("🦀🦀🦀").short_sha256(), "🦀🦀🦀");
    }

    #[test]
    fn manifest_paths_must_stay_inside_the_version() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        let mut manifest = version(&dir);
        for bad in ["../job.wasm", "/etc/passwd", "a//b", "./part-00000", ""] {
            assert_eq!(join_relative(&dir, bad), None, "{bad:?}");
            assert!(OutputFile::from_file(&dir, bad, 0).is_err(), "{bad:?}");
        }
        manifest.files.push(OutputFile {
            path: "../job.wasm".into(),
            bytes: 4,
            records: 0,
            sha256: String::new(),
        });
        manifest.write(&dir).unwrap();
        let problems = verify_version(&dir).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("not a plain relative path"),
            "{problems:?}"
        );
    }
}
