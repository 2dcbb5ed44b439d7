//! `sandmill new --lang rust` and `sandmill build`, as a new user runs them; and what both say
//! when given something that is not a project.

use super::{STREAMING, assert_same_output};
use crate::{arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::plugins::WORDCOUNT;
use std::path::Path;
use std::process::Command;

/// `cmd`, a nested cargo, with the target directory the tests keep.
fn nested_cargo(cmd: &mut Command) -> &mut Command {
    crate::nested_cargo(cmd);
    // Kept between test runs, so that only the first builds the SDK's dependencies.
    cmd.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-rust-target"),
    )
    .env("CARGO_NET_OFFLINE", "true")
    .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
}

#[test]
fn a_new_rust_job_tests_builds_and_counts_words_as_the_example_does() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("wordfreq");
    let made = sandmill(["new", arg(&project), "--lang", "rust"]);
    made.assert_success();
    assert!(made.stdout.contains("sandmill build"), "{made}");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "src/lib.rs",
        ".gitignore",
    ] {
        assert!(project.join(file).is_file(), "no {file}\n{made}");
    }
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"wordfreq\""), "{manifest}");
    assert!(!manifest.contains("{{"), "{manifest}");

    // Its own test passes, natively.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tested = nested_cargo(
        Command::new(&cargo)
            .current_dir(&project)
            .args(["test", "-q"]),
    )
    .output()
    .unwrap();
    assert!(
        tested.status.success(),
        "cargo test in a new project:\n{}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );

    // `sandmill build` with no DIR builds the project in the current directory.
    let built = nested_cargo(Command::new(env!("CARGO_BIN_EXE_sandmill")).current_dir(&project))
        .arg("build")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "sandmill build:\n{stdout}{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = project.join("build/wordfreq.wasm");
    assert_eq!(stdout.trim_end(), wasm.display().to_string());

    let text = dir.path().join("text");
    sandmill_tests::generate::text(&text, 11, 1 << 20);
    assert_same_output(&wasm, WORDCOUNT, &text, &["--reducers", "3"]);
    assert_same_output(&wasm, WORDCOUNT, &text, STREAMING);
}

#[test]
fn new_refuses_a_directory_that_is_not_empty_and_a_name_that_cannot_name_a_job() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let run = sandmill(["new", arg(dir.path()), "--lang", "rust"]);
    let line = run.assert_error();
    assert!(line.contains("exists and is not empty"), "{run}");
    run.assert_exit(ExitClass::Usage);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{run}");

    let bad = dir.path().join("2 words");
    let run = sandmill(["new", arg(&bad), "--lang", "python"]);
    assert!(run.assert_error().contains("cannot name a job"), "{run}");
    assert!(!bad.exists());
}

#[test]
fn build_says_what_a_project_is_when_given_something_else() {
    let dir = tempfile::tempdir().unwrap();
    let run = sandmill(["build", arg(dir.path())]);
    let line = run.assert_error();
    for marker in ["Cargo.toml", "job.py", "job.js", "job.c", "sandmill new"] {
        assert!(line.contains(marker), "{line}");
    }
    run.assert_exit(ExitClass::Usage);

    std::fs::write(dir.path().join("job.py"), "").unwrap();
    std::fs::write(dir.path().join("job.js"), "").unwrap();
    let line = sandmill(["build", arg(dir.path())])
        .assert_error()
        .to_owned();
    assert!(line.contains("job.py and job.js"), "{line}");

    let run = sandmill(["build", arg(&dir.path().join("nowhere"))]);
    assert!(run.assert_error().contains("is not a directory"), "{run}");
}

#[test]
fn a_rust_project_that_does_not_compile_fails_the_build_with_the_compilers_message() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("broken");
    sandmill(["new", arg(&project), "--lang", "rust"]).assert_success();
    std::fs::write(
        project.join("src/lib.rs"),
        "fn job() -> u32 { \"not a number\" }\n",
    )
    .unwrap();
    let out = nested_cargo(&mut Command::new(env!("CARGO_BIN_EXE_sandmill")))
        .args(["build", arg(&project)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(ExitClass::Plugin.code())),
        "{stderr}"
    );
    assert!(stderr.contains("mismatched types"), "{stderr}");
    let last = stderr.trim_end().lines().next_back().unwrap_or_default();
    assert!(last.starts_with("error: cargo build in "), "{stderr}");
    assert!(last.contains("its messages are above"), "{stderr}");
    assert!(!project.join("build/broken.wasm").exists());
}
