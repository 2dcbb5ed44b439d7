//! JavaScript jobs: the examples in `plugins/js/` built from source with `sandmill build` and
//! compared byte for byte with the Rust jobs; exceptions in map and reduce reaching the user
//! with their message and stack; the examples' and the SDK's native tests (`node --test`); and
//! `sandmill new --lang js` + `sandmill build` + `sandmill run` as a new user runs them.
//!
//! Each component is built once per test process (about 12 MiB each: a JavaScript engine), and
//! compiled once per test build through the shared compile cache.

use super::{STREAMING, assert_same_output, build, repo, run_job};
use crate::{arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::{generate, plugins};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

static WORDCOUNT: LazyLock<PathBuf> = LazyLock::new(|| build(&repo().join("plugins/js/wordcount")));
static REVENUE_BY_USER: LazyLock<PathBuf> =
    LazyLock::new(|| build(&repo().join("plugins/js/revenue-by-user")));
static THROWS: LazyLock<PathBuf> =
    LazyLock::new(|| build(&repo().join("plugins/js/testing/throws")));

#[test]
fn wordcount_matches_rust() {
    let dir = tempfile::tempdir().unwrap();
    generate::text(dir.path(), 0x5eed_0011, 300_000);
    for args in [&[][..], STREAMING] {
        assert_same_output(&WORDCOUNT, plugins::WORDCOUNT, dir.path(), args);
    }
}

#[test]
fn revenue_by_user_matches_rust_on_json_lines_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    generate::events(dir.path(), 0x5eed_0013, 200_000);
    for (format, input) in [("jsonl", "jsonl"), ("csv", "csv")] {
        let input = dir.path().join(input);
        for streaming in [&[][..], STREAMING] {
            let mut args = vec!["--format", format];
            args.extend_from_slice(streaming);
            assert_same_output(&REVENUE_BY_USER, plugins::REVENUE_BY_USER, &input, &args);
        }
    }
}

/// The line of `plugins/js/testing/throws/job.js` that holds `needle`, as `job.js:N:`.
fn throwing_line(needle: &str) -> String {
    let source = std::fs::read_to_string(repo().join("plugins/js/testing/throws/job.js")).unwrap();
    let line = source
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line of job.js holds {needle:?}"));
    format!("job.js:{}:", line + 1)
}

/// Runs the throwing job on `text` with `args`; returns the run and its `error:` line.
fn run_throws(text: &str, args: &[&str]) -> (crate::Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, text).unwrap();
    let run = run_job(&THROWS, &input, &dir.path().join("out"), args);
    let line = run.assert_error().to_owned();
    assert!(
        !dir.path().join("out").exists(),
        "a failed job left output\n{run}"
    );
    (run, line)
}

#[test]
fn an_error_thrown_in_map_reaches_the_user_with_its_stack() {
    let (run, line) = run_throws("one two\nthree boom four\nfive\n", &[]);
    for want in [
        r#"Error: map found boom in \"three boom four\""#,
        "stack:",
        &format!("map@{}", throwing_line("throw new Error")),
        "input.txt line",
    ] {
        assert!(
            line.contains(want),
            "{want:?} is not in the error line\n{run}"
        );
    }
    // An exception is the job's fault (only a `RecordError` blames the input), in map as in
    // reduce (below).
    run.assert_exit(ExitClass::Plugin);
}

#[test]
fn a_thrown_string_reaches_the_user_too() {
    let (run, line) = run_throws("boom\n", &["--param", "throw=string"]);
    assert!(
        line.contains(r#"thrown value (not an Error, so it has no stack): \"map refuses boom\""#),
        "{run}"
    );
}

#[test]
fn an_error_thrown_in_reduce_reaches_the_user_with_its_stack() {
    let (run, line) = run_throws("one kaboom\ntwo\n", &[]);
    for want in [
        "TypeError: reduce cannot count kaboom",
        r#"on the key \"kaboom\""#,
        &format!("reduce@{}", throwing_line("throw new TypeError")),
    ] {
        assert!(
            line.contains(want),
            "{want:?} is not in the error line\n{run}"
        );
    }
    run.assert_exit(ExitClass::Plugin);
}

/// Node.js, which the JavaScript toolchain needs anyway.
fn node() -> Command {
    let node = which("node").unwrap_or_else(|| {
        panic!("node is not on PATH: install it with scripts/setup-toolchain.sh js")
    });
    Command::new(node)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Runs `node --test` in `dir` on `files` (all of the directory's tests when empty) and checks
/// that tests ran and none failed.
fn node_test(dir: &Path, files: &[PathBuf]) {
    let output = node()
        .arg("--test")
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "node --test in {} failed\n{report}",
        dir.display()
    );
    let passed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok());
    assert!(
        passed.is_some_and(|n| n > 0),
        "no test ran in {}\n{report}",
        dir.display()
    );
}

#[test]
fn the_examples_native_tests_pass() {
    for example in ["wordcount", "revenue-by-user"] {
        node_test(&repo().join("plugins/js").join(example), &[]);
    }
}

#[test]
fn the_sdks_own_tests_pass() {
    let dir = repo().join("sdk/js");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "sdk/js/tests has no tests");
    node_test(&dir, &files);
}

#[test]
fn a_new_project_builds_and_counts_words_as_the_rust_wordcount() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("tally");
    sandmill(["new", arg(&project), "--lang", "js"]).assert_success();
    node_test(&project, &[]);
    let run = sandmill(["build", arg(&project)]);
    run.assert_success();
    let component = project.join("build/tally.wasm");
    assert_eq!(
        run.stdout.trim_end(),
        component.display().to_string(),
        "{run}"
    );
    let text = dir.path().join("text");
    std::fs::create_dir(&text).unwrap();
    generate::text(&text, 0x5eed_0015, 200_000);
    assert_same_output(&component, plugins::WORDCOUNT, &text, &[]);
}
