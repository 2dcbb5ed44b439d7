//! Quality gates on a plain job (`sandmill run --check`): a pass is recorded in the manifest
//! and the summary; a failure publishes nothing, keeps the current version, exits with 6 and
//! keeps the rejected attempt with a manifest that says which check failed and by how much.

use crate::{arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::{CHECK_RANGE, FAIL_ON_RECORD, WORDCOUNT};
use std::path::Path;

fn wordcount(input: &Path, out: &Path, checks: &[&str]) -> crate::Run {
    let mut args = vec![
        "run",
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
        "-r",
        "2",
    ];
    for check in checks {
        args.extend(["--check", check]);
    }
    sandmill(args)
}

#[test]
fn passing_gates_are_recorded_and_a_failing_one_keeps_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a b c\nb c\nc\n").unwrap();
    let out = dir.path().join("out");
    let run = wordcount(
        &input,
        &out,
        &["records:min=3,max=3", "unique-keys", "no-empty-keys"],
    );
    run.assert_success();
    assert!(
        run.stdout.contains("check records 3..3: 3 records"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("check unique-keys: 3 records, every key once"),
        "{run}"
    );
    let manifest = std::fs::read_to_string(out.join("_MANIFEST.json")).unwrap();
    assert!(
        manifest.contains("\"check\": \"unique-keys\""),
        "{manifest}"
    );
    assert!(!manifest.contains("\"rejected\""), "{manifest}");
    let first = read_output(&out);

    // Twice the words: 100% more records than the current version, over a 50% bound.
    std::fs::write(&input, "a b c\nb c\nc\nd e f\n").unwrap();
    let run = wordcount(&input, &out, &["records-change:max_percent=50"]);
    let error = run.assert_error();
    run.assert_exit(ExitClass::Rejected);
    assert!(
        error.contains(
            "check records-change ±50% failed: 6 records, 100.0% more than v000001's 3 \
             (at most 50%)"
        ),
        "{error}"
    );
    assert!(error.contains("nothing was published"), "{error}");
    assert_eq!(read_output(&out), first, "the first version stays current");
    let versions = sandmill(["versions", arg(&out)]);
    assert_eq!(versions.stdout.matches("v00000").count(), 1, "{versions}");

    let rejected = dir.path().join(".out.sandmill/rejected");
    let kept: Vec<_> = std::fs::read_dir(&rejected)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kept[0].join("_MANIFEST.json")).unwrap()).unwrap();
    assert_eq!(manifest["rejected"], true);
    assert_eq!(manifest["checks"][0]["passed"], false);
    assert_eq!(
        read_output(&kept[0]).len(),
        6,
        "the rejected output is kept whole"
    );

    // The same job with a bound it meets publishes v2.
    let run = wordcount(&input, &out, &["records-change:max_percent=100"]);
    run.assert_success();
    assert_eq!(read_output(&out).len(), 6);
}

#[test]
fn key_checks_name_the_first_offending_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    // fail-on-record writes `<line>\t<count>`: two lines that differ only after a tab have
    // the same key, the text before the first tab.
    std::fs::write(&input, "k\tx\nk\ty\n").unwrap();
    let out = dir.path().join("out");
    let run = sandmill([
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "-r",
        "1",
        "--check",
        "unique-keys",
    ]);
    let error = run.assert_error();
    run.assert_exit(ExitClass::Rejected);
    assert!(
        error.contains("repeat a key, the first \"k\" at part-00000 line 2"),
        "{error}"
    );
    assert!(!out.exists());
}

#[test]
fn a_plugin_check_runs_over_the_output_and_a_bad_check_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"n\":1}\n{\"n\":50}\n").unwrap();
    let out = dir.path().join("out");
    // fail-on-record writes each line with its count (`{"n":1}\t1`), no longer JSON: the
    // check finds no number in any record.
    let check = format!("plugin:plugin={CHECK_RANGE},param.field=n,param.max=10");
    let run = sandmill([
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "-r",
        "1",
        "--check",
        &check,
    ]);
    let error = run.assert_error();
    run.assert_exit(ExitClass::Rejected);
    assert!(
        error.contains("check plugin check_range.wasm failed: 2 of 2 records have n outside ..10"),
        "{error}"
    );

    for (bad, want) in [
        ("records:min=5,max=1", "min 5 is larger than max 1"),
        ("records:minimum=5", "unknown field `minimum`"),
        ("sizes", "unknown variant `sizes`"),
        ("null-share:field=x,max=2", "share from 0 to 1"),
    ] {
        // Refused by the command line, before anything runs.
        let run = wordcount(&input, &out, &[bad]);
        run.assert_exit(ExitClass::Usage);
        assert!(
            run.stderr
                .starts_with(&format!("error: invalid value '{bad}' for '--check")),
            "{run}"
        );
        assert!(run.stderr.contains(want), "{bad}: {run}");
    }
}
