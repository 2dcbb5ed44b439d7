//! The shuffle's local resources: a private directory for spill files and the memory budget
//! that decides when to spill. Both are handed to tasks; tasks never pick their own.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory for one job's spill and map output files: a private temporary one
/// (`--temp-dir`), removed when dropped (on success or failure) and by
/// [`crate::cleanup::interrupt`] on Ctrl-C; or the job's work directory, kept for a resumed run.
#[derive(Debug)]
pub struct ShuffleDir {
    path: PathBuf,
    /// Whether dropping it removes the directory (a temporary one) or not (a job's work
    /// directory, kept for a resumed run).
    temporary: bool,
}

impl ShuffleDir {
    /// Creates a fresh directory under `parent`.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn create(parent: &Path) -> io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = parent.join(format!("sandmill-shuffle-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        crate::cleanup::register(&path);
        Ok(Self {
            path,
            temporary: true,
        })
    }

    /// Uses `path` (created if missing) and leaves it in place when dropped.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn existing(path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            temporary: false,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh, empty subdirectory `name` for one attempt's files (what an earlier attempt of
    /// the same name left is removed).
    ///
    /// # Errors
    /// If it cannot be created, or the process is being interrupted.
    pub fn fresh_dir(&self, name: &str) -> io::Result<PathBuf> {
        // An interrupt removes what uncommitted attempts left: none may appear meanwhile.
        let _hold = crate::cleanup::hold()?;
        let path = self.path.join(name);
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&path)?;
        Ok(path)
    }

    /// The path of a file in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ShuffleDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
            crate::cleanup::unregister(&self.path);
        }
    }
}

/// How a job's `--memory` is shared out.
///
/// A third goes to the sort buffers of the map tasks running at once, a third to map output
/// kept in memory for the reduce (the rest is read back from disk; every committed task's
/// output is written there too, for a resumed run), and a third is left for merging, batches
/// and the plugin instances' own use.
#[derive(Debug)]
pub struct MemoryBudget {
    total: usize,
    threads: usize,
    /// Bytes of map output currently kept in memory; at most `total / 3`.
    held: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `total` bytes for `threads` concurrent tasks.
    pub fn new(total: u64, threads: usize) -> Self {
        Self {
            total: usize::try_from(total).unwrap_or(usize::MAX),
            threads: threads.max(1),
            held: AtomicUsize::new(0),
        }
    }

    /// The limit of one map task's sort buffer.
    pub fn sort_buffer(&self) -> usize {
        (self.total / 3 / self.threads).max(4 << 10)
    }

    /// Reserves `bytes` for map output kept in memory; `false` if that would exceed its share
    /// (the output then goes to disk).
    pub fn try_hold(&self, bytes: usize) -> bool {
        let cap = self.total / 3;
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= cap).then_some(held + bytes)
            })
            .is_ok()
    }

    /// Returns bytes reserved with [`MemoryBudget::try_hold`].
    pub fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// A default `--memory`: a quarter of the machine's RAM (1 GiB where it cannot be read).
pub fn default_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
    total.map_or(1 << 30, |t| (t / 4).max(256 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_out_and_holding_is_capped() {
        let budget = MemoryBudget::new(300 << 20, 4);
        assert_eq!(budget.sort_buffer(), 25 << 20);
        assert!(budget.try_hold(60 << 20));
        assert!(budget.try_hold(40 << 20));
        assert!(!budget.try_hold(1), "a third of the budget is held already");
        budget.release(40 << 20);
        assert!(budget.try_hold(10 << 20));
        assert!(default_memory() >= 256 << 20);
    }

    #[test]
    fn the_shuffle_dir_is_removed_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ShuffleDir::create(tmp.path()).unwrap();
        std::fs::write(dir.file("map-0.data"), b"x").unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.exists());
        drop(dir);
        assert!(!path.exists());
    }
}
