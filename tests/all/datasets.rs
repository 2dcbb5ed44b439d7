//! Datasets: versions published atomically, rollback, and runs that crash (a failpoint or
//! SIGKILL at a random moment) and resume when the same command runs again, ending with the
//! same bytes as a run that never crashed.

use crate::{Run, arg, sandmill};
use sandmill_tests::plugins::{FAIL_ON_RECORD, WORDCOUNT};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The bytes of every file of the dataset's current version, by relative path.
fn snapshot(out: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = std::fs::canonicalize(out).expect("the dataset link resolves");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A text input big enough for several splits, spills and reducers.
fn input(dir: &Path) -> PathBuf {
    let path = dir.join("in.txt");
    let text: String = (0..60_000)
        .map(|i| format!("w{} common W{} x{}\n", i % 997, i % 13, i % 7919))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

const FLAGS: [&str; 8] = [
    "--reducers",
    "3",
    "--threads",
    "2",
    "--split-size",
    "64KiB",
    "--memory",
    "256KiB",
];

fn wordcount(input: &Path, out: &Path, failpoints: &str) -> Run {
    let args = [
        "run",
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    crate::sandmill_with_failpoints(args.iter().chain(&FLAGS), failpoints)
}

#[test]
fn rollback_makes_the_previous_version_current_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let out = dir.path().join("out");
    wordcount(&input, &out, "").assert_success();
    let first = snapshot(&out);
    assert!(first.iter().any(|(n, _)| n == "_MANIFEST.json"));
    assert!(first.iter().any(|(n, _)| n == "_SUCCESS"));

    // A second run with another plugin publishes v000002.
    let run = sandmill([
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
    ]);
    run.assert_success();
    assert!(run.stdout.contains("(version v000002)"), "{run}");
    assert_ne!(snapshot(&out), first);

    let versions = sandmill(["versions", arg(&out)]);
    versions.assert_success();
    let lines: Vec<&str> = versions.stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{versions}");
    assert!(
        lines[0].starts_with("  v000001") && lines[1].starts_with("* v000002"),
        "{versions}"
    );
    assert!(lines[0].contains("wordcount.wasm"), "{versions}");

    let rollback = sandmill(["rollback", arg(&out)]);
    rollback.assert_success();
    assert!(rollback.stdout.contains("v000002 -> v000001"), "{rollback}");
    assert_eq!(snapshot(&out), first, "v000001 is current again, unchanged");

    let forward = sandmill(["rollback", arg(&out), "--to", "v2"]);
    forward.assert_success();
    let missing = sandmill(["rollback", arg(&out), "--to", "v9"]);
    assert!(missing.assert_error().contains("v000009"), "{missing}");

    // --keep 1 deletes the old version.
    wordcount(&input, &out, "").assert_success();
    let args = [
        "run",
        WORDCOUNT,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
        "--keep",
        "1",
    ];
    sandmill(args).assert_success();
    assert_eq!(version_count(&out), 1);
}

/// How many versions `sandmill versions` lists.
fn version_count(out: &Path) -> usize {
    let versions = sandmill(["versions", arg(out)]);
    versions.assert_success();
    versions.stdout.lines().count() - 1
}

#[test]
fn a_crash_at_any_commit_point_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let clean = dir.path().join("clean");
    wordcount(&input, &clean, "").assert_success();
    let want = snapshot(&clean);

    for failpoints in [
        "task-commit-before=crash(2)",
        "task-commit-after=crash(3)",
        "spill-write=crash(4)",
        "part-write=crash(2)",
        "job-commit=crash(1)",
        "job-commit=crash(2)",
    ] {
        let out = dir
            .path()
            .join(format!("out-{}", failpoints.replace(['=', '(', ')'], "-")));
        let crashed = wordcount(&input, &out, failpoints);
        assert_eq!(
            crashed.status.code(),
            Some(137),
            "{failpoints} should crash\n{crashed}"
        );
        if failpoints != "job-commit=crash(2)" {
            assert!(
                !out.exists(),
                "{failpoints}: nothing is visible before the job commits"
            );
        }
        let resumed = wordcount(&input, &out, "");
        resumed.assert_success();
        assert_eq!(snapshot(&out), want, "{failpoints}");
        assert_eq!(version_count(&out), 1, "{failpoints}");
    }
}

#[test]
fn killed_at_twenty_random_moments_the_job_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let clean = dir.path().join("clean");
    let started = std::time::Instant::now();
    wordcount(&input, &clean, "").assert_success();
    let clean_time = started.elapsed();
    let want = snapshot(&clean);

    // A fixed seed: the same "random" moments on every run of the test.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut resumed_some = false;
    for round in 0..20 {
        let out = dir.path().join(format!("out{round}"));
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = clean_time.mul_f64((state % 1000) as f64 / 1000.0);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandmill"))
            .args([
                "run",
                WORDCOUNT,
                "--input",
                arg(&input),
                "--output",
                arg(&out),
            ])
            .args(FLAGS)
            .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL: no cleanup of any kind runs
        let _ = child.wait();
        let run = wordcount(&input, &out, "");
        run.assert_success();
        resumed_some |= run.stdout.contains("resumed:");
        assert_eq!(
            snapshot(&out),
            want,
            "round {round}, killed after {delay:?}"
        );
    }
    assert!(
        resumed_some,
        "at least one kill landed after a task committed"
    );
    assert!(clean_time < Duration::from_secs(60));
}

#[test]
fn overwrite_partitions_replaces_only_the_partitions_a_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run_day = |name: &str, lines: &str, extra: &[&str]| {
        let input = dir.path().join(name);
        // Rewriting an unchanged input would change its fingerprint in the manifest.
        if std::fs::read_to_string(&input).ok().as_deref() != Some(lines) {
            std::fs::write(&input, lines).unwrap();
        }
        let args = [
            "run",
            FAIL_ON_RECORD,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
        ];
        let run = sandmill(args.iter().chain(extra));
        run.assert_success();
    };
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).unwrap();

    run_day(
        "both.txt",
        "date=2026-03-22/a\ndate=2026-03-22/b\ndate=2026-03-23/a\n",
        &["-r", "1"],
    );
    assert_eq!(read("date=2026-03-22/part-00000"), "a\t1\nb\t1\n");
    assert_eq!(read("date=2026-03-23/part-00000"), "a\t1\n");
    let day1 = std::fs::read(out.join("date=2026-03-22/part-00000")).unwrap();

    // Rerun the 23rd with new data: the 22nd is kept byte for byte, the 23rd replaced.
    let flags = ["-r", "1", "--overwrite-partitions"];
    run_day("day2.txt", "date=2026-03-23/z\ndate=2026-03-23/z\n", &flags);
    assert_eq!(
        std::fs::read(out.join("date=2026-03-22/part-00000")).unwrap(),
        day1
    );
    assert_eq!(read("date=2026-03-23/part-00000"), "z\t2\n");
    let manifest = read("_MANIFEST.json");
    assert!(
        manifest.contains("date=2026-03-22/part-00000"),
        "{manifest}"
    );

    // Running the same day again is idempotent.
    let before = snapshot_tree(&out);
    run_day("day2.txt", "date=2026-03-23/z\ndate=2026-03-23/z\n", &flags);
    assert_eq!(snapshot_tree(&out), before);

    // Without the flag a run replaces the whole dataset.
    run_day(
        "day2.txt",
        "date=2026-03-23/z\ndate=2026-03-23/z\n",
        &["-r", "1"],
    );
    assert!(!out.join("date=2026-03-22").exists());
}

/// Every file below the current version, with its bytes.
fn snapshot_tree(out: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let root = std::fs::canonicalize(out).unwrap();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

/// The work directory of the one job that left one in the dataset at `out`, if any.
fn work_dir(out: &Path) -> Option<PathBuf> {
    let root = out.with_file_name(format!(
        ".{}.sandmill/work",
        out.file_name().unwrap().to_str().unwrap()
    ));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    assert!(dirs.len() <= 1, "{dirs:?}");
    dirs.pop()
}

/// A small text input: one split, a few hundred distinct words.
fn small_input(dir: &Path, name: &str, seed: usize) -> PathBuf {
    let path = dir.join(name);
    let text: String = (0..3000)
        .map(|i| format!("w{} common s{seed}x{}\n", (i * (seed + 1)) % 301, i % 17))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_torn_task_record_is_redone_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let clean = dir.path().join("clean");
    wordcount(&input, &clean, "").assert_success();
    let want = snapshot(&clean);

    // Every task committed, the manifest and `_SUCCESS` written, then a crash before the
    // version was to be published.
    let out = dir.path().join("out");
    let crashed = wordcount(&input, &out, "job-commit=crash(1)");
    assert_eq!(crashed.status.code(), Some(137), "{crashed}");
    let work = work_dir(&out).expect("the crashed run's work directory");
    // As a power cut can leave them: a reduce task's record half written, its part file
    // garbage, and a map task's record created but empty.
    let record = work.join("tasks/reduce-0.json");
    let bytes = std::fs::read(&record).unwrap();
    std::fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(work.join("version/part-00000"), "garbage\n").unwrap();
    std::fs::write(work.join("tasks/map-0.json"), "").unwrap();

    let resumed = wordcount(&input, &out, "");
    resumed.assert_success();
    for name in ["reduce-0.json", "map-0.json"] {
        let warning = resumed
            .stderr
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no warning names {name}\n{resumed}"));
        assert!(
            warning.starts_with("sandmill: warning: removed the task record"),
            "{resumed}"
        );
    }
    assert!(resumed.stdout.contains("resumed:"), "{resumed}");
    assert_eq!(snapshot(&out), want);
    assert_eq!(version_count(&out), 1);
    assert!(work_dir(&out).is_none(), "the work directory is removed");
}

/// Checks what a crash at any moment may leave: the link, if there is one, points at a
/// complete version that verifies; in the work directory, a `_SUCCESS` comes with a manifest
/// that the version's files match, and every task record is whole and names files that are
/// there.
fn assert_consistent(out: &Path, context: &str) {
    if out.symlink_metadata().is_ok() {
        let current = std::fs::canonicalize(out).expect("the link resolves");
        let problems = sandmill::dataset::verify_version(&current).unwrap();
        assert!(problems.is_empty(), "{context}: {problems:?}");
    }
    let Some(work) = work_dir(out) else {
        return;
    };
    let version = work.join("version");
    if !version.exists() {
        // Published (renamed into the dataset's versions), which the link check covered.
        assert!(work.join("publish-as").is_file(), "{context}");
        return;
    }
    if version.join("_SUCCESS").exists() {
        let problems = sandmill::dataset::verify_version(&version)
            .unwrap_or_else(|e| panic!("{context}: _SUCCESS without a manifest: {e}"));
        assert!(problems.is_empty(), "{context}: {problems:?}");
    }
    for entry in std::fs::read_dir(work.join("tasks")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{context}: {} is torn: {e}", path.display()));
        for file in record["files"].as_array().into_iter().flatten() {
            let name = file["name"].as_str().unwrap();
            assert!(
                version.join(name).is_file(),
                "{context}: {} names {name}, which is not committed",
                path.display()
            );
        }
    }
}

#[test]
fn a_crash_after_any_step_of_the_commit_order_leaves_a_consistent_state() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_input(dir.path(), "in.txt", 1);
    let other = small_input(dir.path(), "other.txt", 2);
    let clean = dir.path().join("clean");
    wordcount(&input, &clean, "").assert_success();
    let want = snapshot(&clean);

    let with_keep = |input: &Path, out: &Path, failpoints: &str| {
        let args = [
            "run",
            WORDCOUNT,
            "--input",
            arg(input),
            "--output",
            arg(out),
            "--keep",
            "1",
        ];
        crate::sandmill_with_failpoints(args.iter().chain(&FLAGS), failpoints)
    };
    // `commit-step` is hit after each step: each part file and record linked, the manifest,
    // `publish-as`, the retention. Crash at the first, the second, … until a run gets through.
    let mut step = 1;
    loop {
        let out = dir.path().join(format!("out-{step}"));
        with_keep(&other, &out, "").assert_success();
        let run = with_keep(&input, &out, &format!("commit-step=crash({step})"));
        if run.status.success() {
            break;
        }
        assert_eq!(run.status.code(), Some(137), "step {step}\n{run}");
        assert_consistent(&out, &format!("crashed after step {step}"));
        with_keep(&input, &out, "").assert_success();
        assert_eq!(snapshot(&out), want, "crashed after step {step}");
        assert_eq!(version_count(&out), 1, "crashed after step {step}");
        assert!(work_dir(&out).is_none(), "crashed after step {step}");
        step += 1;
    }
    // One map record, three part files and three reduce records, the manifest,
    // `publish-as` and the retention.
    assert_eq!(step, 11, "the number of steps");
}

#[test]
fn rollback_fails_at_once_while_a_job_writes_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_input(dir.path(), "in.txt", 1);
    let out = dir.path().join("out");
    wordcount(&input, &out, "").assert_success();
    wordcount(&input, &out, "").assert_success();
    let before = std::fs::read_link(&out).unwrap();

    // A job that keeps the dataset for a few seconds: its reduce task fails five times (and
    // waits 0.1 s, 0.2 s, … 1.6 s before the next attempt) before it gets through.
    let mut job = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args([
            "run",
            WORDCOUNT,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
        ])
        .args(["--reducers", "1", "--max-attempts", "8"])
        .env("SANDMILL_FAILPOINTS", "part-write=error(5)")
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its map task committed: it holds the dataset.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !work_dir(&out).is_some_and(|w| w.join("tasks/map-0.json").exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let rollback = sandmill(["rollback", arg(&out)]);
    let line = rollback.assert_error();
    assert!(line.contains("is in use by another sandmill run"), "{line}");
    assert!(line.contains(arg(&out)), "{line}");
    assert!(line.contains("wait for that run to finish"), "{line}");
    assert_eq!(std::fs::read_link(&out).unwrap(), before, "not rolled back");
    // As a second job is refused.
    let second = wordcount(&input, &out, "");
    assert!(
        second
            .assert_error()
            .contains("is in use by another sandmill run"),
        "{second}"
    );

    let status = job.wait().unwrap();
    assert!(status.success(), "{status}");
    let rollback = sandmill(["rollback", arg(&out)]);
    rollback.assert_success();
    assert!(rollback.stdout.contains("v000003 -> v000002"), "{rollback}");
}

/// Sets its flag when dropped, also when the thread unwinds.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn rollbacks_racing_runs_with_keep_never_leave_the_link_dangling() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        small_input(dir.path(), "a.txt", 1),
        small_input(dir.path(), "b.txt", 2),
    ];
    let wants: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let clean = dir.path().join(format!("clean-{i}"));
            wordcount(input, &clean, "").assert_success();
            snapshot(&clean)
        })
        .collect();
    assert_ne!(wants[0], wants[1]);
    let out = dir.path().join("out");
    wordcount(&inputs[0], &out, "").assert_success();
    let versions = dir.path().join(".out.sandmill/versions");
    let busy = |run: &Run| {
        run.assert_error()
            .contains("is in use by another sandmill run")
    };

    let stop = std::sync::atomic::AtomicBool::new(false);
    let tries = std::sync::atomic::AtomicUsize::new(0);
    let (runs, rollbacks) = std::thread::scope(|s| {
        let (stop, tries) = (&stop, &tries);
        // Rolls back alternately to the previous version and to the oldest one, the one
        // retention deletes next.
        let roller = s.spawn(|| {
            let mut rollbacks = 0;
            for round in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let oldest = std::fs::read_dir(&versions)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .min()
                    .unwrap();
                let run = if round % 2 == 0 {
                    sandmill(["rollback", arg(&out)])
                } else {
                    sandmill(["rollback", arg(&out), "--to", &oldest])
                };
                tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if run.status.success() {
                    rollbacks += 1;
                    continue;
                }
                let line = run.assert_error();
                assert!(
                    busy(&run)
                        || line.contains("nothing to roll back")
                        || line.contains("no version"),
                    "{run}"
                );
            }
            rollbacks
        });
        let checker = s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(target) = std::fs::read_link(&out) else {
                    panic!("the link is missing");
                };
                let version = dir.path().join(&target);
                // A version stops being current before retention deletes it: a link that
                // moved on meanwhile is not dangling.
                if !version.join("_SUCCESS").is_file() {
                    assert_ne!(
                        std::fs::read_link(&out).unwrap(),
                        target,
                        "the link points at {}, which is not a complete version",
                        version.display()
                    );
                }
            }
        });
        // Should this thread panic, the others stop too (and the scope ends).
        let stopper = StopOnDrop(stop);
        let mut runs = 0;
        for round in 0..8 {
            let input = &inputs[round % 2];
            let args = [
                "run",
                WORDCOUNT,
                "--input",
                arg(input),
                "--output",
                arg(&out),
                "--keep",
                "2",
            ];
            let run = sandmill(args.iter().chain(&FLAGS));
            if run.status.success() {
                runs += 1;
            } else {
                assert!(busy(&run), "round {round}\n{run}");
            }
            // Between runs, at least one rollback starts and finishes (the one before it may
            // have started while the run held the dataset).
            let seen = tries.load(std::sync::atomic::Ordering::SeqCst);
            while tries.load(std::sync::atomic::Ordering::SeqCst) < seen + 2 {
                assert!(!roller.is_finished(), "the rollback thread stopped");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(stopper);
        checker.join().unwrap();
        (runs, roller.join().unwrap())
    });
    assert!(
        runs > 0 && rollbacks >= 8,
        "{runs} runs, {rollbacks} rollbacks"
    );
    let current = std::fs::canonicalize(&out).unwrap();
    assert!(current.join("_SUCCESS").is_file());
    let problems = sandmill::dataset::verify_version(&current).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let got = snapshot(&out);
    assert!(got == wants[0] || got == wants[1], "not one of the outputs");
    let count = version_count(&out);
    assert!((1..=2).contains(&count), "{count} versions");
}

#[test]
fn versions_lists_a_manifest_whose_plugin_digest_is_not_ascii() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_input(dir.path(), "in.txt", 1);
    let out = dir.path().join("out");
    wordcount(&input, &out, "").assert_success();
    let manifest = std::fs::canonicalize(&out).unwrap().join("_MANIFEST.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    // Byte 12 falls inside the `é`; the path has a control character.
    json["plugin"]["sha256"] = "0123456789aé🦀 and more".into();
    json["plugin"]["path"] = "job\u{1b}[2J.wasm".into();
    std::fs::write(&manifest, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let versions = sandmill(["versions", arg(&out)]);
    versions.assert_success();
    let line = versions.stdout.lines().nth(1).unwrap();
    assert!(line.starts_with("* v000001"), "{versions}");
    assert!(
        line.ends_with(r"job\u{1b}[2J.wasm sha256:0123456789aé"),
        "{versions}"
    );
}
