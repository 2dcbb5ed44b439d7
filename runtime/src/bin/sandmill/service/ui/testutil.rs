//! Sample data for the pages' tests: a job, its attempts, log and files, a tenant's usage.

use super::model::{Attempt, DatasetFile, Job, JobState, LogLine, PhaseProgress, Progress, Usage};

/// A job in `state` that read 1.2 MiB, is 5/12 through its maps, and writes `counts`.
pub(super) fn job(id: &str, state: JobState) -> Job {
    let finished = state.is_finished();
    Job {
        id: id.to_owned(),
        state,
        pending_reason: (state == JobState::Queued)
            .then(|| "tenant at max-running 1 (job j-000000000001 is running)".to_owned()),
        plugin: "9f".repeat(32),
        inputs: vec!["books".to_owned(), "/data/granted/2026/".to_owned()],
        output: "counts".to_owned(),
        flags: vec!["--reducers=4".to_owned(), "--format=jsonl".to_owned()],
        submitted: "2026-12-02T13:00:00Z".to_owned(),
        started: (state != JobState::Queued).then(|| "2026-12-02T13:00:01Z".to_owned()),
        finished: finished.then(|| "2026-12-02T13:00:13Z".to_owned()),
        duration_seconds: (state != JobState::Queued).then_some(12.5),
        input_bytes: 1_258_291,
        progress: Progress {
            phase: (state == JobState::Running).then(|| "map".to_owned()),
            map: PhaseProgress { tasks: 12, done: 5 },
            reduce: PhaseProgress { tasks: 4, done: 0 },
            bytes_read: 524_288,
        },
        attempts: 9,
        counters: [("words".to_owned(), 1200), ("lines".to_owned(), 80)].into(),
        version: finished.then(|| "v3".to_owned()),
        error: (state == JobState::Failed).then(|| "map-3 failed: plugin trapped".to_owned()),
    }
}

/// An attempt at `task` from `started` to `finished` (seconds after 13:00:00).
pub(super) fn attempt(
    task: &str,
    n: u32,
    state: &str,
    started: u32,
    finished: Option<u32>,
) -> Attempt {
    let at = |s: u32| format!("2026-12-02T13:{:02}:{:02}Z", s / 60, s % 60);
    Attempt {
        task: task.to_owned(),
        attempt: n,
        state: state.to_owned(),
        started: at(started),
        finished: finished.map(at),
        cpu_seconds: 1.5,
        error: (state == "failed").then(|| "plugin trapped: unreachable".to_owned()),
    }
}

/// A job's attempts: plan, three maps (one retried after its process was lost), a reduce
/// still running.
pub(super) fn attempts() -> Vec<Attempt> {
    vec![
        attempt("plan", 1, "ok", 1, Some(2)),
        attempt("map-0", 1, "ok", 2, Some(6)),
        attempt("map-1", 1, "lost", 2, Some(4)),
        attempt("map-1", 2, "ok", 4, Some(8)),
        attempt("map-2", 1, "failed", 3, Some(5)),
        attempt("reduce-0", 1, "running", 8, None),
    ]
}

/// Log lines `1..=n`, from the scheduler and the plugin in turn.
pub(super) fn log(n: u64) -> Vec<LogLine> {
    (1..=n)
        .map(|seq| LogLine {
            seq,
            time: "2026-12-02T13:00:02Z".to_owned(),
            source: if seq % 2 == 0 { "plugin" } else { "service" }.to_owned(),
            text: format!("line {seq}"),
        })
        .collect()
}

/// Two output files.
pub(super) fn files() -> Vec<DatasetFile> {
    vec![
        DatasetFile {
            path: "part-00000".to_owned(),
            bytes: 2048,
        },
        DatasetFile {
            path: "part-00001".to_owned(),
            bytes: 100,
        },
    ]
}

/// A tenant that ran three jobs.
pub(super) fn usage() -> Usage {
    Usage {
        tenant: "alice".to_owned(),
        cpu_seconds: 42.0,
        bytes_read: 3 << 20,
        bytes_written: 1 << 20,
        jobs_run: 3,
        jobs_succeeded: 2,
        jobs_failed: 1,
        storage_bytes: 10 << 20,
    }
}
