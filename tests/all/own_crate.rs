//! A job in a crate of its own, outside this repository, made exactly as `sdk/README.md`
//! says: its `Cargo.toml`, its `src/lib.rs`, its build command, and `sandmill run` on the
//! component where the README says it lands.

use crate::arg;
use std::path::Path;
use std::process::Command;

/// The first fenced block of `lang` in `text` after the line `after`, without rustdoc's
/// hidden lines (`# …`).
fn block(text: &str, lang: &str, after: &str) -> String {
    let start = text.find(after).unwrap_or_else(|| panic!("no {after:?}"));
    let fence = format!("```{lang}\n");
    let body = &text[start..];
    let open = body
        .find(&fence)
        .unwrap_or_else(|| panic!("no {lang} block"))
        + fence.len();
    let close = body[open..].find("```").unwrap() + open;
    body[open..close]
        .lines()
        .filter(|l| *l != "#" && !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_job_in_its_own_crate_builds_and_runs_as_the_sdk_readme_says() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(repo.join("sdk/README.md")).unwrap();
    let section = "## Your own job, in its own crate";
    let manifest = block(&readme, "toml", section);
    let documented_dependency = r#"sandmill-sdk = { path = "/path/to/sandmill/sdk" }"#;
    assert!(manifest.contains(documented_dependency), "{manifest}");
    let sdk = repo.join("sdk").canonicalize().unwrap();
    let manifest = manifest.replace(
        documented_dependency,
        &format!("sandmill-sdk = {{ path = {:?} }}", arg(&sdk)),
    );
    let job = block(&readme, "rust", "## A job\n");
    assert!(job.contains("export_job!"), "{job}");
    let build = block(&readme, "sh", "Put the job in `src/lib.rs`");
    let (build_command, run_command) = {
        let mut lines = build.lines();
        (
            lines.next().unwrap().to_owned(),
            lines.next().unwrap().to_owned(),
        )
    };
    assert_eq!(
        build_command,
        "cargo build --release --target wasm32-wasip2"
    );

    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("wordfreq");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(krate.join("src/lib.rs"), job).unwrap();
    // The versions this repository was tested with, so that the build needs nothing new.
    std::fs::copy(repo.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&krate)
        .args(build_command.split(' ').skip(1))
        .arg("--offline")
        .arg("--quiet");
    crate::nested_cargo(&mut cmd);
    // Kept between test runs, so that only the first builds the SDK's dependencies.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("own-crate-target");
    let built = cmd.env("CARGO_TARGET_DIR", &target).output().unwrap();
    assert!(
        built.status.success(),
        "{build_command} failed in {}:\n{}",
        krate.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/wordfreq.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());

    // The README's run command, from the crate's directory, on the component this build made
    // (cargo put it under `CARGO_TARGET_DIR`, which the README's user does not set).
    std::fs::create_dir_all(krate.join("target/wasm32-wasip2/release")).unwrap();
    std::fs::copy(
        &wasm,
        krate.join("target/wasm32-wasip2/release/wordfreq.wasm"),
    )
    .unwrap();
    std::fs::create_dir_all(krate.join("some/text")).unwrap();
    std::fs::write(krate.join("some/text/a.txt"), "a B a\nb.\n").unwrap();
    let args: Vec<&str> = run_command.split_whitespace().collect();
    assert_eq!(args[..2], ["sandmill", "run"], "{run_command}");
    let run = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(&args[1..])
        .current_dir(&krate)
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{run_command}: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let out = krate.join("counts");
    let mut lines: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        })
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, ["a\t2", "b\t2"]);
}
