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
//! - A unit test that the SDK's and the runtime's vendored `wit/job.wit` match the canonical
//!   top-level one.
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

/// `wit/job.wit` is the canonical WIT; the SDK and the runtime each build against a copy inside
/// their own package, which must not drift from it.
#[cfg(test)]
mod wit_copies {
    const CANONICAL: &str = include_str!("../../wit/job.wit");

    #[test]
    fn every_vendored_copy_matches_wit_job_wit() {
        let copies = [
            ("sdk/wit/job.wit", include_str!("../../sdk/wit/job.wit")),
            (
                "sdk/python/sandmill/wit/job.wit",
                include_str!("../../sdk/python/sandmill/wit/job.wit"),
            ),
            (
                "runtime/wit/job.wit",
                include_str!("../../runtime/wit/job.wit"),
            ),
        ];
        let stale: Vec<String> = copies
            .iter()
            .filter(|(_, text)| *text != CANONICAL)
            .map(|(path, _)| format!("{path} differs from wit/job.wit: copy wit/job.wit over it"))
            .collect();
        assert!(stale.is_empty(), "{}", stale.join("\n"));
    }
}
