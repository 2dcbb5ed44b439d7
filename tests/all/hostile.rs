//! Hostile plugins run as real jobs. Each is contained: the job fails with one `error:` line
//! that names the limit, its value, the task and record and the flag that raises it, or the
//! attack is made harmless (a sleep that returns at once, output that is dropped). Nothing
//! hangs, nothing kills the process, and no output is published by a failed job.

use crate::{Run, arg, sandmill};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::{HOSTILE, WORDCOUNT};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A job of the hostile plugin over one input file of `lines`, with `extra` flags.
struct Attack {
    dir: tempfile::TempDir,
    out: PathBuf,
}

impl Attack {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        Self { dir, out }
    }

    fn input(&self, lines: &[&str]) -> PathBuf {
        let path = self.dir.path().join("in.txt");
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    }

    fn run(&self, plugin: &str, lines: &[&str], extra: &[&str]) -> (Run, Duration) {
        let input = self.input(lines);
        let args = [
            "run",
            plugin,
            "--input",
            arg(&input),
            "--output",
            arg(&self.out),
        ];
        let started = Instant::now();
        let run = sandmill(args.iter().chain(extra));
        (run, started.elapsed())
    }

    /// Runs a job that must fail: one error line containing every one of `wants`, no output,
    /// and (not a timing test, only a bound on hanging) done well within `within`.
    fn contained(&self, lines: &[&str], extra: &[&str], wants: &[&str], within: Duration) -> Run {
        let (run, took) = self.run(HOSTILE, lines, extra);
        let line = run.assert_error().to_string();
        for want in wants {
            assert!(line.contains(want), "{want:?} missing from {line}\n{run}");
        }
        assert!(!self.out.exists(), "a failed job published output\n{run}");
        assert!(took < within, "took {took:?}\n{run}");
        run
    }
}

#[test]
fn a_sleep_returns_at_once_and_the_clock_says_it_was_slept() {
    let attack = Attack::new();
    let (run, took) = attack.run(HOSTILE, &["sleep", "a", "sleep"], &["--call-timeout", "2"]);
    run.assert_success();
    // Three seconds of virtual time each, under a two-second call timeout: the host never
    // waited for them.
    assert_eq!(read_output(&attack.out), ["a\t1", "slept=3000\t2"]);
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[test]
fn an_endless_sleep_is_an_endless_loop_stopped_by_the_call_timeout_without_retries() {
    // (That a limit is not retried is `TaskError::is_retryable`'s unit test.)
    Attack::new().contained(
        &["a", "sleep-forever"],
        &["--call-timeout", "1"],
        // A time limit is not bisected to one record (that would cost a timeout per step).
        &[
            "time limit of 1s per call (--call-timeout)",
            "in the 2 records starting at",
            "in.txt line 1",
            "map task 0",
        ],
        Duration::from_secs(30),
    );
}

#[test]
fn a_loop_calling_the_host_is_stopped_too() {
    Attack::new().contained(
        &["host-loop"],
        &["--call-timeout", "1"],
        &[
            "time limit of 1s per call (--call-timeout)",
            "in.txt line 1",
        ],
        Duration::from_secs(30),
    );
}

#[test]
fn the_cpu_budget_of_a_task_holds_without_fuel() {
    // 400 ms of CPU in one call, under a 60 s call timeout but a 0.2 s task budget.
    Attack::new().contained(
        &["spin=400"],
        &["--task-cpu", "0.2", "--call-timeout", "60"],
        &["CPU limit of 0.2s per task (--task-cpu)", "in.txt line 1"],
        Duration::from_secs(30),
    );
}

#[test]
fn the_cpu_budget_of_a_job_adds_up_every_task() {
    // Four map tasks (one per line, tiny splits) of 150 ms each: each fits a 1 s task budget,
    // together they pass a 0.3 s job budget.
    let attack = Attack::new();
    let lines = ["spin=150", "spin=150", "spin=150", "spin=150"];
    attack.contained(
        &lines,
        &["--job-cpu", "0.3", "--split-size", "9", "--threads", "1"],
        &["CPU limit of 0.3s per job (--job-cpu)"],
        Duration::from_secs(30),
    );
    // The same job within a budget that fits passes: the meter charges the plugin's work,
    // not the host's.
    let (run, _) = attack.run(
        HOSTILE,
        &lines,
        &["--job-cpu", "30", "--split-size", "9", "--threads", "1"],
    );
    run.assert_success();
    assert_eq!(read_output(&attack.out), ["spun\t4"]);
}

#[test]
fn unbounded_recursion_is_a_clear_error() {
    let run = Attack::new().contained(
        &["recurse"],
        &[],
        &["in.txt line 1"],
        Duration::from_secs(60),
    );
    let line = run.assert_error();
    assert!(
        line.contains("stack limit") || line.contains("stack overflow"),
        "{line}\n{run}"
    );
}

#[test]
fn exit_is_reported_as_such_without_a_backtrace() {
    let run = Attack::new().contained(
        &["exit"],
        &[],
        // WASI 0.2 has only success and failure: exit(3) arrives as exit(1).
        &["the plugin called exit(1)", "in.txt line 1"],
        Duration::from_secs(60),
    );
    assert!(!run.stderr.contains("wasm backtrace"), "{run}");
}

#[test]
fn stdout_past_its_limit_is_dropped_and_counted_not_fatal() {
    let attack = Attack::new();
    let (run, _) = attack.run(HOSTILE, &["print=8"], &[]);
    run.assert_success();
    assert_eq!(read_output(&attack.out), ["printed\t1"]);
    // 8 MiB to each stream, 64 KiB of each kept.
    let dropped = 2 * ((8 << 20) - (64 << 10));
    assert!(
        run.stdout.contains(&format!(
            "plugin stdio dropped (over the limit): {dropped} bytes"
        )),
        "{run}"
    );
    assert!(
        run.stderr.len() < 1 << 20,
        "at most the kept stdio is shown"
    );
}

#[test]
fn files_environment_arguments_and_sockets_are_denied_the_same_way_every_run() {
    let attack = Attack::new();
    let (run, _) = attack.run(HOSTILE, &["probe"], &[]);
    run.assert_success();
    assert_eq!(
        read_output(&attack.out),
        ["probe file=false dir=false env=0 args=0 socket=false dns=false\t1"]
    );
}

#[test]
fn a_contained_plugin_leaves_the_dataset_usable_by_the_next_job() {
    let attack = Attack::new();
    attack.contained(
        &["host-loop"],
        &["--call-timeout", "0.5"],
        &["--call-timeout"],
        Duration::from_secs(30),
    );
    let (run, _) = attack.run(WORDCOUNT, &["a b a"], &[]);
    run.assert_success();
    assert_eq!(read_output(&attack.out), ["a\t2", "b\t1"]);
}

#[test]
fn components_with_gc_subtypes_or_shared_memory_are_refused_at_load_not_run() {
    // Once an abort of the whole process (GHSA-rc4p-x33f-vpr2): now a load error.
    let cases = [
        r#"(component (core module
            (type $a (sub (func)))
            (type $b (sub $a (func)))
            (table 1 funcref)
            (func (export "f") (call_indirect (type $b) (i32.const 0)))))"#,
        "(component (core module (memory 1 1 shared)))",
    ];
    for wat in cases {
        let attack = Attack::new();
        let plugin = attack.dir.path().join("hostile.wasm");
        std::fs::write(&plugin, wat::parse_str(wat).unwrap()).unwrap();
        let (run, _) = attack.run(arg(&plugin), &["a"], &[]);
        let line = run.assert_error();
        assert!(
            line.contains("cannot load plugin") && line.contains("not a valid component"),
            "{line}\n{run}"
        );
        run.assert_exit(sandmill::error::ExitClass::Plugin);
        assert!(!attack.out.exists());
    }
}

/// The peak RSS a job's summary reports, in bytes.
fn peak_rss(run: &Run) -> u64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("peak memory (RSS): "));
    let text = line.and_then(|l| l.rsplit("peak memory (RSS): ").next());
    let (number, unit) = text
        .and_then(|t| t.trim().split_once(' '))
        .expect("a peak RSS");
    let shift = match unit {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => panic!("unit {other}"),
    };
    (number.parse::<f64>().unwrap() * (1u64 << shift) as f64) as u64
}

#[test]
fn what_the_host_buffers_for_a_plugin_stays_within_the_memory_bound() {
    // 24 records of 200 values of 64 KiB: 300 MiB appended under one key, by a native append
    // merge, under --memory 64MiB and 2 x --plugin-memory 64MiB. Bound: 64 + 2 x 64 + 256 MiB.
    // Each record is padded past a batch (256 KiB), so each call emits 12.5 MiB.
    let attack = Attack::new();
    let line = format!("values=200;{}", "x".repeat(300 << 10));
    let lines = vec![line.as_str(); 24];
    let (run, _) = attack.run(
        HOSTILE,
        &lines,
        &[
            "--param",
            "combine=append",
            "--memory",
            "64MiB",
            "--plugin-memory",
            "64MiB",
            "--threads",
            "2",
            "--reducers",
            "1",
            "--split-size",
            "1MiB",
        ],
    );
    run.assert_success();
    assert_eq!(
        read_output(&attack.out),
        [format!("hot\t{}", 24 * 200 * (64 << 10))]
    );
    let bound = (64 + 2 * 64 + 256) << 20;
    let peak = peak_rss(&run);
    assert!(
        peak > 0 && peak < bound,
        "peak RSS {peak} over {bound}\n{run}"
    );
}

#[test]
fn wasmtime_s_limit_on_data_per_call_is_reported_in_sandmill_s_words() {
    // 300 values of 64 KiB (18.75 MiB) returned by one call, over a 16 MiB limit.
    Attack::new().contained(
        &["values=300"],
        &["--max-call-data", "16MiB"],
        &[
            "limit of 16 MiB handed to the host in one call (--max-call-data",
            "in.txt line 1",
        ],
        Duration::from_secs(60),
    );
}

#[test]
fn a_record_past_the_record_size_limit_names_the_flag() {
    let line = "x".repeat(2000);
    Attack::new().contained(
        &["a", &line],
        &["--max-record-size", "1KiB"],
        &[
            "longer than the limit of 1024 bytes (--max-record-size)",
            "in.txt",
        ],
        Duration::from_secs(60),
    );
}
