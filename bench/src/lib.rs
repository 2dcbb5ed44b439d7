//! Sandmill's benchmark: the example jobs run through Sandmill and through native Rust, on the
//! same generated data, in the same run.
//!
//! # Brief overview
//!
//! - [`generate`]: seeded, fast generators for the data sets (text with Zipf-distributed words,
//!   events as JSON Lines or CSV, documents as JSON Lines), cached on disk by size and seed.
//! - [`native`]: the native implementations of the three example jobs (rayon, a hash map per
//!   thread, then merge), behind the `sandmill-native` binary.
//! - [`load`]: a load test's figures: latency percentiles, the longest gap between answers,
//!   jobs finished per tenant over time.
//! - [`measure`]: running a child process and measuring its wall time, CPU time and peak RSS.
//! - [`peers`]: the same jobs run by DuckDB and Polars (`bench/peers/*.py`, from the venv of
//!   `scripts/setup-pydata.sh`): which engines and their command lines.
//! - [`output`]: reading a job's part files as sorted lines and comparing two outputs, or as
//!   they are, to compare two Sandmill runs byte for byte.
//! - [`report`]: tables printed for the terminal and as Markdown.
//! - [`size`]: parsing and printing byte sizes (`64MiB`).
//!
//! The `sandmill-bench` binary (`src/main.rs`) ties them together and prints the report.

pub mod generate;
pub mod load;
pub mod measure;
pub mod native;
pub mod output;
pub mod peers;
pub mod report;
pub mod size;
