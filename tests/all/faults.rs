//! Fault injection: failpoints armed through `SANDMILL_FAILPOINTS` make writes fail or the
//! process crash at chosen places, and the job must retry what can pass on a second try, fail
//! cleanly when it cannot, and never leave partial output.

use crate::{Run, arg};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::WORDCOUNT;
use std::path::Path;
use std::process::Command;

/// Runs `sandmill run` on the word-count plugin with `failpoints` armed.
fn run_with(failpoints: &str, input: &Path, out: &Path, extra: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args([
            "run",
            WORDCOUNT,
            "--input",
            arg(input),
            "--output",
            arg(out),
        ])
        .args(extra)
        .env("SANDMILL_FAILPOINTS", failpoints)
        .output()
        .expect("running sandmill");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn words(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("in.txt");
    let text: String = (0..3000)
        .map(|i| format!("w{} common w{}\n", i % 97, i % 13))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn expected(dir: &Path, input: &Path) -> Vec<String> {
    let out = dir.join("clean");
    run_with("", input, &out, &[]).assert_success();
    read_output(&out)
}

#[test]
fn transient_io_errors_while_spilling_and_writing_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(dir.path());
    let want = expected(dir.path(), &input);
    for failpoints in [
        "spill-write=error(2)",
        "part-write=error(3)",
        "task-commit-before=error(1)",
    ] {
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let run = run_with(
            failpoints,
            &input,
            &out,
            &["--memory", "64KiB", "--reducers", "2"],
        );
        run.assert_success();
        assert_eq!(read_output(&out), want, "{failpoints}");
    }
}

#[test]
fn persistent_io_errors_fail_the_job_after_the_last_attempt_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(dir.path());
    let out = dir.path().join("out");
    let run = run_with("part-write=error", &input, &out, &["--max-attempts", "3"]);
    let line = run.assert_error();
    assert!(
        line.contains("injected failure at failpoint part-write"),
        "{line}\n{run}"
    );
    assert!(
        line.contains("attempt-3"),
        "the third attempt fails last: {line}"
    );
    assert!(!out.exists());
    // Nothing else is left beside the output either (staging directories are removed).
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["in.txt"], "{left:?}");
}
