//! Directories to remove if the process is interrupted: the output's staging directory and the
//! shuffle's spill files. Their owners remove them on success and failure (in `Drop`); this
//! registry lets a Ctrl-C handler remove them too, since `Drop` does not run then.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set once [`remove_all`] starts: the process is about to exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

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

fn dirs() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a directory to remove on interruption.
pub fn register(dir: &Path) {
    dirs().push(dir.to_path_buf());
}

/// Forgets a directory (its owner removed it, or published it).
pub fn unregister(dir: &Path) {
    dirs().retain(|d| d != dir);
}

/// For a signal handler, the process being about to exit: stops tasks from creating new
/// attempt directories ([`interrupted`]) and removes every registered directory.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    remove_all();
}

/// Removes every registered directory, twice: a task that had just passed the
/// [`interrupted`] check when [`interrupt`] started is caught by the second pass.
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
}
