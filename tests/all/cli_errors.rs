//! Failures a user can cause, and how the CLI reports them: a non-zero exit code, a last
//! stderr line `error: …` that names the problem (the path, the file and line, the parameter),
//! and no `--output` directory left behind. Also `sandmill inspect`.

use crate::{Run, arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::{output, plugins, reference};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

// Every test guest needs a test here named after it; example jobs are tested in `jobs`.
macro_rules! assert_test_exists {
    (fail_on_record, $path:ident) => {
        #[expect(unused_imports, reason = "only checks that the tests exist")]
        use self::fail_on_record as _;
    };
    ($name:ident, $path:ident) => {};
}
sandmill_tests::foreach_plugin!(assert_test_exists);

/// A scratch directory with an input that every job can read and an output path that does
/// not exist yet.
struct Scratch {
    dir: TempDir,
    /// A small text file: word count and fail-on-record accept it.
    input: PathBuf,
    /// `dir/out`, absent until a run creates it.
    out: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.txt");
        std::fs::write(&input, "one two\nTwo three\n").unwrap();
        let out = dir.path().join("out");
        Self { dir, input, out }
    }

    /// Writes `contents` to `name` in the scratch directory.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `run <plugin> --input <input> --output <out>` plus `extra`.
    fn run(&self, plugin: &str, input: &Path, extra: &[&str]) -> Run {
        let args = [
            "run",
            plugin,
            "--input",
            arg(input),
            "--output",
            arg(&self.out),
        ];
        sandmill(args.iter().chain(extra))
    }

    /// Runs a job that must fail and checks how: see the module docs. Returns the run and its
    /// error line.
    fn run_failing(&self, plugin: &str, input: &Path, extra: &[&str]) -> (Run, String) {
        let run = self.run(plugin, input, extra);
        let line = run.assert_error().to_owned();
        assert!(
            !self.out.exists(),
            "{} exists after a failed run\n{run}",
            self.out.display()
        );
        (run, line)
    }
}

/// Asserts that `line` contains every one of `parts`.
#[track_caller]
fn assert_mentions(line: &str, parts: &[&str], run: &Run) {
    for part in parts {
        assert!(
            line.contains(part),
            "the error does not mention {part:?}: {line}\n{run}"
        );
    }
}

/// Asserts that the message names line `n` (and not, say, line `n`0).
#[track_caller]
fn assert_mentions_line(line: &str, n: usize, run: &Run) {
    let needle = format!("line {n}");
    let found = line
        .match_indices(&needle)
        .any(|(i, _)| !line[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(
        found,
        "the error does not mention {needle:?}: {line}\n{run}"
    );
}

#[test]
fn missing_input_path() {
    let s = Scratch::new();
    let missing = s.dir.path().join("does-not-exist.txt");
    let (run, line) = s.run_failing(plugins::WORDCOUNT, &missing, &[]);
    assert_mentions(&line, &["does-not-exist.txt"], &run);
    run.assert_exit(ExitClass::BadInput);
}

#[test]
fn plugin_that_is_not_wasm() {
    let s = Scratch::new();
    let plugin = s.file("not-wasm.wasm", "this is a text file\n");
    let (run, line) = s.run_failing(arg(&plugin), &s.input, &[]);
    assert_mentions(&line, &["not-wasm.wasm"], &run);
}

#[test]
fn plugin_that_is_a_core_module() {
    let s = Scratch::new();
    // The smallest valid core module: magic and version 1, no sections.
    let plugin = s.file("core-module.wasm", b"\0asm\x01\0\0\0");
    let (run, line) = s.run_failing(arg(&plugin), &s.input, &[]);
    assert_mentions(&line, &["core-module.wasm"], &run);
    assert!(
        line.to_lowercase().contains("component"),
        "should say it is not a component: {line}"
    );
}

#[test]
fn plugin_with_the_wrong_world() {
    let s = Scratch::new();
    // The smallest valid component: the preamble (magic, version 0xd, layer 1) and no
    // sections. It exports nothing, so not `sandmill:job/job`.
    let plugin = s.file("empty-component.wasm", b"\0asm\x0d\0\x01\0");
    let (run, line) = s.run_failing(arg(&plugin), &s.input, &[]);
    assert_mentions(&line, &["empty-component.wasm", "world"], &run);
}

/// A malformed record deep inside a file that spans several splits: the message names the file
/// and the line counted from the start of the file, not of the split.
#[test]
fn malformed_records_name_the_file_and_line() {
    struct Case {
        format: &'static str,
        file: &'static str,
        header: Option<&'static str>,
        row: fn(usize) -> String,
        bad: &'static str,
    }
    let cases = [
        Case {
            format: "jsonl",
            file: "events.jsonl",
            header: None,
            row: |i| {
                format!(
                    r#"{{"user_id":{},"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":{i}}}"#,
                    i % 17
                )
            },
            bad: r#"{"user_id":12,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":}"#,
        },
        Case {
            format: "csv",
            file: "events.csv",
            header: Some("user_id,ts,event,amount_cents"),
            row: |i| format!("{},2026-03-22T10:00:00Z,\"buy, again\",{i}", i % 17),
            bad: "twelve,2026-03-22T10:00:00Z,buy,5",
        },
    ];
    for case in cases {
        let s = Scratch::new();
        let mut lines: Vec<String> = case.header.iter().map(|h| h.to_string()).collect();
        lines.extend((0..400).map(case.row));
        // Blank lines are skipped but still counted.
        lines.insert(5, String::new());
        lines.insert(9, "   ".to_string());
        let bad_line = 297;
        lines.insert(bad_line - 1, case.bad.to_string());
        let text = lines.join("\n") + "\n";
        let offset = text.find(case.bad).unwrap();
        assert!(
            offset > 5 * 2000,
            "the bad line is at byte {offset}, in an early split"
        );
        let input = s.file(case.file, text);
        // A good file next to it, so that naming the wrong file fails the test.
        let good = s.file(
            &format!("good.{}", case.format),
            lines[..3].join("\n") + "\n",
        );
        let args = [
            "--format",
            case.format,
            "--split-size",
            "2000",
            "--input",
            arg(&good),
        ];
        let (run, line) = s.run_failing(plugins::REVENUE_BY_USER, &input, &args);
        assert_mentions(&line, &[case.file], &run);
        assert_mentions_line(&line, bad_line, &run);
        run.assert_exit(ExitClass::BadInput);
    }
}

#[test]
fn output_under_a_regular_file() {
    let s = Scratch::new();
    let file = s.file("some_file", "not a directory\n");
    let out = file.join("out");
    let args = [
        "run",
        plugins::WORDCOUNT,
        "--input",
        arg(&s.input),
        "--output",
        arg(&out),
    ];
    let run = sandmill(args);
    let line = run.assert_error();
    assert_mentions(line, &["some_file"], &run);
    assert!(file.is_file(), "the file in the way was changed");
}

#[test]
fn existing_output_is_kept_without_overwrite_and_replaced_with_it() {
    let s = Scratch::new();
    std::fs::create_dir(&s.out).unwrap();
    let stale = s.out.join("part-00000");
    std::fs::write(&stale, "stale\t1\n").unwrap();

    let run = s.run(plugins::WORDCOUNT, &s.input, &["--reducers", "2"]);
    let line = run.assert_error();
    assert_mentions(line, &["--overwrite"], &run);
    assert_eq!(
        std::fs::read_to_string(&stale).unwrap(),
        "stale\t1\n",
        "the refused run wrote"
    );
    assert!(!s.out.join("_SUCCESS").exists());

    s.run(
        plugins::WORDCOUNT,
        &s.input,
        &["--reducers", "2", "--overwrite"],
    )
    .assert_success();
    output::assert_committed(&s.out, 2);
    assert_eq!(
        output::read_output(&s.out),
        reference::wordcount(&[&s.input])
    );
}

#[test]
fn unknown_param_is_named() {
    let s = Scratch::new();
    let (run, line) = s.run_failing(
        plugins::WORDCOUNT,
        &s.input,
        &["--param", "no_such_param=1"],
    );
    assert_mentions(&line, &["no_such_param"], &run);
}

#[test]
fn usage_error_exits_with_2() {
    let s = Scratch::new();
    let run = s.run(plugins::WORDCOUNT, &s.input, &["--reducers", "many"]);
    // clap may follow its `error:` line with a usage hint, so only the code and text are checked.
    assert_eq!(
        run.status.code(),
        Some(2),
        "exit code of a usage error\n{run}"
    );
    assert!(
        run.stderr.contains("error:") && run.stderr.contains("--reducers"),
        "{run}"
    );
    assert!(!s.out.exists());
}

#[test]
fn inspect_prints_the_world_and_exports() {
    let run = sandmill(["inspect", plugins::WORDCOUNT]);
    run.assert_success();
    for part in ["sandmill:job", "map-batch", "reduce-groups"] {
        assert!(
            run.stdout.contains(part),
            "inspect does not print {part:?}\n{run}"
        );
    }
}

/// The test guest `fail-on-record`: errors and traps on chosen records.
mod fail_on_record {
    use super::*;

    /// Text lines spanning several 2000-byte splits with `special` at line `at`.
    fn input_with(s: &Scratch, name: &str, special: &str, at: usize) -> PathBuf {
        let mut lines: Vec<String> = (1..=600)
            .map(|i| format!("record number {i} of the test input"))
            .collect();
        lines[at - 1] = special.to_string();
        let text = lines.join("\n") + "\n";
        assert!(text.find(special).unwrap() > 4 * 2000);
        s.file(name, text)
    }

    #[test]
    fn fail_param_names_the_file_and_line() {
        let s = Scratch::new();
        let input = input_with(&s, "chosen.txt", "boom", 321);
        let args = [
            "--param",
            "fail=boom",
            "--split-size",
            "2000",
            "--input",
            arg(&s.input),
        ];
        let (run, line) = s.run_failing(plugins::FAIL_ON_RECORD, &input, &args);
        assert_mentions(&line, &["chosen.txt"], &run);
        assert_mentions_line(&line, 321, &run);
        run.assert_exit(ExitClass::BadInput);
    }

    #[test]
    fn fail_param_on_a_line_that_is_not_there_succeeds() {
        let s = Scratch::new();
        s.run(
            plugins::FAIL_ON_RECORD,
            &s.input,
            &["--param", "fail=absent"],
        )
        .assert_success();
        // Whole lines are the keys; byte order puts `T` before `o`.
        assert_eq!(output::read_output(&s.out), ["Two three\t1", "one two\t1"]);
    }

    #[test]
    fn panic_is_reported_as_a_trap() {
        let s = Scratch::new();
        let input = input_with(&s, "panics.txt", "panic", 250);
        let (run, line) = s.run_failing(plugins::FAIL_ON_RECORD, &input, &["--split-size", "2000"]);
        assert_mentions(&line, &["panics.txt"], &run);
        let lower = line.to_lowercase();
        assert!(
            lower.contains("trap") || lower.contains("panic"),
            "{line}\n{run}"
        );
        run.assert_exit(ExitClass::Plugin);
    }
}
