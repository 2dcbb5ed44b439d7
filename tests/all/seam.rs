//! Plan, task, executor and publish seen from outside: tasks run in their own processes
//! (`--executor process`, `sandmill task plan` and `task run`) write what one process writes;
//! `--verify` checks before anything commits; bad records count once per committed task; the
//! exit status says who is at fault; inputs that change under a job and SIGTERM are handled.

use crate::{Run, arg, sandmill, sandmill_with_failpoints};
use sandmill::error::ExitClass;
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::{FAIL_ON_RECORD, WORDCOUNT};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Eight input files of words, about 60 KiB in all: several splits at `--split-size 8KiB`.
fn inputs(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for f in 0..8 {
        let text: String = (0..800)
            .map(|i| format!("w{} common f{f} w{}\n", (i * 7 + f) % 113, i % 17))
            .collect();
        std::fs::write(input.join(format!("part{f}.txt")), text).unwrap();
    }
    input
}

/// The flags of one word-count job on `input` into `out`.
fn job<'a>(input: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
        "--reducers",
        "3",
        "--split-size",
        "8KiB",
    ];
    args.extend_from_slice(extra);
    args
}

/// Every file of the current version of the dataset at `out` but the manifest (which names the
/// plugin by path), with its bytes.
fn version_files(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walk(out)
        .into_iter()
        .filter(|(name, _)| name != "_MANIFEST.json")
        .collect();
    files.sort();
    assert!(files.iter().any(|(n, _)| n == "part-00002"), "{files:?}");
    files
}

fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path).into_iter().map(|(name, bytes)| {
                let dir = path.file_name().unwrap().to_string_lossy();
                (format!("{dir}/{name}"), bytes)
            }));
        } else {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            found.push((name, std::fs::read(&path).unwrap()));
        }
    }
    found
}

/// The `files` of the current version's manifest.
fn manifest_files(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("_MANIFEST.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["files"].clone()
}

#[test]
fn tasks_run_in_processes_of_their_own_write_the_bytes_one_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let local = dir.path().join("local");
    let args = [&["run"][..], &job(&input, &local, &[])].concat();
    sandmill(&args).assert_success();
    let want = version_files(&local);

    // The process executor: every attempt a `sandmill task run`.
    let processes = dir.path().join("processes");
    let args = [
        &["run"][..],
        &job(&input, &processes, &["--executor", "process"]),
    ]
    .concat();
    sandmill(&args).assert_success();
    assert_eq!(version_files(&processes), want);
    assert_eq!(manifest_files(&processes), manifest_files(&local));

    // By hand: plan, run every map task's spec, plan again, run every reduce task's, publish.
    let manual = dir.path().join("manual");
    let specs = dir.path().join("specs");
    let plan = || {
        let args = [
            &["task", "plan"][..],
            &job(&input, &manual, &["--specs", arg(&specs)]),
        ]
        .concat();
        let run = sandmill(&args);
        run.assert_success();
        run.stdout
            .lines()
            .map(|line| line.split_once(' ').unwrap())
            .map(|(phase, path)| (phase.to_owned(), PathBuf::from(path)))
            .collect::<Vec<_>>()
    };
    for phase in ["map", "reduce"] {
        let tasks = plan();
        assert!(tasks.len() >= 3, "{tasks:?}");
        for (got, spec) in tasks {
            assert_eq!(got, phase);
            let run = sandmill(["task", "run", "--spec", arg(&spec)]);
            run.assert_success();
            let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
            assert_eq!(result["status"], "ok", "{run}");
            assert_eq!(result["attempt"], 1, "{run}");
            assert!(
                result["counts"]["records_in"].as_u64().unwrap() > 0,
                "{run}"
            );
            // Word count logs nothing: an empty log, not a missing one.
            assert_eq!(result["log"]["messages"], serde_json::json!([]), "{run}");
        }
    }
    assert!(
        plan()[0].0.starts_with("publish:"),
        "nothing is left to run"
    );
    let args = [&["run"][..], &job(&input, &manual, &[])].concat();
    let run = sandmill(&args);
    run.assert_success();
    assert!(run.stdout.contains("resumed:"), "{run}");
    assert_eq!(version_files(&manual), want);
    assert_eq!(manifest_files(&manual), manifest_files(&local));
}

#[test]
fn a_task_run_alone_prints_its_plugin_messages_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    std::fs::write(&input, "a\nlog\nb\nlog\nlog\n").unwrap();
    let (out, specs) = (dir.path().join("out"), dir.path().join("specs"));
    let plan = |phase: &str| {
        let run = sandmill([
            "task",
            "plan",
            FAIL_ON_RECORD,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
            "--reducers",
            "1",
            "--specs",
            arg(&specs),
        ]);
        run.assert_success();
        let spec = specs.join(format!("{phase}-0.json"));
        assert!(run.stdout.contains(arg(&spec)), "{run}");
        spec
    };
    let run = sandmill(["task", "run", "--spec", arg(&plan("map"))]);
    run.assert_success();
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let log = &result["log"];
    assert_eq!(
        log["counters"],
        serde_json::json!({"log-lines": 3}),
        "{run}"
    );
    let message = serde_json::json!(["Info", "saw a log line"]);
    assert_eq!(
        log["messages"],
        serde_json::json!([message, message, message]),
        "{run}"
    );
    // The reduce logs nothing; a result says so.
    let run = sandmill(["task", "run", "--spec", arg(&plan("reduce"))]);
    run.assert_success();
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(result["log"]["counters"], serde_json::json!({}), "{run}");
}

#[test]
fn a_task_spec_whose_input_changed_fails_as_bad_input_and_says_so_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    let specs = dir.path().join("specs");
    let args = [
        &["task", "plan"][..],
        &job(&input, &out, &["--specs", arg(&specs)]),
    ]
    .concat();
    sandmill(&args).assert_success();
    // Every file is read by some map task: truncate them all, and the first spec reads one.
    for f in 0..8 {
        std::fs::write(input.join(format!("part{f}.txt")), "short\n").unwrap();
    }
    let run = sandmill(["task", "run", "--spec", arg(&specs.join("map-0.json"))]);
    run.assert_exit(ExitClass::BadInput);
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(result["status"], "bad-input", "{run}");
    assert_eq!(result["retryable"], false, "{run}");
    // Nothing of a failed attempt is committed, its log neither.
    assert_eq!(result["log"], serde_json::Value::Null, "{run}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("changed while the job ran"), "{run}");

    let run = sandmill([
        "task",
        "run",
        "--spec",
        arg(&dir.path().join("nothing.json")),
    ]);
    run.assert_exit(ExitClass::Usage);
}

/// The work directory of the one job run in progress on the dataset `name` in `dir`.
fn work_dir(dir: &Path, name: &str) -> PathBuf {
    let runs = dir.join(format!(".{name}.sandmill/work"));
    let mut runs = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path());
    let run = runs.next().expect("a job run in progress");
    assert!(runs.next().is_none(), "one job run in progress");
    run
}

/// Waits until `path` exists (the job reached a point), failing after a minute.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(args: &[&str], failpoints: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(args)
        .env("SANDMILL_FAILPOINTS", failpoints)
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> Run {
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn an_input_truncated_after_planning_fails_the_job_instead_of_counting_less() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    let args = [&["run"][..], &job(&input, &out, &[])].concat();
    let child = spawn(&args, "planned=sleep(2000)");
    wait_for(&dir.path().join(".out.sandmill/work"));
    std::fs::write(input.join("part7.txt"), "w1 common\n").unwrap();
    let run = finish(child);
    let line = run.assert_error();
    assert!(
        line.contains("part7.txt") && line.contains("changed while the job ran"),
        "{run}"
    );
    run.assert_exit(ExitClass::BadInput);
    assert!(!out.exists());
}

#[test]
fn sigterm_cleans_up_as_ctrl_c_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    // Reduce attempts wait before syncing their part files: their directories are full then.
    let args = [&["run"][..], &job(&input, &out, &["--threads", "2"])].concat();
    let child = spawn(&args, "part-write=sleep(3000)");
    let work = dir.path().join(".out.sandmill/work");
    let start = Instant::now();
    let attempts = loop {
        let found = std::fs::read_dir(&work)
            .into_iter()
            .flatten()
            .flatten()
            .map(|run| run.path().join("attempts"))
            .find(|attempts| {
                std::fs::read_dir(attempts).is_ok_and(|mut entries| {
                    entries.any(|e| {
                        e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("reduce-"))
                    })
                })
            });
        if let Some(attempts) = found {
            break attempts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no attempt started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = finish(child);
    assert_eq!(run.status.code(), Some(130), "{run}");
    assert!(run.stderr.contains("interrupted"), "{run}");
    let left: Vec<_> = std::fs::read_dir(&attempts)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "attempts left behind: {left:?}");
    assert!(!out.exists());
}

/// The numbers of the map tasks named by the entries of `dir` (`map-3.json`,
/// `map-3-attempt-1`).
fn map_tasks_in(dir: &Path) -> std::collections::BTreeSet<u32> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("map-")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

// See: issue 10, item 7 (resume keeps its promise whatever the memory budget).
#[test]
fn ctrl_c_keeps_committed_map_output_held_in_memory_and_the_rerun_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let fresh = dir.path().join("fresh");
    let args = [
        &["run"][..],
        &job(&input, &fresh, &["--summary-json", "-", "--quiet"]),
    ]
    .concat();
    let run = sandmill(&args);
    run.assert_success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let total = report["map"]["tasks"].as_u64().unwrap() as usize;
    let want = version_files(&fresh);

    // The default memory budget: no map task spills, so each keeps its output in memory and
    // writes it to its run file as it commits; that write waits, so an interrupt lands while
    // an attempt that has not committed has files.
    let out = dir.path().join("out");
    let args = [&["run"][..], &job(&input, &out, &["--threads", "1"])].concat();
    let child = spawn(&args, "spill-write=sleep(300)");
    let start = Instant::now();
    let runs = dir.path().join(".out.sandmill/work");
    let work = loop {
        let run = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .next();
        match run.map(|run| run.path()) {
            Some(work) if work.join("shuffle").is_dir() => break work,
            _ => assert!(start.elapsed() < Duration::from_secs(60), "no job run"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (tasks, shuffle) = (work.join("tasks"), work.join("shuffle"));
    // Two map tasks committed, and an attempt that has not committed has its directory.
    while map_tasks_in(&tasks).len() < 2 || map_tasks_in(&shuffle) == map_tasks_in(&tasks) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no two map tasks committed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = finish(child);
    assert_eq!(run.status.code(), Some(130), "{run}");

    // The message says how many are committed, and that is what is on disk: those tasks'
    // output and nothing of any other attempt.
    let committed = map_tasks_in(&tasks);
    let message = format!(
        "interrupted: {} of {total} map tasks and 0 of 3 reduce tasks committed: a rerun of \
         the same command reuses them; removed the files of uncommitted attempts",
        committed.len()
    );
    assert!(run.stderr.contains(&message), "want {message:?}\n{run}");
    assert!(committed.len() >= 2 && committed.len() < total, "{run}");
    assert_eq!(map_tasks_in(&shuffle), committed, "{run}");
    let attempts = std::fs::read_dir(work.join("attempts")).map_or(0, |e| e.count());
    assert_eq!(attempts, 0, "{run}");

    // The rerun runs only the other map tasks, and writes what a fresh run writes.
    let args = [
        &["run"][..],
        &job(
            &input,
            &out,
            &["--threads", "1", "--summary-json", "-", "--quiet"],
        ),
    ]
    .concat();
    let rerun = sandmill(&args);
    rerun.assert_success();
    let report: serde_json::Value = serde_json::from_str(&rerun.stdout).unwrap();
    assert_eq!(report["resumed_tasks"], committed.len(), "{rerun}");
    assert_eq!(report["map"]["tasks"], total, "{rerun}");
    assert_eq!(
        report["map"]["counts"]["spills"], 0,
        "nothing spilled\n{rerun}"
    );
    assert_eq!(version_files(&out), want);
}

#[test]
fn a_task_that_fails_verify_commits_nothing_so_the_same_command_fails_again() {
    let dir = tempfile::tempdir().unwrap();
    // One map task whose output spills to disk (so a committed one would be resumed), and one
    // reduce task: each the only task of its phase.
    let input = dir.path().join("words.txt");
    let text: String = (0..20_000).map(|i| format!("w{i} common\n")).collect();
    std::fs::write(&input, text).unwrap();
    for failpoint in ["nondeterminism-map", "nondeterminism-reduce"] {
        let out = dir.path().join(failpoint);
        let args = [
            "run",
            WORDCOUNT,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
            "--verify",
            "--reducers",
            "1",
            "--threads",
            "1",
            "--memory",
            "64KiB",
        ];
        for round in 0..2 {
            let run = sandmill_with_failpoints(args, &format!("{failpoint}=error"));
            let line = run.assert_error();
            assert!(
                line.contains("is not deterministic"),
                "round {round}: {run}"
            );
            run.assert_exit(ExitClass::Plugin);
            assert!(!out.exists(), "round {round} published rejected output");
        }
    }
}

/// `fail-on-record` over two bad records (`b`) among enough lines to spill at 64 KiB.
fn two_bad_records(dir: &Path) -> PathBuf {
    let path = dir.join("records.txt");
    let mut text = String::from("a\nb\n");
    text.extend((0..20_000).map(|i| format!("line{i}\n")));
    text.push_str("b\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_records_count_once_per_committed_task_not_per_attempt_or_verify_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = two_bad_records(dir.path());
    let run = |name: &str, extra: &[&str], failpoints: &str| {
        let out = dir.path().join(name);
        let args = [
            &[
                "run",
                FAIL_ON_RECORD,
                "--input",
                arg(&input),
                "--output",
                arg(&out),
                "-p",
                "fail=b",
                "--memory",
                "64KiB",
                "--threads",
                "1",
            ][..],
            extra,
        ]
        .concat();
        (sandmill_with_failpoints(&args, failpoints), out)
    };
    for (name, extra, failpoints) in [
        ("alone", &["--max-bad-records", "2"][..], ""),
        ("verified", &["--max-bad-records", "2", "--verify"][..], ""),
        // The first attempt quarantines both, then fails to spill; the retry passes.
        (
            "retried",
            &["--max-bad-records", "2"][..],
            "spill-write=error(1)",
        ),
    ] {
        let (run, out) = run(name, extra, failpoints);
        run.assert_success();
        assert!(
            run.stdout.contains("bad records quarantined: 2"),
            "{name}: {run}"
        );
        let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
        assert_eq!(rejects.lines().count(), 2, "{name}: {rejects}");
        assert_eq!(read_output(&out).len(), 20_001, "{name}");
    }
    // The retry above did happen: with one attempt, the spill fault fails the job.
    let (once, _) = run(
        "once",
        &["--max-bad-records", "2", "--max-attempts", "1"],
        "spill-write=error(1)",
    );
    assert!(
        once.assert_error().contains("failpoint spill-write"),
        "{once}"
    );
    let (run, out) = run("over", &["--max-bad-records", "1", "--verify"], "");
    let line = run.assert_error();
    assert!(line.contains("more than 1 bad records"), "{run}");
    run.assert_exit(ExitClass::BadInput);
    assert!(!out.exists());
}

#[test]
fn the_exit_status_says_who_is_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let missing = dir.path().join("missing.txt");
    let panics = dir.path().join("panics.txt");
    std::fs::write(&panics, "a\npanic\n").unwrap();
    let out = dir.path().join("out");
    let o = arg(&out);
    let cases: [(&[&str], &str, ExitClass); 7] = [
        (
            &[
                WORDCOUNT,
                "--input",
                arg(&input),
                "--output",
                o,
                "--reducers",
                "0",
            ],
            "",
            ExitClass::Usage,
        ),
        (
            &[
                WORDCOUNT,
                "--input",
                arg(&input),
                "--output",
                o,
                "-p",
                "nope=1",
            ],
            "",
            ExitClass::Usage,
        ),
        (
            &[WORDCOUNT, "--input", arg(&missing), "--output", o],
            "",
            ExitClass::BadInput,
        ),
        (
            &[FAIL_ON_RECORD, "--input", arg(&panics), "--output", o],
            "",
            ExitClass::Plugin,
        ),
        (
            &[
                WORDCOUNT,
                "--input",
                arg(&input),
                "--output",
                o,
                "--max-attempts",
                "1",
            ],
            "part-write=error",
            ExitClass::Transient,
        ),
        (
            &[WORDCOUNT, "--input", arg(&input), "--output", o],
            "panic=error",
            ExitClass::Bug,
        ),
        (
            &[WORDCOUNT, "--input", arg(&input), "--output", arg(&input)],
            "",
            ExitClass::Usage,
        ),
    ];
    for (args, failpoints, class) in cases {
        let run = sandmill_with_failpoints([&["run"][..], args].concat(), failpoints);
        run.assert_error();
        run.assert_exit(class);
        assert!(!out.exists(), "{run}");
    }
    let run = sandmill(["rollback", o]);
    run.assert_exit(ExitClass::Usage);
}

#[test]
fn a_corrupt_committed_map_output_fails_the_run_and_the_next_run_recomputes_it() {
    for executor in ["local", "process"] {
        corrupt_map_output_is_recomputed(executor);
    }
}

fn corrupt_map_output_is_recomputed(executor: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let clean = dir.path().join("clean");
    sandmill([&["run"][..], &job(&input, &clean, &[])].concat()).assert_success();

    // Map tasks run alone write their output to files that a later run resumes from.
    let out = dir.path().join("out");
    let specs = dir.path().join("specs");
    let plan = [
        &["task", "plan"][..],
        &job(&input, &out, &["--specs", arg(&specs)]),
    ]
    .concat();
    sandmill(&plan).assert_success();
    for entry in std::fs::read_dir(&specs).unwrap() {
        sandmill(["task", "run", "--spec", arg(&entry.unwrap().path())]).assert_success();
    }
    let work = work_dir(dir.path(), "out");
    let record = std::fs::read_to_string(work.join("tasks/map-0.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    let run_file = PathBuf::from(record["run_file"]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&run_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&run_file, bytes).unwrap();

    let args = [&["run"][..], &job(&input, &out, &["--executor", executor])].concat();
    let run = sandmill(&args);
    let line = run.assert_error();
    assert!(
        line.contains("is corrupt") && line.contains("map task 0"),
        "{executor}: {run}"
    );
    run.assert_exit(ExitClass::Transient);
    assert!(!out.exists());
    // The same command again runs map task 0 again and publishes what a clean run does.
    let run = sandmill(&args);
    run.assert_success();
    assert_eq!(version_files(&out), version_files(&clean));
}

#[test]
fn a_reduce_record_whose_part_file_is_gone_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let clean = dir.path().join("clean");
    sandmill([&["run"][..], &job(&input, &clean, &[])].concat()).assert_success();
    // Every task committed, then a crash before the publish; a part file then goes missing
    // (as when a clean-up was killed half way).
    let out = dir.path().join("out");
    let args = [&["run"][..], &job(&input, &out, &[])].concat();
    let crashed = sandmill_with_failpoints(&args, "job-commit=crash(1)");
    assert_eq!(crashed.status.code(), Some(137), "{crashed}");
    let work = work_dir(dir.path(), "out");
    std::fs::remove_file(work.join("version/part-00001")).unwrap();
    let run = sandmill(&args);
    run.assert_success();
    assert_eq!(version_files(&out), version_files(&clean));
}

#[test]
fn the_summary_says_what_verify_checked_and_whether_anything_was_combined() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    let run = sandmill([&["run"][..], &job(&input, &out, &["--verify"])].concat());
    run.assert_success();
    let tasks: u64 = run
        .stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match words.next() {
                Some("map" | "reduce") => words.next()?.parse::<u64>().ok(),
                _ => None,
            }
        })
        .sum();
    assert!(tasks > 3, "{run}");
    let verified = format!("verify: {tasks} of {tasks} tasks run twice before commit (--verify=1)");
    assert!(run.stdout.contains(&verified), "{run}");
    assert!(run.stdout.contains("8 files, format Lines"), "{run}");
    assert!(run.stdout.contains("after combining"), "{run}");

    let one = dir.path().join("one.txt");
    std::fs::write(&one, "a\nb\n").unwrap();
    let out = dir.path().join("out-one");
    let run = sandmill([
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(&one),
        "--output",
        arg(&out),
    ]);
    run.assert_success();
    assert!(run.stdout.contains("input: 1 file, format"), "{run}");
    // fail-on-record declares no combiner.
    assert!(run.stdout.contains("pairs (no combiner)"), "{run}");
    assert!(!run.stdout.contains("verify:"), "{run}");
}

#[test]
fn summary_json_holds_the_report_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    let file = dir.path().join("summary.json");
    let run = sandmill(
        [
            &["run"][..],
            &job(&input, &out, &["--summary-json", arg(&file)]),
        ]
        .concat(),
    );
    run.assert_success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(summary["version"], "v000001");
    assert_eq!(summary["files"], 8);
    assert_eq!(summary["reduce"]["tasks"], 3);
    assert_eq!(summary["partitions"].as_array().unwrap().len(), 3);
    let records: u64 = summary["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["records_out"].as_u64().unwrap())
        .sum();
    assert_eq!(records, read_output(&out).len() as u64);
    assert_eq!(summary["reduce"]["counts"]["records_out"], records);
    let map_tasks = summary["map"]["tasks"].as_u64().unwrap();
    assert!(
        run.stdout.lines().any(|l| l.split_whitespace().take(2).eq([
            "map".to_owned(),
            map_tasks.to_string()
        ]
        .iter()
        .map(String::as_str))),
        "{run}"
    );

    // `-` with --quiet: stdout is the JSON alone.
    let out = dir.path().join("out2");
    let run = sandmill(
        [
            &["run"][..],
            &job(&input, &out, &["--summary-json", "-", "--quiet"]),
        ]
        .concat(),
    );
    run.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["combined"], true);
}

#[test]
fn the_job_wide_output_limit_holds_when_tasks_run_in_processes_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let clean = dir.path().join("clean");
    sandmill([&["run"][..], &job(&input, &clean, &[])].concat()).assert_success();
    // One record fewer than the job writes: no reduce task alone goes over it.
    let limit = (read_output(&clean).len() - 1).to_string();
    for executor in ["local", "process"] {
        let out = dir.path().join(executor);
        let flags = ["--executor", executor, "--max-output-records", &limit];
        let run = sandmill([&["run"][..], &job(&input, &out, &flags)].concat());
        let line = run.assert_error();
        let want = format!("limit of {limit} output records for the whole job");
        assert!(line.contains(&want), "{executor}: {run}");
        run.assert_exit(ExitClass::Plugin);
        assert!(!out.exists());
    }
}

#[test]
fn dry_run_shows_the_plan_of_the_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let out = dir.path().join("out");
    let plan_of = || -> serde_json::Value {
        let args = [&["run"][..], &job(&input, &out, &["--dry-run"])].concat();
        let args = [&args[..], &["--summary-json", "-", "-q", "-j", "2"]].concat();
        let run = sandmill(&args);
        run.assert_success();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"))
    };
    let plan = plan_of();
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["in"], "a dry run wrote to the output");
    assert_eq!(plan["split_size"]["bytes"], 8192, "{plan:#}");
    assert_eq!(plan["split_size"]["rule"], "given", "{plan:#}");
    assert_eq!(plan["reducers"], 3);
    assert_eq!(plan["files"], 8);
    assert_eq!(plan["combiner"], "sum");
    assert_eq!(plan["current_version"], serde_json::Value::Null);
    assert_eq!(plan["next_version"], "v000001");
    let tasks = plan["map_tasks"].as_array().unwrap();
    let bytes: u64 = tasks.iter().map(|t| t["bytes"].as_u64().unwrap()).sum();
    assert_eq!(bytes, plan["input_bytes"].as_u64().unwrap());
    assert!(tasks.len() > 4, "{plan:#}");

    // The run does what the dry run said.
    let run = sandmill(
        [
            &["run"][..],
            &job(&input, &out, &["--summary-json", "-", "-q", "-j", "2"]),
        ]
        .concat(),
    );
    run.assert_success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["map"]["tasks"], tasks.len());
    let again = plan_of();
    assert_eq!(again["current_version"], "v000001");
    assert_eq!(again["next_version"], "v000002");

    // For people: the split size and why (the default one, here), every task's ranges.
    let text = sandmill([
        "run",
        WORDCOUNT,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "--reducers",
        "3",
        "--dry-run",
    ]);
    text.assert_success();
    for expected in [
        "dry run: no task runs and nothing is written",
        "1.0 MiB: the smallest split, the input being small (--split-size 64.0 MiB)",
        "map:      1 task,",
        "map-0 ",
        "part0.txt [0, ",
        "reduce:   3 tasks (--reducers), writing part-00000 … part-00002",
        "is at v000001; a run would publish v000002",
    ] {
        assert!(text.stdout.contains(expected), "no {expected:?} in\n{text}");
    }
}
