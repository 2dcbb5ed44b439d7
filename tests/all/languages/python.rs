//! Python jobs (`sdk/python`, `plugins/python/`): built from source with `sandmill build`
//! (componentize-py), compared byte for byte with the Rust jobs, their exceptions shown to the
//! user, their native tests run, and `sandmill new --lang python` as a new user runs it.
//!
//! Each component is built once per test process (a Python component takes 15-40 s to build
//! and its first run compiles 18 MiB of wasm; the shared compile cache keeps later runs fast).

use super::{STREAMING, assert_same_output, build, repo, run_job};
use crate::{Run, arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::{generate, plugins};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

/// `plugins/python/wordcount`, built.
static WORDCOUNT: LazyLock<PathBuf> =
    LazyLock::new(|| build(&repo().join("plugins/python/wordcount")));

/// `plugins/python/revenue-by-user`, built.
static REVENUE_BY_USER: LazyLock<PathBuf> =
    LazyLock::new(|| build(&repo().join("plugins/python/revenue-by-user")));

/// `plugins/python/testing/raise`, built: raises on `boom`, `bang` and `hog`.
static RAISE: LazyLock<PathBuf> =
    LazyLock::new(|| build(&repo().join("plugins/python/testing/raise")));

#[test]
fn wordcount_matches_the_rust_job() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("text");
    std::fs::create_dir(&input).unwrap();
    generate::text(&input, 0x5eed_0101, 200_000);
    for args in [&["--format", "lines"][..], STREAMING] {
        assert_same_output(&WORDCOUNT, plugins::WORDCOUNT, &input, args);
    }
}

#[test]
fn revenue_by_user_matches_the_rust_job_on_json_lines_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate::events(dir.path(), 0x5eed_0103, 150_000);
    for (format, input) in [("jsonl", &files.jsonl[0]), ("csv", &files.csv[0])] {
        let input = input.parent().unwrap();
        let default = ["--format", format];
        let streaming: Vec<&str> = default.iter().chain(STREAMING).copied().collect();
        assert_same_output(&REVENUE_BY_USER, plugins::REVENUE_BY_USER, input, &default);
        assert_same_output(
            &REVENUE_BY_USER,
            plugins::REVENUE_BY_USER,
            input,
            &streaming,
        );
    }
}

/// The line of `plugins/python/testing/raise/job.py` that holds `needle`, as a traceback
/// names it.
fn raise_line(needle: &str) -> String {
    let source = std::fs::read_to_string(repo().join("plugins/python/testing/raise/job.py"))
        .expect("reading the raise job");
    let line = source
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in the raise job"));
    format!("line {}", line + 1)
}

/// Runs the raise job on one input file holding `text`; checks that it fails with the exit
/// status of `class` and returns the run and its `error:` line.
fn run_raise(text: &str, class: ExitClass) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, text).unwrap();
    let run = run_job(&RAISE, &input, &dir.path().join("out"), &[]);
    let error = run.assert_error().to_owned();
    run.assert_exit(class);
    (run, error)
}

/// The exit class of a `failed` job-error from `map-batch`: an exception is the job's fault,
/// in map as in reduce; only a `sandmill.RecordError` (`invalid-record`) blames the input.
const MAP_FAILED: ExitClass = ExitClass::Plugin;

#[test]
fn an_exception_in_map_reaches_the_user_with_its_traceback() {
    let (run, error) = run_raise("fine words\nthen boom here\nmore\n", MAP_FAILED);
    for want in [
        "ValueError: boom in record 'then boom here'",
        "raised on record 1 of the batch",
        "Traceback (most recent call last)",
        "job.py",
        &raise_line("raise ValueError"),
        "in check",
        "in map",
    ] {
        assert!(error.contains(want), "{want:?} is not in the error\n{run}");
    }
}

#[test]
fn an_exception_in_reduce_reaches_the_user_with_its_traceback() {
    let (run, error) = run_raise("a bang b\n", ExitClass::Plugin);
    for want in [
        "RuntimeError: reduce blew up on bang",
        "the reduce of key b'bang'",
        &raise_line("raise RuntimeError"),
        "in reduce",
    ] {
        assert!(error.contains(want), "{want:?} is not in the error\n{run}");
    }
}

#[test]
fn a_memory_error_reaches_the_user() {
    let (run, error) = run_raise("a hog\n", MAP_FAILED);
    for want in ["MemoryError", &raise_line("bytearray("), "in check"] {
        assert!(error.contains(want), "{want:?} is not in the error\n{run}");
    }
}

/// Runs `python3 -m unittest ARGS` in `dir` and fails with its output unless it passes.
fn unittest(dir: &Path, args: &[&str]) {
    let output = Command::new("python3")
        .args(["-m", "unittest"])
        .args(args)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3 (install Python 3.10 or newer)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "python3 -m unittest failed in {}:\n{text}",
        dir.display()
    );
    assert!(
        text.contains("\nOK"),
        "no test ran in {}:\n{text}",
        dir.display()
    );
}

#[test]
fn the_native_tests_of_the_sdk_and_the_examples_pass() {
    unittest(&repo().join("sdk/python"), &["discover", "-s", "tests"]);
    unittest(&repo().join("plugins/python/wordcount"), &[]);
    unittest(&repo().join("plugins/python/revenue-by-user"), &[]);
}

#[test]
fn sandmill_new_then_build_then_run_matches_the_rust_wordcount() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("wordfreq");
    sandmill(["new", arg(&project), "--lang", "python"]).assert_success();
    // The project tests itself with nothing but Python.
    unittest(&project, &[]);
    let run = sandmill(["build", arg(&project)]);
    run.assert_success();
    let component = project.join("build/wordfreq.wasm");
    assert_eq!(
        run.stdout.trim_end(),
        component.display().to_string(),
        "{run}"
    );
    let input = dir.path().join("text");
    std::fs::create_dir(&input).unwrap();
    generate::text(&input, 0x5eed_0105, 150_000);
    assert_same_output(&component, plugins::WORDCOUNT, &input, &[]);
}

#[test]
fn a_missing_componentize_py_is_named_with_the_command_that_installs_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("job");
    sandmill(["new", arg(&project), "--lang", "python"]).assert_success();
    let output = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(["build", arg(&project)])
        .env("SANDMILL_TOOLCHAINS", dir.path().join("no-toolchains"))
        .env("PATH", dir.path().join("no-bin"))
        .output()
        .unwrap();
    let run = Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let error = run.assert_error().to_owned();
    run.assert_exit(ExitClass::Usage);
    for want in [
        "componentize-py not found",
        "no-toolchains/python/bin",
        "setup-toolchain.sh python",
        "pip install componentize-py==0.25.1",
    ] {
        assert!(error.contains(want), "{want:?} is not in the error\n{run}");
    }
}
