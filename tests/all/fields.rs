//! Declared fields end to end: revenue-by-user and the inverted index declare the input fields
//! they read, so the host parses JSON Lines, CSV and Parquet for them (their answers against
//! the reference are in `jobs` and `parquet`). Here: records that do not fit the declaration
//! are bad records named by file and line, quarantined with the record as it was read; a CSV
//! header without a required column and `--format lines` are refused, saying what to do.

use crate::{arg, sandmill};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins;
use std::path::Path;

fn write(dir: &Path, name: &str, lines: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    arg(&path).to_string()
}

fn revenue(input: &str, format: &str, out: &Path, extra: &[&str]) -> crate::Run {
    let mut args = vec![
        "run",
        plugins::REVENUE_BY_USER,
        "--input",
        input,
        "--format",
        format,
        "--output",
        arg(out),
    ];
    args.extend(extra);
    sandmill(&args)
}

const EVENTS: [&str; 6] = [
    r#"{"user_id":1,"amount_cents":100,"event":"buy"}"#,
    r#"{"user_id":"2","amount_cents":5}"#,
    r#"{"amount_cents":7,"user_id":1,"user_id":3}"#,
    r#"{"user_id":4}"#,
    r#"{"user_id":1,"amount_cents":1.5}"#,
    r#"{"note":"caf\u00e9 \"x\"","user_id":1,"amount_cents":-10}"#,
];

#[test]
fn records_that_do_not_fit_the_declared_fields_are_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "events.jsonl", &EVENTS);

    // The first bad record fails the job, naming its file, line and field.
    let out = dir.path().join("strict");
    let run = revenue(&input, "jsonl", &out, &[]);
    let line = run.assert_error();
    assert!(line.contains("events.jsonl line 2"), "{line}");
    assert!(
        line.contains("does not fit the fields the job declares"),
        "{line}"
    );
    assert!(line.contains("expected an integer for the field"), "{line}");
    assert!(line.contains("--max-bad-records"), "{line}");
    assert!(!out.exists());

    // Allowed, they are quarantined as read, and the rest is the answer (a key given twice
    // keeps its last value, as in JSON).
    let out = dir.path().join("lenient");
    revenue(&input, "jsonl", &out, &["--max-bad-records", "3"]).assert_success();
    assert_eq!(read_output(&out), ["1\t2\t90", "3\t1\t7"]);
    let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
    let rejects: Vec<serde_json::Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let found: Vec<(u64, &str)> = rejects
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["record"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [(2, EVENTS[1]), (4, EVENTS[3]), (5, EVENTS[4])]);
    let errors: Vec<&str> = rejects
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(
        errors[1].contains("\"amount_cents\" is absent"),
        "{errors:?}"
    );
    assert!(errors[2].contains("floating point"), "{errors:?}");

    // One more than allowed: the job fails, naming the last one as a field error.
    let out = dir.path().join("over");
    let run = revenue(&input, "jsonl", &out, &["--max-bad-records", "2"]);
    let line = run.assert_error();
    assert!(line.contains("more than 2 bad records"), "{line}");
    assert!(
        line.contains("does not fit the fields the job declares"),
        "{line}"
    );
    assert!(!out.exists());

    // The range partitioner's sample reads the same fields: bad records are left out of it
    // when allowed, and fail the plan when not.
    let out = dir.path().join("range");
    let range = ["--partitioner", "range", "--reducers", "2"];
    let run = revenue(
        &input,
        "jsonl",
        &out,
        &[&range[..], &["--max-bad-records", "3"]].concat(),
    );
    run.assert_success();
    assert_eq!(read_output(&out), ["1\t2\t90", "3\t1\t7"]);
    let line = revenue(&input, "jsonl", &dir.path().join("range-strict"), &range)
        .assert_error()
        .to_owned();
    assert!(line.contains("events.jsonl"), "{line}");
    assert!(line.contains("expected an integer for the field"), "{line}");
}

#[test]
fn csv_fields_are_read_by_the_header_and_a_missing_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "amount_cents,event,user_id",
        "100,\"buy, twice\",1",
        " -10 ,view,1",
        "x,buy,2",
        "5,buy,3",
    ];
    let input = write(dir.path(), "events.csv", &rows);
    let out = dir.path().join("out");
    revenue(&input, "csv", &out, &["--max-bad-records", "1"]).assert_success();
    assert_eq!(read_output(&out), ["1\t2\t90", "3\t1\t5"]);
    let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
    assert!(rejects.contains(r#""line":4"#), "{rejects}");
    assert!(rejects.contains(r#""record":"x,buy,2""#), "{rejects}");

    let input = write(dir.path(), "no_amount.csv", &["user_id,event", "1,buy"]);
    let out = dir.path().join("no_amount");
    let line = revenue(&input, "csv", &out, &["--max-bad-records", "10"])
        .assert_error()
        .to_owned();
    assert!(line.contains("no_amount.csv line 1"), "{line}");
    assert!(
        line.contains("the CSV header has no column \"amount_cents\""),
        "{line}"
    );
    assert!(
        line.contains("make the field optional in the job"),
        "{line}"
    );
    assert!(!out.exists());
}

#[test]
fn a_job_that_declares_fields_needs_structured_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "events.jsonl", &EVENTS[..1]);
    let out = dir.path().join("out");
    let line = revenue(&input, "lines", &out, &[])
        .assert_error()
        .to_owned();
    assert!(
        line.contains(
            "declares the input fields it reads (\"user_id\": s64, \"amount_cents\": s64)"
        ),
        "{line}"
    );
    assert!(line.contains("--format jsonl, csv or parquet"), "{line}");
    assert!(!out.exists());
}
