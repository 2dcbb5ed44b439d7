//! js job projects. (Being written: see issue 11.)

use super::Project;
use std::path::{Path, PathBuf};

/// The file that marks a js project.
pub const MARKER: &str = "job.js";

/// The files of `sandmill new --lang js`.
pub fn template(_name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    anyhow::bail!("sandmill new --lang js is not built yet")
}

/// Builds a js project into the component `out`.
pub fn build(_project: &Project, _out: &Path) -> anyhow::Result<()> {
    anyhow::bail!("sandmill build of js projects is not built yet")
}
