//! Directories to remove if the process is interrupted: the output's staging directory and the
//! shuffle's spill files. Their owners remove them on success and failure (in `Drop`); this
//! registry lets a Ctrl-C handler remove them too, since `Drop` does not run then.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

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

/// Removes every registered directory. For a signal handler: the process is about to exit.
pub fn remove_all() {
    for dir in dirs().drain(..) {
        let _ = std::fs::remove_dir_all(&dir);
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
