//! The sandbox around one task attempt: what a plugin is granted (nothing), what it may use
//! (bounded memory, time, fuel, log and stdio), and how its failures are classified.

use super::bindings::sandmill::job::{host, types};
use super::budget::{Budget, JobCpu, OverBudget};
use super::clock::{HasClock, VirtualClock};
use super::stdio::BoundedPipe;
use crate::batch::ValueFeed;
use crate::error::Limit;
use crate::side_input::SideInputs;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Resource limits for each plugin instance (one per task attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Memory an instance may use, in bytes: all its linear memories and tables together.
    pub memory: u64,
    /// Wall-clock time one call into the plugin may take.
    pub call_timeout: Duration,
    /// CPU time one task attempt may use in the plugin, or `None` for no limit.
    pub task_cpu: Option<Duration>,
    /// CPU time all attempts of all tasks of a job may use in the plugin, or `None`.
    pub job_cpu: Option<Duration>,
    /// Fuel for one task attempt, or `None` for no fuel accounting (faster).
    pub fuel: Option<u64>,
    /// Bytes a plugin may hand the host in one call (its return value, or the arguments of one
    /// host call): wasmtime's "hostcall fuel", which bounds what the host allocates for it.
    pub call_data: usize,
    /// Bytes of log messages kept per attempt; the rest are counted and dropped.
    pub log_bytes: usize,
    /// Bytes of stdout and of stderr kept per attempt; the rest are counted and dropped.
    pub stdio_bytes: usize,
    /// Distinct counter names per attempt.
    pub counters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 1 << 30,
            call_timeout: Duration::from_secs(120),
            task_cpu: Some(Duration::from_secs(3600)),
            job_cpu: None,
            fuel: None,
            call_data: 128 << 20,
            log_bytes: 64 << 10,
            stdio_bytes: 64 << 10,
            counters: 256,
        }
    }
}

/// Core instances, memories and tables one plugin instance may create. A component is a few
/// core modules for Rust and C, a few dozen for Python; anything past these is an attack.
pub(super) const MAX_INSTANCES: usize = 100;
/// See [`MAX_INSTANCES`].
pub(super) const MAX_MEMORIES: usize = 10;
/// See [`MAX_INSTANCES`].
pub(super) const MAX_TABLES: usize = 100;
/// WASI resources (streams, pollables) alive at once in one instance.
pub(super) const MAX_WASI_RESOURCES: usize = 10_000;
/// Component-model handles alive at once in one instance.
pub(super) const MAX_COMPONENT_HANDLES: usize = 10_000;
/// The longest log message kept whole; longer ones are cut.
pub(super) const MAX_LOG_MESSAGE: usize = 4 << 10;
/// The longest counter name; updates to longer names are dropped.
pub(super) const MAX_COUNTER_NAME: usize = 256;
/// Bytes charged per table element: a table of functions is an array of pointers.
const TABLE_ELEMENT_BYTES: usize = 8;

/// The typed error our [`wasmtime::ResourceLimiter`] returns when an instance's memories and
/// tables together would grow past its limit.
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
    /// Bytes of stdout and stderr dropped past `Limits::stdio_bytes`.
    #[serde(default)]
    pub dropped_stdio_bytes: u64,
}

/// Everything a `Store` holds for one task attempt.
pub(super) struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    clock: VirtualClock,
    max_memory: usize,
    /// Bytes of memories and tables the instance holds now.
    memory_used: usize,
    /// The last growth allowed, to take back if it then failed.
    last_growth: usize,
    limits: Limits,
    pub(super) budget: Budget,
    log_bytes: usize,
    pub(super) log: AttemptLog,
    pub(super) feed: Option<Box<dyn ValueFeed>>,
    /// The job's side inputs, shared by every instance of the job.
    side_inputs: Arc<SideInputs>,
    stdout: BoundedPipe,
    stderr: BoundedPipe,
}

impl TaskState {
    /// A state that grants nothing: no files, env, args, network; clocks and randomness are
    /// fixed functions of `seed` and of what the plugin waited for, so an attempt sees the
    /// same values every time it runs.
    pub(super) fn new(
        limits: Limits,
        seed: u64,
        job_cpu: Arc<JobCpu>,
        side_inputs: Arc<SideInputs>,
    ) -> Self {
        use rand::SeedableRng;
        let stdout = BoundedPipe::new(limits.stdio_bytes);
        let stderr = BoundedPipe::new(limits.stdio_bytes);
        let clock = VirtualClock::default();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(clock.clone())
            .monotonic_clock(clock.clone())
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed))
            .insecure_random_seed(u128::from(seed));
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_WASI_RESOURCES);
        Self {
            wasi: wasi.build(),
            table,
            clock,
            max_memory: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            memory_used: 0,
            last_growth: 0,
            limits,
            budget: Budget::new(limits.call_timeout, limits.task_cpu, job_cpu),
            log_bytes: 0,
            log: AttemptLog::default(),
            feed: None,
            side_inputs,
            stdout,
            stderr,
        }
    }

    /// What the plugin has written to stderr so far.
    pub(super) fn stderr(&self) -> String {
        self.stderr.contents().0
    }

    /// The attempt's log, with stdio.
    pub(super) fn take_log(&mut self) -> AttemptLog {
        let mut log = std::mem::take(&mut self.log);
        let (stdout, dropped_out) = self.stdout.contents();
        let (stderr, dropped_err) = self.stderr.contents();
        log.stdout = stdout;
        log.stderr = stderr;
        log.dropped_stdio_bytes = dropped_out + dropped_err;
        log
    }

    /// Charges `bytes` more of memories or tables to the instance.
    fn grow(&mut self, bytes: usize) -> wasmtime::Result<bool> {
        let desired = self.memory_used.saturating_add(bytes);
        if desired > self.max_memory {
            return Err(MemoryExceeded {
                desired,
                max: self.max_memory,
            }
            .into());
        }
        self.memory_used = desired;
        self.last_growth = bytes;
        Ok(true)
    }

    /// Takes back the last growth, which wasmtime could not carry out.
    fn growth_failed(&mut self) {
        self.memory_used -= std::mem::take(&mut self.last_growth);
    }
}

impl HasClock for TaskState {
    fn clock(&self) -> &VirtualClock {
        &self.clock
    }
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
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

/// One budget for everything an instance allocates: the bytes of all its linear memories and
/// tables are added up against `Limits::memory`, and it may create only a few of each.
impl wasmtime::ResourceLimiter for TaskState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(desired.saturating_sub(current))
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.growth_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.growth_failed();
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl types::Host for TaskState {}

impl host::Host for TaskState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let message = crate::text::cut(message, MAX_LOG_MESSAGE);
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
        } else if counters.len() < self.limits.counters && name.len() <= MAX_COUNTER_NAME {
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

    fn side_input(&mut self, name: String, batch: u32) -> Result<Option<types::Records>, String> {
        let name = crate::text::cut(name, MAX_COUNTER_NAME);
        Ok(self
            .side_inputs
            .batch(&name, batch)?
            .map(|b| types::Records {
                data: b.data.clone(),
                ends: b.ends.clone(),
            }))
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
/// `wasmtime::Error`. Every limit, Sandmill's or wasmtime's, becomes a [`Limit`] that names
/// its value and flag; a trap is described by its cause, without wasm backtraces (whose
/// function names are the plugin's words).
pub(super) fn classify(err: wasmtime::Error, state: &TaskState) -> CallError {
    if let Some(OverBudget(limit)) = err.downcast_ref::<OverBudget>() {
        return CallError::Limit(*limit);
    }
    if let Some(m) = err.downcast_ref::<MemoryExceeded>() {
        return CallError::Limit(Limit::Memory(m.max as u64));
    }
    if err
        .downcast_ref::<wasmtime::component::ResourceTableError>()
        .is_some()
    {
        return CallError::Limit(Limit::Count {
            what: "WASI resources alive at once",
            max: MAX_WASI_RESOURCES,
        });
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallError::Trap {
            trap: format!(
                "the plugin called exit({}); a job reports failure by returning an error",
                exit.0
            ),
            stderr: state.stderr(),
        };
    }
    let trap = |trap: String| CallError::Trap {
        trap,
        stderr: state.stderr(),
    };
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => {
            return CallError::Limit(Limit::Fuel(state.limits.fuel.unwrap_or(0)));
        }
        Some(wasmtime::Trap::Interrupt) => {
            return CallError::Limit(Limit::Time(state.limits.call_timeout));
        }
        Some(wasmtime::Trap::StackOverflow) => {
            return CallError::Limit(Limit::Stack(super::engine::MAX_WASM_STACK));
        }
        Some(wasmtime::Trap::MemoryOutOfBounds) => {
            return trap(format!(
                "{} (also what a stack overflow in the plugin's own stack, in its linear \
                 memory, looks like: deep recursion?)",
                wasmtime::Trap::MemoryOutOfBounds
            ));
        }
        Some(other) => return trap(other.to_string()),
        None => {}
    }
    // Wasmtime's own limits are plain errors: recognise them by their text.
    let causes: Vec<String> = err
        .chain()
        .map(ToString::to_string)
        .filter(|c| !c.starts_with("error while executing at wasm backtrace"))
        .collect();
    let all = causes.join(": ");
    if all.contains("too much data is being copied between the host and the guest") {
        return CallError::Limit(Limit::CallData(state.limits.call_data));
    }
    for (desc, what, max) in [
        ("instance", "core instances", MAX_INSTANCES),
        ("memory", "linear memories", MAX_MEMORIES),
        ("table", "tables", MAX_TABLES),
    ] {
        if all.contains(&format!("resource limit exceeded: {desc} count too high")) {
            return CallError::Limit(Limit::Count { what, max });
        }
    }
    trap(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instantiates the core module `wat` `times` times in one store with `limits`.
    fn instantiate(wat: &str, times: usize, memory: u64) -> Result<(), CallError> {
        let engine = super::super::engine::engine(false);
        let module = wasmtime::Module::new(engine, wat::parse_str(wat).unwrap()).unwrap();
        let limits = Limits {
            memory,
            ..Limits::default()
        };
        let state = TaskState::new(limits, 0, JobCpu::new(None), SideInputs::none());
        let mut store = wasmtime::Store::new(engine, state);
        store.limiter(|state| state);
        for _ in 0..times {
            if let Err(err) = wasmtime::Instance::new(&mut store, &module, &[]) {
                return Err(classify(err, store.data()));
            }
        }
        Ok(())
    }

    fn memories(n: usize, pages: u32) -> String {
        let memories: String = (0..n).map(|_| format!("(memory {pages})")).collect();
        format!("(module {memories})")
    }

    #[test]
    fn memories_and_tables_of_an_instance_share_one_limit() {
        const MIB: u64 = 1 << 20;
        // Three memories of 1 MiB: over a 2 MiB limit together, though each fits.
        assert!(instantiate(&memories(3, 16), 1, 4 * MIB).is_ok());
        assert!(matches!(
            instantiate(&memories(3, 16), 1, 2 * MIB),
            Err(CallError::Limit(Limit::Memory(m))) if m == 2 * MIB
        ));
        // So do instances in one store: two of 1.5 MiB do not fit 2 MiB.
        assert!(matches!(
            instantiate(&memories(1, 24), 2, 2 * MIB),
            Err(CallError::Limit(Limit::Memory(_)))
        ));
        // A table of 300,000 functions is 2.4 MB of pointers.
        assert!(matches!(
            instantiate("(module (table 300000 funcref))", 1, 2 * MIB),
            Err(CallError::Limit(Limit::Memory(_)))
        ));
        assert!(instantiate("(module (table 300000 funcref))", 1, 4 * MIB).is_ok());
    }

    #[test]
    fn an_instance_may_create_only_a_few_memories_tables_and_instances() {
        let count = |r: Result<(), CallError>| match r {
            Err(CallError::Limit(Limit::Count { what, max })) => Some((what, max)),
            _ => None,
        };
        assert_eq!(
            count(instantiate(&memories(MAX_MEMORIES + 1, 0), 1, 1 << 30)),
            Some(("linear memories", MAX_MEMORIES))
        );
        assert!(instantiate(&memories(MAX_MEMORIES, 0), 1, 1 << 30).is_ok());
        // (Validation already caps one module's tables at 100; two instances pass the cap.)
        let tables: String = (0..=MAX_TABLES / 2).map(|_| "(table 0 funcref)").collect();
        let tables = format!("(module {tables})");
        assert!(instantiate(&tables, 1, 1 << 30).is_ok());
        assert_eq!(
            count(instantiate(&tables, 2, 1 << 30)),
            Some(("tables", MAX_TABLES))
        );
        assert!(instantiate("(module)", MAX_INSTANCES, 1 << 30).is_ok());
        assert_eq!(
            count(instantiate("(module)", MAX_INSTANCES + 1, 1 << 30)),
            Some(("core instances", MAX_INSTANCES))
        );
    }

    #[test]
    fn wasi_resources_are_capped() {
        let mut state = TaskState::new(Limits::default(), 0, JobCpu::new(None), SideInputs::none());
        for _ in 0..MAX_WASI_RESOURCES {
            state.table.push(()).unwrap();
        }
        let full = state.table.push(()).unwrap_err();
        assert!(matches!(
            classify(full.into(), &state),
            CallError::Limit(Limit::Count {
                max: MAX_WASI_RESOURCES,
                ..
            })
        ));
    }

    #[test]
    fn long_log_messages_are_cut_and_long_counter_names_dropped() {
        use super::host::Host as _;
        let mut state = TaskState::new(Limits::default(), 0, JobCpu::new(None), SideInputs::none());
        state.log(types::LogLevel::Info, "é".repeat(MAX_LOG_MESSAGE));
        let (_, kept) = &state.log.messages[0];
        assert!(kept.len() < MAX_LOG_MESSAGE + 64, "{}", kept.len());
        assert!(kept.ends_with(&format!("… ({} more bytes cut)", MAX_LOG_MESSAGE)));
        state.counter_add("n".repeat(MAX_COUNTER_NAME + 1), 1);
        assert!(state.log.counters.is_empty());
        assert_eq!(state.log.dropped_counters, 1);
    }
}
