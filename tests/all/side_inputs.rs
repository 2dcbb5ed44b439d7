//! Side inputs (`--side-input NAME=PATH`) end to end, on the join-products example: the
//! broadcast join against the reference join and against the reduce-side join of the same
//! data, the memory bound, an unknown name, reruns and resume, and tasks in processes of
//! their own.

use crate::{arg, sandmill, sandmill_with_failpoints};
use sandmill::error::ExitClass;
use sandmill_tests::generate::{self, JoinFiles};
use sandmill_tests::plugins::JOIN_PRODUCTS;
use sandmill_tests::{assert_lines_eq, output, reference};
use std::path::{Path, PathBuf};

/// Generated events and products in `dir`.
fn data(dir: &Path) -> JoinFiles {
    generate::join(dir, 14, 3000, 300)
}

/// The product files of `data`, as a directory read as input yields them.
fn product_files(data: &JoinFiles) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data.products)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    files.sort();
    files
}

/// The arguments of a broadcast join of `data` into `out`, then `extra`.
fn broadcast(data: &JoinFiles, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_string(), JOIN_PRODUCTS.to_string()];
    for events in &data.events {
        args.extend(["--input".into(), arg(events).into()]);
    }
    args.extend([
        "--side-input".into(),
        format!("products={}", arg(&data.products)),
        "--output".into(),
        arg(out).into(),
        "--format".into(),
        "jsonl".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The summary JSON a run wrote to `path`.
fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_broadcast_join_equals_the_reference_and_the_reduce_side_join() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let want = reference::join_products(&data.events, &product_files(&data));
    assert!(want.iter().any(|l| l.contains(r#""category":null"#)));
    assert!(want.iter().any(|l| !l.contains(r#""category":null"#)));

    // Small splits: many map tasks, each of which reads the side input.
    for (reducers, threads, split) in [("1", "1", "64MiB"), ("3", "2", "2000")] {
        let out = dir.path().join(format!("broadcast-{reducers}"));
        let flags = ["-r", reducers, "-j", threads, "--split-size", split];
        sandmill(broadcast(&data, &out, &flags)).assert_success();
        output::assert_committed(&out, reducers.parse().unwrap());
        let got = output::read_output(&out);
        assert_lines_eq!(&want, got, "broadcast join, {reducers} reducers");
    }

    // The reduce-side join: products are an input; the same lines, keyed otherwise.
    let out = dir.path().join("reduce-side");
    let mut args = vec!["run", JOIN_PRODUCTS, "--input"];
    args.extend(data.events.iter().map(|p| arg(p)));
    args.extend([
        arg(&data.products),
        "--output",
        arg(&out),
        "--format",
        "jsonl",
        "--param",
        "mode=reduce-side",
        "-r",
        "3",
        "--split-size",
        "2000",
    ]);
    sandmill(&args).assert_success();
    let got = output::read_output(&out);
    assert_lines_eq!(&want, got, "reduce-side join");
}

#[test]
fn a_side_input_over_the_bound_fails_before_any_task_naming_it_its_size_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let bytes: u64 = product_files(&data)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let out = dir.path().join("out");
    let limit = (bytes / 2).to_string();
    let run = sandmill(broadcast(&data, &out, &["--max-side-input-bytes", &limit]));
    let error = run.assert_error().to_owned();
    run.assert_exit(ExitClass::Usage);
    assert!(
        error.contains(&format!(
            "side input products is {bytes} bytes, over --max-side-input-bytes {limit}"
        )),
        "{run}"
    );
    assert!(!out.exists(), "no task ran, nothing was written\n{run}");
    assert!(!run.stderr.contains("map task"), "{run}");
    // Just enough: its files' size.
    sandmill(broadcast(
        &data,
        &out,
        &["--max-side-input-bytes", &bytes.to_string()],
    ))
    .assert_success();
}

#[test]
fn a_side_input_the_job_lacks_fails_the_task_naming_it_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let out = dir.path().join("out");
    let mut args = broadcast(&data, &out, &[]);
    let side = args.iter().position(|a| a == "--side-input").unwrap();
    args[side + 1] = format!("other={}", arg(&data.products));
    let run = sandmill(&args);
    let error = run.assert_error().to_owned();
    run.assert_exit(ExitClass::Plugin);
    assert!(error.contains("map task "), "the task is named\n{run}");
    assert!(
        error.contains(
            "side_input(products): the job has no side input named products (it has other); \
             run it with --side-input products=PATH"
        ),
        "{run}"
    );
    assert!(!out.exists(), "{run}");
}

#[test]
fn a_changed_side_input_reruns_the_job_and_an_unchanged_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let out = dir.path().join("out");
    let json = dir.path().join("summary.json");
    let flags = ["--summary-json", arg(&json), "-r", "2"];
    sandmill(broadcast(&data, &out, &flags)).assert_success();
    assert_eq!(summary(&json)["unchanged"], false);
    sandmill(broadcast(&data, &out, &flags)).assert_success();
    let again = summary(&json);
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["map"]["tasks"], 0);

    // A new category for a product some events buy: a new version with the new join.
    let file = product_files(&data)[0].clone();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"product_id\":\"p00000\",\"category\":\"aaa first\",\"name\":\"x\"}\n");
    std::fs::write(&file, text).unwrap();
    sandmill(broadcast(&data, &out, &flags)).assert_success();
    let changed = summary(&json);
    assert_eq!(changed["unchanged"], false, "{changed}");
    assert_eq!(changed["version"], "v000002");
    let want = reference::join_products(&data.events, &product_files(&data));
    assert!(want.iter().any(|l| l.contains("aaa first")));
    assert_lines_eq!(&want, output::read_output(&out), "after the change");
}

#[test]
fn a_crashed_broadcast_join_resumes_and_tasks_in_processes_load_the_side_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let want = reference::join_products(&data.events, &product_files(&data));
    let flags = ["-r", "3", "--split-size", "4000", "-j", "2"];

    let out = dir.path().join("crashed");
    let crashed =
        sandmill_with_failpoints(broadcast(&data, &out, &flags), "task-commit-after=crash(3)");
    assert_eq!(crashed.status.code(), Some(137), "{crashed}");
    let json = dir.path().join("summary.json");
    let mut resume = flags.to_vec();
    resume.extend(["--summary-json", arg(&json)]);
    sandmill(broadcast(&data, &out, &resume)).assert_success();
    assert!(summary(&json)["resumed_tasks"].as_u64().unwrap() >= 1);
    assert_lines_eq!(&want, output::read_output(&out), "resumed");

    let out = dir.path().join("processes");
    let mut process = flags.to_vec();
    process.extend(["--executor", "process"]);
    sandmill(broadcast(&data, &out, &process)).assert_success();
    assert_lines_eq!(&want, output::read_output(&out), "--executor process");
}

#[test]
fn a_dry_run_lists_the_side_inputs_with_their_files_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let files = product_files(&data);
    let bytes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    let (out, json) = (dir.path().join("out"), dir.path().join("plan.json"));
    let mut args = broadcast(&data, &out, &["--dry-run", "--summary-json"]);
    args.push(arg(&json).into());
    let run = sandmill(args);
    run.assert_success();
    let shown = format!(
        "side:     products (--side-input): {} file{}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    assert!(run.stdout.contains(&shown), "{run}");
    let plan = summary(&json);
    assert_eq!(plan["side_inputs"][0]["name"], "products");
    assert_eq!(plan["side_inputs"][0]["files"], files.len());
    assert_eq!(plan["side_inputs"][0]["bytes"], bytes);
    assert!(!out.exists(), "a dry run writes nothing");
}
