//! Fault injection: failpoints armed through `SANDMILL_FAILPOINTS` make writes fail or the
//! process crash at chosen places, and the job must retry what can pass on a second try, fail
//! cleanly when it cannot, and never leave partial output.
//!
//! Each test forces the path its failpoint is on (a job that must spill, for `spill-write`)
//! and checks, from the `failpoint NAME fired` lines on stderr, that the failpoint acted as
//! often as armed: a test whose failpoint is never reached passes whatever the code does.

use crate::{Run, arg};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::WORDCOUNT;
use std::path::Path;

/// Runs `sandmill run` on the word-count plugin with `failpoints` armed.
fn run_with(failpoints: &str, input: &Path, out: &Path, extra: &[&str]) -> Run {
    let args = [
        "run",
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    crate::sandmill_with_failpoints(args.iter().chain(extra), failpoints)
}

fn words(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("in.txt");
    let text: String = (0..3000)
        .map(|i| format!("w{} common w{}\n", i % 97, i % 13))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Word-count input with 40 000 distinct words: more than the hash combiner of a map task
/// holds under [`SPILLING`], so every map task spills several times.
fn many_words(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("many.txt");
    let text: String = (0..40_000)
        .map(|i| format!("w{i} common w{}\n", i % 13))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Flags under which [`many_words`] spills, whatever the machine: 2 threads share 1 MiB, so a
/// map task's buffer is about 170 KiB, a few thousand distinct words.
const SPILLING: [&str; 6] = ["--memory", "1MiB", "--threads", "2", "--reducers", "2"];

fn expected(dir: &Path, input: &Path) -> Vec<String> {
    let out = dir.join("clean");
    run_with("", input, &out, &[]).assert_success();
    read_output(&out)
}

/// How many times the failpoint `name` acted in `run`.
fn fired(run: &Run, name: &str) -> usize {
    let line = sandmill::failpoint::fired_line(name);
    run.stderr.lines().filter(|l| l.starts_with(&line)).count()
}

/// The spills the job summary reports.
fn spills(run: &Run) -> u64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("shuffle: memory budget"))
        .unwrap_or_else(|| panic!("no shuffle line in the summary\n{run}"));
    let (_, rest) = line.split_once("; ").expect("`; N spills`");
    rest.split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("a spill count")
}

#[test]
fn transient_io_errors_while_spilling_and_writing_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let input = many_words(dir.path());
    let want = expected(dir.path(), &input);
    // The path is taken without failpoints too: these flags make the job spill.
    let clean = run_with("", &input, &dir.path().join("spilled"), &SPILLING);
    assert!(spills(clean.assert_success()) >= 2, "{clean}");
    for (point, times) in [
        ("spill-write", 2),
        ("part-write", 3),
        ("task-commit-before", 1),
    ] {
        let failpoints = format!("{point}=error({times})");
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let run = run_with(&failpoints, &input, &out, &SPILLING);
        run.assert_success();
        assert_eq!(fired(&run, point), times, "{failpoints}: fired\n{run}");
        assert!(spills(&run) >= 2, "{failpoints}: the job spilled\n{run}");
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
        fired(&run, "part-write") >= 3,
        "every attempt failed\n{run}"
    );
    assert!(
        line.contains("attempt-3"),
        "the third attempt fails last: {line}"
    );
    assert!(!out.exists());
    // Nothing else is visible beside the output; the dataset's hidden home keeps only what
    // a rerun resumes from (committed tasks), no attempt's files.
    let visible: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible, ["in.txt"], "{visible:?}");
    let work = dir.path().join(".out.sandmill/work");
    let attempts: Vec<_> = walk(&work)
        .into_iter()
        .filter(|p| p.contains("/attempts/"))
        .collect();
    assert!(
        attempts.iter().all(|p| p.ends_with("/attempts")),
        "{attempts:?}"
    );
}

/// Every path below `dir`.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

/// Runs the fail-on-record plugin on `lines` with `extra` flags.
fn fail_on_record(dir: &Path, lines: &[&str], extra: &[&str]) -> (Run, std::path::PathBuf) {
    let input = dir.join("records.txt");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let run = crate::sandmill(
        [
            "run",
            sandmill_tests::plugins::FAIL_ON_RECORD,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
        ]
        .iter()
        .chain(extra),
    );
    (run, out)
}

#[test]
fn bad_records_are_quarantined_with_their_location_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let lines = ["a", "b", "a", "panic", "c", "b"];
    let flags = [
        "-p",
        "fail=b",
        "--max-bad-records",
        "3",
        "--split-size",
        "1KiB",
    ];
    let (run, out) = fail_on_record(dir.path(), &lines, &flags);
    run.assert_success();
    assert_eq!(read_output(&out), ["a\t2", "c\t1"]);
    assert!(run.stdout.contains("bad records quarantined: 3"), "{run}");
    let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
    let rejects: Vec<serde_json::Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let found: Vec<(u64, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["record"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(2, "b".into()), (4, "panic".into()), (6, "b".into())]
    );
    assert_eq!(
        rejects[0]["error"].as_str().unwrap(),
        "this record was chosen to fail",
        "the plugin's message, not the record's index in its batch: {rejects:?}"
    );
    assert!(
        rejects[1]["error"].as_str().unwrap().contains("trapped"),
        "{rejects:?}"
    );
    assert!(
        rejects[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("records.txt")
    );

    // One more bad record than allowed fails the job, naming the one that went over.
    let flags = ["-p", "fail=b", "--max-bad-records", "2"];
    let (run, out) = fail_on_record(dir.path(), &lines, &flags);
    let line = run.assert_error();
    assert!(line.contains("more than 2 bad records"), "{line}");
    assert!(line.contains("records.txt line"), "{line}");
    assert!(!out.exists());
}

#[test]
fn verify_runs_tasks_twice_and_names_one_whose_output_differs() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(dir.path());
    let out = dir.path().join("out");
    run_with("", &input, &out, &["--verify", "--reducers", "2"]).assert_success();

    // An injected difference in the second run of each map, then each reduce task.
    for (failpoint, kind) in [
        ("nondeterminism-map", "map task"),
        ("nondeterminism-reduce", "reduce task"),
    ] {
        let out = dir.path().join(failpoint);
        let run = run_with(
            &format!("{failpoint}=error"),
            &input,
            &out,
            &["--verify=1", "--reducers", "2"],
        );
        let line = run.assert_error();
        assert!(line.contains("is not deterministic"), "{line}");
        assert!(line.contains(kind), "{line}");
        assert!(fired(&run, failpoint) >= 1, "{run}");
        assert!(!out.exists());
    }

    // A sample of tasks is checked when a fraction is given; none here, so the job passes.
    let out = dir.path().join("out3");
    let run = run_with(
        "nondeterminism-reduce=error",
        &input,
        &out,
        &["--verify=0.000001", "--reducers", "2"],
    );
    run.assert_success();
    assert_eq!(
        fired(&run, "nondeterminism-reduce"),
        0,
        "no task was sampled, so none was run twice\n{run}"
    );
}

#[test]
fn counters_and_logs_of_failed_attempts_are_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    // Enough lines for a 64 KiB budget to spill, with two that log and count.
    let mut text = String::from("log\n");
    text.extend((0..20_000).map(|i| format!("line{i}\n")));
    text.push_str("log\n");
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        sandmill_tests::plugins::FAIL_ON_RECORD,
        "--input",
        arg(&input),
    ];
    let run = crate::sandmill_with_failpoints(
        args.iter()
            .chain(&["--output", arg(&out), "--memory", "64KiB", "--threads", "1"]),
        "spill-write=error(1)",
    );
    run.assert_success();
    assert_eq!(
        fired(&run, "spill-write"),
        1,
        "the first attempt spilled\n{run}"
    );
    assert!(spills(&run) >= 1, "{run}");
    // The first map attempt logged and counted, then failed to spill; only the retry counts.
    let counter = run
        .stdout
        .lines()
        .find(|l| l.contains("log-lines"))
        .unwrap_or_default();
    assert!(counter.trim_end().ends_with(" 2"), "{run}");
    assert_eq!(run.stderr.matches("saw a log line").count(), 2, "{run}");
}
