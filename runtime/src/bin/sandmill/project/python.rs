//! Python job projects: `job.py` (a class deriving `sandmill.Job`) beside a copy of the SDK
//! package in `sandmill/`, built by componentize-py into a component.
//!
//! componentize-py finds the WIT through the package's `sandmill/componentize-py.toml` and
//! wraps the SDK's `sandmill.guest` module, which imports `job.py`. It reads the project
//! through a staging copy with symlinks resolved: it cannot name a module whose files sit
//! outside the directory it searches (the repository's examples link `sandmill/` to the SDK).

use super::Project;
use super::toolchain::{self, BuildError};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file that marks a Python project.
pub const MARKER: &str = "job.py";

/// The componentize-py that `scripts/toolchains/python.sh` installs and the SDK is tested with.
const COMPONENTIZE_PY: &str = "0.25.1";

/// The module componentize-py wraps: the SDK's adapter from the WIT exports to the job.
const APP_MODULE: &str = "sandmill.guest";

/// The files of `plugins/python/wordcount`, the project `sandmill new --lang python` writes.
const EXAMPLE: super::Embedded = &[
    (
        "job.py",
        include_str!("../../../../../plugins/python/wordcount/job.py"),
    ),
    (
        "test_job.py",
        include_str!("../../../../../plugins/python/wordcount/test_job.py"),
    ),
    (
        "README.md",
        include_str!("../../../../../plugins/python/wordcount/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../../../plugins/python/wordcount/.gitignore"),
    ),
];

/// The SDK package, `sdk/python/sandmill`, copied into a new project's `sandmill/`.
const SDK: super::Embedded = &[
    (
        "__init__.py",
        include_str!("../../../../../sdk/python/sandmill/__init__.py"),
    ),
    (
        "_core.py",
        include_str!("../../../../../sdk/python/sandmill/_core.py"),
    ),
    (
        "_host.py",
        include_str!("../../../../../sdk/python/sandmill/_host.py"),
    ),
    (
        "codec.py",
        include_str!("../../../../../sdk/python/sandmill/codec.py"),
    ),
    (
        "componentize-py.toml",
        include_str!("../../../../../sdk/python/sandmill/componentize-py.toml"),
    ),
    (
        "emit.py",
        include_str!("../../../../../sdk/python/sandmill/emit.py"),
    ),
    (
        "errors.py",
        include_str!("../../../../../sdk/python/sandmill/errors.py"),
    ),
    (
        "groups.py",
        include_str!("../../../../../sdk/python/sandmill/groups.py"),
    ),
    (
        "guest.py",
        include_str!("../../../../../sdk/python/sandmill/guest.py"),
    ),
    (
        "params.py",
        include_str!("../../../../../sdk/python/sandmill/params.py"),
    ),
    (
        "partition.py",
        include_str!("../../../../../sdk/python/sandmill/partition.py"),
    ),
    (
        "record.py",
        include_str!("../../../../../sdk/python/sandmill/record.py"),
    ),
    (
        "testing.py",
        include_str!("../../../../../sdk/python/sandmill/testing.py"),
    ),
    (
        "text.py",
        include_str!("../../../../../sdk/python/sandmill/text.py"),
    ),
    (
        "values.py",
        include_str!("../../../../../sdk/python/sandmill/values.py"),
    ),
    (
        "wit/job.wit",
        include_str!("../../../../../sdk/python/sandmill/wit/job.wit"),
    ),
];

/// The files of `sandmill new --lang python`: the word count of `plugins/python/wordcount`,
/// its test and README, and the SDK in `sandmill/`.
pub fn template(name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = super::example(EXAMPLE, name);
    files.extend(super::files("sandmill", SDK, name));
    Ok(files)
}

/// How to install the toolchain: this checkout's setup script, or pip by hand.
fn install_hint() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/setup-toolchain.sh")
        .canonicalize()
        .map_or_else(
            |_| "scripts/setup-toolchain.sh".to_owned(),
            |p| p.display().to_string(),
        );
    format!(
        "{script} python`, or by hand: `python3 -m venv {dest} && {dest}/bin/pip install \
         componentize-py=={COMPONENTIZE_PY}",
        dest = toolchain::toolchains_dir().join("python").display()
    )
}

/// Builds a Python project with `componentize-py componentize sandmill.guest` into `out`.
pub fn build(project: &Project, out: &Path) -> anyhow::Result<()> {
    let bin = toolchain::toolchains_dir().join("python").join("bin");
    let componentize = toolchain::require("componentize-py", &[bin], "Python", &install_hint())?;
    // Beside the component, so that it needs no temporary directory of its own; removed after.
    // Hidden, so that staging never copies it into itself when `out` is inside the project.
    let stage_name = format!(
        ".{}.python-stage",
        out.file_name().unwrap_or_default().to_string_lossy()
    );
    let stage = out.with_file_name(stage_name);
    remove_stage(&stage)?;
    let built = build_staged(project, &componentize, &stage, out);
    remove_stage(&stage)?;
    built
}

/// Builds the staging copy `stage` of `project` into `out`.
fn build_staged(
    project: &Project,
    componentize: &Path,
    stage: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(stage).with_context(|| format!("cannot create {}", stage.display()))?;
    stage_project(&project.dir, stage, 0)?;
    if !stage.join("sandmill").join("guest.py").is_file() {
        anyhow::bail!(
            "{} has no sandmill/ SDK package (sandmill/guest.py): a Python job builds with its \
             own copy of the SDK; `sandmill new DIR --lang python` writes one, or copy \
             sdk/python/sandmill/ of a Sandmill checkout there",
            project.dir.display()
        );
    }
    let mut cmd = Command::new(componentize);
    cmd.current_dir(stage)
        .args(["-q", "componentize", APP_MODULE, "-p"])
        .arg(stage)
        .arg("-o")
        .arg(out);
    let what = format!("componentize-py in {}", project.dir.display());
    toolchain::run(&what, &mut cmd)?;
    if !out.is_file() {
        return Err(BuildError::Failed {
            what,
            status: format!("it exited 0 but wrote no {}", out.display()),
        }
        .into());
    }
    Ok(())
}

/// Removes the staging directory `stage` if it is there.
fn remove_stage(stage: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(stage) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", stage.display()))
        }
        _ => Ok(()),
    }
}

/// How deep `stage_project` follows directories, so that a symlink loop ends.
const MAX_DEPTH: usize = 32;

/// Copies the project `from` into `to`, following symlinks, leaving out what is not source:
/// `build/`, hidden files and `__pycache__`.
fn stage_project(from: &Path, to: &Path, depth: usize) -> anyhow::Result<()> {
    if depth > MAX_DEPTH {
        anyhow::bail!(
            "{} is nested more than {MAX_DEPTH} directories deep: is there a symlink loop?",
            from.display()
        );
    }
    let entries =
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let skipped =
            text.starts_with('.') || text == "__pycache__" || (depth == 0 && text == "build");
        if skipped {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        // `metadata` follows symlinks: a linked SDK is copied as files.
        let meta = std::fs::metadata(&source)
            .with_context(|| format!("cannot read {} (a broken symlink?)", source.display()))?;
        if meta.is_dir() {
            std::fs::create_dir(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            stage_project(&source, &target, depth + 1)?;
        } else if meta.is_file() {
            std::fs::copy(&source, &target).with_context(|| {
                format!("cannot copy {} to {}", source.display(), target.display())
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{embedded, listed, repo};
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_file_of_the_sdk_and_the_example_is_embedded() {
        let root = repo();
        let sdk = listed(&root.join("sdk/python/sandmill"), &[]);
        assert_eq!(
            embedded(SDK),
            sdk,
            "python.rs's SDK list must name every file of sdk/python/sandmill"
        );
        // `sandmill` is the link to the SDK, which a new project gets as a copy.
        let example = listed(&root.join("plugins/python/wordcount"), &["build"]);
        assert_eq!(
            embedded(EXAMPLE),
            example,
            "python.rs's EXAMPLE list must name every file of plugins/python/wordcount"
        );
    }

    #[test]
    fn the_template_is_the_example_plus_the_sdk_under_sandmill() {
        let files = template("freq").unwrap();
        let paths: BTreeSet<String> = files
            .iter()
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect();
        assert!(paths.contains("job.py") && paths.contains("sandmill/guest.py"));
        assert!(paths.contains("sandmill/wit/job.wit"));
        let readme = super::super::testutil::text(&files, "README.md");
        assert!(readme.contains("build/freq.wasm"), "{readme}");
    }
}
