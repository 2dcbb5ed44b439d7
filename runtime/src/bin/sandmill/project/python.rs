//! python job projects. (Being written: see issue 11.)

use super::Project;
use std::path::{Path, PathBuf};

/// The file that marks a python project.
pub const MARKER: &str = "job.py";

/// The files of `sandmill new --lang python`.
pub fn template(_name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    anyhow::bail!("sandmill new --lang python is not built yet")
}

/// Builds a python project into the component `out`.
pub fn build(_project: &Project, _out: &Path) -> anyhow::Result<()> {
    anyhow::bail!("sandmill build of python projects is not built yet")
}
