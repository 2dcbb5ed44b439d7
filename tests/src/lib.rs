//! Fixtures for Sandmill's tests, kept apart from the runtime so that they cannot share its bugs.
//!
//! # Brief overview
//!
//! - [`plugins`]: paths of the example and test plugins, built once per test run by
//!   `tests/build.rs`, and the [`foreach_plugin!`] macro listing them.
//! - [`generate`]: seeded generators that write input files (text, documents, events) full of the
//!   edge cases the runtime must get right: empty files, CRLF, a last line without `\n`, lines
//!   longer than a split, escapes, CSV quoting.
//! - [`reference`](mod@reference): straightforward implementations of the three example jobs
//!   that read the generated files themselves and give the expected output. They share no code
//!   with the SDK or the plugins.
//! - [`output`]: reading a job's output directory, checking how it is laid out, and comparing
//!   lines with a readable diff ([`assert_lines_eq!`]).
//!
//! The integration tests that run the `sandmill` binary live in `tests/all/`, compiled as a test
//! of the runtime package so that they can find the binary.

// Not `gen`: that is a reserved keyword in edition 2024.
pub mod generate;
pub mod output;
pub mod reference;

/// Paths of the plugin components, built by `tests/build.rs` into `OUT_DIR`.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}
