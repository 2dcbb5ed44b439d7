//! `--executor ray`: every task a Ray task. Ray places them on the cluster's nodes, holds each
//! reduce task until its map tasks end (they are its arguments), notices lost nodes and runs
//! their tasks again; each Ray task runs `sandmill task run --spec -` on its node.
//!
//! Sandmill talks to Ray through its Python API: this module starts the driver
//! `python -m sandmill_ray.driver --address ADDR` (in the `sandmill` Python package,
//! `python/sandmill_ray/`), writes it the tasks as one JSON object, and reads one JSON line per
//! finished task. Python is `$SANDMILL_PYTHON`, else the `python3` beside this `sandmill`
//! binary (as `pip install` places them in a virtual environment), else `python3` on `PATH`.

use super::{Pending, Progress};
use crate::error::{Error, ExitClass, TaskError};
use crate::spec::JobSpec;
use crate::task::TaskId;
use crate::worker::TaskResult;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One line of the driver's output.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Line {
    /// A task finished, for good.
    Task {
        id: String,
        ok: bool,
        result: Option<Box<TaskResult>>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        node: Option<String>,
    },
    /// Every task finished.
    Done {
        #[expect(dead_code, reason = "the line's only field")]
        done: bool,
    },
    /// The driver could not run at all.
    Fatal { fatal: String },
}

/// The Python that runs the driver.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("SANDMILL_PYTHON").filter(|p| !p.is_empty()) {
        return python.into();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("python3")));
    match beside {
        Some(python) if python.is_file() => python,
        _ => "python3".into(),
    }
}

/// The Ray cluster: `--ray-address`, else `RAY_ADDRESS`.
fn address(spec: &JobSpec) -> Result<String, Error> {
    spec.ray_address()
        .map(str::to_owned)
        .or_else(|| std::env::var("RAY_ADDRESS").ok().filter(|a| !a.is_empty()))
        .ok_or_else(|| {
            Error::Spec(
                "--executor ray needs the cluster: pass --ray-address HOST:PORT or set \
                 RAY_ADDRESS"
                    .into(),
            )
        })
}

/// What the tasks on the nodes need from this environment: the object store's settings.
fn forwarded_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .collect()
}

/// Runs `pending` on the Ray cluster, calling `progress` as each task commits.
///
/// # Errors
/// The first task that fails for good (a plugin's fault at once; a transient failure once
/// Ray's retries are spent), or a driver that cannot reach the cluster.
pub fn run(spec: &JobSpec, pending: &[Pending], progress: &dyn Progress) -> Result<(), Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let address = address(spec)?;
    let tasks: Vec<serde_json::Value> = pending
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.spec.task().name(),
                "spec": p.spec,
                "after": p.after.iter().map(|t| t.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let input = serde_json::json!({
        "tasks": tasks,
        // Ray's retries are the attempts after the first.
        "max_retries": spec.retry().max_attempts.saturating_sub(1),
        "env": forwarded_env(),
    });
    let python = python();
    let mut child = Command::new(&python)
        .args(["-m", "sandmill_ray.driver", "--address", &address])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Spec(format!(
                "cannot start the Ray driver with {}: {e}; install the sandmill Python package \
                 (pip install sandmill) or set SANDMILL_PYTHON to a Python that has it and ray",
                python.display()
            ))
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let json = serde_json::to_vec(&input).expect("tasks are JSON");
    let writer = std::thread::spawn(move || stdin.write_all(&json));
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let by_name: BTreeMap<String, TaskId> = pending
        .iter()
        .map(|p| (p.spec.task().name(), p.spec.task()))
        .collect();
    let mut failure = None;
    let mut finished = false;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(line) = line else { break };
        let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        match parsed {
            Line::Task { id, ok: true, .. } => {
                if let Some(&task) = by_name.get(&id) {
                    progress.committed(task);
                }
            }
            Line::Task {
                id,
                result,
                error,
                node,
                ..
            } => {
                let task = by_name.get(&id).copied();
                failure = Some(task_failure(task, &id, result, error, node));
                break;
            }
            Line::Done { .. } => {
                finished = true;
                break;
            }
            Line::Fatal { fatal } => {
                failure = Some(Error::Spec(format!("the Ray driver: {fatal}")));
                break;
            }
        }
    }
    if failure.is_some() || !finished {
        // Stopping the driver ends its Ray job, and with it the tasks still running.
        let _ = child.kill();
    }
    let status = child.wait();
    let _ = writer.join();
    let stderr = errors.join().unwrap_or_default();
    if let Some(failure) = failure {
        return Err(failure);
    }
    if !finished {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::Task(TaskError::Worker {
            task: pending[0].spec.task(),
            class: ExitClass::Transient,
            retryable: true,
            message: format!(
                "the Ray driver ({} -m sandmill_ray.driver) stopped before every task ended \
                 ({}): {}; run the command again to resume",
                python.display(),
                status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                crate::text::inert(&tail.join(" / "))
            ),
        }));
    }
    Ok(())
}

/// The error of a task that failed for good on the cluster.
fn task_failure(
    task: Option<TaskId>,
    id: &str,
    result: Option<Box<TaskResult>>,
    error: Option<String>,
    node: Option<String>,
) -> Error {
    let Some(task) = task else {
        return Error::Bug(format!(
            "the Ray driver reported a task {id} it was not given"
        ));
    };
    let on = node.map(|n| format!(" on node {n}")).unwrap_or_default();
    let (class, retryable, message) = match result {
        Some(result) => (
            ExitClass::from_name(&result.status).unwrap_or(ExitClass::Bug),
            result.retryable,
            result.error.unwrap_or_default(),
        ),
        None => (
            ExitClass::Transient,
            true,
            format!(
                "Ray gave up on it{on}: {}",
                error.unwrap_or_else(|| "no reason given".into())
            ),
        ),
    };
    Error::Task(TaskError::Worker {
        task,
        class,
        retryable,
        message: crate::text::inert(&message).into_owned(),
    })
}
