//! Jobs in C (`sdk/c`, `plugins/c/`): built from source with `sandmill build`, compared byte for
//! byte with the Rust jobs; errors and traps reaching the user; the examples' native tests; and
//! `sandmill new --lang c` as a new user runs it.

use super::{STREAMING, assert_same_output, build, parts, repo, run_job};
use crate::{arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::{generate, plugins};
use std::path::Path;
use std::process::Command;

/// The C examples and test jobs.
fn c_plugins() -> std::path::PathBuf {
    repo().join("plugins/c")
}

#[test]
fn wordcount_matches_rust() {
    let plugin = build(&c_plugins().join("wordcount"));
    let dir = tempfile::tempdir().unwrap();
    generate::text(dir.path(), 0x5eed_c001, 300_000);
    assert_same_output(&plugin, plugins::WORDCOUNT, dir.path(), &[]);
    assert_same_output(&plugin, plugins::WORDCOUNT, dir.path(), STREAMING);
}

#[test]
fn revenue_by_user_matches_rust_on_json_lines_and_csv() {
    let plugin = build(&c_plugins().join("revenue-by-user"));
    let dir = tempfile::tempdir().unwrap();
    let files = generate::events(dir.path(), 0x5eed_c002, 300_000);
    for (format, input) in [("jsonl", &files.jsonl[0]), ("csv", &files.csv[0])] {
        let input = input.parent().unwrap();
        for extra in [&[][..], STREAMING] {
            let mut args = vec!["--format", format];
            args.extend_from_slice(extra);
            assert_same_output(&plugin, plugins::REVENUE_BY_USER, input, &args);
        }
    }
}

/// The line of the exception test job's `job.c` that holds `needle`, as the SDK's traces name it.
fn exception_line(needle: &str) -> String {
    let source = std::fs::read_to_string(c_plugins().join("testing/exception/job.c")).unwrap();
    let line = source.lines().position(|l| l.contains(needle));
    format!("job.c:{}", line.expect(needle) + 1)
}

/// Runs the exception test job on one file holding `text`.
fn run_exception_job(text: &str) -> crate::Run {
    let plugin = build(&c_plugins().join("testing/exception"));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, text).unwrap();
    run_job(&plugin, &input, &dir.path().join("out"), &[])
}

#[test]
fn an_error_in_map_reaches_the_user_with_its_trace() {
    let run = run_exception_job("fine words\nthis goes boom\n");
    let error = run.assert_error();
    // A `failed` job-error is the job's fault, in map as in reduce; only a record the job
    // blames (`invalid-record`) is bad input.
    run.assert_exit(ExitClass::Plugin);
    assert!(
        error.contains("the record contains boom (14 bytes)"),
        "{run}"
    );
    assert!(
        error.contains("line 1"),
        "the host names the batch's records: {run}"
    );
    // The trace: where the error was made, then the call that passed it up.
    let trace = format!(
        "(at {} in check; from {} in map)",
        exception_line("return sm_fail(\"the record contains boom"),
        exception_line("SM_TRY(check(")
    );
    assert!(error.contains(&trace), "{trace} in {run}");
}

#[test]
fn an_error_in_reduce_reaches_the_user_with_its_trace() {
    let run = run_exception_job("bang once\nand bang again\n");
    let error = run.assert_error();
    run.assert_exit(ExitClass::Plugin);
    assert!(error.contains("reduce met the key bang"), "{run}");
    assert!(error.contains("\"bang\""), "the host names the key: {run}");
    let trace = format!(
        "(at {} in reduce)",
        exception_line("return sm_fail(\"reduce met")
    );
    assert!(error.contains(&trace), "{trace} in {run}");
}

#[test]
fn a_failed_assert_traps_and_shows_its_message() {
    let run = run_exception_job("fine\nplease assert this\n");
    let error = run.assert_error();
    run.assert_exit(ExitClass::Plugin);
    assert!(error.contains("trapped"), "{run}");
    // wasi-libc's assert() writes this line to stderr before it aborts; the host shows it.
    let line = exception_line("assert(!contains(line, \"assert\"))");
    let line = line.trim_start_matches("job.c:");
    let message =
        format!(r#"Assertion failed: !contains(line, \"assert\") (job.c: check: {line})"#);
    assert!(error.contains(&message), "{message} in {run}");
}

#[test]
fn a_bad_record_is_bad_input_named_by_its_line() {
    let plugin = build(&c_plugins().join("revenue-by-user"));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let events = "{\"user_id\": 1, \"amount_cents\": 5}\n{\"user_id\": 2.5, \"amount_cents\": 5}\n";
    std::fs::write(&input, events).unwrap();
    let run = run_job(
        &plugin,
        &input,
        &dir.path().join("out"),
        &["--format", "jsonl"],
    );
    let error = run.assert_error();
    run.assert_exit(ExitClass::BadInput);
    assert!(error.contains("line 2"), "{run}");
    assert!(
        error.contains("field `user_id` is a floating point number, expected an i64 (at job.c:"),
        "{run}"
    );
}

/// Compiles a C project's `test.c` natively with the machine's `cc` and runs it, as its
/// README says; returns what it printed.
fn run_native_test(project: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("test");
    let mut sources = vec!["test.c".to_owned(), "job.c".to_owned()];
    let mut sdk: Vec<String> = std::fs::read_dir(project.join("sandmill"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".c"))
        .map(|name| format!("sandmill/{name}"))
        .collect();
    sdk.sort();
    sources.extend(sdk);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let compiled = Command::new(&cc)
        .current_dir(project)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .args(&sources)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (the machine's C compiler): {e}"));
    assert!(
        compiled.status.success(),
        "{cc} failed on {}: {}",
        project.display(),
        String::from_utf8_lossy(&compiled.stderr)
    );
    let ran = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(
        ran.status.success(),
        "the native test of {} failed:\n{stdout}{}",
        project.display(),
        String::from_utf8_lossy(&ran.stderr)
    );
    stdout
}

#[test]
fn the_examples_native_tests_pass() {
    let wordcount = run_native_test(&c_plugins().join("wordcount"));
    assert!(wordcount.ends_with("1 passed, 0 failed\n"), "{wordcount}");
    let revenue = run_native_test(&c_plugins().join("revenue-by-user"));
    assert!(revenue.ends_with("4 passed, 0 failed\n"), "{revenue}");
    let sdk = run_native_test(&c_plugins().join("testing/sdk"));
    assert!(sdk.ends_with("16 passed, 0 failed\n"), "{sdk}");
}

#[test]
fn parameters_the_batch_hook_partitions_and_a_combine_of_the_jobs_own_in_a_component() {
    let plugin = build(&c_plugins().join("testing/sdk"));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("words.txt");
    std::fs::write(&input, "b a b\n_x b\na\n").unwrap();
    let out = dir.path().join("out");
    let run = run_job(&plugin, &input, &out, &["--param", "min=2"]);
    run.assert_success();
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains("Info: b is frequent"),
        "the job's log: {run}"
    );
    let counter = shown.lines().find(|l| l.trim_start().starts_with("lines "));
    assert_eq!(
        counter.map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["lines", "3"]),
        "{run}"
    );
    let mut lines: Vec<String> = parts(&out)
        .into_iter()
        .flat_map(|(path, bytes)| {
            let dir = path.parent().unwrap().display().to_string();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|line| format!("{dir}: {line}"))
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, ["initial=a: a\t2", "initial=b: b\t3"]);

    let typo = run_job(
        &plugin,
        &input,
        &dir.path().join("typo"),
        &["--param", "mni=2"],
    );
    let error = typo.assert_error();
    typo.assert_exit(ExitClass::Usage);
    assert!(
        error.contains("unknown parameter \\\"mni\\\": this job takes min"),
        "{typo}"
    );
}

#[test]
fn the_sdks_wit_is_the_contract() {
    let canonical = std::fs::read_to_string(repo().join("wit/job.wit")).unwrap();
    let copy = std::fs::read_to_string(repo().join("sdk/c/wit/job.wit")).unwrap();
    assert!(
        canonical == copy,
        "sdk/c/wit/job.wit differs from wit/job.wit: copy it over"
    );
}

#[test]
fn a_new_project_builds_and_counts_words_as_the_rust_job() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my-words");
    sandmill(["new", arg(&project), "--lang", "c"]).assert_success();
    assert!(project.join("sandmill/sandmill.h").is_file());
    let native = run_native_test(&project);
    assert!(native.ends_with("1 passed, 0 failed\n"), "{native}");

    let built = sandmill(["build", arg(&project)]);
    built.assert_success();
    let component = project.join("build/my-words.wasm");
    assert_eq!(
        built.stdout.trim_end(),
        component.display().to_string(),
        "{built}"
    );
    let input = dir.path().join("text");
    std::fs::create_dir(&input).unwrap();
    generate::text(&input, 0x5eed_c003, 200_000);
    assert_same_output(&component, plugins::WORDCOUNT, &input, &[]);
}

#[test]
fn a_missing_toolchain_is_named_with_the_command_that_installs_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(["build", arg(&c_plugins().join("wordcount")), "--output"])
        .arg(dir.path().join("wordcount.wasm"))
        .env("PATH", &empty)
        .env("SANDMILL_TOOLCHAINS", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: clang not found"), "{stderr}");
    assert!(stderr.contains("scripts/setup-toolchain.sh c"), "{stderr}");
    assert!(stderr.contains("apt-get install clang-19"), "{stderr}");
}
