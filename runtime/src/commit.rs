//! Output that appears whole or not at all.
//!
//! Everything is written into a hidden staging directory beside the output. Each task attempt
//! writes under `_temporary/<task>-attempt-<n>/` and commits by renaming its file into place;
//! the first attempt to commit wins and a later duplicate is a no-op. The job commits by
//! writing `_SUCCESS` last and renaming the staging directory to the output. If the job fails,
//! the staging directory is removed and the output never existed.
//!
//! ```text
//!  out/../.out.sandmill-staging-<id>/
//!          _temporary/map-0-attempt-1/…         ← attempts write here
//!          part-00000  part-00001               ← committed tasks (rename)
//!          _SUCCESS                             ← job commit, last
//!  rename(staging, out)                         ← the output appears, whole
//! ```

use crate::error::Error;
use crate::task::TaskId;
use std::io;
use std::path::{Path, PathBuf};

/// The name of the marker written last into a committed output.
pub const SUCCESS: &str = "_SUCCESS";

/// Stages a job's output and publishes it atomically.
#[derive(Debug)]
pub struct OutputCommitter {
    output: PathBuf,
    staging: PathBuf,
    overwrite: bool,
    /// Set once the output is published; until then, dropping removes the staging directory.
    published: bool,
}

fn output_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.into(),
        source,
    }
}

/// A name for a sibling of `output` that no other run uses.
fn sibling(output: &Path, what: &str) -> Result<PathBuf, Error> {
    let name = output.file_name().ok_or_else(|| {
        Error::Spec(format!(
            "--output {} must name a directory, not a root or `..`",
            output.display()
        ))
    })?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let unique = format!(
        ".{}.sandmill-{what}-{}-{nanos}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(output.with_file_name(unique))
}

impl OutputCommitter {
    /// Checks that `output` may be written and creates its staging directory.
    ///
    /// # Errors
    /// [`Error::OutputExists`] if it exists and `overwrite` is false; [`Error::Output`] if the
    /// staging directory cannot be created (an unwritable or missing parent, say).
    pub fn begin(output: &Path, overwrite: bool) -> Result<Self, Error> {
        if output.symlink_metadata().is_ok() && !overwrite {
            return Err(Error::OutputExists {
                path: output.into(),
            });
        }
        let staging = sibling(output, "staging")?;
        if let Some(parent) = staging.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Some(file) = parent.ancestors().find(|a| a.is_file()) {
                return Err(output_error(output)(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is a file, not a directory", file.display()),
                )));
            }
            std::fs::create_dir_all(parent).map_err(output_error(output))?;
        }
        std::fs::create_dir(&staging).map_err(output_error(output))?;
        crate::cleanup::register(&staging);
        std::fs::create_dir(staging.join("_temporary")).map_err(output_error(output))?;
        Ok(Self {
            output: output.into(),
            staging,
            overwrite,
            published: false,
        })
    }

    /// The final output directory.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// A fresh directory for one attempt of `task` to write into.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn attempt_dir(&self, task: TaskId, attempt: u32) -> io::Result<PathBuf> {
        let name = match task {
            TaskId::Map(s) => format!("map-{}-attempt-{attempt}", s.0),
            TaskId::Reduce(p) => format!("reduce-{}-attempt-{attempt}", p.0),
        };
        let dir = self.staging.join("_temporary").join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// Commits an attempt's file as `name` in the output. Returns `false` if another attempt
    /// committed it first (this attempt's file is then discarded).
    ///
    /// # Errors
    /// If the rename fails.
    pub fn commit_file(&self, attempt_file: &Path, name: &str) -> io::Result<bool> {
        let target = self.staging.join(name);
        if target.exists() {
            std::fs::remove_file(attempt_file)?;
            return Ok(false);
        }
        std::fs::rename(attempt_file, &target)?;
        Ok(true)
    }

    /// Writes a whole file into the output (before [`OutputCommitter::commit_job`]).
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.staging.join(name);
        std::fs::write(&path, bytes).map_err(output_error(&self.output))
    }

    /// Publishes the output: removes the attempt directories, writes `_SUCCESS`, and renames
    /// the staging directory to the output (replacing an old output if `overwrite`).
    ///
    /// # Errors
    /// If any step fails; the output is then left as it was before the job.
    pub fn commit_job(mut self) -> Result<PathBuf, Error> {
        let out = self.output.clone();
        let err = output_error(&out);
        std::fs::remove_dir_all(self.staging.join("_temporary")).map_err(err)?;
        std::fs::write(self.staging.join(SUCCESS), b"").map_err(output_error(&out))?;
        if self.overwrite && out.symlink_metadata().is_ok() {
            // Two renames: the old output is whole until the first, the new one from the second.
            let old = sibling(&out, "old")?;
            std::fs::rename(&out, &old).map_err(output_error(&out))?;
            if let Err(e) = std::fs::rename(&self.staging, &out) {
                // Put the old output back rather than leave nothing.
                let _ = std::fs::rename(&old, &out);
                return Err(output_error(&out)(e));
            }
            self.published = true;
            crate::cleanup::unregister(&self.staging);
            remove_any(&old).map_err(output_error(&old))?;
        } else {
            std::fs::rename(&self.staging, &out).map_err(output_error(&out))?;
            self.published = true;
            crate::cleanup::unregister(&self.staging);
        }
        Ok(out)
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.symlink_metadata()?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

impl Drop for OutputCommitter {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.staging);
            crate::cleanup::unregister(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::PartitionId;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn output_appears_only_at_job_commit_and_first_attempt_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("nested/out");
        let c = OutputCommitter::begin(&out, false).unwrap();
        let task = TaskId::Reduce(PartitionId(0));
        let a1 = c.attempt_dir(task, 1).unwrap();
        let a2 = c.attempt_dir(task, 2).unwrap();
        std::fs::write(a1.join("part-00000"), "first\n").unwrap();
        std::fs::write(a2.join("part-00000"), "second\n").unwrap();
        assert!(c.commit_file(&a1.join("part-00000"), "part-00000").unwrap());
        assert!(!c.commit_file(&a2.join("part-00000"), "part-00000").unwrap());
        assert!(!out.exists(), "nothing is visible before the job commits");
        assert_eq!(c.commit_job().unwrap(), out);
        assert_eq!(names(&out), ["_SUCCESS", "part-00000"]);
        assert_eq!(
            std::fs::read_to_string(out.join("part-00000")).unwrap(),
            "first\n"
        );
        // Only the output is left in the parent: no staging directories.
        assert_eq!(names(&tmp.path().join("nested")), ["out"]);
    }

    #[test]
    fn existing_output_is_refused_or_replaced_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("part-00000"), "old\n").unwrap();
        let err = OutputCommitter::begin(&out, false).unwrap_err();
        assert!(err.to_string().contains("--overwrite"), "{err}");

        let c = OutputCommitter::begin(&out, true).unwrap();
        let a = c.attempt_dir(TaskId::Reduce(PartitionId(0)), 1).unwrap();
        std::fs::write(a.join("p"), "new\n").unwrap();
        c.commit_file(&a.join("p"), "part-00000").unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("part-00000")).unwrap(),
            "old\n"
        );
        c.commit_job().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("part-00000")).unwrap(),
            "new\n"
        );
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn a_failed_job_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let c = OutputCommitter::begin(&out, false).unwrap();
        let a = c.attempt_dir(TaskId::Reduce(PartitionId(3)), 1).unwrap();
        std::fs::write(a.join("part-00003"), "x").unwrap();
        drop(c);
        assert!(names(tmp.path()).is_empty());
    }

    #[test]
    fn unwritable_output_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = OutputCommitter::begin(&file.join("out"), false).unwrap_err();
        assert!(matches!(err, Error::Output { .. }), "{err}");
        assert!(err.to_string().contains("file/out"), "{err}");
    }
}
