//! Parquet in and out, checked with the tools people read Parquet with: revenue-by-user-parquet
//! writes Parquet (`--output-format parquet`) that pyarrow, DuckDB and Polars read back as the
//! records the same job writes as lines; Parquet events written by pyarrow, read with
//! `--format parquet --columns` (row groups as splits), give revenue-by-user the answer the
//! JSON Lines events give; a file that is not Parquet, a missing column, a bad input row and an
//! output record that does not fit the schema are errors that name the file, row group and row,
//! or the field.
//!
//! The Python tools come from `scripts/setup-pydata.sh` (a venv at `target/pydata-venv`, or
//! wherever `SANDMILL_PYDATA_VENV` says): without it these tests fail, saying to run it.

use crate::{arg, sandmill};
use sandmill_tests::{generate, output, plugins, reference};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA: &str = "user_id:int64,count:int64,sum_cents:int64";

/// The Python of the pydata venv.
fn python() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let venv = std::env::var_os("SANDMILL_PYDATA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/pydata-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "no pyarrow/DuckDB/Polars venv at {}: run scripts/setup-pydata.sh (it prints the venv's \
         path; give it to the tests as SANDMILL_PYDATA_VENV if it is not target/pydata-venv)",
        venv.display()
    );
    python
}

/// Runs `script` with `args` in the pydata venv; returns its stdout.
fn py(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("running the pydata venv's python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each row of each Parquet file given, read by pyarrow, as compact JSON in the schema's
/// column order, file after file.
const PYARROW_ROWS: &str = r#"
import json, sys
import pyarrow.parquet as pq
for path in sys.argv[1:]:
    table = pq.read_table(path)
    for row in table.to_pylist():
        print(json.dumps(row, separators=(",", ":")))
"#;

/// The events of JSON Lines files written as one Parquet file each (`argv[1]` is the output
/// directory), in row groups of 300 rows, snappy-compressed as pyarrow does by default.
const WRITE_EVENTS: &str = r#"
import json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
schema = pa.schema([("user_id", pa.int64()), ("ts", pa.string()), ("event", pa.string()),
                    ("amount_cents", pa.int64())])
for path in sys.argv[2:]:
    rows = [json.loads(l) for l in open(path, encoding="utf-8-sig").read().splitlines()
            if l.strip()]
    cols = {f.name: [r[f.name] for r in rows] for f in schema}
    name = os.path.basename(path).replace(".jsonl", ".parquet")
    pq.write_table(pa.table(cols, schema=schema), os.path.join(out, name), row_group_size=300)
"#;

fn run_revenue_parquet(input: &[PathBuf], out: &Path, extra: &[&str]) -> crate::Run {
    let mut args = vec![
        "run".to_owned(),
        plugins::REVENUE_BY_USER_PARQUET.to_owned(),
        "--format".into(),
        "jsonl".into(),
        "--output".into(),
        arg(out).into(),
        "--reducers".into(),
        "3".into(),
        "--quiet".into(),
    ];
    for file in input {
        args.extend(["--input".into(), arg(file).to_owned()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    sandmill(args)
}

/// The example job: Parquet output read back by pyarrow is, part file by part file, the records
/// the same job writes as lines, which are the reference's answer; DuckDB and Polars read the
/// same rows; the manifest names the format and schema; a second run writes the same bytes.
#[test]
fn revenue_by_user_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate::events(&dir.path().join("events"), 21, 300 << 10);
    let lines = dir.path().join("lines");
    run_revenue_parquet(&events.jsonl, &lines, &[]).assert_success();
    let parquet = dir.path().join("parquet");
    let parquet_args = ["--output-format", "parquet", "--output-schema", SCHEMA];
    run_revenue_parquet(&events.jsonl, &parquet, &parquet_args).assert_success();

    let line_parts = output::part_files(&lines);
    let parquet_parts = output::part_files(&parquet);
    let names: Vec<String> = parquet_parts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet"
        ]
    );
    let mut all = Vec::new();
    for (line_part, parquet_part) in line_parts.iter().zip(&parquet_parts) {
        let rows: Vec<String> = py(PYARROW_ROWS, &[arg(parquet_part)])
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            rows,
            output::read_part(line_part),
            "{}",
            parquet_part.display()
        );
        all.extend(rows);
    }
    // The lines are the reference's answer, as JSON.
    let mut as_tabs: Vec<String> = all
        .iter()
        .map(|row| {
            let v: serde_json::Value = serde_json::from_str(row).unwrap();
            format!("{}\t{}\t{}", v["user_id"], v["count"], v["sum_cents"])
        })
        .collect();
    let mut want = reference::revenue_by_user_jsonl(&events.jsonl);
    as_tabs.sort();
    want.sort();
    assert_eq!(as_tabs, want);

    // DuckDB and Polars read the same rows.
    let glob = format!("{}/*.parquet", arg(&parquet));
    let duck = py(
        "import duckdb, sys; print(duckdb.sql(f\"SELECT count(*), sum(count), \
         sum(sum_cents) FROM read_parquet('{sys.argv[1]}')\").fetchall()[0])",
        &[&glob],
    );
    let polars = py(
        "import polars as pl, sys; df = pl.read_parquet(sys.argv[1]); \
         print((df.height, df['count'].sum(), df['sum_cents'].sum()))",
        &[&glob],
    );
    let (count, sum) = all.iter().fold((0i64, 0i128), |(c, s), row| {
        let v: serde_json::Value = serde_json::from_str(row).unwrap();
        (
            c + v["count"].as_i64().unwrap(),
            s + i128::from(v["sum_cents"].as_i64().unwrap()),
        )
    });
    let expected = format!("({}, {count}, {sum})", all.len());
    assert_eq!(duck.trim(), expected, "DuckDB");
    assert_eq!(polars.trim(), expected, "Polars");

    // The manifest lists the files with their records, and says what they are.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(parquet.join("_MANIFEST.json")).unwrap()).unwrap();
    assert_eq!(manifest["output_format"], "parquet");
    assert_eq!(manifest["output_schema"], SCHEMA);
    let listed: Vec<(String, u64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["records"].as_u64().unwrap(),
            )
        })
        .collect();
    let counted: Vec<(String, u64)> = line_parts
        .iter()
        .zip(&names)
        .map(|(l, n)| (n.clone(), output::read_part(l).len() as u64))
        .collect();
    assert_eq!(listed, counted);
    let lines_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lines.join("_MANIFEST.json")).unwrap()).unwrap();
    assert!(lines_manifest.get("output_format").is_none());

    // The same job writes the same bytes, with other threads and splits too.
    let again = dir.path().join("again");
    run_revenue_parquet(
        &events.jsonl,
        &again,
        &[
            &parquet_args[..],
            &["--threads", "1", "--split-size", "16KiB"],
        ]
        .concat(),
    )
    .assert_success();
    assert_eq!(output::part_bytes(&again), output::part_bytes(&parquet));
}

/// Parquet events written by pyarrow in several row groups, read with `--columns` in splits
/// of a few row groups each: revenue-by-user, unchanged, gives the answer it gives on the JSON
/// Lines events. And without `--columns`, every column reaches the plugin: the same answer.
#[test]
fn parquet_input_with_columns_gives_the_json_lines_answer() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate::events(&dir.path().join("events"), 22, 200 << 10);
    let pq_dir = dir.path().join("pq");
    std::fs::create_dir_all(&pq_dir).unwrap();
    let mut args = vec![arg(&pq_dir).to_owned()];
    args.extend(events.jsonl.iter().map(|p| arg(p).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    py(WRITE_EVENTS, &refs);
    let mut expected = reference::revenue_by_user_jsonl(&events.jsonl);
    expected.sort();

    for (name, extra) in [
        (
            "split",
            &["--columns", "user_id,amount_cents", "--split-size", "2KiB"][..],
        ),
        ("whole", &["--columns", "amount_cents,user_id"][..]),
        ("all", &[][..]),
    ] {
        let out = dir.path().join(name);
        let summary = dir.path().join(format!("{name}.json"));
        let mut cli = vec![
            "run",
            plugins::REVENUE_BY_USER,
            "--input",
            arg(&pq_dir),
            "--format",
            "parquet",
            "--output",
            arg(&out),
            "--reducers",
            "2",
            "--quiet",
            "--summary-json",
            arg(&summary),
        ];
        cli.extend(extra);
        sandmill(&cli).assert_success();
        let mut got = output::read_output(&out);
        got.sort();
        assert_eq!(got, expected, "{name}");
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        let map_tasks = summary["map"]["tasks"].as_u64().unwrap();
        let files = events.jsonl.len() as u64;
        if name == "split" {
            // Row groups of 300 rows are a few KiB: the larger files are cut into several
            // splits.
            assert!(map_tasks > files, "{map_tasks} map tasks for {files} files");
        } else {
            assert!(
                map_tasks <= files,
                "{map_tasks} map tasks for {files} files"
            );
        }
    }
}

/// What goes wrong with Parquet input is named: a file that is not Parquet, one cut short, a
/// column that is not there, and a row the plugin rejects (by file, row group and row).
#[test]
fn bad_parquet_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = |input: &Path, extra: &[&str]| {
        let out = dir.path().join("out");
        let mut cli = vec![
            "run",
            plugins::FAIL_ON_RECORD,
            "--input",
            arg(input),
            "--format",
            "parquet",
            "--output",
            arg(&out),
            "--quiet",
        ];
        cli.extend(extra);
        let run = sandmill(&cli);
        assert!(!out.exists(), "a failed job leaves no output");
        run
    };
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, "user_id,amount\n1,2\n").unwrap();
    let err = run(&garbage, &[]).assert_error().to_owned();
    assert!(err.contains("garbage.parquet"), "{err}");
    assert!(err.contains("cannot be read as Parquet"), "{err}");

    // Words in row groups of 4 rows: row 9 of the file is row 1 of row group 2.
    let words = dir.path().join("words.parquet");
    py(
        "import sys, pyarrow as pa, pyarrow.parquet as pq; \
         pq.write_table(pa.table({'w': [f'w{i}' for i in range(12)], 'n': list(range(12))}), \
         sys.argv[1], row_group_size=4)",
        &[arg(&words)],
    );
    let bytes = std::fs::read(&words).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let err = run(&cut, &[]).assert_error().to_owned();
    assert!(err.contains("cut.parquet"), "{err}");
    assert!(
        err.contains("cannot be read as Parquet (its footer)"),
        "{err}"
    );

    let err = run(&words, &["--columns", "w,missing"])
        .assert_error()
        .to_owned();
    assert!(
        err.contains("has no column \"missing\" (--columns); its columns are: w, n"),
        "{err}"
    );

    let err = run(&words, &["--columns", "w", "--param", r#"fail={"w":"w9"}"#])
        .assert_error()
        .to_owned();
    assert!(
        err.contains("words.parquet row group 2 row 1 (row 9 of the file)"),
        "{err}"
    );
    // Quarantined, the row is named in _rejects.jsonl too.
    let out = dir.path().join("kept");
    sandmill([
        "run",
        plugins::FAIL_ON_RECORD,
        "--input",
        arg(&words),
        "--format",
        "parquet",
        "--columns",
        "w",
        "--param",
        r#"fail={"w":"w9"}"#,
        "--max-bad-records",
        "1",
        "--output",
        arg(&out),
        "--quiet",
    ])
    .assert_success();
    let rejects = std::fs::read_to_string(out.join("_rejects.jsonl")).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(reject["row_group"], 2, "{rejects}");
    assert_eq!(reject["row"], 1, "{rejects}");
    assert_eq!(reject["offset"], 9, "{rejects}");
    assert_eq!(reject["record"], r#"{"w":"w9"}"#, "{rejects}");
}

/// An output record that does not fit `--output-schema` fails the job naming the key, the
/// record and the field, or is quarantined under `--max-bad-records` and left out of the
/// Parquet file.
#[test]
fn a_record_that_does_not_fit_the_schema_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"user_id\":1,\"amount_cents\":5}\n{\"user_id\":2,\"amount_cents\":7}\n\
         {\"user_id\":2,\"amount_cents\":1}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = run_revenue_parquet(
        std::slice::from_ref(&events),
        &out,
        &[
            "--output-format",
            "parquet",
            "--output-schema",
            "user_id:int64,count:int64,sum_cents:string",
        ],
    );
    let err = run.assert_error();
    assert!(err.contains("does not fit --output-schema"), "{err}");
    assert!(err.contains("on key"), "{err}");
    assert!(err.contains("record 1 of the key's output"), "{err}");
    assert!(err.contains("field \"sum_cents\" is the number"), "{err}");
    assert!(!out.exists());

    let missing = run_revenue_parquet(
        std::slice::from_ref(&events),
        &out,
        &[
            "--output-format",
            "parquet",
            "--output-schema",
            "user_id:int64,count:int64",
        ],
    );
    let err = missing.assert_error();
    assert!(
        err.contains("field \"sum_cents\" is not a column of --output-schema"),
        "{err}"
    );

    // Quarantined: user 2's record is left out; user 1's fits a nullable int32.
    let schema = "user_id:int64,count:int64,sum_cents:int32?";
    let kept = dir.path().join("kept");
    let big = dir.path().join("big.jsonl");
    std::fs::write(
        &big,
        "{\"user_id\":1,\"amount_cents\":5}\n{\"user_id\":2,\"amount_cents\":3000000000}\n",
    )
    .unwrap();
    run_revenue_parquet(
        &[big],
        &kept,
        &[
            "--output-format",
            "parquet",
            "--output-schema",
            schema,
            "--max-bad-records",
            "5",
        ],
    )
    .assert_success();
    let kept_parts = output::part_files(&kept);
    let kept_parts: Vec<&str> = kept_parts.iter().map(|p| arg(p)).collect();
    let rows = py(PYARROW_ROWS, &kept_parts);
    assert_eq!(rows, "{\"user_id\":1,\"count\":1,\"sum_cents\":5}\n");
    let rejects = std::fs::read_to_string(kept.join("_rejects.jsonl")).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(reject["field"], "sum_cents", "{rejects}");
    assert!(
        reject["error"].as_str().unwrap().contains("not an int32"),
        "{rejects}"
    );
}

/// The flags are checked before anything runs.
#[test]
fn parquet_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{}\n").unwrap();
    let out = dir.path().join("out");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--output-format", "parquet"],
            "--output-format parquet needs --output-schema",
        ),
        (
            &["--output-schema", SCHEMA],
            "give --output-format parquet too",
        ),
        (
            &[
                "--output-format",
                "parquet",
                "--output-schema",
                "user_id:int",
            ],
            "unknown type \"int\"",
        ),
        (&["--columns", "a"], "give --format parquet"),
    ];
    for (extra, expected) in cases {
        let mut cli = vec![
            "run",
            plugins::REVENUE_BY_USER_PARQUET,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
        ];
        cli.extend(*extra);
        let err = sandmill(&cli).assert_error().to_owned();
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
}

/// Quality gates read a Parquet output's rows as the JSON objects of their columns: the field
/// checks and a check plugin pass on revenue-by-user-parquet's output, and a column that is
/// null in every row fails its null-share bound naming the share, with nothing published.
#[test]
fn gates_read_the_rows_of_a_parquet_output() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate::events(&dir.path().join("events"), 22, 64 << 10);
    let out = dir.path().join("out");
    let range = format!(
        "plugin:plugin={},param.field=count,param.min=1",
        plugins::CHECK_RANGE
    );
    // `note` is optional and the job never writes it: null in every row.
    let schema = format!("{SCHEMA},note:string?");
    let gated = |checks: &[&str]| {
        let mut args = vec!["--output-format", "parquet", "--output-schema", &schema];
        for check in checks {
            args.extend(["--check", check]);
        }
        run_revenue_parquet(&events.jsonl, &out, &args)
    };
    let run = gated(&[
        "unique-keys:key=user_id",
        "no-empty-keys:key=user_id",
        "null-share:field=sum_cents,max=0",
        &range,
    ]);
    run.assert_success();
    let users = reference::revenue_by_user_jsonl(&events.jsonl).len();
    let manifest = std::fs::read_to_string(out.join("_MANIFEST.json")).unwrap();
    for detail in [
        format!("{users} records, every key once"),
        format!("{users} records, no empty key"),
        format!("0 of {users} records (0.00%) have sum_cents null or missing"),
    ] {
        assert!(manifest.contains(&detail), "{detail}: {manifest}");
    }
    assert!(
        manifest.contains("\"check\": \"plugin check_range.wasm\""),
        "{manifest}"
    );
    assert_eq!(
        manifest.matches("\"passed\": true").count(),
        4,
        "{manifest}"
    );
    let published = output::part_bytes(&out);

    let run = gated(&["null-share:field=note,max=0.5"]);
    let error = run.assert_error();
    run.assert_exit(sandmill::error::ExitClass::Rejected);
    assert!(
        error.contains(&format!(
            "{users} of {users} records (100.00%) have note null or missing (at most 50.00%)"
        )),
        "{error}"
    );
    assert_eq!(output::part_bytes(&out), published, "nothing was published");
}
