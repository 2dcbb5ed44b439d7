//! README's commands, run as written, in order, as a user does after `./scripts/demo.sh`.
//!
//! Every line of README's `sh` blocks runs in one `bash -e` script, from a directory laid
//! out as the demo leaves the repository: `target/debug/sandmill`, the word-count plugin
//! where `cargo build --profile plugin --target wasm32-wasip2 -p wordcount` puts it, and
//! sample text in `sample/text`. The lines that build (`cargo …`) or are the two scripts
//! themselves are what this test's own build already did, so they are skipped.

use crate::{arg, shared_compile_cache};
use std::path::Path;
use std::process::Command;

/// The repository's root.
fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The commands of README's `sh` blocks, with `\`-continued lines joined.
fn readme_commands() -> Vec<String> {
    let readme = repo().join("README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md");
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Whether README's line `command` is one this test's build has already done.
fn built_by_the_test_build(command: &str) -> bool {
    command.starts_with("./scripts/") || command.starts_with("cargo ")
}

#[test]
fn every_readme_command_runs_as_written_after_the_demo() {
    let repo = repo();
    let commands = readme_commands();
    let run: Vec<&String> = commands
        .iter()
        .filter(|c| !built_by_the_test_build(c))
        .collect();
    let sandmill_lines = run.iter().filter(|c| c.contains("sandmill ")).count();
    assert!(
        sandmill_lines >= 10,
        "README's sh blocks should show sandmill at work; found {sandmill_lines} commands:\n{run:#?}"
    );

    // The repository as the demo leaves it.
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_sandmill"),
        root.join("target/debug/sandmill"),
    )
    .unwrap();
    let plugin_dir = root.join("target/wasm32-wasip2/plugin");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::fs::copy(
        sandmill_tests::plugins::WORDCOUNT,
        plugin_dir.join("wordcount.wasm"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("sample/text")).unwrap();
    sandmill_tests::generate::text(&root.join("sample/text"), 7, 300_000);

    // The cluster section runs scripts/cluster.sh and the Ray driver from the repository.
    for dir in ["scripts", "python"] {
        std::os::unix::fs::symlink(repo.join(dir), root.join(dir)).unwrap();
    }
    let cluster = tempfile::tempdir().unwrap();
    let script = format!(
        "set -euo pipefail\n{}\n",
        run.iter()
            .map(|c| format!("echo '+ {}'\n{c}", c.replace('\'', "")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .env("SANDMILL_CACHE_DIR", shared_compile_cache())
        .env("SANDMILL_CLUSTER_DIR", cluster.path())
        .output()
        .expect("running bash");
    // The cluster is stopped whatever the commands did (`down` is safe to run twice).
    let _ = Command::new("bash")
        .arg(repo.join("scripts/cluster.sh"))
        .arg("down")
        .env("SANDMILL_CLUSTER_DIR", cluster.path())
        .status();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "a README command failed ({}) in {}:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status,
        arg(root)
    );
    // The commands did what README says they do.
    for expected in [
        "job succeeded",
        "dry run: no task runs and nothing is written",
        "counts: unchanged since v000002",
        "counts: v000002 -> v000001",
        "counts: v000001 -> v000002",
        "tasks committed by an earlier, interrupted run were not run again",
        "created Python job `wc-py`",
        "created JavaScript job `wc-js`",
        "created C job `wc-c`",
    ] {
        assert!(
            stdout.contains(expected),
            "README's commands printed no {expected:?}:\n{stdout}\n{stderr}"
        );
    }
    assert!(root.join("counts/_SUCCESS").exists());
    assert!(root.join("by-hand/_SUCCESS").exists());
    // The job on the Ray cluster wrote what the local one did.
    assert_eq!(
        sandmill_tests::output::read_output(&root.join("counts-from-s3")),
        sandmill_tests::output::read_output(&root.join("counts"))
    );
    // The job service's job wrote what the local one did.
    assert_eq!(
        sandmill_tests::output::read_output(&root.join("counts-served")),
        sandmill_tests::output::read_output(&root.join("counts"))
    );
    for lang in ["py", "js", "c"] {
        assert!(root.join(format!("counts-{lang}/_SUCCESS")).exists());
    }
}
