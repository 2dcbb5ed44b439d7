//! What the job service runs in its worker processes: `sandmill task check` on an uploaded
//! plugin, and compiled plugins authenticated with the service's key (`SANDMILL_COMPILE_KEY`)
//! in every command that loads one.

use crate::{Run, arg};
use sandmill::error::ExitClass;
use sandmill_tests::plugins::WORDCOUNT;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A key as the service passes it.
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

/// Runs `sandmill` with `args` and, if given, `SANDMILL_COMPILE_KEY=key`.
fn sandmill_keyed(args: &[&str], key: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sandmill"));
    cmd.args(args)
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .env_remove("SANDMILL_COMPILE_KEY");
    if let Some(key) = key {
        cmd.env("SANDMILL_COMPILE_KEY", key);
    }
    let output = cmd.output().expect("running the sandmill binary");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first eight bytes (the magic) of the one entry in the compile cache `dir`.
fn entry_magic(dir: &Path) -> String {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one entry: {entries:?}");
    let bytes = std::fs::read(&entries[0]).unwrap();
    String::from_utf8_lossy(&bytes[..8]).into_owned()
}

#[test]
fn task_check_prints_the_plugin_s_sha256_world_exports_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("compiled");
    let run = sandmill_keyed(
        &[
            "task",
            "check",
            "--plugin",
            WORDCOUNT,
            "--compile-cache",
            arg(&cache),
        ],
        None,
    );
    run.assert_success();
    assert_eq!(run.stdout.lines().count(), 1, "one line of JSON\n{run}");
    let check: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let bytes = std::fs::read(WORDCOUNT).unwrap();
    let sha256 = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(check["sha256"], sha256, "{run}");
    assert_eq!(check["size"], bytes.len(), "{run}");
    assert_eq!(check["world"], "sandmill:job/job@0.1.0", "{run}");
    let names = |field: &str| -> Vec<String> {
        let list = check[field].as_array().unwrap_or_else(|| panic!("{run}"));
        list.iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    for export in ["configure", "map-batch", "reduce-groups"] {
        assert!(names("exports").iter().any(|e| e == export), "{run}");
    }
    assert!(
        names("imports")
            .iter()
            .any(|i| i == "sandmill:job/host@0.1.0"),
        "{run}"
    );
    // Compiled for the jobs that run it.
    assert_eq!(entry_magic(&cache), "SMCWASM1");
}

#[test]
fn task_check_refuses_what_is_not_a_component_with_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let header = b"\0asm\x0d\0\x01\0";
    let cases = [
        ("random.wasm", random.clone(), "no `\\0asm` header"),
        (
            "garbled.wasm",
            [&header[..], &random].concat(),
            "it is not a valid component",
        ),
    ];
    for (name, bytes, why) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let run = sandmill_keyed(&["task", "check", "--plugin", arg(&path)], Some(KEY));
        let line = run.assert_error();
        run.assert_exit(ExitClass::Plugin);
        assert!(line.contains(name) && line.contains(why), "{run}");
        assert_eq!(run.stderr.lines().count(), 1, "{run}");
        assert_eq!(run.stdout, "", "{run}");
    }
}

#[test]
fn every_command_that_loads_a_plugin_authenticates_the_cache_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cache_dir, specs_dir) = (dir.path().join("compiled"), dir.path().join("specs"));
    let (input, out) = (dir.path().join("in.txt"), dir.path().join("out"));
    std::fs::write(&input, "a b\nb c\n").unwrap();
    let (cache, input, out) = (arg(&cache_dir), arg(&input), arg(&out));
    // `command` on the job, then `extra`.
    let job = |command: &[&'static str], extra: &[&'static str]| {
        let job = [
            WORDCOUNT,
            "--input",
            input,
            "--output",
            out,
            "--reducers",
            "1",
        ];
        [command, &job, &["--compile-cache", cache], extra].concat()
    };
    let run = |args: &[&str], key| sandmill_keyed(args, key);

    // `task check` with the key writes a keyed entry; without the key, `run` does not trust
    // it: it compiles the plugin again and replaces the entry.
    let check = [
        "task",
        "check",
        "--plugin",
        WORDCOUNT,
        "--compile-cache",
        cache,
    ];
    run(&check, Some(KEY)).assert_success();
    assert_eq!(entry_magic(&cache_dir), "SMCWASM2");
    let dry = job(&["run"], &["--dry-run"]);
    run(&dry, None).assert_success();
    assert_eq!(entry_magic(&cache_dir), "SMCWASM1");

    // `task plan` and `task run` with the key replace an unkeyed entry...
    let plan = [
        job(&["task", "plan"], &[]),
        vec!["--specs", arg(&specs_dir)],
    ]
    .concat();
    run(&plan, Some(KEY)).assert_success();
    assert_eq!(entry_magic(&cache_dir), "SMCWASM2");
    let spec = specs_dir.join("map-0.json");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(
        !text.to_lowercase().contains(&KEY[..16]),
        "the key is in\n{text}"
    );
    run(&dry, None).assert_success();
    assert_eq!(entry_magic(&cache_dir), "SMCWASM1");
    let ran = run(&["task", "run", "--spec", arg(&spec)], Some(KEY));
    ran.assert_success();
    assert_eq!(entry_magic(&cache_dir), "SMCWASM2", "{ran}");

    // ... and `run` with the key publishes, loading the keyed entry; its task processes
    // inherit the key (one without it would replace the entry with an unkeyed one).
    let published = run(&job(&["run"], &["--executor", "process"]), Some(KEY));
    published.assert_success();
    assert!(
        published.stdout.contains("loaded from the compile cache"),
        "{published}"
    );
    assert_eq!(entry_magic(&cache_dir), "SMCWASM2", "{published}");
}

#[test]
fn a_malformed_key_is_a_usage_error_that_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let out = dir.path().join("out");
    let specs = dir.path().join("specs");
    let job = [WORDCOUNT, "--input", arg(&input), "--output", arg(&out)];
    sandmill_keyed(
        &[&["task", "plan"][..], &job, &["--specs", arg(&specs)]].concat(),
        None,
    )
    .assert_success();
    let spec = specs.join("map-0.json");
    let commands: [Vec<&str>; 5] = [
        [&["run"][..], &job].concat(),
        [&["run"][..], &job, &["--no-compile-cache"]].concat(),
        [&["task", "plan"][..], &job, &["--specs", arg(&specs)]].concat(),
        vec!["task", "check", "--plugin", WORDCOUNT],
        vec!["task", "run", "--spec", arg(&spec)],
    ];
    let long = KEY.replace('0', "g");
    let signed = "+f".repeat(32);
    for key in [
        "",
        "abc",
        &KEY[1..],
        &format!("{KEY}00"),
        &long,
        &signed,
        &format!("{KEY}\n"),
    ] {
        for args in &commands {
            let run = sandmill_keyed(args, Some(key));
            let line = run.assert_error();
            run.assert_exit(ExitClass::Usage);
            assert!(
                line.contains("SANDMILL_COMPILE_KEY is set but is not 64 hex digits"),
                "{args:?}: {run}"
            );
            if !key.is_empty() {
                assert!(!line.contains(key), "the key is not shown: {run}");
            }
            if args[1] == "run" && args[0] == "task" {
                let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
                assert_eq!(result["status"], "usage", "{run}");
                assert_eq!(result["task"], "map-0", "{run}");
            }
        }
    }
    assert!(!out.exists());
}
