//! What the API answers, as data: the JSON of `docs/service.md`, shared by the server (which
//! serializes it), the client commands (which read it) and the web pages (which render it).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, not started: behind the tenant's `--max-running` or another job's output.
    Queued,
    /// Admitted: planning, running tasks or publishing.
    Running,
    /// Published (or found unchanged).
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// Cancelled by its tenant.
    Cancelled,
}

impl JobState {
    /// The name in the API and the database.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether the job has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One phase's tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseProgress {
    /// Tasks in the phase (0 until it is planned).
    pub tasks: u64,
    /// Tasks committed.
    pub done: u64,
}

/// How far a job is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// `plan`, `map`, `reduce` or `publish` while running; `None` otherwise.
    pub phase: Option<String>,
    /// The map tasks.
    pub map: PhaseProgress,
    /// The reduce tasks.
    pub reduce: PhaseProgress,
    /// Input bytes the committed map tasks read.
    pub bytes_read: u64,
}

/// A job, as `GET /v1/jobs/ID` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `j-` and 12 hex digits.
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Why it waits, while it waits.
    pub pending_reason: Option<String>,
    /// The plugin's SHA-256.
    pub plugin: String,
    /// The inputs as submitted (names or granted paths).
    pub inputs: Vec<String>,
    /// The output dataset's name.
    pub output: String,
    /// The run flags as submitted.
    pub flags: Vec<String>,
    /// When it was accepted (RFC 3339 UTC).
    pub submitted: String,
    /// When it was first admitted.
    pub started: Option<String>,
    /// When it ended.
    pub finished: Option<String>,
    /// From start to end (or to now, while running), in seconds.
    pub duration_seconds: Option<f64>,
    /// The inputs' total size when it was submitted.
    pub input_bytes: u64,
    /// How far it is.
    pub progress: Progress,
    /// Task attempts started (plan and publish included).
    pub attempts: u64,
    /// The plugin's counters, summed over committed tasks.
    pub counters: BTreeMap<String, i64>,
    /// The version it published, or found unchanged.
    pub version: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One attempt at one step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `plan`, `map-3`, `reduce-0` or `publish`.
    pub task: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `running`, `ok`, `failed` or `lost` (its process or the server died).
    pub state: String,
    /// When its process started (RFC 3339 UTC, to the millisecond).
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// CPU time of its process (user and system).
    pub cpu_seconds: f64,
    /// Why it failed.
    pub error: Option<String>,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Its position in the job's log, from 1.
    pub seq: u64,
    /// When it was written.
    pub time: String,
    /// `service` (the scheduler), `plugin` (the plugin's log, stdout and stderr) or `worker`
    /// (a worker process's error output).
    pub source: String,
    /// The line, made inert (no control characters).
    pub text: String,
}

/// A tenant's usage, as `GET /v1/usage` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// The tenant.
    pub tenant: String,
    /// CPU seconds of every worker process its jobs ran.
    pub cpu_seconds: f64,
    /// Input bytes its map tasks read.
    pub bytes_read: u64,
    /// Output bytes its reduce tasks wrote.
    pub bytes_written: u64,
    /// Jobs that ended (succeeded, failed or cancelled after starting).
    pub jobs_run: u64,
    /// Jobs that succeeded.
    pub jobs_succeeded: u64,
    /// Jobs that failed.
    pub jobs_failed: u64,
    /// Bytes of its plugins, uploads and datasets on disk.
    pub storage_bytes: u64,
}

/// A dataset in a tenant's space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Its name.
    pub name: String,
    /// Its current version, if it has one.
    pub current: Option<String>,
    /// How many versions it keeps.
    pub versions: u64,
}

/// A file of a dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFile {
    /// Its path in the version, `/`-separated.
    pub path: String,
    /// Its size.
    pub bytes: u64,
}
