//! c job projects. (Being written: see issue 11.)

use super::Project;
use std::path::{Path, PathBuf};

/// The file that marks a c project.
pub const MARKER: &str = "job.c";

/// The files of `sandmill new --lang c`.
pub fn template(_name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    anyhow::bail!("sandmill new --lang c is not built yet")
}

/// Builds a c project into the component `out`.
pub fn build(_project: &Project, _out: &Path) -> anyhow::Result<()> {
    anyhow::bail!("sandmill build of c projects is not built yet")
}
