//! The client commands of the job service (`docs/service.md`, "The client"): `submit`,
//! `status`, `jobs`, `logs`, `cancel`, `put`, `get`, and `versions`/`rollback` on a server's
//! dataset. Each talks to the server named by `--server`/`SANDMILL_SERVER` as the tenant of
//! `--token`/`SANDMILL_TOKEN`.
//!
//! ```text
//! main.rs ─ args ─▶ these commands ─▶ http::Client ─▶ sandmill serve
//!                   (submit, jobs, put, get, datasets)    (JSON; errors → ClientError → exit status)
//! ```
//!
//! Exit statuses: what the server refuses (400, 401, 404, 409, and 413, since the same body
//! cannot pass later) is a usage error (2); a full queue (429), a server error (5xx), and a
//! server that cannot be reached are transient (5). A local file that is missing or unreadable
//! is bad input (3); another local I/O error is transient (5). A job that failed is not the
//! client's error: `status` shows it and exits 0.

pub mod datasets;
pub mod flags;
pub mod get;
pub mod http;
pub mod jobs;
pub mod put;
pub mod retry;
pub mod submit;
#[cfg(test)]
mod testserver;

use crate::args::ServerArgs;
use http::{Client, ClientError};
use sandmill::error::ExitClass;
use std::path::{Path, PathBuf};

pub use submit::submit;

/// A local file the client could not read or write.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct LocalError {
    /// What it was doing, with the path.
    what: String,
    /// Why it failed.
    #[source]
    source: std::io::Error,
}

impl LocalError {
    /// The error of `what` (like `reading books/a.txt`) failing with `source`.
    pub fn new(what: String, source: std::io::Error) -> LocalError {
        LocalError { what, source }
    }

    /// Bad input when the file is missing or may not be read; transient otherwise (a full
    /// disk, a broken connection to a network file system).
    pub fn class(&self) -> ExitClass {
        match self.source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                ExitClass::BadInput
            }
            _ => ExitClass::Transient,
        }
    }
}

/// The exit class of an error of a client command, if it is one.
pub fn class_of(err: &(dyn std::error::Error + 'static)) -> Option<ExitClass> {
    if let Some(e) = err.downcast_ref::<ClientError>() {
        Some(e.class())
    } else {
        err.downcast_ref::<LocalError>().map(LocalError::class)
    }
}

/// Whether `versions` and `rollback` are meant for the job service: `--server` or
/// `SANDMILL_SERVER` is set (and not empty).
pub fn is_remote(server: &ServerArgs) -> bool {
    server
        .server
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
}

/// Runs `command` with a client and stdout; a reader that went away (`| head`) is no error.
fn with_stdout(
    server: &ServerArgs,
    command: impl FnOnce(&Client, &mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let client = Client::new(server)?;
    let mut out = std::io::stdout().lock();
    match command(&client, &mut out) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        done => done,
    }
}

/// `sandmill status JOB [--json]`.
pub fn status(server: &ServerArgs, job: &str, json: bool) -> anyhow::Result<()> {
    with_stdout(server, |c, out| jobs::status(c, job, json, out))
}

/// `sandmill jobs [--state S] [--limit N] [--json]`.
pub fn jobs(
    server: &ServerArgs,
    state: Option<&str>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    with_stdout(server, |c, out| jobs::jobs(c, state, limit, json, out))
}

/// `sandmill logs JOB [--follow]`.
pub fn logs(server: &ServerArgs, job: &str, follow: bool) -> anyhow::Result<()> {
    with_stdout(server, |c, out| jobs::logs(c, job, follow, out))
}

/// `sandmill cancel JOB`.
pub fn cancel(server: &ServerArgs, job: &str) -> anyhow::Result<()> {
    with_stdout(server, |c, out| jobs::cancel(c, job, out))
}

/// `sandmill put LOCAL_PATH... --as NAME`.
pub fn put(server: &ServerArgs, paths: &[PathBuf], name: &str) -> anyhow::Result<()> {
    with_stdout(server, |c, out| put::put(c, paths, name, out))
}

/// `sandmill put LOCAL_PATH... --as s3://BUCKET/PREFIX`: the same files under the prefix,
/// each uploaded whole (in parts if large) with no server in between.
pub fn put_objects(paths: &[PathBuf], prefix: &str) -> anyhow::Result<()> {
    let prefix = sandmill::object::ObjectUrl::parse(Path::new(prefix))?;
    let plan = put::plan(paths)?;
    for dir in &plan.empty_dirs {
        eprintln!(
            "sandmill: {} is empty: nothing to upload from it",
            dir.display()
        );
    }
    let mut bytes = 0;
    for file in &plan.files {
        sandmill::object::upload(&file.local, &prefix.join(&file.path))?;
        bytes += file.bytes;
    }
    println!(
        "{prefix}: {} files, {bytes} bytes uploaded",
        plan.files.len()
    );
    Ok(())
}

/// `sandmill get DATASET --to DIR [--version V]`.
pub fn get(
    server: &ServerArgs,
    dataset: &str,
    to: &Path,
    version: Option<&str>,
) -> anyhow::Result<()> {
    with_stdout(server, |c, out| get::get(c, dataset, to, version, out))
}

/// `sandmill versions DATASET [--json]` on the server's dataset.
pub fn versions(server: &ServerArgs, dataset: &Path, json: bool) -> anyhow::Result<()> {
    let client = Client::new(server)?;
    datasets::versions(&client, &dataset_name(dataset)?, json)
}

/// `sandmill rollback DATASET [--to V]` on the server's dataset.
pub fn rollback(server: &ServerArgs, dataset: &Path, to: Option<&str>) -> anyhow::Result<()> {
    let name = dataset_name(dataset)?;
    with_stdout(server, |c, out| datasets::rollback(c, &name, to, out))
}

/// The dataset argument of `versions`/`rollback` as a name on the server.
fn dataset_name(dataset: &Path) -> Result<String, ClientError> {
    dataset.to_str().map(str::to_owned).ok_or_else(|| {
        ClientError::Config(format!(
            "{}: not a dataset name (with --server, DATASET names one of your datasets on \
             the server)",
            dataset.display()
        ))
    })
}
