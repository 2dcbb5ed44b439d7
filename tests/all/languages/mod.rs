//! Jobs in Python, JavaScript and C, built from source with `sandmill build` and compared byte
//! for byte with the Rust jobs on the same data; `sandmill new` and `sandmill build` as a new
//! user runs them.
//!
//! The toolchains come from `scripts/setup-toolchain.sh`, which `scripts/test.sh` runs first;
//! a test whose toolchain is missing fails with `sandmill build`'s message naming what to
//! install.

mod c;
mod js;
mod python;
mod rust;

use crate::{Run, arg, sandmill};
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the project `dir` with `sandmill build` into a component under `CARGO_TARGET_TMPDIR`
/// (so that the repository's examples leave no `build/` behind) and returns its path.
pub fn build(dir: &Path) -> PathBuf {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let lang = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("languages")
        .join(format!("{lang}-{name}.wasm"));
    let run = sandmill(["build", arg(dir), "--output", arg(&out)]);
    run.assert_success();
    assert_eq!(run.stdout.trim_end(), out.display().to_string(), "{run}");
    out
}

/// Runs `plugin` on `input` into `out` with `args`.
pub fn run_job(plugin: &Path, input: &Path, out: &Path, args: &[&str]) -> Run {
    let mut all = vec![
        "run",
        arg(plugin),
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    all.extend_from_slice(args);
    sandmill(all)
}

/// Every part file of `dir` (the top level and every output partition), as (path relative to
/// `dir`, contents), sorted by path.
pub fn parts(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() && !name.starts_with('.') {
                walk(root, &path, found);
            } else if name.starts_with("part-") {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                found.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// Runs `plugin` and the Rust `reference` plugin on `input` with the same `args` and checks
/// that they write the same part files, byte for byte. Returns the plugin's run.
pub fn assert_same_output(plugin: &Path, reference: &str, input: &Path, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (got, want) = (dir.path().join("got"), dir.path().join("want"));
    let run = run_job(plugin, input, &got, args);
    run.assert_success();
    run_job(Path::new(reference), input, &want, args).assert_success();
    let (got_parts, want_parts) = (parts(&got), parts(&want));
    assert!(
        want_parts.iter().any(|(_, bytes)| !bytes.is_empty()),
        "the reference wrote nothing: the comparison would prove nothing"
    );
    let names = |p: &[(PathBuf, Vec<u8>)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got_parts), names(&want_parts), "{run}");
    for ((name, got), (_, want)) in got_parts.iter().zip(&want_parts) {
        if got != want {
            let got = String::from_utf8_lossy(got);
            let want = String::from_utf8_lossy(want);
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            panic!(
                "{}: {} differs from the Rust job's at line {}: got {:?}, want {:?}\n{run}",
                plugin.display(),
                name.display(),
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first),
            );
        }
    }
    run
}

/// The flags that make every key group stream through `host.next-values`: many small splits,
/// so that a word has one combined count per map task, and key-group batches of 64 bytes, so
/// that a group of more than eight values does not fit one.
pub const STREAMING: &[&str] = &["--split-size", "16KiB", "--group-batch-size", "64"];
