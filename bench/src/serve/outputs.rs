//! Checking the outputs: every job's part files, downloaded through the API, must be those of
//! a local `sandmill run` of the same plugin on the same input with the same reducers, byte for
//! byte.

use super::server::Api;
use anyhow::{Context, Result, bail};
pub use sandmill_bench::output::{Parts, compare_parts};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the job locally (`sandmill run`) into `out`; its part files.
pub fn local_run(
    sandmill: &Path,
    plugin: &Path,
    input: &Path,
    out: &Path,
    cache: &Path,
    reducers: u32,
) -> Result<Parts> {
    let run = Command::new(sandmill)
        .arg("run")
        .arg(plugin)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(out)
        .arg("--compile-cache")
        .arg(cache)
        .args(["--reducers", &reducers.to_string(), "--quiet"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} run", sandmill.display()))?;
    if !run.status.success() {
        bail!(
            "the local reference run on {} failed ({}): {}",
            input.display(),
            run.status,
            String::from_utf8_lossy(&run.stderr).trim()
        );
    }
    sandmill_bench::output::read_parts(out)
        .with_context(|| format!("reading the part files in {}", out.display()))
}

/// The part files of the current version of the tenant's dataset, through the API.
pub fn server_parts(api: &Api, token: &str, dataset: &str) -> Result<Parts> {
    let list = api
        .get(token, &format!("/v1/datasets/{dataset}/files"))?
        .expect(&[200], &format!("listing the files of {dataset}"))?
        .json();
    let mut parts = Parts::new();
    for file in list["files"].as_array().into_iter().flatten() {
        let path = file["path"].as_str().context("a file without a path")?;
        if path.starts_with("part-") {
            let answer = api
                .get(token, &format!("/v1/datasets/{dataset}/files/{path}"))?
                .expect(&[200], &format!("downloading {dataset}/{path}"))?;
            parts.insert(path.to_owned(), answer.body);
        }
    }
    Ok(parts)
}
