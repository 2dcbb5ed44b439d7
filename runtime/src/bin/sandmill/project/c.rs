//! C job projects: `job.c` with the C SDK in `sandmill/`, compiled by clang for wasm32-wasi
//! (preview 1, Debian's wasi-libc) against bindings that wit-bindgen's C generator writes from
//! the SDK's copy of the WIT, then wrapped into a component with the preview-1 reactor adapter
//! by `jco new`.
//!
//! ```text
//! sandmill/wit/job.wit --wit-bindgen c--> BUILD/bindings/{job.c,job.h,job_component_type.o}
//! *.c sandmill/*.c bindings --clang--> BUILD/core.wasm --jco new --wasi-reactor--> NAME.wasm
//! ```
//!
//! BUILD is `NAME.build/` beside the component, so the bindings can be read after a build.

use super::Project;
use super::toolchain::{self, BuildError};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file that marks a C project.
pub const MARKER: &str = "job.c";

/// The files of `plugins/c/wordcount`, as `(path in the project, contents)`.
const WORDCOUNT: super::Embedded = &[
    (
        "job.c",
        include_str!("../../../../../plugins/c/wordcount/job.c"),
    ),
    (
        "test.c",
        include_str!("../../../../../plugins/c/wordcount/test.c"),
    ),
    (
        "README.md",
        include_str!("../../../../../plugins/c/wordcount/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../../../plugins/c/wordcount/.gitignore"),
    ),
];

/// The files of the C SDK (`sdk/c`), which a project holds in `sandmill/`.
const SDK: super::Embedded = &[
    (
        "sandmill.h",
        include_str!("../../../../../sdk/c/sandmill.h"),
    ),
    (
        "sandmill_testing.h",
        include_str!("../../../../../sdk/c/sandmill_testing.h"),
    ),
    (
        "internal.h",
        include_str!("../../../../../sdk/c/internal.h"),
    ),
    ("adapter.c", include_str!("../../../../../sdk/c/adapter.c")),
    ("codec.c", include_str!("../../../../../sdk/c/codec.c")),
    ("emit.c", include_str!("../../../../../sdk/c/emit.c")),
    ("error.c", include_str!("../../../../../sdk/c/error.c")),
    ("host.c", include_str!("../../../../../sdk/c/host.c")),
    ("params.c", include_str!("../../../../../sdk/c/params.c")),
    (
        "partition.c",
        include_str!("../../../../../sdk/c/partition.c"),
    ),
    ("record.c", include_str!("../../../../../sdk/c/record.c")),
    ("testing.c", include_str!("../../../../../sdk/c/testing.c")),
    ("text.c", include_str!("../../../../../sdk/c/text.c")),
    ("values.c", include_str!("../../../../../sdk/c/values.c")),
    ("README.md", include_str!("../../../../../sdk/c/README.md")),
    (
        "wit/job.wit",
        include_str!("../../../../../sdk/c/wit/job.wit"),
    ),
];

/// The directory of the project's copy of the SDK.
const SDK_DIR: &str = "sandmill";

/// The WIT the bindings are generated from, in the project.
const WIT: &str = "sandmill/wit/job.wit";

/// The wit-bindgen the SDK's adapter is written against: the C names it generates change
/// between releases.
const WIT_BINDGEN_VERSION: &str = "0.63.";

/// The Debian packages clang needs to build for wasm32-wasi.
const DEBIAN_PACKAGES: &str = "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc";

/// Where Debian's wasi-libc puts the preview-1 sysroot's libraries.
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi/libc.a";

/// The files of `sandmill new --lang c`: the word count of `plugins/c/wordcount`, with the SDK
/// in `sandmill/`.
pub fn template(name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = super::example(WORDCOUNT, name);
    files.extend(super::files(SDK_DIR, SDK, name));
    Ok(files)
}

/// The tools a C build runs.
struct Tools {
    clang: PathBuf,
    wit_bindgen: PathBuf,
    jco: PathBuf,
}

/// The command that installs the C toolchain: this checkout's script, or the registries'
/// clients by hand.
fn install_hint() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup-toolchain.sh");
    let script = script.canonicalize().unwrap_or(script);
    format!(
        "{} c`, or by hand: `apt-get install {DEBIAN_PACKAGES}`, `cargo install wit-bindgen-cli \
         --version 0.63.0 --locked --no-default-features --features c --root {dest}` and `npm \
         install --prefix {dest} @bytecodealliance/jco@1.35.0",
        script.display(),
        dest = toolchain::toolchains_dir().join("c").display(),
    )
}

/// Finds clang (`clang-19` first, as Debian names it), wit-bindgen and jco, in the toolchain
/// directory first, then on `PATH`; and checks that wasi-libc and node are there.
fn tools() -> Result<Tools, BuildError> {
    let dest = toolchain::toolchains_dir().join("c");
    let extra = [dest.join("bin"), dest.join("node_modules/.bin")];
    let install = install_hint();
    let clang = toolchain::find("clang-19", &extra)
        .or_else(|_| toolchain::require("clang", &extra, "C", &install))?;
    if !Path::new(WASI_LIBC).is_file() {
        return Err(BuildError::Missing {
            tool: "wasi-libc (the wasm32-wasi C library)".to_owned(),
            lang: "C",
            looked: WASI_LIBC.to_owned(),
            install,
        });
    }
    let wit_bindgen = toolchain::require("wit-bindgen", &extra, "C", &install)?;
    check_wit_bindgen(&wit_bindgen, &install)?;
    // jco is a node script.
    toolchain::require("node", &extra, "C", &install)?;
    let jco = toolchain::require("jco", &extra, "C", &install)?;
    Ok(Tools {
        clang,
        wit_bindgen,
        jco,
    })
}

/// Fails unless `wit_bindgen` is the release the SDK's adapter is written against.
fn check_wit_bindgen(wit_bindgen: &Path, install: &str) -> Result<(), BuildError> {
    let version = Command::new(wit_bindgen)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let number = version.strip_prefix("wit-bindgen-cli ").unwrap_or(&version);
    if number.starts_with(WIT_BINDGEN_VERSION) {
        return Ok(());
    }
    Err(BuildError::Missing {
        tool: format!("wit-bindgen {WIT_BINDGEN_VERSION}x"),
        lang: "C",
        looked: format!("{} is {version:?}", wit_bindgen.display()),
        install: install.to_owned(),
    })
}

/// The C files of the job: every `.c` file at the project's top level but the native test
/// (`test.c`), and the SDK's.
fn sources(project: &Project) -> anyhow::Result<Vec<PathBuf>> {
    let mut sources = Vec::new();
    for dir in [Path::new(""), Path::new(SDK_DIR)] {
        let full = project.dir.join(dir);
        let entries = std::fs::read_dir(&full).with_context(|| {
            format!(
                "cannot read {}{}",
                full.display(),
                if dir.as_os_str().is_empty() {
                    ""
                } else {
                    " (the project's copy of the C SDK; `sandmill new DIR --lang c` makes one)"
                }
            )
        })?;
        for entry in entries {
            let name = entry?.file_name();
            let path = dir.join(&name);
            let is_c = path.extension().is_some_and(|e| e == "c");
            if is_c && !(dir.as_os_str().is_empty() && name == "test.c") {
                sources.push(path);
            }
        }
    }
    sources.sort();
    Ok(sources)
}

/// Builds a C project: bindings from the SDK's WIT, clang for wasm32-wasi, then `jco new`
/// with the preview-1 reactor adapter into `out`.
pub fn build(project: &Project, out: &Path) -> anyhow::Result<()> {
    let wit = project.dir.join(WIT);
    if !wit.is_file() {
        anyhow::bail!(
            "{} is missing: a C job needs the SDK in `sandmill/` beside job.c (make a project \
             with `sandmill new DIR --lang c`, or copy sdk/c of the Sandmill repository there)",
            wit.display()
        );
    }
    let tools = tools()?;
    let stem = out.file_stem().unwrap_or(out.as_os_str()).to_string_lossy();
    let work = out.with_file_name(format!("{stem}.build"));
    let bindings = work.join("bindings");
    std::fs::create_dir_all(&bindings)
        .with_context(|| format!("cannot create {}", bindings.display()))?;

    toolchain::run(
        "generating the C bindings",
        Command::new(&tools.wit_bindgen)
            .args(["c", "--out-dir"])
            .arg(&bindings)
            .arg(&wit),
    )?;

    let core = work.join("core.wasm");
    let mut clang = Command::new(&tools.clang);
    // Relative paths, so that an error's trace names `job.c`, not where the project lives.
    // A reactor: the component calls its `_initialize` (constructors) once, then the exports.
    // `-flto` lets the linker inline the SDK's emitters into the job's loops, and bulk memory
    // (which Sandmill's wasmtime supports) turns `memcpy` into `memory.copy`.
    clang
        .current_dir(&project.dir)
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O3",
            "-flto",
            "-mbulk-memory",
            "-Wall",
            "-Wl,--strip-debug",
        ])
        .arg("-I")
        .arg(&bindings)
        .arg("-o")
        .arg(&core)
        .args(sources(project)?)
        .arg(bindings.join("job.c"))
        .arg(bindings.join("job_component_type.o"));
    toolchain::run("compiling the job with clang", &mut clang)?;

    toolchain::run(
        "making the component with jco",
        Command::new(&tools.jco)
            .arg("new")
            .arg(&core)
            .arg("--wasi-reactor")
            .arg("-o")
            .arg(out),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{embedded, listed, repo};
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_file_of_the_sdk_and_the_example_is_embedded() {
        let repo = repo();
        assert_eq!(embedded(SDK), listed(&repo.join("sdk/c"), &[]));
        // `sandmill` is the symlink to the SDK, `build` what a local build leaves.
        let example = listed(&repo.join("plugins/c/wordcount"), &["build"]);
        assert_eq!(embedded(WORDCOUNT), example);
    }

    #[test]
    fn the_template_names_the_project() {
        let files = template("my-job").unwrap();
        let readme = super::super::testutil::text(&files, "README.md");
        assert!(readme.starts_with("# my-job\n"), "{readme}");
        assert!(readme.contains("build/my-job.wasm"), "{readme}");
        assert!(!readme.contains("wordcount"), "{readme}");
        let paths: BTreeSet<_> = files.iter().map(|(p, _)| p.clone()).collect();
        assert!(paths.contains(Path::new("job.c")));
        assert!(paths.contains(Path::new("sandmill/sandmill.h")));
        assert!(paths.contains(Path::new("sandmill/wit/job.wit")));
    }
}
