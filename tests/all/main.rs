//! Integration tests: run the `sandmill` binary on the example plugins and check its output
//! directory and messages.
//!
//! This binary is a test of the `sandmill-runtime` package (`[[test]] name = "all"`), so that
//! cargo builds the CLI first and tells us where it is (`CARGO_BIN_EXE_sandmill`). Inputs,
//! expected outputs and plugin paths come from the `sandmill-tests` fixtures crate.

/// Failures a user can cause, one test each: bad plugins, bad inputs, unusable output paths,
/// plugin errors and traps, unknown parameters; plus `sandmill inspect`. Each asserts a
/// non-zero exit, a one-line `error: ` message naming the problem, and no output directory.
mod cli_errors;
/// A Ray cluster with S3 (`scripts/cluster.sh`): the example jobs, killed worker nodes mid-map
/// and mid-reduce, rollback, and a plugin's fault, all against local runs.
mod cluster;
/// Datasets: versions, rollback, and crash resume (failpoints and SIGKILL at random moments).
mod datasets;
/// Fault injection with failpoints: retries, clean failure, no partial output.
mod faults;
/// Declared input fields: records that do not fit them are bad records named by file and
/// line; a CSV header without a required column and `--format lines` are refused.
mod fields;
/// A hostile plugin against the bounds that contain it: output floods in map and reduce,
/// thousands of partitions, reserved names, huge messages, terminal escapes and forged lines,
/// lying combiners. Each fails with one `error:` line naming the limit or rule, or is
/// contained.
mod flood;
/// Quality gates on a plain job (`--check`): recorded when they pass; a failure publishes
/// nothing, exits with 6 and keeps the rejected attempt with its manifest.
mod gates;
/// Hostile plugins, run as real jobs: sleeps, loops, CPU budgets, recursion, exit, stdio floods
/// and probes of the sandbox's walls; each contained with one clear error, or made harmless.
mod hostile;
/// Several jobs in one process through the library: a hostile job beside a good one.
mod in_process;
/// The example jobs end to end on generated inputs, across reducer, thread and split-size
/// settings, compared line for line with `sandmill_tests::reference`.
mod jobs;
/// Jobs in Python, JavaScript and C against the Rust ones; `sandmill new` and `sandmill build`.
mod languages;
/// Jobs on object storage in this process, against an in-memory S3: the example jobs match
/// local runs, racing attempts commit once, rollback, resume.
mod objects;
/// A job in a crate of its own, made and run as `sdk/README.md` says.
mod own_crate;
/// Parquet in and out: output read back by pyarrow, DuckDB and Polars against lines output,
/// pyarrow-written input with --columns against JSON Lines, and errors that name the file,
/// row group and row, or the field. Needs scripts/setup-pydata.sh.
mod parquet;
/// Output partitions: escaped names and where they land, unsafe names as bad records.
mod partitions;
/// Pipelines: three stages with a side input and quality gates, killed and resumed; a
/// failing gate; a daily backfill; the DAG's order and errors.
mod pipelines;
/// `--partitioner range`: even partitions whose part files concatenate to sorted output.
mod range;
/// README's commands, run as written after the demo.
mod readme;
/// Hot-key salting (`--hot-key`, `--salt`) on the 90 % skew case: the same output from even
/// partitions, resumed after a crash, with range partitions; refused without a combiner.
mod salt;
/// The sandbox end to end: memory, time and fuel limits, deterministic clocks and random
/// numbers, plugin logs and counters, and huge key groups streamed through the reduce.
mod sandbox;
/// Plan, task, executor and publish from outside: tasks in processes of their own, `--verify`
/// before commit, bad records, exit statuses, inputs changed under a job, SIGTERM.
mod seam;
/// `sandmill serve` on a loopback port with two tenants: isolation, quotas and pending reasons,
/// fair share, idempotent submission, cancellation, kill -9 and restart, SIGTERM, and its
/// pages in headless Chromium.
mod service;
/// What the job service runs in its worker processes: `sandmill task check`, and compiled
/// plugins authenticated with `SANDMILL_COMPILE_KEY`.
mod service_worker;
/// Side inputs on the join-products example: the broadcast join against the reference and the
/// reduce-side join, the memory bound, unknown names, reruns, resume and task processes.
mod side_inputs;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, ExitStatus};

/// What one run of the binary did.
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stdout, lossily decoded.
    pub stdout: String,
    /// Everything it wrote to stderr, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// Panics, showing both streams, unless the run exited with 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "sandmill failed: {}\n{self}",
            self.status
        );
        self
    }

    /// Checks that the run failed as a user sees it: a non-zero exit code and a last stderr
    /// line starting with `error: `. Returns that line.
    pub fn assert_error(&self) -> &str {
        assert!(
            !self.status.success(),
            "sandmill succeeded but should have failed\n{self}"
        );
        assert!(
            self.status.code().is_some(),
            "sandmill was killed: {}\n{self}",
            self.status
        );
        let last = self
            .stderr
            .trim_end()
            .lines()
            .next_back()
            .unwrap_or_default();
        assert!(
            last.starts_with("error: "),
            "the last stderr line is not an error\n{self}"
        );
        last
    }
}

impl Run {
    /// Panics unless the run exited with the status of a failure of `class` (see
    /// `sandmill --help`).
    #[track_caller]
    pub fn assert_exit(&self, class: sandmill::error::ExitClass) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(i32::from(class.code())),
            "the exit status of a {class:?} failure\n{self}"
        );
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}--- end ---",
            self.stdout, self.stderr
        )
    }
}

/// Runs `sandmill` with `args` and waits for it.
pub fn sandmill<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    sandmill_with_failpoints(args, "")
}

/// Runs `sandmill` with `args` and the failpoints `failpoints` armed (see
/// `sandmill::failpoint`), and waits for it.
pub fn sandmill_with_failpoints<I, S>(args: I, failpoints: &str) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(args)
        .env("SANDMILL_FAILPOINTS", failpoints)
        .env("SANDMILL_CACHE_DIR", shared_compile_cache())
        .output()
        .expect("running the sandmill binary");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `cmd`, a nested cargo, without what the outer cargo sets for its own build (flags meant for
/// the host, the target, clippy's wrapper) and would mislead it.
pub fn nested_cargo(cmd: &mut Command) -> &mut Command {
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The compile cache every test run shares (unless it passes `--compile-cache`), inside
/// cargo's target directory: each plugin is compiled once per test build, not once per run.
pub fn shared_compile_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache")
}

/// A path as an argument. Test paths are UTF-8 (they live in the temp directory), and the
/// messages we check print them as text.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}
