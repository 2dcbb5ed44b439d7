//! Rust job projects: a `cdylib` crate depending on sandmill-sdk, built by cargo for
//! `wasm32-wasip2`.

use super::Project;
use super::toolchain::{self, BuildError};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file that marks a Rust project.
pub const MARKER: &str = "Cargo.toml";

/// The Rust target components are built for.
const TARGET: &str = "wasm32-wasip2";

/// The SDK this binary was built with: the `sdk/` of the checkout it was built from.
const SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// The files of `sandmill new --lang rust`: the word count of `plugins/wordcount`, with the
/// versions of every dependency this repository was tested with (its `Cargo.lock`).
pub fn template(name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let sdk = Path::new(SDK).canonicalize().with_context(|| {
        format!(
            "this sandmill was built from a checkout whose SDK ({SDK}) is gone; a Rust job \
             depends on sandmill-sdk by path: build sandmill again from a checkout"
        )
    })?;
    let sdk = sdk.to_str().context("the SDK's path is not UTF-8")?;
    let embedded: super::Embedded = &[
        ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
        ("Cargo.lock", include_str!("../../../../../Cargo.lock")),
        ("README.md", include_str!("templates/rust/README.md")),
        (".gitignore", include_str!("templates/rust/gitignore")),
        (
            "src/lib.rs",
            include_str!("../../../../../plugins/wordcount/src/lib.rs"),
        ),
    ];
    Ok(super::files("", embedded, name)
        .into_iter()
        .map(|(path, contents)| {
            let text = String::from_utf8(contents).expect("embedded as text");
            (path, text.replace("{{sdk}}", sdk).into_bytes())
        })
        .collect())
}

/// Builds a Rust project with `cargo build --release --target wasm32-wasip2` and copies the
/// component to `out`.
pub fn build(project: &Project, out: &Path) -> anyhow::Result<()> {
    let install = "curl https://sh.rustup.rs -sSf | sh (https://rustup.rs)";
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .map_or_else(|| toolchain::require("cargo", &[], "Rust", install), Ok)?;
    check_target(project)?;
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&project.dir).args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--message-format=json-render-diagnostics",
    ]);
    let what = format!("cargo build in {}", project.dir.display());
    let output = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", cargo.display()))?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            what,
            status: output.status.to_string(),
        }
        .into());
    }
    let wasm = built_component(&output.stdout).with_context(|| {
        format!(
            "cargo built no .wasm in {}: is the crate a `cdylib` (`[lib] crate-type = \
             [\"cdylib\"]`)?",
            project.dir.display()
        )
    })?;
    std::fs::copy(&wasm, out)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), out.display()))?;
    Ok(())
}

/// Fails with the command to run when the `wasm32-wasip2` target is not installed.
fn check_target(project: &Project) -> anyhow::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .current_dir(&project.dir)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match sysroot {
        Some(root) if !root.join("lib/rustlib").join(TARGET).is_dir() => {
            anyhow::bail!(
                "the Rust target {TARGET} is not installed; install it with `rustup target add \
                 {TARGET}`"
            )
        }
        _ => Ok(()),
    }
}

/// The `.wasm` file among the artifacts of cargo's JSON messages.
fn built_component(messages: &[u8]) -> Option<PathBuf> {
    messages
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
}
