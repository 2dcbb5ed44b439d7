//! Turning `--input` arguments (files, directories, glob patterns) into a sorted list of
//! [`InputFile`]s. Cutting them into splits is left to the `split` module.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::InputError;

/// How an input file is compressed, decided by its name when the job is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compression {
    /// Read as is; can be cut into several splits.
    None,
    /// gzip (a `.gz` name), possibly several members concatenated. Never cut: one split reads
    /// the whole file.
    Gzip,
}

impl Compression {
    /// `Gzip` for a name ending in `.gz` (any case), otherwise `None`.
    pub fn from_path(path: &Path) -> Compression {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("gz") => Compression::Gzip,
            _ => Compression::None,
        }
    }
}

/// One input file, as found when the job was planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// The path, as resolved from the `--input` arguments (not canonicalised).
    pub path: PathBuf,
    /// Size in bytes when planned (compressed size for gzip).
    pub len: u64,
    /// How the file is compressed, from its name.
    pub compression: Compression,
    /// Its modification time when planned, in nanoseconds since the Unix epoch (0 if the
    /// file system does not say). With `len`, what tells whether it changed since.
    pub modified_ns: u128,
}

impl InputFile {
    /// Describes the file at `path` from its metadata, following symbolic links.
    ///
    /// # Errors
    ///
    /// [`InputError::NotFound`] if nothing is at `path`, [`InputError::Io`] if its metadata
    /// cannot be read or it is not a regular file.
    pub fn from_path(path: impl Into<PathBuf>) -> Result<InputFile, InputError> {
        let path = path.into();
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(InputError::NotFound { path });
            }
            Err(source) => return Err(InputError::Io { path, source }),
        };
        if !meta.is_file() {
            let source = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
            return Err(InputError::Io { path, source });
        }
        Ok(InputFile::from_metadata(path, &meta))
    }

    fn from_metadata(path: PathBuf, meta: &fs::Metadata) -> InputFile {
        let compression = Compression::from_path(&path);
        InputFile {
            path,
            len: meta.len(),
            compression,
            modified_ns: modified_ns(meta),
        }
    }

    /// Checks that the file is still as planned: same size, same modification time.
    ///
    /// # Errors
    /// [`InputError::Changed`] if it differs, [`InputError::Io`] if it is gone or unreadable.
    pub fn check_unchanged(&self) -> Result<(), InputError> {
        let io_err = |source| InputError::Io {
            path: self.path.clone(),
            source,
        };
        let (len, modified) = if crate::object::is_url(&self.path) {
            let url = crate::object::ObjectUrl::parse(&self.path).map_err(io_err)?;
            let meta = crate::object::head(&url).map_err(io_err)?;
            (meta.size, meta.modified_ns)
        } else {
            let meta = fs::metadata(&self.path).map_err(io_err)?;
            (meta.len(), modified_ns(&meta))
        };
        let what = if len != self.len {
            format!("it was {} bytes, now {len}", self.len)
        } else if modified != self.modified_ns {
            "it was modified".to_owned()
        } else {
            return Ok(());
        };
        Err(InputError::Changed {
            path: self.path.clone(),
            what,
        })
    }
}

/// A file's modification time in nanoseconds since the Unix epoch; 0 if unknown.
fn modified_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Expands `--input` arguments into files sorted by path, without duplicates.
///
/// - A file is taken as is, whatever its name.
/// - A directory contributes every regular file below it, recursively, except that files and
///   directories whose name starts with `.` or `_` are skipped (Hadoop's hidden-file rule, so a
///   previous job's `_SUCCESS` and `_temporary` are not read as input). Symbolic links to files
///   are followed; symbolic links to directories are not, so a link cycle cannot loop.
/// - An argument that does not exist but contains `*`, `?` or `[` is a glob pattern. Matching
///   files whose name starts with `.` or `_` are skipped, and matching directories are walked as
///   above.
///
/// # Errors
///
/// [`InputError::NotFound`] for a path that does not exist, [`InputError::BadGlob`] or
/// [`InputError::NoMatch`] for a pattern that does not parse or yields no files,
/// [`InputError::NoFiles`] if all the inputs together yield no files, and [`InputError::Io`]
/// if a file or directory cannot be inspected.
pub fn resolve_inputs(inputs: &[PathBuf]) -> Result<Vec<InputFile>, InputError> {
    let mut files = Vec::new();
    for input in inputs {
        resolve_one(input, &mut files)?;
    }
    if files.is_empty() {
        return Err(InputError::NoFiles {
            inputs: inputs.to_vec(),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

fn resolve_one(input: &Path, files: &mut Vec<InputFile>) -> Result<(), InputError> {
    if crate::object::is_url(input) {
        return resolve_objects(input, files);
    }
    match fs::metadata(input) {
        Ok(meta) if meta.is_dir() => walk_dir(input, files),
        Ok(meta) if meta.is_file() => {
            files.push(InputFile::from_metadata(input.to_owned(), &meta));
            Ok(())
        }
        Ok(_) => {
            let source = io::Error::new(io::ErrorKind::InvalidInput, "not a file or directory");
            Err(InputError::Io {
                path: input.to_owned(),
                source,
            })
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => match input.to_str() {
            Some(pattern) if is_glob(pattern) => expand_glob(pattern, files),
            _ => Err(InputError::NotFound {
                path: input.to_owned(),
            }),
        },
        Err(source) => Err(InputError::Io {
            path: input.to_owned(),
            source,
        }),
    }
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Hadoop's hidden-file rule: names starting with `.` or `_` are not input.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.as_encoded_bytes().first().copied())
        .is_some_and(|first| first == b'.' || first == b'_')
}

fn expand_glob(pattern: &str, files: &mut Vec<InputFile>) -> Result<(), InputError> {
    let paths = glob::glob(pattern).map_err(|source| InputError::BadGlob {
        pattern: pattern.to_owned(),
        source,
    })?;
    let before = files.len();
    for entry in paths {
        let path = entry.map_err(|err| {
            let path = err.path().to_owned();
            InputError::Io {
                path,
                source: err.into(),
            }
        })?;
        if is_hidden(&path) {
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk_dir(&path, files)?,
            Ok(meta) if meta.is_file() => files.push(InputFile::from_metadata(path, &meta)),
            // Sockets, devices, and links that went away since the glob saw them.
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(InputError::Io { path, source }),
        }
    }
    if files.len() == before {
        return Err(InputError::NoMatch {
            pattern: pattern.to_owned(),
        });
    }
    Ok(())
}

/// The objects an `s3://` input names, by the rules for local paths: an object's own URL, a
/// prefix (a "directory": every object below it, hidden names left out), or a glob pattern
/// over keys (`*` and `?` stay within one `/`-separated part, and a matching prefix is taken
/// whole as a directory would be).
fn resolve_objects(input: &Path, files: &mut Vec<InputFile>) -> Result<(), InputError> {
    use crate::object::{ObjectUrl, head, list};
    let text = input.to_str().unwrap_or_default();
    let url = ObjectUrl::parse(input).map_err(io_err(input))?;
    let found = |m: crate::object::ObjectMeta| {
        let path = m.url.to_path();
        InputFile {
            compression: Compression::from_path(&path),
            path,
            len: m.size,
            modified_ns: m.modified_ns,
        }
    };
    // Hidden: a part below the input's own key that starts with `.` or `_`.
    let hidden = |key: &str, below: &str| {
        key.strip_prefix(below)
            .unwrap_or(key)
            .split('/')
            .any(|part| part.starts_with(['.', '_']))
    };
    if is_glob(url.key()) {
        let pattern = glob::Pattern::new(url.key()).map_err(|source| InputError::BadGlob {
            pattern: text.to_owned(),
            source,
        })?;
        let literal = url.key()[..url.key().find(['*', '?', '[']).unwrap_or(0)].to_owned();
        let base = literal.rsplit_once('/').map_or("", |(dir, _)| dir);
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        let before = files.len();
        let root = ObjectUrl::parse(Path::new(&format!("s3://{}", url.bucket())))
            .map_err(io_err(input))?;
        for m in list(&root.join(base)).map_err(io_err(input))? {
            let key = m.url.key();
            // The key itself, or a prefix of it (a directory) matches.
            let parts: Vec<&str> = key.split('/').collect();
            let matched =
                (1..=parts.len()).any(|n| pattern.matches_with(&parts[..n].join("/"), options));
            // `hidden` covers the matched name too: it lies below the pattern's literal part.
            if matched && !hidden(key, base) {
                files.push(found(m));
            }
        }
        if files.len() == before {
            return Err(InputError::NoMatch {
                pattern: text.to_owned(),
            });
        }
        return Ok(());
    }
    match head(&url) {
        Ok(m) if !url.key().is_empty() && !text.ends_with('/') => {
            files.push(found(m));
            return Ok(());
        }
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            return Err(InputError::Io {
                path: input.to_owned(),
                source: err,
            });
        }
        _ => {}
    }
    let below = if url.key().is_empty() {
        String::new()
    } else {
        format!("{}/", url.key())
    };
    let before = files.len();
    for m in list(&url).map_err(io_err(input))? {
        if !hidden(m.url.key(), &below) {
            files.push(found(m));
        }
    }
    if files.len() == before {
        return Err(InputError::NotFound {
            path: input.to_owned(),
        });
    }
    Ok(())
}

/// Wraps an error on `path`, for `map_err`.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InputError + '_ {
    move |source| InputError::Io {
        path: path.to_owned(),
        source,
    }
}

fn walk_dir(dir: &Path, files: &mut Vec<InputFile>) -> Result<(), InputError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        let kind = entry.file_type().map_err(io_err(&path))?;
        if kind.is_dir() {
            walk_dir(&path, files)?;
        } else if kind.is_file() || kind.is_symlink() {
            // `fs::metadata` follows a link; a link to a directory is left out (see above).
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(InputFile::from_metadata(path, &meta)),
                Ok(_) => {}
                // A dangling link is not input.
                Err(err) if kind.is_symlink() && err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(InputError::Io { path, source }),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::testutil::write_file;

    /// `s3://` inputs follow the rules of local ones: a key, a prefix walked without hidden
    /// names, a glob over keys (a matching prefix taken whole), sorted; missing ones named.
    #[test]
    fn objects_resolve_as_files_do() {
        use crate::object::{put, testing};
        let root = testing::bucket();
        for key in [
            "in/a.txt",
            "in/b.txt.gz",
            "in/_SUCCESS",
            "in/.hidden",
            "in/d/c.txt",
            "in/_tmp/x",
            "other",
        ] {
            put(&root.join(key), bytes::Bytes::from_static(b"x\n")).unwrap();
        }
        let names = |input: &str| -> Vec<String> {
            let path = root.join(input).to_path();
            let files = resolve_inputs(&[path]).unwrap();
            files
                .iter()
                .map(|f| {
                    f.path
                        .to_str()
                        .unwrap()
                        .rsplit_once(root.bucket())
                        .unwrap()
                        .1
                        .to_owned()
                })
                .collect()
        };
        assert_eq!(names("in"), ["/in/a.txt", "/in/b.txt.gz", "/in/d/c.txt"]);
        assert_eq!(names("in/a.txt"), ["/in/a.txt"]);
        assert_eq!(names("in/*.txt"), ["/in/a.txt"]);
        assert_eq!(names("in/*"), ["/in/a.txt", "/in/b.txt.gz", "/in/d/c.txt"]);
        let gz = resolve_inputs(&[root.join("in/b.txt.gz").to_path()]).unwrap();
        assert_eq!((gz[0].compression, gz[0].len), (Compression::Gzip, 2));
        assert!(matches!(
            resolve_inputs(&[root.join("nothing").to_path()]),
            Err(InputError::NotFound { .. })
        ));
        assert!(matches!(
            resolve_inputs(&[root.join("in/*.csv").to_path()]),
            Err(InputError::NoMatch { .. })
        ));
    }

    /// Paths of `files` relative to `root`, as strings with `/`.
    fn relative(root: &Path, files: &[InputFile]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                let rel = f.path.strip_prefix(root).expect("under root");
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    /// A tree with data files, hidden and underscore entries, and gzip files.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in [
            ("data/b.txt", "bb\n"),
            ("data/a.txt", "a\n"),
            ("data/sub/c.json.gz", "not really gzip"),
            ("data/sub/deeper/d.csv", "h\n1\n"),
            ("data/empty.txt", ""),
            ("data/.hidden", "x\n"),
            ("data/_SUCCESS", ""),
            ("data/_temporary/attempt-0/part-00000", "x\n"),
            ("data/.git/config", "x\n"),
            ("data/sub/_logs/log.txt", "x\n"),
            ("data/C.GZ", "upper-case extension"),
            ("other/x.txt", "x\n"),
            ("only-hidden/_SUCCESS", ""),
            ("only-hidden/.part-00000.crc", "x"),
            ("only-hidden/_temporary/part-00000", "x\n"),
            ("other/y.log", "y\n"),
        ] {
            write_file(&dir.path().join(path), contents.as_bytes());
        }
        dir
    }

    #[test]
    fn directories_are_walked_skipping_hidden_and_underscore_names() {
        let dir = tree();
        let files = resolve_inputs(&[dir.path().join("data")]).unwrap();
        assert_eq!(
            relative(dir.path(), &files),
            [
                "data/C.GZ",
                "data/a.txt",
                "data/b.txt",
                "data/empty.txt",
                "data/sub/c.json.gz",
                "data/sub/deeper/d.csv"
            ]
        );
        let lens: Vec<u64> = files.iter().map(|f| f.len).collect();
        assert_eq!(lens, [20, 2, 3, 0, 15, 4]);
        let gzip: Vec<bool> = files
            .iter()
            .map(|f| f.compression == Compression::Gzip)
            .collect();
        assert_eq!(gzip, [true, false, false, false, true, false]);
    }

    #[test]
    fn files_dirs_and_globs_combine_sorted_and_deduplicated() {
        let dir = tree();
        let root = dir.path();
        let inputs = [
            root.join("other/y.log"),
            root.join("data/sub"),
            root.join("other/*.txt"),
            root.join("other/x.txt"),
            root.join("data/sub/deeper/d.csv"),
            // A hidden file named explicitly is read: the user asked for it.
            root.join("data/.hidden"),
        ];
        let files = resolve_inputs(&inputs).unwrap();
        assert_eq!(
            relative(root, &files),
            [
                "data/.hidden",
                "data/sub/c.json.gz",
                "data/sub/deeper/d.csv",
                "other/x.txt",
                "other/y.log"
            ]
        );
    }

    #[test]
    fn globs() {
        let dir = tree();
        let root = dir.path();
        let cases: &[(&str, &[&str])] = &[
            (
                "data/*.txt",
                &["data/a.txt", "data/b.txt", "data/empty.txt"],
            ),
            ("data/?.txt", &["data/a.txt", "data/b.txt"]),
            ("data/[b-z].txt", &["data/b.txt"]),
            // Matched directories are walked; hidden matches are skipped.
            ("data/s*", &["data/sub/c.json.gz", "data/sub/deeper/d.csv"]),
            (
                "data/*",
                &[
                    "data/C.GZ",
                    "data/a.txt",
                    "data/b.txt",
                    "data/empty.txt",
                    "data/sub/c.json.gz",
                    "data/sub/deeper/d.csv",
                ],
            ),
            ("*/x.*", &["other/x.txt"]),
        ];
        for &(pattern, want) in cases {
            let files = resolve_inputs(&[root.join(pattern)]).unwrap();
            assert_eq!(relative(root, &files), want, "{pattern}");
        }
    }

    #[test]
    fn an_existing_path_with_glob_characters_is_a_path() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("a[1].txt"), b"x\n");
        write_file(&dir.path().join("a1.txt"), b"y\n");
        let files = resolve_inputs(&[dir.path().join("a[1].txt")]).unwrap();
        assert_eq!(relative(dir.path(), &files), ["a[1].txt"]);
    }

    #[test]
    fn errors() {
        let dir = tree();
        let root = dir.path();
        let not_found = resolve_inputs(&[root.join("data/a.txt"), root.join("nope.txt")]);
        match not_found {
            Err(InputError::NotFound { path }) => assert_eq!(path, root.join("nope.txt")),
            other => panic!("expected NotFound, got {other:?}"),
        }

        let pattern = root.join("data/*.parquet");
        match resolve_inputs(std::slice::from_ref(&pattern)) {
            Err(InputError::NoMatch { pattern: p }) => assert_eq!(p, pattern.to_str().unwrap()),
            other => panic!("expected NoMatch, got {other:?}"),
        }

        // Only hidden files match: still no match.
        match resolve_inputs(&[root.join("data/_*")]) {
            Err(InputError::NoMatch { .. }) => {}
            other => panic!("expected NoMatch, got {other:?}"),
        }

        match resolve_inputs(&[root.join("data/[")]) {
            Err(InputError::BadGlob { pattern, .. }) => assert!(pattern.ends_with("data/[")),
            other => panic!("expected BadGlob, got {other:?}"),
        }

        // A directory with only hidden files, and no inputs at all.
        let only_hidden = root.join("only-hidden");
        for inputs in [vec![only_hidden.clone()], vec![]] {
            match resolve_inputs(&inputs) {
                Err(InputError::NoFiles { inputs: got }) => assert_eq!(got, inputs),
                other => panic!("expected NoFiles, got {other:?}"),
            }
        }
    }

    #[test]
    fn input_file_from_path() {
        let dir = tree();
        let file = InputFile::from_path(dir.path().join("data/sub/c.json.gz")).unwrap();
        assert_eq!(file.len, 15);
        assert_eq!(file.compression, Compression::Gzip);
        assert!(matches!(
            InputFile::from_path(dir.path().join("missing")),
            Err(InputError::NotFound { .. })
        ));
        assert!(matches!(
            InputFile::from_path(dir.path().join("data")),
            Err(InputError::Io { .. })
        ));
    }

    #[test]
    fn compression_from_name() {
        let cases = [
            ("a.gz", Compression::Gzip),
            ("a.json.GZ", Compression::Gzip),
            ("a.gzip", Compression::None),
            ("gz", Compression::None),
            ("a.tgz", Compression::None),
            ("a.txt", Compression::None),
        ];
        for (name, want) in cases {
            assert_eq!(Compression::from_path(Path::new(name)), want, "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_to_files_are_followed_and_to_directories_are_not() {
        let dir = tree();
        let root = dir.path();
        let links = root.join("links");
        fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(root.join("other/x.txt"), links.join("x-link.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("data"), links.join("data-link")).unwrap();
        std::os::unix::fs::symlink(root.join("gone"), links.join("dangling")).unwrap();
        let files = resolve_inputs(&[links]).unwrap();
        assert_eq!(relative(root, &files), ["links/x-link.txt"]);
    }
}
