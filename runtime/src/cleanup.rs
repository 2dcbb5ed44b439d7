//! What an interrupted process removes, and what it can truthfully say it leaves: directories
//! to remove (the attempts' directory, a temporary shuffle directory) and the jobs whose
//! committed tasks a rerun reuses. Their owners remove those directories on success and
//! failure (in `Drop`); this registry lets a Ctrl-C handler remove them too, since `Drop` does
//! not run then.
//!
//! Creating an attempt's directory and committing a task each happen under a [`Hold`]: an
//! interrupt waits for the holds to end before it removes anything, and no hold starts after
//! it began, so what it reports as committed is what a rerun finds.

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set once [`interrupt`] starts: the process is about to exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Holds of every thread: [`interrupt`] waits for them to end.
static HOLDS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Holds of this thread, which an interrupt on this thread (a panic) does not wait for.
    static OWN_HOLDS: Cell<usize> = const { Cell::new(0) };
}

/// The longest an interrupt waits for holds to end (a commit is a few syncs).
const MAX_WAIT: Duration = Duration::from_secs(10);

/// What an interrupt asks of a running job: it removes what the job's uncommitted attempts
/// left, and says what the job has committed (`None` if it has nothing left to resume).
type JobHook = Box<dyn Fn() -> Option<Committed> + Send>;

static JOBS: Mutex<Vec<(u64, JobHook)>> = Mutex::new(Vec::new());
static NEXT_JOB: AtomicU64 = AtomicU64::new(0);

/// Whether the process is being interrupted: code about to create an attempt's directory
/// checks this first, so that nothing new appears while [`remove_all`] removes what exists.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error of an attempt stopped because the process is being interrupted.
pub fn interrupted_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "sandmill is being interrupted",
    )
}

/// A step an interrupt must not cut in two (creating an attempt's directory, committing a
/// task); ends when dropped.
#[derive(Debug)]
#[must_use = "the step is protected only while the hold lives"]
pub struct Hold(());

/// Starts a step an interrupt waits for.
///
/// # Errors
/// [`interrupted_error`] if the process is being interrupted: the step must not start.
pub fn hold() -> std::io::Result<Hold> {
    // Counted before the check: an interrupt that sets its flag after the check sees the hold.
    HOLDS.fetch_add(1, Ordering::SeqCst);
    OWN_HOLDS.with(|n| n.set(n.get() + 1));
    let hold = Hold(());
    if interrupted() {
        return Err(interrupted_error());
    }
    Ok(hold)
}

impl Drop for Hold {
    fn drop(&mut self) {
        OWN_HOLDS.with(|n| n.set(n.get() - 1));
        HOLDS.fetch_sub(1, Ordering::SeqCst);
    }
}

fn dirs() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

fn jobs() -> std::sync::MutexGuard<'static, Vec<(u64, JobHook)>> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a directory to remove on interruption.
pub fn register(dir: &Path) {
    dirs().push(dir.to_path_buf());
}

/// Forgets a directory (its owner removed it, or published it).
pub fn unregister(dir: &Path) {
    dirs().retain(|d| d != dir);
}

/// A directory of this process's own, removed when dropped and on an interrupt: where a task
/// that runs for a job on object storage keeps its files.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new directory `name` in the system's temporary directory.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn new(name: &str) -> std::io::Result<Scratch> {
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        register(&dir);
        Ok(Scratch(dir))
    }

    /// The directory `name` inside, created.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn subdir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unregister(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a job run has committed, for the message of an interrupt: what a rerun of the same
/// command reuses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Map tasks of the job.
    pub map_tasks: usize,
    /// Committed map tasks whose output is on disk.
    pub maps: usize,
    /// Committed map tasks whose output is gone: a rerun runs them again.
    pub maps_lost: usize,
    /// Whether map output went to `--temp-dir`, which an interrupt removes whole.
    pub temp_dir: bool,
    /// Reduce tasks of the job.
    pub reduce_tasks: usize,
    /// Committed reduce tasks.
    pub reduces: usize,
}

/// A running job registered with [`watch`]; dropping it unregisters the job.
#[derive(Debug)]
#[must_use = "the job is watched only while this lives"]
pub struct Watch(u64);

/// Registers a running job: on interruption, after the registered directories are removed,
/// `hook` removes what the job's uncommitted attempts left and says what the job committed.
pub fn watch(hook: impl Fn() -> Option<Committed> + Send + 'static) -> Watch {
    let id = NEXT_JOB.fetch_add(1, Ordering::SeqCst);
    jobs().push((id, Box::new(hook)));
    Watch(id)
}

impl Drop for Watch {
    fn drop(&mut self) {
        jobs().retain(|(id, _)| *id != self.0);
    }
}

/// What an interrupt did and left: the message to print.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// What each job being run had committed.
    pub jobs: Vec<Committed>,
}

impl fmt::Display for Interruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted: ")?;
        if self.jobs.is_empty() {
            return f.write_str(
                "committed tasks are kept; the next run of the same command removes what \
                 uncommitted attempts left",
            );
        }
        let tasks = |n: usize| if n == 1 { "task" } else { "tasks" };
        for job in &self.jobs {
            if job.maps + job.reduces == 0 {
                f.write_str("no committed task is kept: a rerun of the same command starts over")?;
            } else {
                write!(
                    f,
                    "{} of {} map {} and {} of {} reduce {} committed: a rerun of the same \
                     command reuses them",
                    job.maps,
                    job.map_tasks,
                    tasks(job.map_tasks),
                    job.reduces,
                    job.reduce_tasks,
                    tasks(job.reduce_tasks),
                )?;
            }
            if job.maps_lost > 0 {
                let (n, plural) = (job.maps_lost, job.maps_lost > 1);
                write!(
                    f,
                    "; {n} more map {} committed, but {} output {}: a rerun runs {} again",
                    if plural { "tasks had" } else { "task had" },
                    if plural { "their" } else { "its" },
                    match job.temp_dir {
                        true => "was in --temp-dir, which is removed",
                        false => "is gone",
                    },
                    if plural { "them" } else { "it" },
                )?;
            }
            f.write_str("; ")?;
        }
        f.write_str("removed the files of uncommitted attempts")
    }
}

/// For a signal handler, the process being about to exit: stops new attempts and commits
/// ([`interrupted`]), waits for those under way ([`Hold`]s of other threads, for at most ten
/// seconds), removes every registered directory and what the watched jobs' uncommitted
/// attempts left, and says what the jobs committed.
pub fn interrupt() -> Interruption {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let own = OWN_HOLDS.with(Cell::get);
    let deadline = Instant::now() + MAX_WAIT;
    while HOLDS.load(Ordering::SeqCst) > own && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    remove_all();
    let hooks: Vec<(u64, JobHook)> = jobs().drain(..).collect();
    Interruption {
        jobs: hooks.iter().filter_map(|(_, hook)| hook()).collect(),
    }
}

/// Removes every registered directory, twice: a file that a task was writing into one when
/// the first pass removed it is caught by the second.
pub fn remove_all() {
    let dirs: Vec<PathBuf> = dirs().drain(..).collect();
    for pass in 0..2 {
        if pass > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for dir in &dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_directories_are_removed_and_unregistered_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        register(&a);
        register(&b);
        unregister(&b);
        remove_all();
        assert!(!a.exists() && b.exists());
    }

    #[test]
    fn the_message_says_what_is_committed_and_what_a_rerun_does() {
        let job = |maps, maps_lost, reduces| Committed {
            map_tasks: 8,
            maps,
            maps_lost,
            temp_dir: true,
            reduce_tasks: 1,
            reduces,
        };
        for (jobs, want) in [
            (
                vec![job(3, 0, 0)],
                "interrupted: 3 of 8 map tasks and 0 of 1 reduce task committed: a rerun of \
                 the same command reuses them; removed the files of uncommitted attempts",
            ),
            (
                vec![job(0, 0, 0)],
                "interrupted: no committed task is kept: a rerun of the same command starts \
                 over; removed the files of uncommitted attempts",
            ),
            (
                vec![job(0, 1, 0)],
                "interrupted: no committed task is kept: a rerun of the same command starts \
                 over; 1 more map task had committed, but its output was in --temp-dir, which \
                 is removed: a rerun runs it again; removed the files of uncommitted attempts",
            ),
            (
                vec![Committed {
                    temp_dir: false,
                    ..job(1, 2, 0)
                }],
                "interrupted: 1 of 8 map tasks and 0 of 1 reduce task committed: a rerun of \
                 the same command reuses them; 2 more map tasks had committed, but their \
                 output is gone: a rerun runs them again; removed the files of uncommitted \
                 attempts",
            ),
            (
                vec![job(8, 0, 1)],
                "interrupted: 8 of 8 map tasks and 1 of 1 reduce task committed: a rerun of \
                 the same command reuses them; removed the files of uncommitted attempts",
            ),
            (
                Vec::new(),
                "interrupted: committed tasks are kept; the next run of the same command \
                 removes what uncommitted attempts left",
            ),
        ] {
            assert_eq!(Interruption { jobs }.to_string(), want);
        }
    }
}
