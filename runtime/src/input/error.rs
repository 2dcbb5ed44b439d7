//! [`InputError`]: why input could not be found or read, and whether a retry can help.

use std::path::PathBuf;

/// Why input could not be read.
///
/// Each message says what went wrong, where (the path, and the byte offset where relevant) and
/// what to do about it. Underlying causes are kept as [`std::error::Error::source`], not
/// repeated in the message, so print the whole chain (`{err:#}` with anyhow).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// An `--input` path does not exist (and is not a glob pattern).
    #[error(
        "input path {} does not exist; check the path and the working directory",
        path.display()
    )]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A glob pattern matched no input files.
    #[error(
        "glob pattern {pattern:?} matched no input files; check the pattern (names starting \
         with '.' or '_' are skipped)"
    )]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A glob pattern could not be parsed.
    #[error(
        "invalid glob pattern {pattern:?}; write a literal '*', '?' or '[' as '[*]', '[?]' or \
         '[[]'"
    )]
    BadGlob {
        /// The pattern as given.
        pattern: String,
        /// What the glob parser found wrong.
        #[source]
        source: glob::PatternError,
    },
    /// The inputs, taken together, contained no files.
    #[error(
        "no input files found in {}; names starting with '.' or '_' are skipped, so give at \
         least one input file",
        list_paths(inputs)
    )]
    NoFiles {
        /// The `--input` arguments as given.
        inputs: Vec<PathBuf>,
    },
    /// A file or directory could not be opened, listed or inspected. Often transient.
    #[error("I/O error on {}; check that it exists and is readable", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a file's contents failed. Often transient.
    #[error("I/O error reading {} at byte {offset}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Where reading failed: a byte offset in the file, or in the decompressed stream for
        /// gzip.
        offset: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A gzip file could not be decompressed.
    #[error(
        "{} is not valid gzip data (failed at byte {offset} of the decompressed stream); check \
         the file, or rename it if it is not gzip-compressed",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// How many decompressed bytes were read before the failure.
        offset: u64,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not as it was when the job was planned: its size or modification
    /// time differs, so the splits (and the fingerprint a resumed run relies on) no longer
    /// describe it.
    #[error(
        "input file {} changed while the job ran ({what}); rerun the job once its input is \
         no longer being written",
        path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// What differs: `size 800 bytes, now 700`.
        what: String,
    },
    /// One record (line) is longer than [`BatchLimits::max_record_bytes`].
    ///
    /// [`BatchLimits::max_record_bytes`]: super::BatchLimits::max_record_bytes
    #[error(
        "record at byte {offset} of {} is longer than the limit of {limit} bytes \
         (--max-record-size); is this a binary file, or the wrong --format?",
        path.display()
    )]
    RecordTooLong {
        /// The file.
        path: PathBuf,
        /// Where the record starts (in the decompressed stream for gzip).
        offset: u64,
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// A file could not be read as Parquet (`--format parquet`): not a Parquet file, cut
    /// short, corrupt, compressed with a codec Sandmill does not build (zstd, brotli), or a
    /// read that failed.
    #[error(
        "{} cannot be read as Parquet ({at}); check that it is a complete Parquet file \
         (compressed with snappy, gzip or lz4, or not at all), or give another --format",
        path.display()
    )]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Where: `its footer`, `row group 3`.
        at: String,
        /// The Parquet reader's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A column named by `--columns` is not in a Parquet file.
    #[error(
        "{} has no column {column:?} (--columns); its columns are: {columns}",
        path.display()
    )]
    NoColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The file's top-level columns, comma-separated.
        columns: String,
    },
    /// A column of a Parquet file has a type that cannot be given to a plugin as JSON.
    #[error(
        "column {column:?} of {} has type {ty}, which Sandmill cannot give a plugin as JSON; \
         leave it out with --columns",
        path.display()
    )]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its (Arrow) type.
        ty: String,
    },
}

impl InputError {
    /// Whether trying again could help: yes for I/O errors, which are often transient; no for a
    /// missing path, a bad pattern, corrupt data or an overlong record, which a retry would
    /// meet again.
    pub fn is_retryable(&self) -> bool {
        match self {
            InputError::Io { .. } | InputError::Read { .. } => true,
            // A read that failed (an object store's hiccup), not the data.
            InputError::Parquet { source, .. } => matches!(
                source,
                parquet::errors::ParquetError::External(e) if e.is::<std::io::Error>()
            ),
            InputError::NotFound { .. }
            | InputError::NoMatch { .. }
            | InputError::BadGlob { .. }
            | InputError::NoFiles { .. }
            | InputError::Corrupt { .. }
            | InputError::Changed { .. }
            | InputError::RecordTooLong { .. }
            | InputError::NoColumn { .. }
            | InputError::ColumnType { .. } => false,
        }
    }
}

/// `a, b, c` for the `NoFiles` message.
fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(no inputs given)".to_owned();
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn io_error() -> io::Error {
        io::Error::other("disk on fire")
    }

    #[test]
    fn messages_say_what_where_and_what_to_do() {
        let bad_glob = glob::Pattern::new("[").unwrap_err();
        let cases: Vec<(InputError, &[&str], bool)> = vec![
            (
                InputError::NotFound {
                    path: "in/a.txt".into(),
                },
                &["in/a.txt", "does not exist", "check"],
                false,
            ),
            (
                InputError::NoMatch {
                    pattern: "logs/*.gz".into(),
                },
                &["logs/*.gz", "matched no input files", "check the pattern"],
                false,
            ),
            (
                InputError::BadGlob {
                    pattern: "[".into(),
                    source: bad_glob,
                },
                &["invalid glob pattern", "[[]"],
                false,
            ),
            (
                InputError::NoFiles {
                    inputs: vec!["a".into(), "b/".into()],
                },
                &["no input files found in a, b/", "give at least one"],
                false,
            ),
            (
                InputError::NoFiles { inputs: vec![] },
                &["(no inputs given)"],
                false,
            ),
            (
                InputError::Io {
                    path: "x/y".into(),
                    source: io_error(),
                },
                &["x/y", "readable"],
                true,
            ),
            (
                InputError::Read {
                    path: "x/y".into(),
                    offset: 42,
                    source: io_error(),
                },
                &["x/y", "byte 42"],
                true,
            ),
            (
                InputError::Corrupt {
                    path: "x.gz".into(),
                    offset: 7,
                    source: io_error(),
                },
                &["x.gz", "not valid gzip", "byte 7"],
                false,
            ),
            (
                InputError::RecordTooLong {
                    path: "big.bin".into(),
                    offset: 9,
                    limit: 100,
                },
                &[
                    "byte 9",
                    "big.bin",
                    "100 bytes",
                    "--max-record-size",
                    "binary file",
                    "--format",
                ],
                false,
            ),
            (
                InputError::Parquet {
                    path: "t.parquet".into(),
                    at: "its footer".into(),
                    source: parquet::errors::ParquetError::General("bad magic".into()),
                },
                &[
                    "t.parquet",
                    "cannot be read as Parquet (its footer)",
                    "--format",
                ],
                false,
            ),
            (
                InputError::Parquet {
                    path: "t.parquet".into(),
                    at: "row group 2".into(),
                    source: io_error().into(),
                },
                &["t.parquet", "(row group 2)"],
                true,
            ),
            (
                InputError::NoColumn {
                    path: "t.parquet".into(),
                    column: "amount".into(),
                    columns: "user_id, amount_cents".into(),
                },
                &[
                    "t.parquet",
                    "no column \"amount\"",
                    "--columns",
                    "user_id, amount_cents",
                ],
                false,
            ),
            (
                InputError::ColumnType {
                    path: "t.parquet".into(),
                    column: "t".into(),
                    ty: "Time64(µs)".into(),
                },
                &["column \"t\" of t.parquet", "Time64(µs)", "--columns"],
                false,
            ),
        ];
        for (err, wanted, retryable) in cases {
            let message = err.to_string();
            for part in wanted {
                assert!(
                    message.contains(part),
                    "{message:?} should contain {part:?}"
                );
            }
            assert_eq!(err.is_retryable(), retryable, "{message}");
        }
    }

    #[test]
    fn sources_are_kept_not_repeated() {
        let err = InputError::Read {
            path: "f".into(),
            offset: 0,
            source: io_error(),
        };
        assert!(!err.to_string().contains("disk on fire"));
        let source = std::error::Error::source(&err).expect("has a source");
        assert_eq!(source.to_string(), "disk on fire");
    }
}
