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
//! | `sleep(MS)` | every hit waits MS milliseconds, then passes (a test acts meanwhile) |
//!
//! Each time an armed failpoint acts it says so on stderr, `failpoint NAME fired (hit N)`,
//! so a test can check that the path it means to break was taken at all (a test that arms
//! `spill-write` on a job that never spills proves nothing). [`fired_line`] gives the prefix.
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
    // After the job is planned and its work directory is open.
    "planned",
    // At the start of a job: panics, as a bug in Sandmill would.
    "panic",
];

#[derive(Debug)]
enum Action {
    Error(Option<u64>),
    Crash(u64),
    Sleep(u64),
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
            a if a.starts_with("sleep(") => Action::Sleep(count(a).unwrap_or(0)),
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

/// The start of the stderr line printed each time the failpoint `name` acts.
pub fn fired_line(name: &str) -> String {
    format!("failpoint {name} fired")
}

/// Passes the failpoint `name`: returns an error or ends the process if a test armed it, and
/// then says so on stderr (see [`fired_line`]).
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
        Action::Error(limit) if limit.is_none_or(|limit| n <= limit) => {
            eprintln!("{} (hit {n})", fired_line(name));
            Err(io::Error::other(format!(
                "injected failure at failpoint {name} (hit {n})"
            )))
        }
        Action::Crash(at) if n == at => {
            eprintln!("{} (hit {n}): crashing on purpose", fired_line(name));
            std::process::exit(137)
        }
        Action::Sleep(ms) => {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let armed = parse(
            "spill-write=error(2), job-commit=crash, part-write=error,bogus,x=what,planned=sleep(5)",
        );
        assert_eq!(armed.len(), 4);
        assert!(matches!(armed["planned"].action, Action::Sleep(5)));
        assert!(matches!(
            armed["spill-write"].action,
            Action::Error(Some(2))
        ));
        assert!(matches!(armed["job-commit"].action, Action::Crash(1)));
        assert!(matches!(armed["part-write"].action, Action::Error(None)));
        assert!(parse("").is_empty());
    }
}
