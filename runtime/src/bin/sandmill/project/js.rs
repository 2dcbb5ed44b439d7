//! JavaScript job projects: `job.js` (an ES module whose default export is the job) beside a
//! copy of the SDK in `sandmill/`, built into a component by componentize-js (through the SDK's
//! `build.mjs`, run by Node.js).

use super::Project;
use super::toolchain::{self, BuildError};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file that marks a JavaScript project.
pub const MARKER: &str = "job.js";

/// The packages `scripts/toolchains/js.sh` installs (pinned by
/// `sdk/js/toolchain/package-lock.json`): componentize-js imports preview2-shim at run time
/// without depending on it.
const COMPONENTIZE_JS: &str =
    "@bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0";

/// Where componentize-js's module is, below a directory that holds `node_modules`.
const COMPONENTIZE_ENTRY: &str =
    "node_modules/@bytecodealliance/componentize-js/src/componentize.js";

/// The script that installs the toolchain, in the checkout this binary was built from.
const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/setup-toolchain.sh");

/// The contract, written beside the build script for componentize-js.
const WIT: &str = include_str!("../../../../../wit/job.wit");

/// The SDK's files, as a project's `sandmill/` holds them (not its own tests and toolchain pins).
const SDK: super::Embedded = &[
    ("README.md", include_str!("../../../../../sdk/js/README.md")),
    (
        "adapter.js",
        include_str!("../../../../../sdk/js/adapter.js"),
    ),
    ("build.mjs", include_str!("../../../../../sdk/js/build.mjs")),
    ("codec.js", include_str!("../../../../../sdk/js/codec.js")),
    ("csv.js", include_str!("../../../../../sdk/js/csv.js")),
    ("emit.js", include_str!("../../../../../sdk/js/emit.js")),
    ("errors.js", include_str!("../../../../../sdk/js/errors.js")),
    ("host.js", include_str!("../../../../../sdk/js/host.js")),
    (
        "index.d.ts",
        include_str!("../../../../../sdk/js/index.d.ts"),
    ),
    ("index.js", include_str!("../../../../../sdk/js/index.js")),
    ("json.js", include_str!("../../../../../sdk/js/json.js")),
    (
        "package.json",
        include_str!("../../../../../sdk/js/package.json"),
    ),
    ("params.js", include_str!("../../../../../sdk/js/params.js")),
    (
        "partition.js",
        include_str!("../../../../../sdk/js/partition.js"),
    ),
    ("record.js", include_str!("../../../../../sdk/js/record.js")),
    (
        "testing.d.ts",
        include_str!("../../../../../sdk/js/testing.d.ts"),
    ),
    (
        "testing.js",
        include_str!("../../../../../sdk/js/testing.js"),
    ),
    ("text.js", include_str!("../../../../../sdk/js/text.js")),
    ("values.js", include_str!("../../../../../sdk/js/values.js")),
];

/// The files of `plugins/js/wordcount` but its `sandmill` link to the SDK.
const EXAMPLE: super::Embedded = &[
    (
        ".gitignore",
        include_str!("../../../../../plugins/js/wordcount/.gitignore"),
    ),
    (
        "README.md",
        include_str!("../../../../../plugins/js/wordcount/README.md"),
    ),
    (
        "job.js",
        include_str!("../../../../../plugins/js/wordcount/job.js"),
    ),
    (
        "job.test.js",
        include_str!("../../../../../plugins/js/wordcount/job.test.js"),
    ),
    (
        "package.json",
        include_str!("../../../../../plugins/js/wordcount/package.json"),
    ),
];

/// The SDK directories a project's copy leaves out: the SDK's own tests and toolchain pins.
#[cfg(test)]
const NOT_COPIED: &[&str] = &["tests", "toolchain"];

/// The files of `sandmill new --lang js`: the word count of `plugins/js/wordcount`, named
/// `name`, with the SDK in `sandmill/`.
pub fn template(name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let example = super::example(EXAMPLE, name).into_iter();
    Ok(example.chain(super::files("sandmill", SDK, name)).collect())
}

/// Builds a JavaScript project: runs this binary's copy of the SDK's `build.mjs` with Node.js
/// and componentize-js, which writes the component to `out`.
pub fn build(project: &Project, out: &Path) -> anyhow::Result<()> {
    let setup = Path::new(SETUP);
    let setup = setup.canonicalize().unwrap_or_else(|_| setup.to_path_buf());
    let toolchain = toolchain::toolchains_dir().join("js");
    let node = toolchain::require(
        "node",
        &[],
        "JavaScript",
        &format!(
            "{} js` or, on Debian, `apt-get install nodejs npm",
            setup.display()
        ),
    )?;
    let componentize = find_componentize(project, &toolchain, &setup)?;
    if !project.dir.join("sandmill").join("adapter.js").is_file() {
        anyhow::bail!(
            "{} has no sandmill/adapter.js: a JavaScript job needs the SDK in its sandmill/ \
             directory; copy it from a new project (`sandmill new DIR --lang js`)",
            project.dir.display()
        );
    }
    let scratch = Scratch::new()?;
    let (script, wit) = (scratch.0.join("build.mjs"), scratch.0.join("job.wit"));
    let sdk_build = SDK
        .iter()
        .find(|(path, _)| *path == "build.mjs")
        .map(|(_, contents)| *contents)
        .expect("build.mjs is embedded");
    std::fs::write(&script, sdk_build)
        .and_then(|()| std::fs::write(&wit, WIT))
        .with_context(|| format!("cannot write the build files in {}", scratch.0.display()))?;
    let mut cmd = Command::new(&node);
    cmd.arg(&script)
        .arg("--project")
        .arg(&project.dir)
        .arg("--out")
        .arg(out)
        .arg("--wit")
        .arg(&wit)
        .arg("--componentize")
        .arg(&componentize);
    toolchain::run(
        &format!("componentize-js on {}", project.dir.join(MARKER).display()),
        &mut cmd,
    )?;
    Ok(())
}

/// A directory of this process's own in the system's temp directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("sandmill-build-js-{}", std::process::id()));
        // A directory left by an earlier process of the same id, killed before it cleaned up.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot make the scratch directory {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// componentize-js's module: in the toolchain directory, or in the project's own
/// `node_modules` (after `npm install @bytecodealliance/componentize-js` there).
fn find_componentize(
    project: &Project,
    toolchain: &Path,
    setup: &Path,
) -> Result<PathBuf, BuildError> {
    let places = [toolchain.to_path_buf(), project.dir.clone()];
    places
        .iter()
        .map(|dir| dir.join(COMPONENTIZE_ENTRY))
        .find(|entry| entry.is_file())
        .ok_or_else(|| BuildError::Missing {
            tool: "componentize-js".to_owned(),
            lang: "JavaScript",
            looked: places
                .iter()
                .map(|d| d.join("node_modules").display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            install: format!(
                "{} js` or `npm install --prefix {} {COMPONENTIZE_JS}",
                setup.display(),
                toolchain.display()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{embedded, listed, repo};
    use super::*;

    #[test]
    fn every_file_of_the_sdk_and_the_example_is_embedded() {
        let repo = repo();
        assert_eq!(
            embedded(SDK),
            listed(&repo.join("sdk/js"), NOT_COPIED),
            "sdk/js and js.rs's SDK list differ: embed every SDK file a project needs"
        );
        assert_eq!(
            embedded(EXAMPLE),
            listed(&repo.join("plugins/js/wordcount"), &[]),
            "plugins/js/wordcount and js.rs's EXAMPLE list differ"
        );
    }

    #[test]
    fn the_template_names_the_project_and_holds_the_sdk() {
        let files = template("tally").unwrap();
        let text = |path: &str| super::super::testutil::text(&files, path);
        assert!(text("package.json").contains("\"name\": \"tally\""));
        let readme = text("README.md");
        assert!(readme.starts_with("# tally\n") && readme.contains("build/tally.wasm"));
        assert!(!readme.contains("wordcount"), "{readme}");
        assert!(text("job.js").contains("./sandmill/index.js"));
        assert_eq!(
            text("sandmill/adapter.js"),
            include_str!("../../../../../sdk/js/adapter.js")
        );
        assert_eq!(files.len(), SDK.len() + EXAMPLE.len());
    }
}
