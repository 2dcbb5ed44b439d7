//! The peer scripts (`bench/peers/duckdb_job.py`, `polars_job.py`) write exactly the lines of
//! the native jobs on small generated inputs of every kind the benchmark runs, plus a few
//! bytes a careless tokeniser gets wrong; `sandmill-bench run --peers` relies on it.
//!
//! They run in the venv of `scripts/setup-pydata.sh` (`SANDMILL_PYDATA_VENV`, default
//! `target/pydata-venv`); without it this test prints why and passes.

use sandmill_bench::generate::{self, DataSet, Spec};
use sandmill_bench::native::{self, Format, Job};
use sandmill_bench::output::SortedLines;
use sandmill_bench::peers::{self, Engine, PeerRun};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
}

/// The pydata venv, or `None` (with the reason printed) if it is not there.
fn venv() -> Option<PathBuf> {
    let venv = std::env::var_os("SANDMILL_PYDATA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/pydata-venv"));
    if peers::python(&venv).is_file() {
        return Some(venv);
    }
    eprintln!(
        "SKIPPED: no pydata venv at {} (run scripts/setup-pydata.sh, and set \
         SANDMILL_PYDATA_VENV to the path it prints if it is not target/pydata-venv)",
        venv.display()
    );
    None
}

/// One input of the test: a job, its generated data (with `extra` files beside) and formats.
struct Case {
    job: Job,
    data: DataSet,
    format: Format,
    /// What the script is told the input is: the native format's name, or `parquet`.
    script_format: &'static str,
    parquet_output: bool,
    /// Extra input files: name and contents.
    extra: &'static [(&'static str, &'static [u8])],
}

const CASES: &[Case] = &[
    Case {
        job: Job::WordCount,
        data: DataSet::Text,
        format: Format::Lines,
        script_format: "lines",
        parquet_output: false,
        // The Kelvin sign and a dotted capital I lowercase to ASCII under Unicode rules, but
        // are separators to the jobs; a lone \r; a line with no newline at the end of a file.
        extra: &[(
            "edge.txt",
            "A\u{212a}b \u{130}x\rZz\r\n\r\n\"Don't\"\tSTOP... caf\u{e9}9".as_bytes(),
        )],
    },
    Case {
        job: Job::InvertedIndex,
        data: DataSet::Documents,
        format: Format::Jsonl,
        script_format: "jsonl",
        parquet_output: false,
        extra: &[(
            "edge.jsonl",
            b"{\"text\": \"\\u0041b \\u212a \\\"Q\\\"\", \"doc_id\": -3}\r\n  \n{\"doc_id\": 7, \"text\": \"ab ab\"}",
        )],
    },
    Case {
        job: Job::RevenueByUser,
        data: DataSet::Events,
        format: Format::Jsonl,
        script_format: "jsonl",
        parquet_output: false,
        extra: &[],
    },
    Case {
        job: Job::RevenueByUser,
        data: DataSet::EventsCsv,
        format: Format::Csv,
        script_format: "csv",
        parquet_output: false,
        extra: &[],
    },
    // revenue-by-user-parquet's row: the same JSON Lines in, Parquet out.
    Case {
        job: Job::RevenueByUser,
        data: DataSet::Events,
        format: Format::Jsonl,
        script_format: "jsonl",
        parquet_output: true,
        extra: &[],
    },
    // Parquet in: the events, converted by pyarrow (see `to_parquet`).
    Case {
        job: Job::RevenueByUser,
        data: DataSet::Events,
        format: Format::Jsonl,
        script_format: "parquet",
        parquet_output: false,
        extra: &[],
    },
];

/// Writes every JSON Lines file of `from` as a Parquet file (all four columns) into `to`.
fn to_parquet(venv: &Path, from: &Path, to: &Path) {
    let code = r#"
import json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    rows = [json.loads(l) for l in open(os.path.join(src, name), encoding="utf-8") if l.strip()]
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("user_id", pa.int64()), ("ts", pa.string()), ("event", pa.string()),
        ("amount_cents", pa.int64())]))
    pq.write_table(table, os.path.join(dst, name + ".parquet"), row_group_size=200)
"#;
    let status = Command::new(peers::python(venv))
        .args(["-c", code])
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success(), "converting {} to Parquet", from.display());
}

#[test]
fn peer_scripts_write_the_native_jobs_lines() {
    let Some(venv) = venv() else {
        return;
    };
    let scripts = repo().join("bench/peers");
    let tmp = tempfile::tempdir().unwrap();
    for (i, case) in CASES.iter().enumerate() {
        let input = tmp.path().join(format!("case-{i}/input"));
        fs::create_dir_all(&input).unwrap();
        let spec = Spec {
            kind: case.data,
            size: 64 << 10,
            seed: 7,
        };
        generate::write_files(&input, &spec).unwrap();
        for (name, contents) in case.extra {
            fs::write(input.join(name), contents).unwrap();
        }
        let native_out = tmp.path().join(format!("case-{i}/native"));
        native::run(&native::Options {
            job: case.job,
            format: case.format,
            inputs: vec![input.clone()],
            output: native_out.clone(),
            overwrite: false,
            threads: 2,
            chunk_size: native::DEFAULT_CHUNK_SIZE,
        })
        .unwrap();
        let want = SortedLines::read(&native_out).unwrap();
        assert!(
            want.len() > 100,
            "case {i}: the native job wrote {}",
            want.len()
        );

        let script_input = if case.script_format == "parquet" {
            let parquet = tmp.path().join(format!("case-{i}/parquet"));
            fs::create_dir_all(&parquet).unwrap();
            to_parquet(&venv, &input, &parquet);
            parquet
        } else {
            input.clone()
        };
        for engine in Engine::ALL {
            let output = tmp.path().join(format!("case-{i}/{}", engine.name()));
            fs::create_dir_all(&output).unwrap();
            let run = PeerRun {
                engine,
                job: case.job,
                format: case.format,
                parquet_output: case.parquet_output,
                input: &script_input,
                output: &output,
                threads: 2,
            };
            let mut argv = peers::command_line(&venv, &scripts, &run);
            let at = argv.iter().position(|a| a == "--format").unwrap();
            argv[at + 1] = case.script_format.to_string();
            let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
            let what = format!(
                "case {i} ({} {} in, {} out) with {}",
                case.job.name(),
                case.script_format,
                if case.parquet_output {
                    "parquet"
                } else {
                    "lines"
                },
                engine.name()
            );
            assert!(
                out.status.success(),
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = if case.parquet_output {
                SortedLines::read_parquet(&output)
            } else {
                SortedLines::read(&output)
            }
            .unwrap();
            if let Some(diff) = got.diff(&want, [engine.name(), "native"]) {
                panic!("{what}: {diff}");
            }
        }
    }
}

#[test]
fn peer_scripts_refuse_a_format_their_job_does_not_read() {
    let Some(venv) = venv() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f.txt"), "a b\n").unwrap();
    for engine in Engine::ALL {
        let out = Command::new(peers::python(&venv))
            .arg(repo().join("bench/peers").join(engine.script()))
            .args(["wordcount", "--format", "csv", "--threads", "1", "--input"])
            .arg(tmp.path())
            .arg("--output")
            .arg(tmp.path().join("out"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", engine.name());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("wordcount reads --format lines"),
            "{stderr}"
        );
    }
}

#[test]
fn a_line_duckdb_would_misread_fails_its_run_instead_of_losing_words() {
    let Some(venv) = venv() else {
        return;
    };
    // DuckDB reads text as one CSV column delimited by \x01: a line holding one must not
    // lose what follows it. Polars reads lines as they are and counts every word.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("f.txt"), "ab\x01cd ef\nAB\n").unwrap();
    for engine in Engine::ALL {
        let output = tmp.path().join(engine.name());
        fs::create_dir_all(&output).unwrap();
        let run = PeerRun {
            engine,
            job: Job::WordCount,
            format: Format::Lines,
            parquet_output: false,
            input: &input,
            output: &output,
            threads: 1,
        };
        let argv = peers::command_line(&venv, &repo().join("bench/peers"), &run);
        let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match engine {
            Engine::DuckDb => {
                assert!(!out.status.success(), "duckdb succeeded");
                assert!(stderr.contains("holds a \\x01 byte"), "{stderr}");
                assert!(!output.join("part-00000").exists());
            }
            Engine::Polars => {
                assert!(out.status.success(), "{stderr}");
                let mut lines: Vec<String> = fs::read_to_string(output.join("part-00000"))
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect();
                lines.sort();
                assert_eq!(lines, ["ab\t2", "cd\t1", "ef\t1"]);
            }
        }
    }
}
