#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Lets the generated bindings name this crate as `::sandmill_sdk` from inside it too.
extern crate self as sandmill_sdk;

pub mod codec;
mod emit;
mod error;
mod fields;
mod params;
pub mod partition;
mod record;
mod side_input;
pub mod testing;
pub mod text;
mod values;

pub use emit::{Emitter, Field, Fields, Output};
pub use error::{Error, Result};
pub use fields::{FieldType, InputField};
pub use params::Params;
pub use partition::Partition;
pub use record::{Format, Record};
pub use side_input::{SideInput, side_input};
pub use values::Values;

/// A merge the host runs natively to combine the values of one key, without calling the job.
///
/// A combiner may run zero or more times on any subset of a key's values, so `reduce` must give
/// the same answer for combined and uncombined values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Lane-wise sum of values in the [`codec::i64_lanes`] encoding.
    Sum,
    /// The smallest value in byte order.
    Min,
    /// The largest value in byte order.
    Max,
    /// Sum of one-lane [`codec::i64_key`] counts.
    Count,
    /// The first value in byte order.
    First,
    /// The last value in byte order.
    Last,
    /// All values concatenated, in byte order.
    Append,
}

/// How the values of one key may be combined before they reach `reduce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Combiner {
    /// Never combine (the default).
    #[default]
    None,
    /// Call [`Job::combine`].
    Plugin,
    /// Let the host merge values natively: much faster than calling the job.
    Merge(Merge),
}

/// A map/reduce job. Implement it for a type with a `Default` and pass the type to
/// [`export_job!`].
///
/// One instance serves one task attempt: the host makes a fresh instance (and calls
/// [`configure`](Job::configure)) for every task, so nothing carries over between tasks, and
/// `&mut self` is free to hold scratch buffers.
pub trait Job: Default + 'static {
    /// Reads the job's `--param k=v` pairs. The default accepts none.
    ///
    /// # Errors
    /// [`Error::params`] if a parameter is unknown or malformed: the job does not start.
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&[])
    }

    /// How map output may be combined. The default is [`Combiner::None`].
    fn combiner(&self) -> Combiner {
        Combiner::None
    }

    /// The input fields `map` reads, and their types. The default, none, hands `map` every
    /// record as it is in the input. When a job declares fields and reads JSON Lines, CSV or
    /// Parquet, Sandmill parses each record on the host, natively, and `map` gets a
    /// [`Format::Fields`] record holding only these fields, typed, read by their index here
    /// with [`Record::i64`], [`Record::str`], [`Record::f64`] and [`Record::bool`] (and
    /// `opt_` for optional ones). A record whose field is missing or of another type is a bad
    /// record, named by file and line, and `map` is not called for it. Much faster than
    /// parsing in the job: see the [`fields`](crate::InputField) docs.
    ///
    /// Called after [`configure`](Job::configure), so the fields may depend on parameters.
    fn fields(&self) -> Vec<InputField> {
        Vec::new()
    }

    /// Maps one input record to any number of key/value pairs.
    ///
    /// # Errors
    /// The host reports the error with the record's file and line and stops the job.
    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()>;

    /// Combines some of the values of `key` into (usually) fewer values, emitted under the same
    /// key. Called only when [`combiner`](Job::combiner) returns [`Combiner::Plugin`].
    ///
    /// Emit at least one pair, and only under `key`: the host fails the task, naming the key,
    /// if a group's values vanish or turn up under another group's key.
    ///
    /// # Errors
    /// The host reports the error with the key and stops the job.
    fn combine(&mut self, key: &[u8], values: &mut Values<'_>, out: &mut Emitter) -> Result<()> {
        let _ = (key, values, out);
        Err(Error::failed(
            "the job's combiner() is Combiner::Plugin but it has no combine()",
        ))
    }

    /// Reduces all values of `key` to any number of output records.
    ///
    /// # Errors
    /// The host reports the error with the key and stops the job.
    fn reduce(&mut self, key: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()>;
}

/// Writes a message to the job's log (bounded by the host; dropped if the task attempt fails).
pub fn log(level: LogLevel, message: impl AsRef<str>) {
    host::log(level, message.as_ref())
}

/// Adds `delta` to the counter `name`, summed over all tasks and shown in the job summary.
pub fn counter(name: &str, delta: i64) {
    host::counter_add(name, delta)
}

/// How serious a [`log`] message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Fine detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong, but the job goes on.
    Warn,
    /// Something failed.
    Error,
}

/// Host calls. On wasm they go to the host; natively (in unit tests) they are recorded in
/// [`testing`].
mod host {
    use super::LogLevel;

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn log(level: LogLevel, message: &str) {
        use crate::__private::bindings::sandmill::job::{host, types};
        let level = match level {
            LogLevel::Debug => types::LogLevel::Debug,
            LogLevel::Info => types::LogLevel::Info,
            LogLevel::Warn => types::LogLevel::Warn,
            LogLevel::Error => types::LogLevel::Error,
        };
        host::log(level, message)
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn counter_add(name: &str, delta: i64) {
        crate::__private::bindings::sandmill::job::host::counter_add(name, delta)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn log(level: LogLevel, message: &str) {
        crate::testing::record_log(level, message)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn counter_add(name: &str, delta: i64) {
        crate::testing::record_counter(name, delta)
    }
}

/// Exports a [`Job`] as the plugin's `sandmill:job/job` world. Call it once, at the crate root.
///
/// ```ignore
/// sandmill_sdk::export_job!(WordCount);
/// ```
#[macro_export]
macro_rules! export_job {
    ($job:ty) => {
        const _: () = {
            ::std::thread_local! {
                static JOB: ::std::cell::RefCell<::std::option::Option<$job>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            struct Adapter;

            impl $crate::__private::bindings::Guest for Adapter {
                fn configure(
                    params: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> $crate::__private::GuestResult<$crate::__private::JobInfo> {
                    $crate::__private::configure(&JOB, params)
                }
                fn map_batch(
                    batch: $crate::__private::InputBatch,
                ) -> $crate::__private::GuestResult<$crate::__private::Pairs> {
                    $crate::__private::map_batch(&JOB, batch)
                }
                fn combine_groups(
                    batch: $crate::__private::Groups,
                ) -> $crate::__private::GuestResult<$crate::__private::Pairs> {
                    $crate::__private::combine_groups(&JOB, batch)
                }
                fn reduce_groups(
                    batch: $crate::__private::Groups,
                ) -> $crate::__private::GuestResult<$crate::__private::OutputBatch> {
                    $crate::__private::reduce_groups(&JOB, batch)
                }
            }

            $crate::__private::__export_job_world!(
                Adapter with_types_in $crate::__private::bindings
            );
        };
    };
}

#[doc(hidden)]
pub mod __private;
