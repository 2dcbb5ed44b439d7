//! What a plugin may and may not do: bounded memory and time, a clock and random numbers that
//! are the same on every run, logs and counters that reach the job's log and summary, and the
//! streaming of a key group too large for one batch through `host.next-values`; and the cache
//! of compiled plugins, which must never run code it cannot trust.

use crate::{Run, arg, sandmill};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::{FAIL_ON_RECORD, WORDCOUNT};
use std::io::Write;
use std::path::{Path, PathBuf};

fn job(plugin: &str, input: &Path, out: &Path, extra: &[&str]) -> Run {
    let args = ["run", plugin, "--input", arg(input), "--output", arg(out)];
    sandmill(args.iter().chain(extra))
}

fn input(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn memory_beyond_the_limit_stops_the_job_naming_the_limit_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in.txt", &["a", "grow", "b"]);
    let out = dir.path().join("out");
    let run = job(FAIL_ON_RECORD, &input, &out, &["--plugin-memory", "32MiB"]);
    let line = run.assert_error();
    assert!(line.contains("memory limit of 32 MiB"), "{line}\n{run}");
    assert!(line.contains("in.txt line 2"), "{line}\n{run}");
    assert!(!out.exists());
}

#[test]
fn a_plugin_that_never_returns_is_stopped_by_the_call_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in.txt", &["loop"]);
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let run = job(FAIL_ON_RECORD, &input, &out, &["--call-timeout", "0.3"]);
    let line = run.assert_error();
    assert!(line.contains("time limit"), "{line}\n{run}");
    assert!(line.contains("in.txt line 1"), "{line}\n{run}");
    assert!(!out.exists());
    // Not a timing test: only that the deadline, not the test harness, ended the loop.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn fuel_is_an_optional_deterministic_budget() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in.txt", &["loop"]);
    let out = dir.path().join("out");
    let run = job(FAIL_ON_RECORD, &input, &out, &["--fuel", "1000000"]);
    let line = run.assert_error();
    assert!(line.contains("fuel limit of 1000000"), "{line}\n{run}");

    let ok = input_with_words(dir.path());
    job(WORDCOUNT, &ok, &out, &["--fuel", "100000000"]).assert_success();
    assert_eq!(read_output(&out), ["a\t2", "b\t1"]);
}

fn input_with_words(dir: &Path) -> PathBuf {
    input(dir, "words.txt", &["a b", "A"])
}

#[test]
fn clocks_and_random_numbers_are_fixed_so_reruns_agree() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in.txt", &["time", "random", "random"]);
    let mut outputs = Vec::new();
    for (i, threads) in ["1", "2"].iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        job(
            FAIL_ON_RECORD,
            &input,
            &out,
            &["--threads", threads, "--split-size", "7"],
        )
        .assert_success();
        outputs.push(read_output(&out));
    }
    assert_eq!(outputs[0], outputs[1]);
    let lines = &outputs[0];
    assert!(lines.contains(&"time=0\t1".to_string()), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("random=")), "{lines:?}");
}

#[test]
fn logs_counters_and_stdout_reach_the_job_log_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in.txt", &["log", "x", "log"]);
    let out = dir.path().join("out");
    let run = job(FAIL_ON_RECORD, &input, &out, &[]);
    run.assert_success();
    assert_eq!(run.stderr.matches("saw a log line").count(), 2, "{run}");
    assert!(
        run.stderr
            .contains("[map task 0 (split 0)] Info: saw a log line"),
        "{run}"
    );
    let counter = run.stdout.lines().find(|l| l.contains("log-lines"));
    assert!(
        counter.is_some_and(|l| l.trim_end().ends_with(" 2")),
        "{run}"
    );
    assert_eq!(read_output(&out), ["log\t2", "x\t1"]);
}

#[test]
fn a_key_with_more_values_than_a_batch_streams_through_the_reduce() {
    // fail-on-record has no combiner: 300,000 values of 8 bytes for one key are 2.4 MB, more
    // than a 1 MiB batch, so the plugin pulls the rest of the group from the host.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..300_000 {
        let line = if i % 1000 == 0 { "y" } else { "x" };
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let out = dir.path().join("out");
    job(FAIL_ON_RECORD, &path, &out, &["--reducers", "1"]).assert_success();
    assert_eq!(read_output(&out), ["x\t299700", "y\t300"]);
}

#[test]
fn gzip_input_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    for _ in 0..1000 {
        gz.write_all(b"Gzip gzip\r\n").unwrap();
    }
    gz.finish().unwrap();
    let out = dir.path().join("out");
    job(WORDCOUNT, &path, &out, &["--split-size", "100"]).assert_success();
    assert_eq!(read_output(&out), ["gzip\t2000"]);
}

#[test]
fn a_key_with_ninety_percent_of_the_records_fits_a_tiny_budget_and_shows_as_skew() {
    // No combiner: 90% of 200,000 pairs share one key, with a 256 KiB memory budget, so map
    // output is spilled and merged, and the key's values stream through the reduce in batches.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..200_000u32 {
        if i % 10 == 0 {
            writeln!(file, "k{}", i % 1000).unwrap();
        } else {
            writeln!(file, "hot").unwrap();
        }
    }
    drop(file);
    let out = dir.path().join("out");
    let run = job(
        FAIL_ON_RECORD,
        &path,
        &out,
        &[
            "--memory",
            "256KiB",
            "--reducers",
            "4",
            "--split-size",
            "256KiB",
        ],
    );
    run.assert_success();
    let lines = read_output(&out);
    assert!(lines.contains(&"hot\t180000".to_string()), "{run}");
    assert_eq!(lines.len(), 1 + 100, "hot plus k0, k10, ..., k990");
    let shuffle = run
        .stdout
        .lines()
        .find(|l| l.contains("shuffle:"))
        .unwrap_or_default();
    assert!(!shuffle.contains(" 0 spills"), "{run}");
    // The summary makes the skew visible: the largest partition holds most pairs.
    let partitions = run
        .stdout
        .lines()
        .find(|l| l.contains("partitions:"))
        .unwrap_or_default();
    let skew: f64 = partitions
        .rsplit("max/mean ")
        .next()
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .unwrap_or(0.0);
    assert!(skew > 3.0, "{partitions}\n{run}");
}

/// The compile cache's entries.
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn compiled_plugins_are_cached_and_a_damaged_entry_is_compiled_again() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let input = input_with_words(dir.path());
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let run = |plugin: &str, extra: &[&str]| {
        // --force: every run of this same job compiles or loads the plugin and publishes.
        let flags = [
            &["--overwrite", "--force", "--compile-cache", arg(&cache)][..],
            extra,
        ]
        .concat();
        let run = job(plugin, &input, &out, &flags);
        run.assert_success();
        assert_eq!(read_output(&out), ["a\t2", "b\t1"], "{run}");
        run.stdout
    };
    let stored = "(kept in the compile cache)";
    let hit = "plugin: loaded from the compile cache";

    assert!(run(WORDCOUNT, &[]).contains(stored));
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "only its owner may use the cache");
    let [entry] = &entries(&cache)[..] else {
        panic!("one entry: {:?}", entries(&cache))
    };
    assert!(run(WORDCOUNT, &[]).contains(hit));

    // A flipped byte in the machine code, or a torn write, is noticed: compiled again.
    let good = std::fs::read(entry).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    for damaged in [flipped, good[..good.len() / 2].to_vec(), Vec::new()] {
        std::fs::write(entry, damaged).unwrap();
        assert!(run(WORDCOUNT, &[]).contains(stored));
        assert_eq!(std::fs::read(entry).unwrap(), good, "rewritten whole");
        assert!(run(WORDCOUNT, &[]).contains(hit));
    }

    // Another plugin gets its own entry; --no-compile-cache neither reads nor writes.
    let other = job(
        FAIL_ON_RECORD,
        &input,
        &dir.path().join("other"),
        &["--compile-cache", arg(&cache)],
    );
    other.assert_success();
    assert_eq!(entries(&cache).len(), 2);
    std::fs::remove_dir_all(&cache).unwrap();
    let uncached = job(
        WORDCOUNT,
        &input,
        &out,
        &["--overwrite", "--force", "--no-compile-cache"],
    );
    uncached.assert_success();
    assert!(uncached.stdout.contains("plugin: compiled in") && !uncached.stdout.contains(stored));
    assert!(!cache.exists());
}

#[test]
fn a_cache_directory_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let input = input_with_words(dir.path());
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..2 {
        let out = dir.path().join("out");
        let run = job(
            WORDCOUNT,
            &input,
            &out,
            &["--overwrite", "--compile-cache", arg(&cache)],
        );
        run.assert_success();
        assert!(
            run.stderr.contains("compiled plugin not cached")
                && run.stderr.contains("is writable by other users"),
            "{run}"
        );
        assert!(!run.stdout.contains("compile cache"), "{run}");
        assert_eq!(read_output(&out), ["a\t2", "b\t1"]);
    }
    assert!(entries(&cache).is_empty());
}
