//! The example jobs end to end: generated inputs, several reducer, thread and split-size
//! settings, output compared line for line with `sandmill_tests::reference`.

use crate::{arg, sandmill};
use sandmill_tests::output::{self, first_field_bytes, first_field_i64};
use sandmill_tests::{assert_lines_eq, generate, plugins, reference};
use std::collections::BTreeMap;
use std::path::PathBuf;

// Every example plugin needs a test here named after it.
macro_rules! assert_test_exists {
    // Test guests, not example jobs: their tests are in `cli_errors`, `flood` and `hostile`.
    (fail_on_record, $path:ident) => {};
    (flood, $path:ident) => {};
    (hostile, $path:ident) => {};
    // Pipeline stages and a check plugin: their tests are in `pipelines` and `gates`.
    (sales_clean, $path:ident) => {};
    (revenue_by_category, $path:ident) => {};
    (check_range, $path:ident) => {};
    // Needs side inputs: tested in `side_inputs`, against the reference join.
    (join_products, $path:ident) => {};
    // Its test, with Parquet output read back by pyarrow, is in `parquet`.
    (revenue_by_user_parquet, $path:ident) => {};
    ($name:ident, $path:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
sandmill_tests::foreach_plugin!(assert_test_exists);

/// One way to run a job.
#[derive(Debug, Clone, Copy)]
struct Setting {
    reducers: usize,
    threads: usize,
    /// `--split-size`: small ones cut the larger input files into dozens of splits; 64 MiB
    /// leaves every file whole.
    split_size: &'static str,
    /// `--memory`: 64 KiB makes every map task spill its sort buffer many times and merge the
    /// spills, so comparing with the 1 GiB runs checks that spill + merge = one sort.
    memory: &'static str,
}

/// Enough settings to cover one and several reducers and threads, splits smaller than a line
/// and whole files, in memory and spilling, without running every combination.
const SETTINGS: [Setting; 4] = [
    Setting {
        reducers: 1,
        threads: 1,
        split_size: "2000",
        memory: "1GiB",
    },
    Setting {
        reducers: 3,
        threads: 2,
        split_size: "2000",
        memory: "64KiB",
    },
    Setting {
        reducers: 7,
        threads: 4,
        split_size: "1KiB",
        memory: "1GiB",
    },
    Setting {
        reducers: 3,
        threads: 4,
        split_size: "64MiB",
        memory: "64KiB",
    },
];

/// How the lines of one part file must be ordered: by key bytes, or by the key as a number
/// (for keys the job encodes so that byte order is numeric order).
#[derive(Debug, Clone, Copy)]
enum KeyOrder {
    Bytes,
    Numeric,
}

/// Runs `plugin` on `inputs` (each one `--input`) with every setting, and checks that each run
/// commits `reducers` sorted part files whose lines equal `want`, and that runs with the same
/// number of reducers write byte-identical part files whatever the threads and splits.
fn run_with_settings(
    plugin: &str,
    format: &str,
    inputs: &[&str],
    settings: &[Setting],
    order: KeyOrder,
    want: &[String],
) {
    // Part file contents of the first run with each number of reducers.
    let mut parts_by_reducers: BTreeMap<usize, (Setting, Vec<Vec<u8>>)> = BTreeMap::new();
    for &setting in settings {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out");
        let mut args = vec!["run".to_string(), plugin.to_string()];
        for input in inputs {
            args.extend(["--input".to_string(), input.to_string()]);
        }
        args.extend([
            "--output".to_string(),
            arg(&out).to_string(),
            "--format".to_string(),
            format.to_string(),
            "--reducers".to_string(),
            setting.reducers.to_string(),
            "--threads".to_string(),
            setting.threads.to_string(),
            "--split-size".to_string(),
            setting.split_size.to_string(),
            "--memory".to_string(),
            setting.memory.to_string(),
        ]);
        let run = sandmill(&args);
        assert!(
            run.status.success(),
            "{setting:?} failed: {}\n{run}",
            run.status
        );
        if setting.memory == "64KiB" {
            assert!(spills(&run) > 0, "{setting:?} should have spilled\n{run}");
        }

        output::assert_committed(&out, setting.reducers);
        match order {
            KeyOrder::Bytes => output::part_files_sorted_by(&out, first_field_bytes),
            KeyOrder::Numeric => output::part_files_sorted_by(&out, first_field_i64),
        };
        let got = output::read_output(&out);
        assert_lines_eq!(
            want,
            got,
            "{plugin} with {setting:?}: output differs from the reference"
        );

        // A task's output depends on its input only, not on threads or on how input was split.
        let parts: Vec<Vec<u8>> = output::part_files(&out)
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        match parts_by_reducers.get(&setting.reducers) {
            None => {
                parts_by_reducers.insert(setting.reducers, (setting, parts));
            }
            Some((earlier, earlier_parts)) => {
                for (p, (a, b)) in earlier_parts.iter().zip(&parts).enumerate() {
                    assert!(
                        a == b,
                        "part-{p:05} differs between {earlier:?} and {setting:?}"
                    );
                }
            }
        }
    }
}

/// The number of spills the run's summary reports.
fn spills(run: &crate::Run) -> u64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(" spills, "))
        .unwrap_or_default();
    let before = line.split(" spills, ").next().unwrap_or_default();
    before
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0)
}

/// Checks that the inputs really exercise splitting: some file spans at least five of the
/// smallest splits in [`SETTINGS`].
fn assert_spans_many_splits(files: &[PathBuf]) {
    let largest = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .max()
        .unwrap();
    assert!(
        largest > 5 * 2000,
        "the largest input has only {largest} bytes"
    );
}

fn paths(files: &[PathBuf]) -> Vec<&str> {
    files.iter().map(|f| arg(f)).collect()
}

#[test]
fn wordcount() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate::text(dir.path(), 0x5eed_0001, 120_000);
    assert_spans_many_splits(&files);
    let want = reference::wordcount(&files);
    // The whole directory as one input.
    let inputs = [arg(dir.path())];
    run_with_settings(
        plugins::WORDCOUNT,
        "lines",
        &inputs,
        &SETTINGS,
        KeyOrder::Bytes,
        &want,
    );
}

#[test]
fn inverted_index() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate::documents(dir.path(), 0x5eed_0002, 100_000);
    assert_spans_many_splits(&files);
    let want = reference::inverted_index(&files);
    // Every file as its own input.
    let inputs = paths(&files);
    run_with_settings(
        plugins::INVERTED_INDEX,
        "jsonl",
        &inputs,
        &SETTINGS,
        KeyOrder::Bytes,
        &want,
    );
}

#[test]
fn revenue_by_user() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate::events(dir.path(), 0x5eed_0003, 80_000);
    assert_spans_many_splits(&files.jsonl);
    assert_spans_many_splits(&files.csv);
    let want = reference::revenue_by_user_jsonl(&files.jsonl);
    // The reference agrees with itself across formats; the runs below must agree with it.
    assert_eq!(want, reference::revenue_by_user_csv(&files.csv));

    // JSON Lines through a glob.
    let glob = dir.path().join("jsonl").join("*.jsonl");
    let plugin = plugins::REVENUE_BY_USER;
    run_with_settings(
        plugin,
        "jsonl",
        &[arg(&glob)],
        &SETTINGS,
        KeyOrder::Numeric,
        &want,
    );

    // The same rows as CSV, through the directory: the header is only in the first split of
    // each file, so every later split must be given it.
    let csv_dir = dir.path().join("csv");
    run_with_settings(
        plugin,
        "csv",
        &[arg(&csv_dir)],
        &SETTINGS[..2],
        KeyOrder::Numeric,
        &want,
    );
}

#[test]
fn empty_input_commits_empty_parts() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.txt");
    std::fs::write(&input, "").unwrap();
    let out = dir.path().join("out");
    let args = [
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "--reducers",
        "3",
    ];
    sandmill(["run", plugins::WORDCOUNT].iter().chain(&args)).assert_success();
    output::assert_committed(&out, 3);
    for part in output::part_files(&out) {
        assert_eq!(
            std::fs::metadata(&part).unwrap().len(),
            0,
            "{}",
            part.display()
        );
    }
}

/// A smoke test small enough to read: if this fails, start here.
#[test]
fn the_default_output_is_the_same_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let text: String = (0..5000)
        .map(|i| format!("w{} x{}\n", i % 211, i % 7))
        .collect();
    std::fs::write(&input, text).unwrap();
    let files = |threads: &str| {
        let out = dir.path().join(format!("out-{threads}"));
        sandmill([
            "run",
            plugins::WORDCOUNT,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
            "--threads",
            threads,
        ])
        .assert_success();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let one = files("1");
    assert_eq!(
        one.iter().filter(|(n, _)| n.starts_with("part-")).count(),
        8
    );
    // The manifest names no thread count either: every byte agrees.
    assert_eq!(files("2"), one);
    assert_eq!(files("5"), one);
}

#[test]
fn tiny_wordcount_with_default_settings() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "b a\nA, don't\r\n\nB").unwrap();
    let out = dir.path().join("out");
    sandmill([
        "run",
        plugins::WORDCOUNT,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
    ])
    .assert_success();
    assert!(out.join("_SUCCESS").is_file());
    assert_eq!(
        output::read_output(&out),
        ["a\t2", "b\t2", "don\t1", "t\t1"]
    );
}
