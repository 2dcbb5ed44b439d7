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

/// `sandmill run` of the word count from `input` into `out`, before [`FLAGS`].
fn wordcount_args<'a>(input: &'a Path, out: &'a Path) -> [&'a str; 6] {
    [
        "run",
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
    ]
}

fn wordcount(input: &Path, out: &Path, failpoints: &str) -> Run {
    let args = wordcount_args(input, out);
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

    let lines = version_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("  v000001") && lines[1].starts_with("* v000002"),
        "{lines:?}"
    );
    assert!(lines[0].contains("wordcount.wasm"), "{lines:?}");

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

/// The line of each version `sandmill versions` lists (the lines of its parameters and inputs
/// left out).
fn version_lines(out: &Path) -> Vec<String> {
    let versions = sandmill(["versions", arg(out)]);
    versions.assert_success();
    versions
        .stdout
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("  v") || l.starts_with("* v"))
        .map(str::to_owned)
        .collect()
}

/// How many versions `sandmill versions` lists.
fn version_count(out: &Path) -> usize {
    version_lines(out).len()
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

/// Starts the word count into `out`, as `wordcount` does, without waiting for it.
fn spawn_wordcount(input: &Path, out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(wordcount_args(input, out))
        .args(FLAGS)
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Whether a task of the job writing `out` has committed: its record is in the job's work
/// directory, `.out.sandmill/work/<fingerprint>/tasks/`.
fn a_task_committed(out: &Path) -> bool {
    let mut home = std::ffi::OsString::from(".");
    home.push(out.file_name().unwrap());
    home.push(".sandmill");
    let work = out.with_file_name(home).join("work");
    let Ok(jobs) = std::fs::read_dir(work) else {
        return false;
    };
    jobs.flatten().any(|job| {
        std::fs::read_dir(job.path().join("tasks"))
            .is_ok_and(|mut records| records.any(|r| r.is_ok_and(|r| r.path().is_file())))
    })
}

#[test]
fn killed_at_twenty_random_moments_the_job_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    // The first run may compile the plugin into the shared cache; the moments are drawn
    // from the time of a run that loads it, as every killed run does.
    wordcount(&input, &dir.path().join("warm"), "").assert_success();
    let clean = dir.path().join("clean");
    let started = std::time::Instant::now();
    wordcount(&input, &clean, "").assert_success();
    let clean_time = started.elapsed();
    assert!(clean_time < Duration::from_secs(60));
    let want = snapshot(&clean);

    // A fixed seed: the same "random" moments on every run of the test.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..20 {
        let out = dir.path().join(format!("out{round}"));
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = clean_time.mul_f64((state % 1000) as f64 / 1000.0);
        let mut child = spawn_wordcount(&input, &out);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL: no cleanup of any kind runs
        let _ = child.wait();
        let run = wordcount(&input, &out, "");
        run.assert_success();
        assert_eq!(
            snapshot(&out),
            want,
            "round {round}, killed after {delay:?}"
        );
    }

    // Where the random moments fall depends on the machine's load, so one more kill is
    // timed by the work itself: as soon as the first task has committed. A job that
    // publishes before the kill lands (a very fast machine) is tried again.
    for attempt in 0..5 {
        let out = dir.path().join(format!("after-first-task{attempt}"));
        let mut child = spawn_wordcount(&input, &out);
        while !a_task_committed(&out) && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        if out.exists() {
            continue; // published before the kill: nothing left to resume
        }
        let run = wordcount(&input, &out, "");
        run.assert_success();
        assert!(
            run.stdout.contains("resumed:"),
            "a kill after a task committed resumes that task\n{run}"
        );
        assert_eq!(
            snapshot(&out),
            want,
            "killed after the first task committed"
        );
        return;
    }
    panic!("every job published before the kill after its first task landed");
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
    let forced = |input: &Path| {
        let args = [
            "run",
            WORDCOUNT,
            "--input",
            arg(input),
            "--output",
            arg(&out),
            "--force",
        ];
        sandmill(args.iter().chain(&FLAGS))
    };
    forced(&input).assert_success();
    forced(&input).assert_success();
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
        .args(["--reducers", "1", "--max-attempts", "8", "--force"])
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
    // As a second job is refused, before it can find out whether it is unchanged.
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

/// Runs `fail-on-record` (which counts lines) on `input` into `out` with `extra` flags.
fn count_lines(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let args = [
        "run",
        FAIL_ON_RECORD,
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    sandmill(args.iter().chain(extra))
}

/// The time a file was last modified, as `sandmill versions` shows it.
fn modified(path: &Path) -> String {
    let time = std::fs::metadata(path).unwrap().modified().unwrap();
    sandmill::dataset::rfc3339(time)
}

#[test]
fn versions_show_when_each_was_published_and_its_plugin_parameters_and_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\na\n").unwrap();
    let out = dir.path().join("out");
    let now = || sandmill::dataset::rfc3339(std::time::SystemTime::now());
    let before = now();
    count_lines(&input, &out, &["-p", "fail=never"]).assert_success();
    // Another parameter (and nothing else) is another job: it publishes.
    let run = count_lines(&input, &out, &["-p", "fail=nothing at all"]);
    run.assert_success();
    assert!(run.stdout.contains("(version v000002)"), "{run}");
    let after = now();

    let sha256 = sandmill::dataset::sha256_file(Path::new(FAIL_ON_RECORD)).unwrap();
    let name = Path::new(FAIL_ON_RECORD)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let listing = sandmill(["versions", arg(&out)]);
    listing.assert_success();
    let lines: Vec<&str> = listing.stdout.lines().collect();
    // A header, then each version's line, parameters and inputs.
    assert_eq!(lines.len(), 1 + 2 * 3, "{listing}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "version",
            "published",
            "files",
            "records",
            "bytes",
            "plugin"
        ]
    );
    let mut times = Vec::new();
    for (line, want) in [
        (lines[1], ["", "v000001", "8", "2"]),
        (lines[4], ["*", "v000002", "8", "2"]),
    ] {
        let (mark, rest) = line.split_at(2);
        let row: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(mark.trim(), want[0], "{listing}");
        assert_eq!(row[0], want[1], "{listing}");
        let time = row[1];
        assert!(
            before.as_str() <= time && time <= after.as_str(),
            "{time}\n{listing}"
        );
        times.push(time.to_owned());
        // Files, then records: `a` and `b`.
        assert_eq!(row[2..4], want[2..], "{listing}");
        assert!(
            line.ends_with(&format!("  {name} sha256:{}", &sha256[..12])),
            "{listing}"
        );
    }
    assert_eq!(lines[2].trim(), "params: fail=never", "{listing}");
    assert_eq!(
        lines[5].trim(),
        r#"params: fail="nothing at all""#,
        "{listing}"
    );
    let inputs = format!(
        "inputs: 1 file, 6 B: {} (6 B, modified {})",
        input.display(),
        modified(&input)
    );
    assert_eq!(lines[3].trim(), inputs, "{listing}");
    assert_eq!(lines[6].trim(), inputs, "{listing}");

    let json = sandmill(["versions", arg(&out), "--json"]);
    json.assert_success();
    let list: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2, "{json}");
    for (v, time) in list.iter().zip(&times) {
        assert_eq!(v["published"], time.as_str(), "{json}");
        assert_eq!(v["records"], 2, "{json}");
        assert_eq!(v["plugin"]["sha256"], sha256.as_str(), "{json}");
        assert_eq!(v["plugin"]["path"], FAIL_ON_RECORD, "{json}");
        let input_json = &v["inputs"][0];
        assert_eq!(input_json["path"], arg(&input), "{json}");
        assert_eq!(input_json["bytes"], 6, "{json}");
        assert_eq!(input_json["modified"], modified(&input).as_str(), "{json}");
        assert_eq!(v["inputs"].as_array().unwrap().len(), 1, "{json}");
        let digest = v["job_digest"].as_str().unwrap();
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{json}"
        );
    }
    let (v1, v2) = (&list[0], &list[1]);
    assert_eq!(
        (&v1["version"], &v1["current"]),
        (&"v000001".into(), &false.into())
    );
    assert_eq!(
        (&v2["version"], &v2["current"]),
        (&"v000002".into(), &true.into())
    );
    assert_eq!((&v1["files"], &v2["files"]), (&8.into(), &8.into()));
    assert_eq!((&v1["reducers"], &v2["reducers"]), (&8.into(), &8.into()));
    assert_eq!(
        v2["params"],
        serde_json::json!([{ "key": "fail", "value": "nothing at all" }])
    );
    assert_ne!(v1["job_digest"], v2["job_digest"]);
}

#[test]
fn an_unchanged_job_publishes_nothing_unless_forced_and_a_changed_one_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_input(dir.path(), "in.txt", 1);
    let out = dir.path().join("out");
    let summary = dir.path().join("summary.json");
    let job = |extra: &[&str]| {
        let args = [
            "run",
            WORDCOUNT,
            "--input",
            arg(&input),
            "--output",
            arg(&out),
            "--summary-json",
            arg(&summary),
        ];
        let run = sandmill(args.iter().chain(extra));
        run.assert_success();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        (run, json)
    };
    let unchanged_since = |version: &str| {
        format!(
            "sandmill: {}: unchanged since {version} (same plugin, parameters and inputs); \
             nothing published (--force to publish anyway)",
            out.display()
        )
    };
    let (run, json) = job(&["-r", "2"]);
    assert!(run.stdout.contains("(version v000001)"), "{run}");
    assert_eq!(json["unchanged"], false);
    let first = snapshot(&out);
    let link = std::fs::read_link(&out).unwrap();

    // The same job with other threads, splits and memory: the same bytes, so nothing runs.
    let (run, json) = job(&[
        "-r",
        "2",
        "-j",
        "1",
        "--split-size",
        "4KiB",
        "--memory",
        "64KiB",
    ]);
    assert_eq!(run.stdout.trim(), unchanged_since("v000001"), "{run}");
    assert_eq!(json["unchanged"], true);
    assert_eq!(json["version"], "v000001");
    assert_eq!(json["map"]["tasks"], 0, "no task ran");
    assert_eq!(version_count(&out), 1);
    assert_eq!(std::fs::read_link(&out).unwrap(), link);
    assert!(
        work_dir(&out).is_none(),
        "an unchanged run leaves no work directory"
    );
    // `task plan` says so too, and writes no task spec.
    let specs = dir.path().join("specs");
    let args = [
        "task",
        "plan",
        WORDCOUNT,
        "--input",
        arg(&input),
        "--output",
        arg(&out),
    ];
    let plan = sandmill(args.iter().chain(&["-r", "2", "--specs", arg(&specs)]));
    plan.assert_success();
    assert!(
        plan.stdout.starts_with("unchanged: ") && plan.stdout.contains("since v000001"),
        "{plan}"
    );
    assert!(!specs.exists(), "{plan}");

    // --force publishes the same bytes again, as a new version.
    let (run, json) = job(&["-r", "2", "--force"]);
    assert!(run.stdout.contains("(version v000002)"), "{run}");
    assert_eq!(json["unchanged"], false);
    assert_eq!(snapshot(&out), first);
    let (run, _) = job(&["-r", "2"]);
    assert_eq!(run.stdout.trim(), unchanged_since("v000002"), "{run}");

    // Another number of reducers writes other part files: published.
    let (run, _) = job(&["-r", "3"]);
    assert!(run.stdout.contains("(version v000003)"), "{run}");
    // The input with another modification time (the same bytes): its fingerprint changed.
    let file = std::fs::File::options().write(true).open(&input).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
        .unwrap();
    drop(file);
    let (run, _) = job(&["-r", "3"]);
    assert!(run.stdout.contains("(version v000004)"), "{run}");
    let (run, _) = job(&["-r", "3"]);
    assert_eq!(run.stdout.trim(), unchanged_since("v000004"), "{run}");
    // After a rollback to a version another job made, this one publishes again.
    sandmill(["rollback", arg(&out)]).assert_success();
    let (run, _) = job(&["-r", "3"]);
    assert!(run.stdout.contains("(version v000005)"), "{run}");
    assert_eq!(version_count(&out), 5);
}

/// The names of the top-level entries of the dataset's current version.
fn top_level(out: &Path) -> Vec<String> {
    let dir = std::fs::canonicalize(out).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn overwrite_partitions_lists_every_partition_s_inputs_and_writes_no_empty_part_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = |name: &str, lines: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines).unwrap();
        path
    };
    let both = file(
        "both.txt",
        "date=2026-03-22/a\ndate=2026-03-22/b\ndate=2026-03-23/a\n",
    );
    // Three keys for four reducers: at least one reducer gets none.
    count_lines(&both, &out, &["-r", "4"]).assert_success();
    // A plain job's reducers each leave a part file, as Hadoop's do, even an empty one.
    let current = std::fs::canonicalize(&out).unwrap();
    let parts: Vec<String> = top_level(&out)
        .into_iter()
        .filter(|n| n.starts_with("part-"))
        .collect();
    assert!(!parts.is_empty(), "{:?}", top_level(&out));
    for part in &parts {
        assert_eq!(
            std::fs::metadata(current.join(part)).unwrap().len(),
            0,
            "{part}"
        );
    }

    // One day again, from a new input, into four reducers of which three get nothing.
    let day2 = file("day2.txt", "date=2026-03-23/z\ndate=2026-03-23/z\n");
    let flags = ["-r", "4", "--overwrite-partitions"];
    count_lines(&day2, &out, &flags).assert_success();
    assert_eq!(
        top_level(&out),
        [
            "_MANIFEST.json",
            "_SUCCESS",
            "date=2026-03-22",
            "date=2026-03-23"
        ],
        "no empty part file beside the partitions"
    );
    let current = std::fs::canonicalize(&out).unwrap();
    assert_eq!(
        sandmill::dataset::verify_version(&current).unwrap(),
        Vec::<String>::new()
    );
    let manifest = sandmill::dataset::Manifest::read(&current).unwrap();
    assert!(
        manifest.files.iter().all(|f| f.records > 0),
        "{manifest:#?}"
    );
    let inputs = |manifest: &sandmill::dataset::Manifest| -> Vec<(String, Vec<String>)> {
        manifest
            .inputs
            .iter()
            .map(|i| (i.path.clone(), i.partitions.clone()))
            .collect()
    };
    let listed = |path: &Path, partition: &str| (arg(path).to_owned(), vec![partition.to_owned()]);
    // The 22nd is still the one made from both.txt; the 23rd is day2.txt's now.
    assert_eq!(
        inputs(&manifest),
        [
            listed(&both, "date=2026-03-22"),
            listed(&day2, "date=2026-03-23")
        ]
    );
    let versions = sandmill(["versions", arg(&out)]);
    let line = format!("{} (", arg(&both));
    assert!(
        versions
            .stdout
            .lines()
            .any(|l| l.contains(&line) && l.contains("; date=2026-03-22)")),
        "{versions}"
    );

    // The 22nd again from a third input: nothing of both.txt is left.
    let day3 = file("day3.txt", "date=2026-03-22/q\n");
    count_lines(&day3, &out, &flags).assert_success();
    let current = std::fs::canonicalize(&out).unwrap();
    let manifest = sandmill::dataset::Manifest::read(&current).unwrap();
    assert_eq!(
        inputs(&manifest),
        [
            listed(&day2, "date=2026-03-23"),
            listed(&day3, "date=2026-03-22")
        ]
    );
}

#[test]
fn keep_never_deletes_the_current_version_nor_the_one_current_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let out = dir.path().join("out");
    let publish = |fail: &str, keep: Option<&str>| {
        let param = format!("fail={fail}");
        let mut flags = vec!["-r", "1", "-p", &param];
        if let Some(keep) = keep {
            flags.extend(["--keep", keep]);
        }
        let run = count_lines(&input, &out, &flags);
        run.assert_success();
        assert!(run.stdout.contains("(version v"), "{run}");
    };
    let listed = || -> Vec<String> {
        version_lines(&out)
            .iter()
            .map(|l| {
                l.split_whitespace()
                    .take_while(|w| !w.starts_with("20"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    for fail in ["1", "2", "3"] {
        publish(fail, None);
    }
    let run = sandmill(["rollback", arg(&out), "--to", "v1"]);
    assert!(run.stdout.contains("v000003 -> v000001"), "{run}");
    // The next job keeps 3: the version it publishes, v1 (current when it started, where a
    // plain rollback goes) and the newest other one; the oldest other one goes.
    publish("4", Some("3"));
    assert_eq!(listed(), ["v000001", "v000003", "* v000004"]);
    // Keeping 2: the current version and v1, not the newer v3.
    sandmill(["rollback", arg(&out), "--to", "v1"]).assert_success();
    publish("5", Some("2"));
    assert_eq!(listed(), ["v000001", "* v000005"]);
    let run = sandmill(["rollback", arg(&out)]);
    assert!(run.stdout.contains("v000005 -> v000001"), "{run}");
    // Keeping 1: only the current version.
    publish("6", Some("1"));
    assert_eq!(listed(), ["* v000006"]);
}
