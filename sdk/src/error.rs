//! The error type a job returns, and how it maps onto the WIT `job-error`.

use std::fmt;

/// What went wrong in a job, for a person to read.
///
/// Errors returned from [`Job::map`](crate::Job::map) or [`Job::reduce`](crate::Job::reduce) are
/// reported by the host with the file and line (or key) that caused them. They are not retried:
/// the same input fails the same way again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The record or group at hand is bad (the default for errors from `map` and `reduce`).
    Record,
    /// The job's parameters are unusable.
    Params,
    /// The job itself failed, not because of one record.
    Failed,
}

impl Error {
    /// An error about the record (or key group) being processed.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Record,
            message: message.to_string(),
        }
    }

    /// An error about the job's `--param` values.
    pub fn params(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Params,
            message: message.to_string(),
        }
    }

    /// An error that is not the fault of one record: the whole job should stop.
    pub fn failed(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Failed,
            message: message.to_string(),
        }
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::msg(format_args!("invalid JSON: {err}"))
    }
}

impl From<csv::Error> for Error {
    fn from(err: csv::Error) -> Self {
        Self::msg(format_args!("invalid CSV row: {err}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(err: std::str::Utf8Error) -> Self {
        Self::msg(format_args!("invalid UTF-8: {err}"))
    }
}

/// `Result<T, sandmill_sdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
