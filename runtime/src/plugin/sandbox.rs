//! The sandbox around one task attempt: what a plugin is granted (nothing), what it may use
//! (bounded memory, time, fuel, log and stdio), and how its failures are classified.

use super::bindings::sandmill::job::{host, types};
use crate::batch::ValueFeed;
use crate::error::Limit;
use std::collections::BTreeMap;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Resource limits for each plugin instance (one per task attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory an instance may grow to, in bytes.
    pub memory: u64,
    /// Wall-clock time one call into the plugin may take (an epoch deadline).
    pub call_timeout: Duration,
    /// Fuel for one task attempt, or `None` for no fuel accounting (faster).
    pub fuel: Option<u64>,
    /// Bytes of log messages kept per attempt; the rest are counted and dropped.
    pub log_bytes: usize,
    /// Bytes of stdout and of stderr kept per attempt.
    pub stdio_bytes: usize,
    /// Distinct counter names per attempt.
    pub counters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 1 << 30,
            call_timeout: Duration::from_secs(300),
            fuel: None,
            log_bytes: 64 << 10,
            stdio_bytes: 64 << 10,
            counters: 256,
        }
    }
}

/// How often the epoch ticks: the granularity of `call_timeout`.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(50);

/// The typed error our [`wasmtime::ResourceLimiter`] returns when a memory would grow too far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("memory growth to {desired} bytes exceeds the limit of {max} bytes")]
pub(super) struct MemoryExceeded {
    pub(super) desired: usize,
    pub(super) max: usize,
}

/// How serious a plugin log message is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum LogLevel {
    /// Fine detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// What a task attempt left behind besides its output: logs, counters, stdio. Kept only if
/// the attempt commits, so a retried task does not count twice.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptLog {
    /// Log messages, in order.
    pub messages: Vec<(LogLevel, String)>,
    /// Messages dropped because `Limits::log_bytes` was reached.
    pub dropped_messages: u64,
    /// Named counters.
    pub counters: BTreeMap<String, i64>,
    /// Counter updates dropped because `Limits::counters` was reached.
    pub dropped_counters: u64,
    /// What the plugin wrote to stdout (at most `Limits::stdio_bytes`).
    pub stdout: String,
    /// What the plugin wrote to stderr (at most `Limits::stdio_bytes`).
    pub stderr: String,
}

/// Everything a `Store` holds for one task attempt.
pub(super) struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    max_memory: usize,
    limits: Limits,
    log_bytes: usize,
    pub(super) log: AttemptLog,
    pub(super) feed: Option<Box<dyn ValueFeed>>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl TaskState {
    /// A state that grants nothing: no files, env, args, network; clocks and randomness are
    /// fixed functions of `seed`, so an attempt sees the same values every time it runs.
    pub(super) fn new(limits: Limits, seed: u64) -> Self {
        use rand::SeedableRng;
        let stdout = MemoryOutputPipe::new(limits.stdio_bytes);
        let stderr = MemoryOutputPipe::new(limits.stdio_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed))
            .insecure_random_seed(u128::from(seed));
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            max_memory: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            limits,
            log_bytes: 0,
            log: AttemptLog::default(),
            feed: None,
            stdout,
            stderr,
        }
    }

    /// What the plugin has written to stderr so far.
    pub(super) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// The attempt's log, with stdio.
    pub(super) fn take_log(&mut self) -> AttemptLog {
        let mut log = std::mem::take(&mut self.log);
        log.stdout = String::from_utf8_lossy(&self.stdout.contents()).into_owned();
        log.stderr = self.stderr();
        log
    }
}

/// Clocks that always say the same thing: a plugin cannot observe time, so reruns agree.
struct FixedClock;

impl wasmtime_wasi::HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime::ResourceLimiter for TaskState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            return Err(MemoryExceeded {
                desired,
                max: self.max_memory,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Each element is a pointer: keep tables within a small share of the memory limit.
        Ok(desired <= (self.max_memory / 64).max(10_000))
    }
}

impl types::Host for TaskState {}

impl host::Host for TaskState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        if self.log_bytes + message.len() > self.limits.log_bytes {
            self.log.dropped_messages += 1;
            return;
        }
        self.log_bytes += message.len();
        let level = match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Warn => LogLevel::Warn,
            types::LogLevel::Error => LogLevel::Error,
        };
        self.log.messages.push((level, message));
    }

    fn counter_add(&mut self, name: String, delta: i64) {
        let counters = &mut self.log.counters;
        if let Some(value) = counters.get_mut(&name) {
            *value = value.wrapping_add(delta);
        } else if counters.len() < self.limits.counters && name.len() <= 256 {
            counters.insert(name, delta);
        } else {
            self.log.dropped_counters += 1;
        }
    }

    fn next_values(&mut self) -> Option<types::Records> {
        let chunk = self.feed.as_mut()?.next_chunk()?;
        Some(types::Records {
            data: chunk.data,
            ends: chunk.ends,
        })
    }
}

/// Why one call into the plugin failed.
#[derive(Debug)]
pub enum CallError {
    /// The plugin returned `invalid-record` for item `index` of the batch.
    Record {
        /// The record's (or group's) index in the batch.
        index: usize,
        /// The plugin's message.
        message: String,
    },
    /// The plugin returned `invalid-params`.
    Params(String),
    /// The plugin returned `failed`.
    Failed(String),
    /// The plugin trapped.
    Trap {
        /// The trap, as wasmtime describes it.
        trap: String,
        /// The end of the plugin's stderr.
        stderr: String,
    },
    /// The plugin ran out of memory, time or fuel.
    Limit(Limit),
    /// The plugin returned data that breaks the contract.
    Contract(String),
}

impl CallError {
    /// Whether this is a trap (a panic, say), whose culprit may be found by rerunning parts of
    /// the batch in fresh instances.
    pub fn is_trap(&self) -> bool {
        matches!(
            self,
            CallError::Trap { .. } | CallError::Limit(Limit::Memory(_))
        )
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Record { index, message } => write!(f, "record {index}: {message}"),
            CallError::Params(m) => write!(f, "invalid parameters: {m}"),
            CallError::Failed(m) => write!(f, "{m}"),
            CallError::Trap { trap, stderr } => {
                write!(
                    f,
                    "the plugin trapped: {trap}{}",
                    crate::error::stderr_tail(stderr)
                )
            }
            CallError::Limit(limit) => write!(f, "the plugin exceeded its {limit}"),
            CallError::Contract(m) => write!(f, "the plugin broke the sandmill:job contract: {m}"),
        }
    }
}

impl From<types::JobError> for CallError {
    fn from(err: types::JobError) -> Self {
        // A plugin's message is kept only up to a bound: it is stored, printed and written to
        // `_rejects.jsonl`, and a plugin could make it as large as its memory.
        let cut = |m| crate::text::cut(m, crate::text::MAX_PLUGIN_TEXT);
        match err {
            types::JobError::InvalidRecord(r) => CallError::Record {
                index: r.index as usize,
                message: cut(r.message),
            },
            types::JobError::InvalidParams(m) => CallError::Params(cut(m)),
            types::JobError::Failed(m) => CallError::Failed(cut(m)),
        }
    }
}

/// Classifies an error from a call into the plugin. The only place that looks inside a
/// `wasmtime::Error`.
pub(super) fn classify(err: wasmtime::Error, state: &TaskState) -> CallError {
    if let Some(m) = err.downcast_ref::<MemoryExceeded>() {
        return CallError::Limit(Limit::Memory(m.max as u64));
    }
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => {
            CallError::Limit(Limit::Fuel(state.limits.fuel.unwrap_or(0)))
        }
        Some(wasmtime::Trap::Interrupt) => CallError::Limit(Limit::Time(state.limits.call_timeout)),
        Some(trap) => CallError::Trap {
            trap: trap.to_string(),
            stderr: state.stderr(),
        },
        None => CallError::Trap {
            trap: format!("{err:#}"),
            stderr: state.stderr(),
        },
    }
}
