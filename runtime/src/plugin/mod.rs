//! Loading a job plugin and running it, sandboxed. The only module that talks to wasmtime.
//!
//! Lifetimes follow wasmtime's: one [`Engine`] per process, one compiled component and
//! pre-instance per job ([`Plugin`], cheap to share across threads), and a fresh `Store` per
//! task attempt ([`PluginInstance`]), so a retried task never sees state from the attempt that
//! failed, and a trapped instance is never entered again.
//!
//! Payloads cross the boundary as flat buffers ([`Flat`], [`GroupBatch`]), moved in and out of
//! the generated binding types without copying.

mod bindings;
mod budget;
mod cache;
mod clock;
mod engine;
mod imports;
mod sandbox;
mod stdio;

pub use cache::{CacheOutcome, CompileCache};
pub use sandbox::{AttemptLog, CallError, Limits, LogLevel};

use crate::batch::{Flat, GroupBatch, OutputBatch, ValueFeed};
use crate::error::Error;
use crate::input::InputFormat;
use crate::project::{Field, FieldType};
use crate::shuffle::MergePolicy;
use crate::side_input::SideInputs;
use crate::task::TaskId;
use bindings::sandmill::job::types as wit;
use bindings::{Job, JobPre};
use budget::JobCpu;
use sandbox::TaskState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

/// The version of wasmtime plugins run on (recorded in every manifest).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The WIT world a plugin must implement.
pub const WORLD: &str = "sandmill:job/job@0.1.0";

/// How map output is combined, as the plugin declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combiner {
    /// Not combined.
    None,
    /// By the plugin's `combine-groups`.
    Plugin,
    /// Natively by the host.
    Merge(MergePolicy),
}

/// What the plugin said about itself when configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// How to combine map output.
    pub combiner: Combiner,
    /// The input fields it reads (checked by [`crate::project::check`]); empty: whole records.
    pub fields: Vec<Field>,
}

/// How the records of a batch for `map-batch` are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// As read from input of this format (Parquet rows as JSON objects).
    Input(InputFormat),
    /// Only the job's declared fields, parsed by the host ([`crate::project`]).
    Fields,
}

/// A compiled plugin, ready to instantiate once per task attempt. Cheap to share across
/// threads.
#[derive(Clone)]
pub struct Plugin {
    pre: JobPre<TaskState>,
    path: PathBuf,
    size: u64,
    limits: Limits,
    job_cpu: Arc<JobCpu>,
    compiled: Compiled,
    side_inputs: Arc<SideInputs>,
}

/// How a plugin's machine code was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// Time spent compiling or loading it.
    pub took: std::time::Duration,
    /// What the compile cache did, if there was one.
    pub cache: Option<CacheOutcome>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish()
    }
}

/// What kind of file a plugin path holds, from its first bytes.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |reason: &str| {
        Err(Error::PluginLoad {
            path: path.into(),
            reason: reason.into(),
        })
    };
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => fail(
            "it is a core WebAssembly module, not a component; build the plugin with \
             `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)",
        ),
        Some([0, b'a', b's', b'm', ..]) => {
            fail("it is a WebAssembly binary of an unsupported version; rebuild the plugin")
        }
        _ => fail("it is not a WebAssembly file (no `\\0asm` header); pass the plugin's .wasm"),
    }
}

impl Plugin {
    /// Reads, validates and compiles the component at `path`, or loads its machine code
    /// from `cache`.
    ///
    /// # Errors
    /// [`Error::PluginLoad`] if the file cannot be read, is not a component, or does not
    /// implement the `sandmill:job/job` world.
    pub fn from_file(
        path: &Path,
        limits: Limits,
        cache: Option<&CompileCache>,
    ) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::PluginLoad {
            path: path.into(),
            reason: format!("{e}; check the path"),
        })?;
        Self::from_bytes(path, &bytes, limits, cache)
    }

    /// Validates and compiles a component (or loads it from `cache`); `path` is only used in
    /// messages.
    ///
    /// # Errors
    /// As [`Plugin::from_file`].
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        limits: Limits,
        cache: Option<&CompileCache>,
    ) -> Result<Self, Error> {
        check_header(path, bytes)?;
        let load_error = |what: &str, err: wasmtime::Error| Error::PluginLoad {
            path: path.into(),
            reason: format!("{what}: {err:#}"),
        };
        let engine = engine::engine(limits.fuel.is_some());
        let started = std::time::Instant::now();
        let compile = || Component::new(engine, bytes);
        let (component, outcome) = match cache {
            Some(cache) => cache
                .load(engine, bytes, compile)
                .map(|(component, outcome)| (component, Some(outcome))),
            None => compile().map(|component| (component, None)),
        }
        .map_err(|e| load_error("it is not a valid component", e))?;
        let compiled = Compiled {
            took: started.elapsed(),
            cache: outcome,
        };
        let linker = linker(engine).map_err(|e| load_error("internal: cannot link the host", e))?;
        let wrong_world = |e| {
            load_error(
                &format!(
                    "it does not implement the {WORLD} world (build it against wit/job.wit, \
                     e.g. with sandmill-sdk's export_job!)"
                ),
                e,
            )
        };
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            let missing = imports::unprovided(engine, &component);
            if missing.is_empty() {
                return wrong_world(e);
            }
            Error::PluginLoad {
                path: path.into(),
                reason: format!(
                    "it imports {} that Sandmill does not provide: {} ({})",
                    if missing.len() == 1 {
                        "an interface"
                    } else {
                        "interfaces"
                    },
                    missing.join(", "),
                    imports::hint(&missing)
                ),
            }
        })?;
        let pre = JobPre::new(instance_pre).map_err(wrong_world)?;
        Ok(Self {
            pre,
            path: path.into(),
            size: bytes.len() as u64,
            limits,
            job_cpu: JobCpu::new(limits.job_cpu),
            compiled,
            side_inputs: SideInputs::none(),
        })
    }

    /// The plugin with the job's side inputs, which every instance made from now on reads
    /// (`host.side-input`).
    #[must_use]
    pub fn with_side_inputs(self, side_inputs: Arc<SideInputs>) -> Self {
        Self {
            side_inputs,
            ..self
        }
    }

    /// The side inputs its instances read.
    pub fn side_inputs(&self) -> &SideInputs {
        &self.side_inputs
    }

    /// The CPU time the job's plugin has used so far, over every task attempt.
    pub fn cpu_used(&self) -> std::time::Duration {
        self.job_cpu.used()
    }

    /// How its machine code was obtained.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The plugin's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the plugin file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A fresh instance for one task attempt, configured with the job's parameters.
    ///
    /// # Errors
    /// If the plugin traps while starting, or rejects the parameters.
    pub fn instantiate(
        &self,
        task: TaskId,
        params: &[(String, String)],
    ) -> Result<(PluginInstance, JobInfo), CallError> {
        let state = TaskState::new(
            self.limits,
            task.seed(),
            self.job_cpu.clone(),
            self.side_inputs.clone(),
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| state);
        store.set_hostcall_fuel(self.limits.call_data);
        store.set_max_component_handles(sandbox::MAX_COMPONENT_HANDLES);
        // Every tick, charge the CPU used and check the time limits (see `budget`).
        store.epoch_deadline_callback(|mut store| {
            store.data_mut().budget.check()?;
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        if let Some(fuel) = self.limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| sandbox::classify(e, store.data()))?;
        }
        start_call(&mut store);
        let job = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| sandbox::classify(e, store.data()))?;
        // Start functions ran on this thread: charge them before `configure` starts its clock.
        store
            .data_mut()
            .budget
            .check()
            .map_err(|budget::OverBudget(limit)| CallError::Limit(limit))?;
        let mut instance = PluginInstance { job, store };
        let info = instance.call(|job, store| job.call_configure(store, params))?;
        let combiner = match info.combiner {
            wit::Combiner::None => Combiner::None,
            wit::Combiner::Plugin => Combiner::Plugin,
            wit::Combiner::Merge(m) => Combiner::Merge(merge_policy(m)),
        };
        let fields: Vec<Field> = info
            .fields
            .into_iter()
            .map(|f| Field {
                name: f.name,
                ty: match f.type_ {
                    wit::FieldType::S64 => FieldType::I64,
                    wit::FieldType::F64 => FieldType::F64,
                    wit::FieldType::String => FieldType::Str,
                    wit::FieldType::Bool => FieldType::Bool,
                },
                optional: f.optional,
            })
            .collect();
        crate::project::check(&fields)
            .map_err(|e| CallError::Contract(format!("configure: {e}")))?;
        Ok((instance, JobInfo { combiner, fields }))
    }

    /// The names of the component's imports and exports, for `sandmill inspect`.
    pub fn describe(&self) -> Description {
        let component = self.pre.instance_pre().component();
        let engine = self.pre.engine();
        let ty = component.component_type();
        Description {
            imports: ty
                .imports(engine)
                .map(|(name, _)| name.to_string())
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(name, _)| name.to_string())
                .collect(),
        }
    }
}

/// What a plugin may import: WASI 0.2 (with nothing granted, see `sandbox`), the deterministic
/// clocks, and the `sandmill:job/host` interface.
fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<TaskState>> {
    let mut linker = Linker::<TaskState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    clock::add_to_linker(&mut linker)?;
    Job::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
    Ok(linker)
}

/// The shuffle's name for the native merge a plugin declared (the WIT binding's enum is
/// generated here, and the shuffle must not depend on the plugin module).
fn merge_policy(m: wit::MergePolicy) -> MergePolicy {
    match m {
        wit::MergePolicy::Sum => MergePolicy::Sum,
        wit::MergePolicy::Min => MergePolicy::Min,
        wit::MergePolicy::Max => MergePolicy::Max,
        wit::MergePolicy::Count => MergePolicy::Count,
        wit::MergePolicy::First => MergePolicy::First,
        wit::MergePolicy::Last => MergePolicy::Last,
        wit::MergePolicy::Append => MergePolicy::Append,
    }
}

/// A plugin's imports and exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Imported interfaces and functions.
    pub imports: Vec<String>,
    /// Exported interfaces and functions.
    pub exports: Vec<String>,
}

/// Pairs a plugin returned, checked: two ends per pair, in order, within the data.
fn checked_pairs(call: &str, pairs: wit::Pairs) -> Result<Flat, CallError> {
    let pairs = Flat {
        data: pairs.data,
        ends: pairs.ends,
    };
    if !pairs.ends.len().is_multiple_of(2) {
        return Err(CallError::Contract(format!(
            "{call} returned an odd number of ends"
        )));
    }
    pairs
        .validate()
        .map_err(|e| CallError::Contract(format!("{call}: {e}")))?;
    Ok(pairs)
}

/// Starts the clock of the next call into the plugin: its full `call_timeout`, and a check of
/// every limit at the next epoch tick.
fn start_call(store: &mut Store<TaskState>) {
    store.data_mut().budget.start_call();
    store.set_epoch_deadline(1);
}

/// One instance of a plugin, for one task attempt. After any error it must be dropped: a
/// trapped instance cannot be entered again.
pub struct PluginInstance {
    job: Job,
    store: Store<TaskState>,
}

impl PluginInstance {
    /// Calls `f` with a fresh deadline and classifies what goes wrong.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Job, &mut Store<TaskState>) -> wasmtime::Result<Result<T, wit::JobError>>,
    ) -> Result<T, CallError> {
        start_call(&mut self.store);
        let result = f(&self.job, &mut self.store);
        // Charge what the call used after its last tick; a call that returned in time may
        // still have used up the attempt's or the job's CPU.
        let charged = self.store.data_mut().budget.check();
        match result {
            Ok(Ok(v)) => match charged {
                Ok(()) => Ok(v),
                Err(budget::OverBudget(limit))
                    if !matches!(limit, crate::error::Limit::Time(_)) =>
                {
                    Err(CallError::Limit(limit))
                }
                Err(_) => Ok(v),
            },
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(sandbox::classify(e, self.store.data())),
        }
    }

    /// Maps a batch of records of one file. `records` is lent to the plugin and given back
    /// unchanged, so its buffers are reused.
    ///
    /// # Errors
    /// The plugin's error, trap or limit, or output that breaks the contract.
    pub fn map_batch(
        &mut self,
        format: BatchFormat,
        header: &[u8],
        records: &mut Flat,
    ) -> Result<Flat, CallError> {
        let (format, header) = match format {
            // Parquet rows reach the plugin as JSON objects.
            BatchFormat::Input(format) => match format.plugin_format() {
                InputFormat::Lines => (wit::InputFormat::Lines, &[][..]),
                InputFormat::JsonLines | InputFormat::Parquet => (wit::InputFormat::Jsonl, &[][..]),
                InputFormat::Csv => (wit::InputFormat::Csv, header),
            },
            BatchFormat::Fields => (wit::InputFormat::Fields, &[][..]),
        };
        let batch = wit::InputBatch {
            format,
            header: header.to_vec(),
            records: wit::Records {
                data: std::mem::take(&mut records.data),
                ends: std::mem::take(&mut records.ends),
            },
        };
        let result = self.call(|job, store| job.call_map_batch(store, &batch));
        records.data = batch.records.data;
        records.ends = batch.records.ends;
        let pairs = result?;
        checked_pairs("map-batch", pairs)
    }

    /// Combines a batch of groups into pairs.
    ///
    /// # Errors
    /// As [`PluginInstance::map_batch`].
    pub fn combine_groups(
        &mut self,
        groups: &mut GroupBatch,
        feed: Option<Box<dyn ValueFeed>>,
    ) -> Result<Flat, CallError> {
        let pairs = self.with_groups(groups, feed, |job, store, batch| {
            job.call_combine_groups(store, batch)
        })?;
        checked_pairs("combine-groups", pairs)
    }

    /// Reduces a batch of groups to output records, checked for their layout; the names of
    /// the partitions they are routed to are the caller's to check, record by record.
    ///
    /// # Errors
    /// As [`PluginInstance::map_batch`].
    pub fn reduce_groups(
        &mut self,
        groups: &mut GroupBatch,
        feed: Option<Box<dyn ValueFeed>>,
    ) -> Result<OutputBatch, CallError> {
        let output = self.with_groups(groups, feed, |job, store, batch| {
            job.call_reduce_groups(store, batch)
        })?;
        let output = OutputBatch {
            records: Flat {
                data: output.records.data,
                ends: output.records.ends,
            },
            partitions: output.partitions,
            routes: output.routes,
            group_ends: output.group_ends,
        };
        output
            .validate(groups.len())
            .map_err(|e| CallError::Contract(format!("reduce-groups: {e}")))?;
        Ok(output)
    }

    /// Lends `groups` to the plugin for one call (and `feed` for the pulls of a continuing
    /// last group), then takes both back.
    fn with_groups<T>(
        &mut self,
        groups: &mut GroupBatch,
        feed: Option<Box<dyn ValueFeed>>,
        f: impl FnOnce(
            &Job,
            &mut Store<TaskState>,
            &wit::Groups,
        ) -> wasmtime::Result<Result<T, wit::JobError>>,
    ) -> Result<T, CallError> {
        let take = |flat: &mut Flat| wit::Records {
            data: std::mem::take(&mut flat.data),
            ends: std::mem::take(&mut flat.ends),
        };
        let batch = wit::Groups {
            keys: take(&mut groups.keys),
            values: take(&mut groups.values),
            group_ends: std::mem::take(&mut groups.group_ends),
            last_continues: groups.last_continues,
        };
        self.store.data_mut().feed = feed;
        let result = self.call(|job, store| f(job, store, &batch));
        self.store.data_mut().feed = None;
        groups.keys = Flat {
            data: batch.keys.data,
            ends: batch.keys.ends,
        };
        groups.values = Flat {
            data: batch.values.data,
            ends: batch.values.ends,
        };
        groups.group_ends = batch.group_ends;
        result
    }

    /// Ends the attempt, returning its logs and counters.
    pub fn finish(mut self) -> AttemptLog {
        self.store.data_mut().take_log()
    }
}
