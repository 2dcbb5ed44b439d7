//! Output partitions end to end (`plugins/testing/fail-on-record`, whose reduce writes a line
//! `PARTITION/WORD` into `PARTITION` as it is and `@KEY=VALUE/WORD` into `KEY=VALUE` escaped by
//! `sandmill_sdk::Partition`): escaped names land in their `key=value` directory and read
//! back; a name the host refuses is a bad record that fails the job, naming the partition, the
//! reduce task and the key, or that `--max-bad-records` quarantines into `_rejects.jsonl`.

use crate::{Run, arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_sdk::partition::Partition;
use sandmill_tests::plugins::FAIL_ON_RECORD;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Values that need escaping: a comma and a space, UTF-8, and names Sandmill refuses as they
/// are (hidden, part files, path separators, escapes).
const VALUES: [&str; 6] = ["São Paulo, BR", "_hidden", "part-1", "a/b", "100%", ".."];

/// The fail-on-record job over `lines`, with one reducer (so every key's task is reduce task
/// 0) unless `extra` says otherwise.
fn job(dir: &TempDir, lines: &[&str], extra: &[&str]) -> (Run, PathBuf) {
    let input = dir.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
    ];
    let one = ["--reducers", "1"];
    let reducers = if extra.contains(&"--reducers") {
        &[][..]
    } else {
        &one
    };
    (sandmill(args.iter().chain(reducers).chain(extra)), out)
}

/// The lines of the part file in the output partition `dir`.
fn part(out: &Path, dir: &str) -> String {
    std::fs::read_to_string(out.join(dir).join("part-00000"))
        .unwrap_or_else(|e| panic!("{dir}/part-00000: {e}"))
}

#[test]
fn escaped_values_land_in_their_directory_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = VALUES.iter().map(|v| format!("@city={v}/w")).collect();
    lines.push("@city=São Paulo, BR/w".into());
    lines.push("date=2026-03-22/y".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (run, out) = job(&dir, &lines, &[]);
    run.assert_success();
    assert_eq!(
        part(&out, "city=S%C3%A3o%20Paulo%2C%20BR"),
        "w\t2\n",
        "the comma and the space are escaped as %2C and %20"
    );
    assert_eq!(part(&out, "date=2026-03-22"), "y\t1\n");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("city=") {
            let pairs = Partition::parse(&name).unwrap();
            assert_eq!(pairs.len(), 1, "{name}");
            assert_eq!(pairs[0].0, "city");
            assert_eq!(
                part(&out, &name),
                if pairs[0].1 == VALUES[0] {
                    "w\t2\n"
                } else {
                    "w\t1\n"
                }
            );
            found.push(pairs[0].1.clone());
        }
    }
    found.sort();
    let mut want = VALUES.map(String::from).to_vec();
    want.sort();
    assert_eq!(
        found, want,
        "every value reads back from its directory's name"
    );
    assert!(!out.join("_rejects.jsonl").exists());
}

/// A comma, as it is: refused by the host.
const UNESCAPED: &str = "k=a,b/x";

#[test]
fn an_unescaped_partition_fails_the_job_naming_it_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = job(&dir, &["top", "@k=a,b/x", UNESCAPED], &[]);
    let line = run.assert_error().to_owned();
    run.assert_exit(ExitClass::Plugin);
    for part in [
        "reduce task 0 (partition 0)",
        "on key \"k=a,b/x\"",
        "output partition \"k=a,b\" holds ','",
        "sandmill_sdk::partition::escape",
    ] {
        assert!(line.contains(part), "no {part:?} in: {line}\n{run}");
    }
    assert!(!line.contains("contract"), "not a broken batch: {line}");
    assert!(!out.exists(), "nothing is published\n{run}");
}

#[test]
fn max_bad_records_quarantines_a_record_routed_to_an_unescaped_partition() {
    let lines = ["top", "@k=a,b/x", UNESCAPED, "k=a,b/y", "date=2026-03-22/y"];
    // In this process, in a process per task (the task records carry the rejects across), and
    // run twice by --verify.
    for executor in [&[][..], &["--executor", "process"], &["--verify"]] {
        let dir = tempfile::tempdir().unwrap();
        let flags = [&["--max-bad-records", "2"][..], executor].concat();
        let (run, out) = job(&dir, &lines, &flags);
        run.assert_success();
        assert!(
            run.stdout.contains("bad records quarantined: 2"),
            "{executor:?}: {run}"
        );
        assert_eq!(part(&out, ""), "top\t1\n");
        assert_eq!(part(&out, "k=a%2Cb"), "x\t1\n");
        assert_eq!(part(&out, "date=2026-03-22"), "y\t1\n");
        assert!(!out.join("k=a,b").exists());
        let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
        let rejects: Vec<serde_json::Value> = rejects
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rejects.len(), 2, "{executor:?}: {rejects:?}");
        for (reject, key, record) in [
            (&rejects[0], "k=a,b/x", "x\t1"),
            (&rejects[1], "k=a,b/y", "y\t1"),
        ] {
            assert_eq!(reject["partition"], "k=a,b", "{reject}");
            assert_eq!(reject["key"], key, "{reject}");
            assert_eq!(reject["record"], record, "{reject}");
            assert_eq!(reject["task"], "reduce task 0 (partition 0)", "{reject}");
            let error = reject["error"].as_str().unwrap();
            assert!(
                error.starts_with("output partition \"k=a,b\" holds ','")
                    && error.contains("sandmill_sdk::partition::escape"),
                "{reject}"
            );
        }
    }

    // One more than allowed: the job fails, naming the record that went over.
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = job(&dir, &lines, &["--max-bad-records", "1"]);
    let line = run.assert_error().to_owned();
    run.assert_exit(ExitClass::BadInput);
    for part in [
        "more than 1 bad records",
        "reduce task 0 (partition 0)",
        "on key \"k=a,b/y\"",
        "output partition \"k=a,b\"",
    ] {
        assert!(line.contains(part), "no {part:?} in: {line}\n{run}");
    }
    assert!(!out.exists(), "nothing is published\n{run}");

    // The allowance is the job's, across reduce tasks: with 8 reducers these two keys go to
    // different ones, which each quarantine one record.
    let lines = ["k=a,b/x", "k=a,b/a"];
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = job(&dir, &lines, &["--max-bad-records", "2", "--reducers", "8"]);
    run.assert_success();
    let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
    let tasks: std::collections::BTreeSet<String> = rejects
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["task"].to_string())
        .collect();
    assert_eq!(tasks.len(), 2, "{rejects}");
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = job(&dir, &lines, &["--max-bad-records", "1", "--reducers", "8"]);
    let line = run.assert_error().to_owned();
    run.assert_exit(ExitClass::BadInput);
    for part in [
        "more than 1 bad records",
        "on key \"k=a,b/",
        "output partition \"k=a,b\"",
    ] {
        assert!(line.contains(part), "no {part:?} in: {line}\n{run}");
    }
    assert!(!out.exists(), "nothing is published\n{run}");
}
