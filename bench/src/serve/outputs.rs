//! Checking the outputs: every job's part files, downloaded through the API, must be those of
//! a local `sandmill run` of the same plugin on the same input with the same reducers, byte for
//! byte.

use super::server::Api;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// Part files by name: their bytes.
pub type Parts = BTreeMap<String, Vec<u8>>;

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
    let mut parts = Parts::new();
    for entry in fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
        let path = entry?.path();
        let name = path.file_name().context("a file name")?.to_string_lossy();
        if name.starts_with("part-") {
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            parts.insert(name.into_owned(), bytes);
        }
    }
    Ok(parts)
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

/// `None` if both sides have the same part files with the same bytes, else what differs.
pub fn compare_parts(want: &Parts, got: &Parts) -> Option<String> {
    if want.keys().ne(got.keys()) {
        return Some(format!(
            "part files {:?}, expected {:?}",
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        ));
    }
    want.iter()
        .find(|(name, bytes)| got[*name] != **bytes)
        .map(|(name, bytes)| {
            format!(
                "{name} has {} bytes, expected {} (or the same size, other bytes)",
                got[name].len(),
                bytes.len()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_part_files_by_name_and_bytes() {
        let parts = |files: &[(&str, &str)]| -> Parts {
            files
                .iter()
                .map(|(n, b)| ((*n).to_owned(), b.as_bytes().to_vec()))
                .collect()
        };
        let want = parts(&[("part-00000", "a\t1\n"), ("part-00001", "b\t2\n")]);
        assert_eq!(compare_parts(&want, &want.clone()), None);
        let other = parts(&[("part-00000", "a\t1\n"), ("part-00001", "b\t3\n")]);
        assert!(
            compare_parts(&want, &other)
                .unwrap()
                .starts_with("part-00001")
        );
        let fewer = parts(&[("part-00000", "a\t1\n")]);
        assert!(compare_parts(&want, &fewer).unwrap().contains("expected"));
    }
}
