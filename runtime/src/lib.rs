//! Sandmill runs map/reduce jobs written as WebAssembly components, sandboxed, in parallel
//! over split input, and commits their output atomically.
//!
//! # Brief overview
//!
//! A [`JobSpec`] names a plugin (a component implementing the `sandmill:job` world, see
//! `wit/job.wit`), its inputs and its output. [`run`] plans input splits, runs a map task per
//! split on a thread pool, shuffles the map output natively (partition, sort, combine), runs a
//! reduce task per partition, and publishes the output directory only when every task has
//! succeeded.
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
//! Modules depend on each other in one direction only:
//! `schedule → {map, reduce} → {plugin, input, shuffle, commit}`. Only [`plugin`] talks to
//! wasmtime; `input`, `shuffle` and `commit` are plain Rust, tested without a plugin.
#![deny(missing_docs)]

pub mod batch;
pub mod cleanup;
pub mod commit;
pub mod dataset;
pub mod error;
pub mod executor;
pub mod failpoint;
pub mod input;
pub mod map;
pub mod plan;
pub mod plugin;
pub mod publish;
pub mod quota;
pub mod reduce;
pub mod schedule;
pub mod shuffle;
pub mod spec;
pub mod task;
pub mod text;
pub mod usage;
pub mod worker;

pub use error::{Error, TaskError};
pub use input::InputFormat;
pub use schedule::{JobReport, Observer, Phase, Quiet, run};
pub use spec::{JobSpec, JobSpecBuilder};
