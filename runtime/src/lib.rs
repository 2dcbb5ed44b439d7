//! Sandmill runs map/reduce jobs written as WebAssembly components, sandboxed, in parallel
//! over split input, and commits their output atomically.
//!
//! # Brief overview
//!
//! A [`JobSpec`] names a plugin (a component implementing the `sandmill:job` world, see
//! `wit/job.wit`), its inputs and its output. [`run`] plans input splits, runs a map task per
//! split, shuffles the map output natively (partition, sort, combine), runs a reduce task per
//! partition, and publishes the output directory only when every task has succeeded.
//!
//! ```no_run
//! let spec = sandmill::JobSpec::builder("wordcount.wasm")
//!     .input("books/")
//!     .output("counts")
//!     .reducers(4)
//!     .build()?;
//! let report = sandmill::run(&spec, &sandmill::Quiet)?;
//! println!("{} records in", report.map.counts.records_in);
//! # Ok::<(), sandmill::Error>(())
//! ```
//!
//! # From `sandmill run` to a published version
//!
//! [`schedule::run`] is the whole path, in five steps:
//!
//! 1. [`plan`]: resolve the inputs, configure the plugin once, cut the splits; every task
//!    is then plain data, a [`plan::TaskSpec`] (JSON for another process);
//! 2. the map tasks, run by an executor (`executor`: the local thread pool, or a
//!    `sandmill task run` process per attempt) — each task is `worker::run_task`, a function
//!    of its spec and the storage it is handed: `map` reads a split and hands pairs to the
//!    `shuffle`, `--verify` checks it, and `commit` records it by first-writer-wins;
//! 3. the barrier: each partition's runs, in split order, become the reduce tasks' specs;
//! 4. the reduce tasks, run the same way (`reduce` merges the runs and writes part files);
//! 5. `publish`: the manifest, `_SUCCESS` and the atomic switch to the new version
//!    ([`dataset`]).
//!
//! [`explain`] (`sandmill run --dry-run`) stops after step 1 and reports the plan.
//!
//! Modules depend on each other in one direction only:
//!
//! ```text
//! pipeline → {schedule, remote (through `run`), dataset}
//! remote → {schedule, plan, executor, worker, publish, object}
//! schedule → {plan, executor, publish, gate}      explain → {plan, dataset}
//! publish → {commit, gate}          gate → {dataset, columnar}
//! executor → worker → {plan, map, reduce, combine}      combine → {plugin, shuffle, map}
//! plan → {spec, plugin, input, sample}      map, reduce → {plugin, input, shuffle, commit}
//! sample → {map, plugin, input}      (range partitioning's sample of map output keys)
//! map, sample → project              (declared fields, parsed by the host)
//! commit → dataset                  plugin → {shuffle (its merge policies), project}
//! plugin → side_input → input         (`--side-input`: read once, shared by every task)
//! input → object → dataset
//! ```
//!
//! [`run`] picks [`schedule::run`] for a job on this machine's disk, and [`remote::run`] for
//! one with an `s3://` output or `--executor ray`, whose tasks share no disk: they read and
//! commit through [`object`] storage.
//!
//! and all of them on the leaves `error`, `task`, `quota`, `text`, `batch`, `cleanup`, `columnar`
//! (rows as JSON and as Arrow columns, for Parquet), `project` (a job's declared input
//! fields, parsed natively), the last two on `scan` (a JSON scanner over one record). Only [`plugin`]
//! talks to wasmtime; `input`, `project`, `shuffle`, `commit`, `dataset` and `object` are plain Rust,
//! tested without a plugin, and all file and object access goes through them. A test holds these rules.
#![deny(missing_docs)]

pub(crate) mod batch;
#[doc(hidden)] // For the `sandmill` binary's signal handler.
pub mod cleanup;
pub mod columnar;
pub(crate) mod combine;
pub(crate) mod commit;
pub mod dataset;
pub mod error;
pub(crate) mod executor;
pub mod explain;
#[doc(hidden)] // For Sandmill's own fault tests.
pub mod failpoint;
pub mod gate;
pub mod input;
pub(crate) mod map;
pub mod object;
pub mod pipeline;
pub mod plan;
pub mod plugin;
pub mod project;
pub(crate) mod publish;
pub mod quota;
pub(crate) mod reduce;
pub mod remote;
pub(crate) mod sample;
pub(crate) mod scan;
pub mod schedule;
#[doc(hidden)] // For the spill-bounds test binary, which needs an allocator of its own.
pub mod shuffle;
pub mod side_input;
pub mod spec;
pub mod task;
pub mod text;
pub(crate) mod usage;
pub(crate) mod worker;

pub use worker::TaskResult;

pub use error::{Error, TaskError};
pub use input::InputFormat;
pub use schedule::{JobReport, Observer, Phase, Quiet};
pub use spec::{JobSpec, JobSpecBuilder};

/// Runs a job to completion and publishes its output as a new version of its dataset: on this
/// machine ([`schedule::run`]), or, for an output on object storage or `--executor ray`, with
/// tasks that share no disk ([`remote::run`]).
///
/// # Errors
/// Anything that stops the job; the dataset then still shows its previous version.
pub fn run(spec: &JobSpec, observer: &dyn Observer) -> Result<JobReport, Error> {
    if spec.is_remote() {
        remote::run(spec, observer)
    } else {
        schedule::run(spec, observer)
    }
}

/// Runs one task in this process from its spec, as `sandmill task run --spec FILE` does:
/// against the work directory of the run that planned it ([`worker::run_task_alone`]), or
/// for a job on object storage, against the store ([`remote::task::run_task`]).
///
/// # Errors
/// Anything that stops the task.
pub fn run_task_alone(
    spec: &plan::TaskSpec,
    compile_key: Option<[u8; 32]>,
) -> Result<worker::TaskDone, Error> {
    if spec.job.is_remote() {
        remote::task::run_task(spec, compile_key)
    } else {
        worker::run_task_alone(spec, compile_key)
    }
}

#[cfg(test)]
mod module_graph {
    //! The dependency rules of the crate docs, checked on the sources.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each top-level module and the modules its code (not its comments or tests) names.
    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut todo = vec![src.clone()];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if path.is_dir() {
                    if relative != "bin" {
                        todo.push(path);
                    }
                    continue;
                }
                let module = relative.split('/').next().unwrap().trim_end_matches(".rs");
                if module == "lib" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
                let deps = graph.entry(module.to_owned()).or_default();
                for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
                    for (i, _) in line.match_indices("crate::") {
                        let name: String = line[i + 7..]
                            .chars()
                            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                            .collect();
                        if name != module {
                            deps.insert(name);
                        }
                    }
                    if line.contains("wasmtime::") || line.contains("wasmtime_wasi::") {
                        deps.insert("wasmtime".to_owned());
                    }
                    if line.contains("std::fs") {
                        deps.insert("std::fs".to_owned());
                    }
                }
            }
        }
        graph
    }

    /// A cycle through `from`, if there is one.
    fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_owned()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                if next == from {
                    return Some([path.clone(), vec![next.clone()]].concat());
                }
                if seen.insert(next.clone()) {
                    stack.push([path.clone(), vec![next.clone()]].concat());
                }
            }
        }
        None
    }

    #[test]
    fn modules_depend_in_one_direction_and_only_plugin_on_wasmtime() {
        let graph = graph();
        assert!(graph.len() > 20, "{graph:?}");
        for module in graph.keys() {
            if let Some(cycle) = cycle(&graph, module) {
                panic!(
                    "modules depend on each other in a cycle: {}",
                    cycle.join(" → ")
                );
            }
        }
        for (module, deps) in &graph {
            if module != "plugin" {
                assert!(!deps.contains("wasmtime"), "{module} uses wasmtime");
            }
        }
        // Files are the business of the storage modules (so that object storage can replace
        // them); the modules that plan, schedule and run tasks only name what they need.
        let storage_free = [
            "schedule", "plan", "executor", "worker", "publish", "map", "reduce", "explain",
            "remote",
        ];
        for module in storage_free {
            assert!(
                !graph[module].contains("std::fs"),
                "{module} touches files itself"
            );
        }
        let above = [
            "plugin", "map", "reduce", "worker", "executor", "schedule", "plan", "publish",
            "remote",
        ];
        for plain in [
            "input",
            "shuffle",
            "commit",
            "dataset",
            "object",
            "side_input",
            "project",
        ] {
            for module in above {
                assert!(
                    !graph[plain].contains(module),
                    "{plain} depends on {module}: {:?}",
                    graph[plain]
                );
            }
        }
    }
}
