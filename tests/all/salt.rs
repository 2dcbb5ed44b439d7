//! Hot-key salting end to end (`--hot-key`, `--salt`) on issue 3's skew case, 90 % of the
//! records one key: the key's pairs are combined in shares by combine tasks and merged again
//! in its partition's reduce, so the output is the unsalted run's, byte for byte, while the
//! partitions' map output records are even.

use crate::range::skew;
use crate::{Run, arg, sandmill, sandmill_with_failpoints};
use sandmill_tests::output::{part_bytes, part_files, read_part};
use sandmill_tests::plugins::{FAIL_ON_RECORD, WORDCOUNT};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Issue 3's skew data (as `sandbox.rs` makes it): 200,000 lines, 90 % of them `hot`, the
/// rest `k0` … `k990`.
fn skewed(dir: &Path) -> PathBuf {
    let path = dir.join("in.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..200_000u32 {
        if i % 10 == 0 {
            writeln!(file, "k{}", i % 1000).unwrap();
        } else {
            writeln!(file, "hot").unwrap();
        }
    }
    drop(file);
    path
}

/// The skew test's settings: a tiny memory budget, four reducers, four splits.
const SKEW: [&str; 6] = [
    "--memory",
    "256KiB",
    "--reducers",
    "4",
    "--split-size",
    "256KiB",
];

fn job(plugin: &str, input: &Path, out: &Path, extra: &[&str]) -> Run {
    let args = ["run", plugin, "--input", arg(input), "--output", arg(out)];
    sandmill(args.iter().chain(&SKEW).chain(extra))
}

fn salted(extra: &[&str]) -> Vec<String> {
    ["--hot-key", "hot", "--salt", "4"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_salted_hot_key_gives_the_same_output_from_even_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let input = skewed(dir.path());
    let (plain, salt) = (dir.path().join("plain"), dir.path().join("salted"));
    let unsalted = job(WORDCOUNT, &input, &plain, &[]);
    unsalted.assert_success();
    let run = job(WORDCOUNT, &input, &salt, &strs(&salted(&[])));
    run.assert_success();
    assert_eq!(
        part_bytes(&salt),
        part_bytes(&plain),
        "the same output\n{run}"
    );
    let lines: Vec<String> = part_files(&salt)
        .iter()
        .flat_map(|p| read_part(p))
        .collect();
    assert!(lines.contains(&"hot\t180000".to_string()), "{run}");
    assert_eq!(lines.len(), 101);
    let (before, after) = (skew(&unsalted), skew(&run));
    assert!(
        before > 3.0,
        "unsalted, the hot key's partition has most records\n{unsalted}"
    );
    assert!(
        after < 1.6,
        "salted, the partitions are even: {after}\n{run}"
    );
    let hot = run
        .stdout
        .lines()
        .find(|l| l.contains("hot keys:"))
        .unwrap_or_else(|| panic!("no hot keys line\n{run}"));
    assert!(hot.contains("4 combine tasks"), "{hot}");
    // The same key as hex, and over a process per task: the same bytes again.
    let hex = dir.path().join("hex");
    let flags = [
        "--hot-key",
        "hex:686f74",
        "--salt",
        "4",
        "--executor",
        "process",
    ];
    job(WORDCOUNT, &input, &hex, &flags).assert_success();
    assert_eq!(part_bytes(&hex), part_bytes(&plain));
    // Salting changes how the job runs, not what it publishes: a salted rerun over the
    // unsalted version is unchanged.
    let again = job(WORDCOUNT, &input, &plain, &strs(&salted(&[])));
    again.assert_success();
    assert!(again.stdout.contains("unchanged"), "{again}");
}

#[test]
fn a_salted_job_killed_after_its_combine_tasks_resumes_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = skewed(dir.path());
    let plain = dir.path().join("plain");
    job(WORDCOUNT, &input, &plain, &[]).assert_success();
    let out = dir.path().join("out");
    // Four map tasks, then four combine tasks commit: the seventh commit is a combine task's.
    let args: Vec<String> = [
        "run",
        WORDCOUNT,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
    ]
    .iter()
    .chain(&SKEW)
    .map(|s| s.to_string())
    .chain(salted(&["--threads", "1"]))
    .collect();
    let crashed = sandmill_with_failpoints(&args, "task-commit-after=crash(7)");
    assert_eq!(crashed.status.code(), Some(137), "{crashed}");
    let resumed = sandmill(&args);
    resumed.assert_success();
    assert!(
        resumed.stdout.contains("resumed: 7 tasks"),
        "the maps and three combine tasks\n{resumed}"
    );
    assert_eq!(part_bytes(&out), part_bytes(&plain));
}

#[test]
fn salting_with_range_partitions_works_and_a_job_without_a_combiner_cannot_salt() {
    let dir = tempfile::tempdir().unwrap();
    let input = skewed(dir.path());
    let plain = dir.path().join("plain");
    job(WORDCOUNT, &input, &plain, &[]).assert_success();
    let ranged = dir.path().join("ranged");
    let run = job(
        WORDCOUNT,
        &input,
        &ranged,
        &strs(&salted(&["--partitioner", "range"])),
    );
    run.assert_success();
    let lines: Vec<String> = part_files(&ranged)
        .iter()
        .flat_map(|p| read_part(p))
        .collect();
    let mut expected: Vec<String> = part_files(&plain)
        .iter()
        .flat_map(|p| read_part(p))
        .collect();
    expected.sort();
    assert!(lines == expected, "sorted, and the same lines\n{run}");

    let out = dir.path().join("fails");
    let failed = job(FAIL_ON_RECORD, &input, &out, &["--hot-key", "hot"]);
    let line = failed.assert_error();
    assert!(line.contains("needs a combiner to salt a key"), "{line}");
    assert!(!out.exists());
    let bad = job(WORDCOUNT, &input, &out, &["--hot-key", "hex:abc"]);
    assert!(bad.stderr.contains("even number of hex digits"), "{bad}");
    let twice = job(
        WORDCOUNT,
        &input,
        &out,
        &["--hot-key", "hot", "--hot-key", "hot"],
    );
    assert!(twice.assert_error().contains("given twice"), "{twice}");
    let zero = job(
        WORDCOUNT,
        &input,
        &out,
        &["--hot-key", "hot", "--salt", "0"],
    );
    assert!(zero.assert_error().contains("--salt 0"), "{zero}");
}

#[test]
fn a_dry_run_lists_the_hot_keys_and_the_salt() {
    let dir = tempfile::tempdir().unwrap();
    let input = skewed(dir.path());
    let (out, json) = (dir.path().join("out"), dir.path().join("plan.json"));
    let run = job(
        WORDCOUNT,
        &input,
        &out,
        &strs(&salted(&["--dry-run", "--summary-json", arg(&json)])),
    );
    run.assert_success();
    assert!(
        run.stdout
            .contains("salting:  hot key \"hot\" (--hot-key), each over 4 combine tasks"),
        "{run}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(plan["hot_keys"], serde_json::json!(["hot"]));
    assert_eq!(plan["salt"], 4);
    // Without hot keys, neither is in the plan.
    let plain = dir.path().join("plain.json");
    job(
        WORDCOUNT,
        &input,
        &out,
        &["--dry-run", "--summary-json", arg(&plain)],
    )
    .assert_success();
    let plan = std::fs::read_to_string(&plain).unwrap();
    assert!(
        !plan.contains("hot_keys") && !plan.contains("\"salt\""),
        "{plan}"
    );
}
