//! Failpoints: named places where a test can make Sandmill fail on purpose, to prove that
//! retries, commits and crash resume do what they claim.
//!
//! They exist only in builds with the `failpoints` cargo feature, which Sandmill's own tests
//! turn on; in any other build [`hit`] does nothing and no environment variable can arm one.
//! There they are armed with the `SANDMILL_FAILPOINTS` environment variable, a comma-separated
//! list of `name=action`:
//!
//! | action | effect at the point |
//! |---|---|
//! | `error` | every hit returns an I/O error |
//! | `error(N)` | the first N hits return an I/O error, later hits pass |
//! | `crash` | the process exits at once with status 137, as if killed (no cleanup runs) |
//! | `crash(N)` | the N-th hit crashes |
//!
//! Unarmed (the normal case) a failpoint costs one load of an initialised `OnceLock`.

use std::collections::HashMap;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The places that can be armed.
pub const POINTS: &[&str] = &[
    "spill-write",
    "part-write",
    "task-commit-before",
    "task-commit-after",
    "job-commit",
    // After each step of the commit protocol's durable order (see `commit`): each part file
    // and task record linked, the manifest, `publish-as`, the retention.
    "commit-step",
    "nondeterminism-map",
    "nondeterminism-reduce",
];

#[derive(Debug)]
enum Action {
    Error(Option<u64>),
    Crash(u64),
}

#[derive(Debug)]
struct Armed {
    action: Action,
    hits: AtomicU64,
}

fn armed() -> &'static HashMap<String, Armed> {
    static ARMED: OnceLock<HashMap<String, Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        if cfg!(feature = "failpoints") {
            parse(&std::env::var("SANDMILL_FAILPOINTS").unwrap_or_default())
        } else {
            HashMap::new()
        }
    })
}

fn parse(spec: &str) -> HashMap<String, Armed> {
    let mut armed = HashMap::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, action)) = item.split_once('=') else {
            continue;
        };
        let count =
            |s: &str| -> Option<u64> { s.split_once('(')?.1.strip_suffix(')')?.parse().ok() };
        let action = match action {
            "error" => Action::Error(None),
            a if a.starts_with("error(") => Action::Error(count(a)),
            "crash" => Action::Crash(1),
            a if a.starts_with("crash(") => Action::Crash(count(a).unwrap_or(1)),
            _ => continue,
        };
        armed.insert(
            name.to_string(),
            Armed {
                action,
                hits: AtomicU64::new(0),
            },
        );
    }
    armed
}

/// Passes the failpoint `name`: returns an error or ends the process if a test armed it.
///
/// # Errors
/// An injected I/O error, if armed with `error`.
pub fn hit(name: &str) -> io::Result<()> {
    let armed = armed();
    if armed.is_empty() {
        return Ok(());
    }
    debug_assert!(POINTS.contains(&name), "unknown failpoint {name}");
    let Some(point) = armed.get(name) else {
        return Ok(());
    };
    let n = point.hits.fetch_add(1, Ordering::SeqCst) + 1;
    match point.action {
        Action::Error(limit) if limit.is_none_or(|limit| n <= limit) => Err(io::Error::other(
            format!("injected failure at failpoint {name} (hit {n})"),
        )),
        Action::Crash(at) if n == at => {
            eprintln!("failpoint {name}: crashing on purpose");
            std::process::exit(137)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let armed = parse("spill-write=error(2), job-commit=crash, part-write=error,bogus,x=what");
        assert_eq!(armed.len(), 3);
        assert!(matches!(
            armed["spill-write"].action,
            Action::Error(Some(2))
        ));
        assert!(matches!(armed["job-commit"].action, Action::Crash(1)));
        assert!(matches!(armed["part-write"].action, Action::Error(None)));
        assert!(parse("").is_empty());
    }
}
