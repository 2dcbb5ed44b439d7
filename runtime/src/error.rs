//! Errors, classified by who is at fault and whether trying again can help.

use crate::input::InputError;
use crate::task::TaskId;
use crate::text::{inert, plugin_says};
use std::path::PathBuf;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job's settings are unusable.
    #[error("invalid job: {0}")]
    Spec(String),
    /// The input could not be found or read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The plugin could not be loaded.
    #[error("cannot load plugin {}: {}", path.display(), inert(.reason))]
    PluginLoad {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong with it, and what to do (it may quote the plugin; shown inert).
        reason: String,
    },
    /// The plugin rejected the job's parameters (with this message of its own).
    #[error("the plugin rejected its parameters: {}", plugin_says(.0))]
    Params(String),
    /// A task failed.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The dataset could not be opened, published or rolled back.
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    /// Sandmill broke one of its own invariants.
    #[error("{0}; this is a bug in Sandmill, please report it")]
    Bug(String),
    /// The output failed a quality gate (`--check`): nothing was published, and the
    /// attempt is kept in `kept` with a manifest listing every check's outcome.
    #[error(
        "{} failed its quality gate: {}; nothing was published, and readers still see the \
         version before; the rejected output and its _MANIFEST.json are in {}",
        output.display(),
        failed.iter().map(|o| format!("check {} failed: {}", o.check, o.detail)).collect::<Vec<_>>().join("; "),
        kept.display()
    )]
    Rejected {
        /// The dataset.
        output: PathBuf,
        /// The checks that failed.
        failed: Vec<crate::dataset::CheckOutcome>,
        /// Where the rejected attempt is kept.
        kept: PathBuf,
    },
    /// A pipeline stage failed.
    #[error("stage {stage}: {source}")]
    Stage {
        /// The stage.
        stage: String,
        /// Why it failed.
        source: Box<Error>,
    },
    /// A side input (`--side-input NAME=PATH`) could not be found or read.
    #[error("side input {name}")]
    SideInput {
        /// Its name.
        name: String,
        /// What went wrong.
        #[source]
        error: InputError,
    },
    /// The output could not be written.
    #[error("cannot write output {}", path.display())]
    Output {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What a failed run's exit status says: who is at fault, and whether running the same command
/// again may succeed. A stable contract: a scheduler (or a shell script) can act on it without
/// reading the message. The values follow ripgrep's use of 2 for usage errors and reserve 0 and
/// 1; `130` and `143` are a run stopped by SIGINT and SIGTERM, as shells report them.
///
/// | status | class                                | retry?                         |
/// |--------|--------------------------------------|--------------------------------|
/// | 0      | success                              |                                |
/// | 2      | usage: flags, parameters, the output | after fixing the command       |
/// | 3      | bad input: missing, changed, corrupt | after fixing the input         |
/// | 4      | the plugin's fault                   | after fixing the plugin        |
/// | 5      | transient (I/O, a busy dataset)      | yes, the same command          |
/// | 6      | the output failed a quality gate     | after fixing the input or job  |
/// | 70     | a bug in Sandmill                    | please report it               |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitClass {
    /// The command is wrong: unknown flags, bad values, parameters the plugin rejects, an
    /// output that is not a dataset.
    Usage = 2,
    /// The input is missing, unreadable as its format, changed while the job ran, or has more
    /// bad records than `--max-bad-records` allows.
    BadInput = 3,
    /// The plugin failed: it does not load, traps, breaks the contract, exceeds a limit, or
    /// is not deterministic.
    Plugin = 4,
    /// Something that may pass on another try: an I/O error, a dataset another run holds.
    Transient = 5,
    /// The output failed a quality gate (`--check`), so nothing was published.
    Rejected = 6,
    /// A bug in Sandmill.
    Bug = 70,
}

impl ExitClass {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }

    const ALL: [ExitClass; 6] = [
        ExitClass::Usage,
        ExitClass::BadInput,
        ExitClass::Plugin,
        ExitClass::Transient,
        ExitClass::Rejected,
        ExitClass::Bug,
    ];

    /// The name used in machine-readable results (`sandmill task run`).
    pub fn name(self) -> &'static str {
        match self {
            ExitClass::Usage => "usage",
            ExitClass::BadInput => "bad-input",
            ExitClass::Plugin => "plugin",
            ExitClass::Transient => "transient",
            ExitClass::Rejected => "rejected",
            ExitClass::Bug => "bug",
        }
    }

    /// The class of this [`ExitClass::name`].
    pub fn from_name(name: &str) -> Option<ExitClass> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The class of this exit status.
    pub fn from_code(code: i32) -> Option<ExitClass> {
        Self::ALL.into_iter().find(|c| i32::from(c.code()) == code)
    }
}

impl Error {
    /// Whether running the same task again, at once, may pass (what a scheduler's retry
    /// needs; a transient failure that is not retryable passes only on a later run).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Task(err) => err.is_retryable(),
            Error::Input(err) | Error::SideInput { error: err, .. } => err.is_retryable(),
            Error::Output { .. } => true,
            Error::Dataset(err) => matches!(err.class(), ExitClass::Transient),
            Error::Stage { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// Which class of failure this is, for the exit status.
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Spec(_) | Error::Params(_) => ExitClass::Usage,
            Error::Input(err) | Error::SideInput { error: err, .. } => err.class(),
            Error::PluginLoad { .. } => ExitClass::Plugin,
            Error::Task(err) => err.class(),
            Error::Dataset(err) => err.class(),
            Error::Output { .. } => ExitClass::Transient,
            Error::Rejected { .. } => ExitClass::Rejected,
            Error::Stage { source, .. } => source.class(),
            Error::Bug(_) => ExitClass::Bug,
        }
    }
}

impl InputError {
    /// Which class of failure this is, for the exit status: the pattern is the command's
    /// fault, an I/O error may be transient, the rest is the input's.
    pub fn class(&self) -> ExitClass {
        match self {
            InputError::BadGlob { .. } => ExitClass::Usage,
            InputError::Io { .. } | InputError::Read { .. } => ExitClass::Transient,
            InputError::NotFound { .. }
            | InputError::NoMatch { .. }
            | InputError::NoFiles { .. }
            | InputError::Corrupt { .. }
            | InputError::Changed { .. }
            | InputError::RecordTooLong { .. }
            | InputError::NoColumn { .. }
            | InputError::ColumnType { .. } => ExitClass::BadInput,
            // A read that failed may pass on a second try; corrupt data is the input's.
            InputError::Parquet { .. } if self.is_retryable() => ExitClass::Transient,
            InputError::Parquet { .. } => ExitClass::BadInput,
        }
    }
}

impl crate::dataset::DatasetError {
    /// Which class of failure this is, for the exit status.
    pub fn class(&self) -> ExitClass {
        use crate::dataset::DatasetError as E;
        match self {
            E::NotADataset { .. }
            | E::NotFound { .. }
            | E::NoSuchVersion { .. }
            | E::NothingToRollBack { .. }
            | E::InvalidOutput { .. } => ExitClass::Usage,
            E::Io { .. } | E::Busy { .. } | E::Conflict { .. } => ExitClass::Transient,
            // A version without `_SUCCESS` or a manifest that does not parse: not something
            // Sandmill writes, so the dataset was changed by hand or the disk is failing.
            E::Incomplete { .. } | E::Manifest { .. } => ExitClass::BadInput,
        }
    }
}

/// A message from another process about `task`, naming the task once: its own errors
/// already start with the task.
fn named_once(task: TaskId, message: &str) -> String {
    let name = task.to_string();
    if message.starts_with(&name) {
        message.to_owned()
    } else {
        format!("{name}: {message}")
    }
}

/// Where in the input a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLocation {
    /// The input file.
    pub path: PathBuf,
    /// The 1-based line number, if it could be determined.
    pub line: Option<u64>,
    /// The byte offset of the record's first byte in the file (decompressed, for gzip); for
    /// Parquet, the record's row number in the file (from 0).
    pub offset: u64,
    /// Parquet only: the record's row group and its row in it (from 0). Boxed: it is rare,
    /// and task errors, which carry locations, stay small.
    pub row_group: Option<Box<(u32, u64)>>,
}

impl std::fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(&(group, row)) = self.row_group.as_deref() {
            return write!(
                f,
                " row group {group} row {row} (row {} of the file)",
                self.offset
            );
        }
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        write!(f, " (byte {})", self.offset)
    }
}

/// What a plugin failure was about: an input record, a key group, or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureSite {
    /// An input record of a map task.
    Record(RecordLocation),
    /// Records `first..=last` of an input file (a trap that could not be pinned to one record).
    Records {
        /// The first record of the range.
        first: RecordLocation,
        /// How many records the range holds.
        count: usize,
    },
    /// The key being reduced or combined (shown escaped if not UTF-8).
    Key(String),
    /// One of the keys of a batch of groups (a failure the plugin did not pin to one group).
    Keys {
        /// The batch's first key, shown as for [`FailureSite::Key`].
        first: String,
        /// Its last key.
        last: String,
        /// How many keys the batch holds.
        count: usize,
    },
    /// Nothing more precise than the task.
    Task,
}

impl std::fmt::Display for FailureSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureSite::Record(loc) => write!(f, " at {loc}"),
            FailureSite::Records { first, count } => {
                write!(f, " in the {count} records starting at {first}")
            }
            FailureSite::Key(key) => write!(f, " on key {key}"),
            FailureSite::Keys { first, last, count } => {
                write!(f, " on one of the {count} keys {first} to {last}")
            }
            FailureSite::Task => Ok(()),
        }
    }
}

/// A resource limit of the sandbox, or a bound on what a plugin may write
/// ([`crate::quota::OutputLimits`]). Each is shown with its value and the flag that raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Memory of one plugin instance: its linear memories and tables (bytes).
    Memory(u64),
    /// Wall-clock time of one call into the plugin.
    Time(std::time::Duration),
    /// CPU time of one task attempt in the plugin.
    TaskCpu(std::time::Duration),
    /// CPU time of all task attempts of the job in the plugin.
    JobCpu(std::time::Duration),
    /// Fuel (instructions, roughly).
    Fuel(u64),
    /// Bytes a plugin may hand the host in one call.
    CallData(usize),
    /// The WebAssembly stack of one call (bytes; fixed).
    Stack(usize),
    /// A fixed cap on how many of something one instance may create.
    Count {
        /// What is counted.
        what: &'static str,
        /// The cap.
        max: usize,
    },
    /// Output bytes per reduce task.
    TaskOutput(u64),
    /// Output bytes of the whole job.
    JobOutput(u64),
    /// Output records per reduce task.
    TaskOutputRecords(u64),
    /// Output records of the whole job.
    JobOutputRecords(u64),
    /// Output partitions per reduce task.
    Partitions(u64),
    /// Bytes of pairs emitted per map task.
    MapOutput(u64),
    /// Pairs emitted per map task.
    MapOutputPairs(u64),
}

/// A size as given on the command line: `10 GiB` when it is a whole number of a unit, else
/// bytes.
fn show_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |d: std::time::Duration| d.as_secs_f64();
        match *self {
            Limit::Memory(b) => write!(f, "memory limit of {} (--plugin-memory)", show_size(b)),
            Limit::Time(d) => write!(f, "time limit of {}s per call (--call-timeout)", secs(d)),
            Limit::TaskCpu(d) => write!(f, "CPU limit of {}s per task (--task-cpu)", secs(d)),
            Limit::JobCpu(d) => write!(f, "CPU limit of {}s per job (--job-cpu)", secs(d)),
            Limit::Fuel(n) => write!(f, "fuel limit of {n} (--fuel)"),
            Limit::CallData(b) => write!(
                f,
                "limit of {} handed to the host in one call (--max-call-data; or return \
                 smaller batches)",
                show_size(b as u64)
            ),
            Limit::Stack(b) => write!(
                f,
                "WebAssembly stack limit of {} (fixed; deep recursion?)",
                show_size(b as u64)
            ),
            Limit::Count { what, max } => write!(f, "limit of {max} {what} (fixed)"),
            Limit::TaskOutput(b) => write!(
                f,
                "output limit of {} per reduce task (--max-task-output)",
                show_size(b)
            ),
            Limit::JobOutput(b) => write!(
                f,
                "output limit of {} for the whole job (--max-output)",
                show_size(b)
            ),
            Limit::TaskOutputRecords(n) => write!(
                f,
                "limit of {n} output records per reduce task (--max-task-output-records)"
            ),
            Limit::JobOutputRecords(n) => write!(
                f,
                "limit of {n} output records for the whole job (--max-output-records)"
            ),
            Limit::Partitions(n) => write!(
                f,
                "limit of {n} output partitions per reduce task (--max-partitions)"
            ),
            Limit::MapOutput(b) => write!(
                f,
                "limit of {} of pairs emitted per map task (--max-map-output)",
                show_size(b)
            ),
            Limit::MapOutputPairs(n) => write!(
                f,
                "limit of {n} pairs emitted per map task (--max-map-output-pairs)"
            ),
        }
    }
}

/// Why a task attempt failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The plugin returned an error. Same input, same outcome: not retried.
    #[error("{task} failed{site}: {}", plugin_says(.message))]
    Plugin {
        /// The task.
        task: TaskId,
        /// What the failure was about.
        site: FailureSite,
        /// The plugin's message (shown quoted and inert).
        message: String,
        /// Whether the plugin blamed the record (`invalid-record`): then, at a record, the
        /// input is at fault; any other error is the plugin's own.
        bad_record: bool,
    },
    /// The plugin trapped (a panic, an out-of-bounds access, ...). Not retried.
    #[error("{task}: the plugin trapped{site}: {}{}", inert(.trap), stderr_tail(.stderr))]
    Trap {
        /// The task.
        task: TaskId,
        /// What the failure was about.
        site: FailureSite,
        /// The trap, as wasmtime describes it.
        trap: String,
        /// The end of what the plugin wrote to stderr (a Rust panic message, say).
        stderr: String,
    },
    /// The plugin exceeded a limit of the sandbox.
    #[error("{task}: the plugin exceeded its {limit}{site}; raise the limit if the job needs more")]
    LimitExceeded {
        /// The task.
        task: TaskId,
        /// Which limit.
        limit: Limit,
        /// What the plugin was working on.
        site: FailureSite,
    },
    /// The plugin broke the contract (bad offsets, a combiner that changed the key, ...).
    #[error("{task}: the plugin broke the sandmill:job contract{site}: {}", inert(.message))]
    Contract {
        /// The task.
        task: TaskId,
        /// What the failure was about.
        site: FailureSite,
        /// What it did wrong (it may quote the plugin's output; shown inert).
        message: String,
    },
    /// A reduce routed a record to an output partition whose name is not a safe directory
    /// (`crate::batch::check_partition_name`): a bad record, which `--max-bad-records`
    /// quarantines instead. Not retried.
    #[error("{task}: the plugin routed a record{site} to a bad output partition: {}", inert(.message))]
    PartitionName {
        /// The task.
        task: TaskId,
        /// The key whose reduce wrote the record.
        site: FailureSite,
        /// The partition, what is wrong with its name, and how to escape it (it quotes the
        /// plugin's name; shown inert).
        message: String,
    },
    /// A reduce task's output record does not fit `--output-schema` (a Parquet output): a bad
    /// record, which `--max-bad-records` quarantines instead. Not retried.
    #[error(
        "{task}: the plugin wrote an output record{site} that does not fit --output-schema: {}",
        inert(.message)
    )]
    OutputSchema {
        /// The task.
        task: TaskId,
        /// The key whose reduce wrote the record.
        site: FailureSite,
        /// Which record of the key's output, which field, and what is wrong (shown inert).
        message: String,
    },
    /// An input record does not fit the fields the job declares (`job-info.fields`): a bad
    /// record, which `--max-bad-records` quarantines instead; or a CSV header without a
    /// required field's column. Not retried.
    #[error(
        "{task}: the input{site} does not fit the fields the job declares: {}",
        inert(.message)
    )]
    BadField {
        /// The task.
        task: TaskId,
        /// The record, or the header row.
        site: FailureSite,
        /// Which field, what is wrong with it, and what to do.
        message: String,
    },
    /// Reading input failed.
    #[error("{task}")]
    Input {
        /// The task.
        task: TaskId,
        /// The input error.
        #[source]
        source: InputError,
    },
    /// More records were bad than `--max-bad-records` allows.
    #[error("more than {limit} bad records (--max-bad-records {limit}); the last one")]
    TooManyBadRecords {
        /// The allowance.
        limit: u64,
        /// The failure of the record that went over it.
        #[source]
        last: Box<TaskError>,
    },
    /// Run twice under `--verify`, the task wrote different output.
    #[error(
        "{task} is not deterministic: run twice (--verify), it wrote different output ({detail}); \
         its output cannot be trusted"
    )]
    Nondeterministic {
        /// The task.
        task: TaskId,
        /// What differed.
        detail: String,
    },
    /// Writing or reading the shuffle's spill files failed. Often transient: retryable.
    #[error("{task}: shuffle I/O failed")]
    Shuffle {
        /// The task.
        task: TaskId,
        /// The I/O error (it names the file).
        #[source]
        source: std::io::Error,
    },
    /// A committed map task's output file is damaged. Not retried within the run (it would
    /// read the same file), but the map task's commit is taken back, so running the job again
    /// recomputes it.
    #[error(
        "{task}: the output of {map} in {} is corrupt; {map} will run again when the job is \
         run again: run the same command",
        path.display()
    )]
    CorruptRun {
        /// The reduce task that read it.
        task: TaskId,
        /// The map task that wrote it.
        map: TaskId,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: std::io::Error,
    },
    /// The task failed in another process (`sandmill task run`), which said what and how.
    #[error("{}", named_once(*task, message))]
    Worker {
        /// The task.
        task: TaskId,
        /// How it failed.
        class: ExitClass,
        /// Whether another attempt may pass.
        retryable: bool,
        /// The process's error, on one line.
        message: String,
    },
    /// Writing or committing output failed. Often transient: retryable.
    #[error("{task}: cannot write {}", path.display())]
    Io {
        /// The task.
        task: TaskId,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The most of a plugin's stderr an error shows: its last lines, enough for a Rust panic's
/// message or the end of a Python or JavaScript traceback, in bytes and in lines.
const STDERR_SHOWN_BYTES: usize = 1536;
const STDERR_SHOWN_LINES: usize = 16;

/// The useful end of a plugin's stderr: its last non-blank lines (for a Rust panic, the
/// `panicked at` line and the message, without the note about `RUST_BACKTRACE`; for an
/// interpreter, the end of its traceback), up to `STDERR_SHOWN_*`, joined by ` | `, quoted and
/// inert.
pub(crate) fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let mut shown = 0;
    let mut bytes = 0;
    for line in lines.iter().rev() {
        if shown == STDERR_SHOWN_LINES || (shown > 0 && bytes + line.len() > STDERR_SHOWN_BYTES) {
            break;
        }
        shown += 1;
        bytes += line.len() + 3;
    }
    let first = lines.len() - shown;
    let mut tail = lines[first..].join(" | ");
    if tail.is_empty() {
        return String::new();
    }
    if first > 0 {
        tail.insert_str(0, "... | ");
    }
    let tail = crate::text::cut(tail, STDERR_SHOWN_BYTES + 64);
    format!(" (plugin stderr: {})", crate::text::quoted(&tail))
}

impl TaskError {
    /// Whether running the task again could succeed: I/O errors yes; the plugin's own failures
    /// on the same input, no. Nor a limit the plugin reached: tasks are deterministic, so a
    /// plugin that looped, ran out of memory or wrote too much once would again, and a retry
    /// would only multiply the time an endless loop costs.
    pub fn is_retryable(&self) -> bool {
        match self {
            TaskError::Io { .. } | TaskError::Shuffle { .. } => true,
            TaskError::Input { source, .. } => source.is_retryable(),
            TaskError::Worker { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Which class of failure this is, for the exit status.
    pub fn class(&self) -> ExitClass {
        match self {
            TaskError::Plugin {
                site, bad_record, ..
            } => match site {
                // The plugin said the record is bad: the input's fault.
                FailureSite::Record(_) | FailureSite::Records { .. } if *bad_record => {
                    ExitClass::BadInput
                }
                _ => ExitClass::Plugin,
            },
            TaskError::Trap { .. }
            | TaskError::PartitionName { .. }
            | TaskError::OutputSchema { .. }
            | TaskError::LimitExceeded { .. }
            | TaskError::Contract { .. }
            | TaskError::Nondeterministic { .. } => ExitClass::Plugin,
            TaskError::Input { source, .. } => source.class(),
            TaskError::TooManyBadRecords { .. } | TaskError::BadField { .. } => ExitClass::BadInput,
            TaskError::Shuffle { .. } | TaskError::Io { .. } | TaskError::CorruptRun { .. } => {
                ExitClass::Transient
            }
            TaskError::Worker { class, .. } => *class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_not_retried_and_io_errors_are() {
        let task = TaskId::Reduce(crate::task::PartitionId(0));
        let d = std::time::Duration::from_secs(1);
        for limit in [
            Limit::Memory(1),
            Limit::Time(d),
            Limit::TaskCpu(d),
            Limit::JobCpu(d),
            Limit::Fuel(1),
            Limit::CallData(1),
            Limit::Stack(1),
        ] {
            let err = TaskError::LimitExceeded {
                task,
                limit,
                site: FailureSite::Task,
            };
            assert!(!err.is_retryable(), "{err}");
        }
        let io = TaskError::Io {
            task,
            path: "x".into(),
            source: std::io::Error::other("disk hiccup"),
        };
        assert!(io.is_retryable());
    }

    #[test]
    fn a_panic_shows_its_message_not_the_backtrace_note() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:30:24:\nthis record was chosen \
                      to panic\nnote: run with `RUST_BACKTRACE=1` environment variable to display a \
                      backtrace\n";
        assert_eq!(
            stderr_tail(stderr),
            " (plugin stderr: \"thread '<unnamed>' panicked at src/lib.rs:30:24: | this record \
             was chosen to panic\")"
        );
        assert_eq!(stderr_tail(" \n"), "");
    }

    #[test]
    fn an_interpreters_traceback_shows_its_end_up_to_a_bound() {
        let mut stderr = String::from("Traceback (most recent call last):\n");
        for i in 0..40 {
            stderr.push_str(&format!(
                "  File \"job.py\", line {i}, in f{i}\n    f{}()\n",
                i + 1
            ));
        }
        stderr.push_str("ValueError: the \x1b[31mred\x1b[0m record\n");
        let tail = stderr_tail(&stderr);
        assert!(tail.starts_with(" (plugin stderr: \"... | "), "{tail}");
        assert!(
            tail.ends_with(
                "line 39, in f39 | f40() | ValueError: the \\u{1b}[31mred\\u{1b}[0m record\")"
            ),
            "{tail}"
        );
        assert_eq!(tail.matches(" | ").count(), STDERR_SHOWN_LINES, "{tail}");
        // One huge line is cut, not dropped.
        let tail = stderr_tail(&"x".repeat(1 << 20));
        assert!(tail.len() < STDERR_SHOWN_BYTES + 200, "{}", tail.len());
        assert!(tail.contains("xxxx"), "{tail}");
    }

    #[test]
    fn output_limits_name_their_value_and_flag_and_are_not_retried() {
        let task = TaskId::Reduce(crate::task::PartitionId(3));
        let cases = [
            (
                Limit::TaskOutput(10 << 30),
                "output limit of 10 GiB per reduce task (--max-task-output)",
            ),
            (
                Limit::JobOutput(1 << 20),
                "output limit of 1 MiB for the whole job (--max-output)",
            ),
            (Limit::JobOutput(1000), "output limit of 1000 bytes"),
            (
                Limit::TaskOutputRecords(5),
                "limit of 5 output records per reduce task (--max-task-output-records)",
            ),
            (
                Limit::JobOutputRecords(7),
                "limit of 7 output records for the whole job (--max-output-records)",
            ),
            (
                Limit::Partitions(1000),
                "limit of 1000 output partitions per reduce task (--max-partitions)",
            ),
            (
                Limit::MapOutput(1536),
                "limit of 1536 bytes of pairs emitted per map task (--max-map-output)",
            ),
            (
                Limit::MapOutputPairs(9),
                "limit of 9 pairs emitted per map task (--max-map-output-pairs)",
            ),
        ];
        for (limit, want) in cases {
            let err = TaskError::LimitExceeded {
                task,
                limit,
                site: FailureSite::Task,
            };
            let shown = err.to_string();
            assert!(
                shown.starts_with("reduce task 3 (partition 3): "),
                "{shown}"
            );
            assert!(shown.contains(want), "{shown} should say {want:?}");
            assert!(!err.is_retryable(), "{shown}");
        }
    }

    #[test]
    fn a_record_the_plugin_blames_is_bad_input_and_any_other_plugin_error_its_own_fault() {
        let task = TaskId::Reduce(crate::task::PartitionId(0));
        let at_record = FailureSite::Record(RecordLocation {
            path: "in.txt".into(),
            line: Some(3),
            offset: 10,
            row_group: None,
        });
        assert_eq!(at_record.to_string(), " at in.txt line 3 (byte 10)");
        let at_row = FailureSite::Record(RecordLocation {
            path: "in.parquet".into(),
            line: None,
            offset: 1010,
            row_group: Some(Box::new((2, 10))),
        });
        assert_eq!(
            at_row.to_string(),
            " at in.parquet row group 2 row 10 (row 1010 of the file)"
        );
        let error = |site: &FailureSite, bad_record| TaskError::Plugin {
            task,
            site: site.clone(),
            message: "no".into(),
            bad_record,
        };
        assert_eq!(error(&at_record, true).class(), ExitClass::BadInput);
        // A `failed` error (an uncaught exception, say) on a record is a bug in the job.
        assert_eq!(error(&at_record, false).class(), ExitClass::Plugin);
        let at_key = FailureSite::Key("\"k\"".into());
        assert_eq!(error(&at_key, true).class(), ExitClass::Plugin);
    }

    #[test]
    fn what_the_plugin_says_is_quoted_inert_and_on_one_line() {
        let task = TaskId::Reduce(crate::task::PartitionId(2));
        let forged = "\x1b[2J\r\nsandmill: job succeeded \u{202e}";
        let errors = [
            TaskError::Plugin {
                task,
                site: FailureSite::Key("\"k\"".into()),
                message: forged.into(),
                bad_record: false,
            },
            TaskError::Trap {
                task,
                site: FailureSite::Task,
                trap: forged.into(),
                stderr: format!("panicked at x:\n{forged}\n"),
            },
            TaskError::Contract {
                task,
                site: FailureSite::Task,
                message: forged.into(),
            },
        ];
        for err in &errors {
            let shown = err.to_string();
            assert!(!shown.chars().any(crate::text::is_active), "{shown}");
            assert!(shown.contains("\\u{1b}[2J\\r\\nsandmill"), "{shown}");
        }
        assert_eq!(
            errors[0].to_string(),
            "reduce task 2 (partition 2) failed on key \"k\": plugin says: \"\\u{1b}[2J\\r\\n\
             sandmill: job succeeded \\u{202e}\""
        );
        let params = Error::Params("bad \"x\"\n".into()).to_string();
        assert_eq!(
            params,
            "the plugin rejected its parameters: plugin says: \"bad \\\"x\\\"\\n\""
        );
    }
}
