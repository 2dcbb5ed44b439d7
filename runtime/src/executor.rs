//! Who runs a phase's tasks, and retries them: one [`Executor`] among several. The local
//! executor runs them on a thread pool in this process; the process executor runs each
//! attempt as `sandmill task run --spec FILE` in a process of its own, so that a plugin that
//! brings down its host (a wasmtime abort, an out-of-memory kill) costs one attempt, not the
//! job. A job service or a cluster engine is one more implementation of the same trait.

use crate::error::{ExitClass, TaskError};
use crate::plan::TaskSpec;
use crate::shuffle::MapRuns;
pub use crate::spec::ExecutorKind;
use crate::spec::RetryPolicy;
use crate::worker::{self, TaskDone, TaskEnv, TaskRecord, TaskResult};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs tasks until each commits.
pub trait Executor: Sync {
    /// Runs every task of `tasks` (each given as its first attempt) until it commits, trying
    /// a failure a retry may cure again as `retry` allows, and stops at the first task that
    /// fails for good. Results keep the order of `tasks`; `progress` gets units of work done.
    ///
    /// # Errors
    /// The failure of a task that could not be committed.
    fn run_tasks(
        &self,
        env: &TaskEnv<'_>,
        tasks: &[TaskSpec],
        retry: RetryPolicy,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<TaskDone>, TaskError>;

    /// Whether tasks run in other processes, so that map output must go to disk.
    fn separate_processes(&self) -> bool;
}

/// Runs every task of `tasks` on `pool`, each attempt by `run` with the attempt's spec, trying
/// again as `retry` allows; stops at the first task that fails for good.
fn run_each(
    pool: &rayon::ThreadPool,
    tasks: &[TaskSpec],
    retry: RetryPolicy,
    run: impl Fn(&TaskSpec) -> Result<TaskDone, TaskError> + Sync,
) -> Result<Vec<TaskDone>, TaskError> {
    pool.install(|| {
        tasks
            .par_iter()
            .map(|spec| {
                retry.run(|attempt| {
                    run(&TaskSpec {
                        attempt,
                        ..spec.clone()
                    })
                })
            })
            .collect()
    })
}

/// A pool of threads to run tasks (or wait for their processes) on.
pub(crate) fn pool(threads: usize) -> std::io::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        // Wasm execution and Cranelift want more than rayon's default 2 MiB.
        .stack_size(16 << 20)
        .thread_name(|i| format!("sandmill-worker-{i}"))
        .build()
        .map_err(std::io::Error::other)
}

/// Runs tasks on a pool of threads in this process.
#[derive(Debug)]
pub struct LocalExecutor {
    pool: rayon::ThreadPool,
}

impl LocalExecutor {
    /// An executor running `threads` tasks at once.
    ///
    /// # Errors
    /// If the threads cannot be started.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Ok(Self {
            pool: pool(threads)?,
        })
    }
}

impl Executor for LocalExecutor {
    fn run_tasks(
        &self,
        env: &TaskEnv<'_>,
        tasks: &[TaskSpec],
        retry: RetryPolicy,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<TaskDone>, TaskError> {
        run_each(&self.pool, tasks, retry, |spec| {
            worker::run_task(env, spec, progress)
        })
    }

    fn separate_processes(&self) -> bool {
        false
    }
}

/// Runs each task attempt as `sandmill task run --spec FILE`, up to `threads` at once.
#[derive(Debug)]
pub struct ProcessExecutor {
    pool: rayon::ThreadPool,
    program: PathBuf,
}

impl ProcessExecutor {
    /// An executor running `threads` task processes at once, each `program task run`.
    ///
    /// # Errors
    /// If the threads that wait for the processes cannot be started.
    pub fn new(threads: usize, program: PathBuf) -> std::io::Result<Self> {
        Ok(Self {
            pool: pool(threads)?,
            program,
        })
    }

    /// Runs one attempt in a process and reads back what it committed.
    fn run_attempt(&self, env: &TaskEnv<'_>, spec: &TaskSpec) -> Result<TaskDone, TaskError> {
        let task = spec.task();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TaskError::Io { task, path, source }
        };
        let spec_file = env
            .committer
            .write_spec(task, spec.attempt, &spec.to_json())
            .map_err(io(&env.committer.work_dir()))?;
        let output = Command::new(&self.program)
            .arg("task")
            .arg("run")
            .arg("--spec")
            .arg(&spec_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(io(&self.program));
        env.committer.remove_spec(&spec_file);
        let output = output?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let result: Option<TaskResult> = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok());
        if output.status.success() {
            let record: TaskRecord =
                env.committer.committed(task).ok_or_else(|| TaskError::Io {
                    task,
                    path: env.committer.work_dir(),
                    source: std::io::Error::other(
                        "its process succeeded but its record cannot be read",
                    ),
                })?;
            let runs = record.run_file.clone().map(MapRuns::Disk);
            return Ok(TaskDone { task, record, runs });
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (class, retryable, message) = match (result, output.status.code()) {
            (Some(result), _) => (
                ExitClass::from_name(&result.status).unwrap_or(ExitClass::Bug),
                result.retryable,
                result.error.unwrap_or_default(),
            ),
            (None, code) => (
                // Killed (a signal) or crashed without a word: the host, not the task's input,
                // failed, so another attempt may pass.
                ExitClass::Transient,
                true,
                format!(
                    "its process {}: {}",
                    match code {
                        Some(code) => format!("exited with status {code}"),
                        None => "was killed by a signal".to_owned(),
                    },
                    crate::text::cut(
                        stderr.lines().last().unwrap_or("").to_owned(),
                        crate::text::MAX_PLUGIN_TEXT
                    )
                ),
            ),
        };
        Err(TaskError::Worker {
            task,
            class,
            retryable,
            message: crate::text::inert(&message).into_owned(),
        })
    }
}

impl Executor for ProcessExecutor {
    fn run_tasks(
        &self,
        env: &TaskEnv<'_>,
        tasks: &[TaskSpec],
        retry: RetryPolicy,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<TaskDone>, TaskError> {
        run_each(&self.pool, tasks, retry, |spec| {
            let done = self.run_attempt(env, spec)?;
            progress(spec.units());
            Ok(done)
        })
    }

    fn separate_processes(&self) -> bool {
        true
    }
}
