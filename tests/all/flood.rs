//! A hostile plugin (`plugins/testing/flood`) against the bounds that contain it: output
//! amplification in map and reduce, thousands of output partitions, a partition named like a
//! part file, huge error messages and floods of rejects, terminal escapes and forged lines, and
//! combiners that lie about their groups. Each attack either fails the job with one `error:`
//! line naming the limit (its value and flag) or the rule, and the task, with no output
//! published and no signal; or is contained, and the job succeeds with bounded output.
//!
//! The limits are set small with flags, so that no test writes much.

use crate::{Run, arg, sandmill, shared_compile_cache};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::FLOOD;
use std::path::PathBuf;
use tempfile::TempDir;

/// A scratch directory with one input file, run with the default settings: 8 reducers on every
/// machine, so the partition a key goes to, and the task an error names, are the same
/// everywhere.
struct Scratch {
    /// Removed when the test ends.
    _dir: TempDir,
    input: PathBuf,
    out: PathBuf,
}

impl Scratch {
    fn new(lines: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let out = dir.path().join("out");
        Self {
            _dir: dir,
            input,
            out,
        }
    }

    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "run",
            FLOOD,
            "--input",
            arg(&self.input),
            "--output",
            arg(&self.out),
        ];
        args.extend(extra);
        args
    }

    /// Runs the flood plugin with `extra` flags.
    fn run(&self, extra: &[&str]) -> Run {
        sandmill(self.args(extra))
    }

    /// Runs a job that must fail: one `error:` line, no signal, nothing published. Returns the
    /// run and its error line, checked to mention every one of `parts`.
    #[track_caller]
    fn fails(&self, extra: &[&str], parts: &[&str]) -> (Run, String) {
        let run = self.run(extra);
        let line = run.assert_error().to_owned();
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "one error line\n{run}"
        );
        for part in parts {
            assert!(
                line.contains(part),
                "the error does not say {part:?}: {line}\n{run}"
            );
        }
        assert!(
            !self.out.exists(),
            "output published by a failed job\n{run}"
        );
        assert_inert(&run);
        (run, line)
    }
}

/// Asserts that nothing a plugin wrote reached the terminal raw: no control characters other
/// than newlines, no bidi overrides or line separators, and no line starting like Sandmill's
/// own success line other than Sandmill's own.
#[track_caller]
fn assert_inert(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let active = text
            .chars()
            .find(|&c| c != '\n' && sandmill::text::is_active(c));
        assert_eq!(active, None, "an active character in {name}\n{run}");
    }
    let forged = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|l| l.starts_with("sandmill: job succeeded"))
        .count();
    let genuine = usize::from(run.status.success());
    assert_eq!(forged, genuine, "lines that claim success\n{run}");
}

#[test]
fn output_amplification_in_reduce_stops_at_the_task_limit() {
    // Each key becomes 4 × 512 KiB of output, in one batch: refused before it is written.
    let s = Scratch::new(&["amplify"]);
    s.fails(
        &[
            "--max-task-output",
            "1MiB",
            "-p",
            "copies=4",
            "-p",
            "bytes=524288",
        ],
        &[
            "reduce task 3 (partition 3)",
            "output limit of 1 MiB per reduce task (--max-task-output)",
            "on key \"amplify\"",
        ],
    );
}

#[test]
fn output_amplification_across_reduce_tasks_stops_at_the_job_limit() {
    // Eight keys of 300 KiB each in four reduce tasks: each task is under its limit, the job
    // is over its own.
    let keys: Vec<String> = (0..8).map(|i| format!("key{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let s = Scratch::new(&keys);
    let (_, line) = s.fails(
        &[
            "-p",
            "attack=amplify",
            "-p",
            "copies=3",
            "-p",
            "bytes=102400",
            "--reducers",
            "4",
            "--max-output",
            "1MiB",
        ],
        &[
            "output limit of 1 MiB for the whole job (--max-output)",
            "reduce task ",
        ],
    );
    assert!(!line.contains("per reduce task"), "{line}");
}

#[test]
fn output_records_are_limited_per_task_and_per_job() {
    let s = Scratch::new(&["amplify"]);
    s.fails(
        &[
            "-p",
            "copies=100",
            "-p",
            "bytes=1",
            "--max-task-output-records",
            "10",
        ],
        &[
            "reduce task 3 (partition 3)",
            "limit of 10 output records per reduce task (--max-task-output-records)",
        ],
    );
    let keys: Vec<String> = (0..8).map(|i| format!("key{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let s = Scratch::new(&keys);
    let amplify = |limits: &[&'static str]| {
        let job = ["-p", "attack=amplify", "-p", "copies=10", "-p", "bytes=1"];
        [&job[..], &["--reducers", "4"], limits].concat()
    };
    s.fails(
        &amplify(&["--max-output-records", "50"]),
        &["limit of 50 output records for the whole job (--max-output-records)"],
    );
    // Under the limits, the same job succeeds.
    s.run(&amplify(&[
        "--max-output-records",
        "80",
        "--max-task-output-records",
        "80",
    ]))
    .assert_success();
    assert_eq!(read_output(&s.out).len(), 80);
}

#[test]
fn output_amplification_in_map_stops_at_the_map_limit() {
    let s = Scratch::new(&["a", "amplify-map", "b"]);
    s.fails(
        &[
            "--max-map-output",
            "1MiB",
            "-p",
            "copies=16",
            "-p",
            "bytes=131072",
        ],
        &[
            "map task 0 (split 0)",
            "limit of 1 MiB of pairs emitted per map task (--max-map-output)",
            "in.txt",
        ],
    );
    // Empty pairs cost 8 bytes each, and can be counted too.
    s.fails(
        &[
            "--max-map-output-pairs",
            "1000",
            "-p",
            "copies=5000",
            "-p",
            "bytes=0",
        ],
        &[
            "map task 0 (split 0)",
            "limit of 1000 pairs emitted per map task (--max-map-output-pairs)",
        ],
    );
}

#[test]
fn thousands_of_output_partitions_stop_at_the_partition_limit() {
    let s = Scratch::new(&["partitions"]);
    s.fails(
        &["-p", "copies=3000"],
        &[
            "reduce task 1 (partition 1)",
            "limit of 1000 output partitions per reduce task (--max-partitions)",
            "on key \"partitions\"",
        ],
    );
}

#[test]
fn many_output_partitions_need_few_open_files() {
    // 300 partitions under a limit of 100 open files: the reduce keeps at most 64 part files
    // open, closing and reopening them, so the job succeeds.
    let s = Scratch::new(&["partitions"]);
    let args = s.args(&["-p", "copies=300", "--reducers", "1", "--threads", "1"]);
    let output = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 100 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_sandmill"))
        .args(&args)
        .env("SANDMILL_CACHE_DIR", shared_compile_cache())
        .output()
        .expect("running sandmill under sh");
    let run = Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.assert_success();
    for p in [0, 150, 299] {
        let part = s.out.join(format!("p={p}")).join("part-00000");
        let text = std::fs::read_to_string(&part).unwrap_or_else(|e| panic!("{e}\n{run}"));
        assert_eq!(text, "partitions\t1\n", "{}", part.display());
    }
    let partitions = std::fs::read_dir(&s.out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("p=")
        })
        .count();
    assert_eq!(partitions, 300);
}

#[test]
fn a_partition_named_like_a_part_file_is_refused() {
    let s = Scratch::new(&["part-name"]);
    s.fails(
        &[],
        &[
            "reduce task 0 (partition 0)",
            "routed a record on key \"part-name\" to a bad output partition",
            "output partition \"part-00000\"",
            "`part-`",
        ],
    );
}

#[test]
fn a_huge_error_message_is_cut() {
    // The plugin's message is 10 MiB: the error line keeps 4 KiB of it. (It is a `failed`,
    // not a record's error, so the host names the batch of records.)
    let s = Scratch::new(&["a", "huge-error"]);
    let (_, line) = s.fails(
        &[],
        &[
            "map task 0 (split 0) failed in the 2 records starting at ",
            "in.txt line 1",
            "plugin says: \"",
            "more bytes cut)",
        ],
    );
    assert!(line.len() < 5000, "{} bytes", line.len());
}

#[test]
fn a_flood_of_rejects_with_huge_messages_stays_small() {
    let lines: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let s = Scratch::new(&lines);
    let run = s.run(&["-p", "attack=reject", "--max-bad-records", "100"]);
    run.assert_success();
    assert_inert(&run);
    let rejects = std::fs::read(s.out.join("_rejects.jsonl")).unwrap();
    assert!(
        rejects.len() < 50 * 5000,
        "50 rejects of 10 MiB messages take {} bytes",
        rejects.len()
    );
    let text = String::from_utf8(rejects).unwrap();
    assert_eq!(text.lines().count(), 50);
    for line in text.lines() {
        let reject: serde_json::Value = serde_json::from_str(line).unwrap();
        let error = reject["error"].as_str().unwrap();
        assert!(error.ends_with("more bytes cut)"), "{error:.100}");
        assert!(
            !error.chars().any(sandmill::text::is_active),
            "{error:.100}"
        );
    }

    // Over the allowance, one short line names it.
    let s = Scratch::new(&lines);
    let (_, line) = s.fails(
        &["-p", "attack=reject", "--max-bad-records", "10"],
        &[
            "more than 10 bad records (--max-bad-records 10)",
            "plugin says: \"",
        ],
    );
    assert!(line.len() < 5000, "{} bytes", line.len());
}

#[test]
fn escapes_and_forged_lines_in_logs_stdout_and_counters_are_shown_inert() {
    let s = Scratch::new(&["a", "escapes", "b"]);
    let run = s.run(&[]);
    run.assert_success();
    assert_inert(&run);
    assert!(
        run.stdout.starts_with("sandmill: job succeeded in "),
        "Sandmill's own line comes first\n{run}"
    );
    for shown in [
        "Warn: \\u{1b}[2J\\u{1b}[H\\rsandmill: job succeeded",
        "stdout: \\u{1b}[2J\\u{1b}[H\\rsandmill: job succeeded",
        "stderr: \\u{1b}[2J",
    ] {
        assert!(run.stderr.contains(shown), "{shown:?} not in stderr\n{run}");
    }
    assert!(
        run.stdout
            .contains("\\u{1b}[31mforged\\nsandmill: job succeeded\\u{202e}"),
        "the counter's name, escaped\n{run}"
    );
    assert_eq!(read_output(&s.out), ["a\t1", "b\t1", "escapes\t1"]);
}

#[test]
fn escapes_in_an_error_message_and_its_key_are_shown_inert() {
    let s = Scratch::new(&["escape-error"]);
    s.fails(
        &[],
        &[
            "reduce task 1 (partition 1) failed on key b\"\\x1b[31mred\\x1b[0m\\xe2\\x80\\xae\\n",
            "plugin says: \"\\u{1b}[2J\\u{1b}[H\\rsandmill: job succeeded in 0.01s",
            "\\nsandmill: job succeeded\\u{202e}\\u{2028}\\u{9b}31m\"",
        ],
    );
}

#[test]
fn escapes_in_a_panic_message_are_shown_inert() {
    let s = Scratch::new(&["escape-panic"]);
    s.fails(
        &[],
        &[
            "map task 0 (split 0): the plugin trapped at ",
            "plugin stderr: \"",
            "\\u{1b}[2J\\u{1b}[H\\rsandmill: job succeeded",
        ],
    );
}

#[test]
fn a_combiner_that_files_a_group_under_another_key_is_refused() {
    let s = Scratch::new(&["a", "lying-combiner", "z", "z"]);
    s.fails(
        &["--reducers", "1"],
        &[
            "map task 0 (split 0)",
            "broke the sandmill:job contract on key \"lying-combiner\"",
            "combine-groups returned no pair for this group",
        ],
    );
}

#[test]
fn a_combiner_that_drops_a_group_is_refused() {
    let s = Scratch::new(&["a", "drop-group", "z"]);
    s.fails(
        &[],
        &[
            "map task 0 (split 0)",
            "broke the sandmill:job contract on key \"drop-group\"",
            "combine-groups returned no pair for this group",
        ],
    );
}

#[test]
fn an_honest_combiner_passes_through_spills_and_batches() {
    // 60,000 lines of 600 words, a 64 KiB memory budget: map output is combined at every
    // spill, by the plugin, group by group, in many batches.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("words.txt");
    let text: String = (0..60_000)
        .map(|i| format!("word{}\n", (i * 7) % 600))
        .collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out");
    let run = sandmill([
        "run",
        FLOOD,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "--memory",
        "64KiB",
        "--reducers",
        "3",
    ]);
    run.assert_success();
    let lines = read_output(&out);
    assert_eq!(lines.len(), 600, "{run}");
    assert!(lines.iter().all(|l| l.ends_with("\t100")), "{lines:?}");
    let shuffle = run
        .stdout
        .lines()
        .find(|l| l.contains("shuffle:"))
        .unwrap_or_default();
    assert!(!shuffle.contains(" 0 spills"), "{run}");
}
