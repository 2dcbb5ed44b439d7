//! `sandmill pipeline`: a three-stage pipeline (clean, join with a side input, aggregate)
//! with quality gates, run whole, killed at random moments and resumed; a failing gate; a
//! daily backfill; the order of stages and their errors.

use crate::{Run, arg, sandmill};
use sandmill::error::ExitClass;
use sandmill_tests::generate::Rng;
use sandmill_tests::plugins::{CHECK_RANGE, JOIN_PRODUCTS, REVENUE_BY_CATEGORY, SALES_CLEAN};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CATEGORIES: [&str; 5] = ["books", "games", "garden", "music", "toys"];

/// Raw sales events for `day` (some delivered twice) and the products they name (a few
/// unknown): written as `raw/date=<day>/events-N.jsonl`, and `products.jsonl`.
fn write_sales(dir: &Path, day: &str, seed: u64, events: usize) {
    let mut rng = Rng::new(seed);
    let raw = dir.join(format!("raw/date={day}"));
    std::fs::create_dir_all(&raw).unwrap();
    let mut files = [String::new(), String::new(), String::new()];
    for i in 0..events {
        let product = rng.below(44);
        let line = format!(
            "{{\"event_id\":\"{day}-e{i:06}\",\"user_id\":{},\"product_id\":\"p{product:04}\",\
             \"ts\":\"{day}T{:02}:00:00Z\",\"amount_cents\":{}}}\n",
            rng.below(300),
            rng.below(24),
            rng.between(-500, 20_000)
        );
        let file = rng.index(files.len());
        files[file].push_str(&line);
        if rng.percent(3) {
            files[(file + 1) % 3].push_str(&line);
        }
    }
    for (n, text) in files.iter().enumerate() {
        std::fs::write(raw.join(format!("events-{n}.jsonl")), text).unwrap();
    }
    let products: String = (0..40)
        .map(|p| {
            format!(
                "{{\"product_id\":\"p{p:04}\",\"category\":\"{}\",\"name\":\"Product {p}\"}}\n",
                CATEGORIES[p % CATEGORIES.len()]
            )
        })
        .collect();
    std::fs::write(dir.join("products.jsonl"), products).unwrap();
}

/// What the pipeline must compute: revenue per category over each event once, unknown
/// products under `""`, as the aggregate stage writes it (sorted by category).
fn reference(dir: &Path, days: &[&str]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for day in days {
        for n in 0..3 {
            let path = dir.join(format!("raw/date={day}/events-{n}.jsonl"));
            for line in std::fs::read_to_string(path).unwrap().lines() {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                if !seen.insert(event["event_id"].as_str().unwrap().to_owned()) {
                    continue;
                }
                let product: usize = event["product_id"].as_str().unwrap()[1..].parse().unwrap();
                let category = if product < 40 {
                    CATEGORIES[product % CATEGORIES.len()]
                } else {
                    ""
                };
                let total = totals.entry(category.to_owned()).or_default();
                total.0 += 1;
                total.1 += event["amount_cents"].as_i64().unwrap();
            }
        }
    }
    totals
        .into_iter()
        .map(|(category, (count, sum))| {
            format!("{{\"category\":\"{category}\",\"count\":{count},\"sum_cents\":{sum}}}")
        })
        .collect()
}

/// A pipeline file in `dir` for the three example stages; `extra` is appended (more checks,
/// say).
fn write_pipeline(dir: &Path, daily: bool, extra: &str) -> PathBuf {
    let (inputs, partition) = if daily {
        (
            "raw/date=${date}/",
            "output-partition = \"date=${date}\"\noverwrite-partitions = true\n",
        )
    } else {
        ("raw/", "")
    };
    let read = |dataset: &str| {
        if daily {
            format!("@{dataset}/date=${{date}}")
        } else {
            format!("@{dataset}")
        }
    };
    let text = format!(
        r#"# Sales: clean the raw events, join them with the products, sum revenue by category.
output = "warehouse"

[params]
date = "2026-03-22"

[[stage]]
name = "clean"
plugin = "{SALES_CLEAN}"
inputs = ["{inputs}"]
output = "events"
[stage.run]
format = "jsonl"
reducers = 3
{partition}
[[stage.checks]]
check = "unique-keys"
key = "event_id"

[[stage]]
name = "join"
plugin = "{JOIN_PRODUCTS}"
inputs = ["{events}"]
output = "joined"
[stage.run]
format = "jsonl"
reducers = 2
side-input = ["products=products.jsonl"]
{partition}
[[stage.checks]]
check = "null-share"
field = "category"
max = 0.2

[[stage]]
name = "aggregate"
plugin = "{REVENUE_BY_CATEGORY}"
inputs = ["{joined}"]
output = "revenue"
[stage.run]
format = "jsonl"
reducers = 2
{partition}
[[stage.checks]]
check = "records"
min = 1
max = 100
[[stage.checks]]
check = "plugin"
plugin = "{CHECK_RANGE}"
params = {{ field = "count", min = "1" }}
{extra}"#,
        events = read("events"),
        joined = read("joined"),
    );
    let file = dir.join("sales.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn pipeline(args: &[&str]) -> Run {
    sandmill(["pipeline"].iter().chain(args))
}

/// The lines of every part file of `dataset` as the pipeline's output shows it, in order.
fn lines_of(dir: &Path, dataset: &str) -> Vec<String> {
    sandmill_tests::output::read_output(&dir.join("warehouse").join(dataset))
}

/// Every file a reader sees below `warehouse/`, with its bytes.
fn seen(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let root = dir.join("warehouse");
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            // Follows the links, as a reader does.
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_three_stage_pipeline_killed_at_random_moments_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    write_sales(&clean, "2026-03-22", 7, 4000);
    let file = write_pipeline(&clean, false, "");
    let started = std::time::Instant::now();
    let run = pipeline(&["run", arg(&file)]);
    run.assert_success();
    let clean_time = started.elapsed();
    assert_eq!(
        lines_of(&clean, "revenue"),
        reference(&clean, &["2026-03-22"]),
        "{run}"
    );
    assert!(run.stdout.contains("warehouse: v000001 published"), "{run}");
    assert!(run.stdout.contains("check null-share(category)"), "{run}");
    let joined = lines_of(&clean, "joined");
    assert!(
        joined.iter().any(|l| l.contains("\"category\":null")),
        "unknown products"
    );
    let want = seen(&clean);
    assert!(want.contains_key("_PIPELINE.json"), "{:?}", want.keys());
    // The manifests name the inputs by path, which differs from one directory to the next.
    let data = |files: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        files
            .into_iter()
            .filter(|(name, _)| !name.ends_with("_MANIFEST.json"))
            .collect()
    };
    let want_data = data(want.clone());
    assert!(
        want_data.keys().any(|k| k.starts_with("revenue/part-")),
        "{want_data:?}"
    );

    // Again: every stage unchanged, nothing published.
    let again = pipeline(&["run", arg(&file)]);
    again.assert_success();
    assert_eq!(
        again.stdout.matches("unchanged (v000001)").count(),
        3,
        "{again}"
    );
    assert!(again.stdout.contains("warehouse: unchanged"), "{again}");

    // Killed at fixed "random" moments, then run again: the same bytes every time.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..6 {
        let work = dir.path().join(format!("round{round}"));
        std::fs::create_dir(&work).unwrap();
        write_sales(&work, "2026-03-22", 7, 4000);
        let file = write_pipeline(&work, false, "");
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = clean_time.mul_f64((state % 1000) as f64 / 1000.0);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandmill"))
            .args(["pipeline", "run", arg(&file)])
            .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let resumed = pipeline(&["run", arg(&file)]);
        resumed.assert_success();
        let got = data(seen(&work));
        let differ: Vec<&String> = want_data
            .keys()
            .chain(got.keys())
            .filter(|k| want_data.get(*k) != got.get(*k))
            .collect();
        assert!(
            differ.is_empty(),
            "round {round}, killed after {delay:?}: {differ:?} differ\n{resumed}"
        );
    }
    assert!(clean_time < Duration::from_secs(120));

    // The pipeline's output is a dataset: its versions and a rollback work as for a job.
    let versions = sandmill(["versions", arg(&clean.join("warehouse"))]);
    versions.assert_success();
    assert!(versions.stdout.contains("v000001"), "{versions}");
}

#[test]
fn a_failing_gate_publishes_nothing_and_says_which_check_failed_by_how_much() {
    let dir = tempfile::tempdir().unwrap();
    write_sales(dir.path(), "2026-03-22", 11, 600);
    let file = write_pipeline(dir.path(), false, "");
    pipeline(&["run", arg(&file)]).assert_success();
    let before = seen(dir.path());

    // Half of the products lose their category: the join's null-share gate fails.
    let products: String = std::fs::read_to_string(dir.path().join("products.jsonl"))
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("products.jsonl"), products).unwrap();
    let run = pipeline(&["run", arg(&file)]);
    let error = run.assert_error().to_owned();
    run.assert_exit(ExitClass::Rejected);
    assert!(error.contains("stage join:"), "{error}");
    assert!(
        error.contains("check null-share(category) ≤ 0.2 failed"),
        "{error}"
    );
    assert!(error.contains("(at most 20.00%)"), "{error}");
    assert_eq!(
        seen(dir.path()),
        before,
        "readers still see the first run's output"
    );

    // The rejected attempt is kept, with a manifest that says what failed.
    let rejected = dir
        .path()
        .join(".warehouse.sandmill/stages/.joined.sandmill/rejected");
    let attempts: Vec<PathBuf> = std::fs::read_dir(&rejected)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(attempts[0].join("_MANIFEST.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["rejected"], true);
    let check = &manifest["checks"][0];
    assert_eq!(check["passed"], false, "{manifest}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("have category null"),
        "{check}"
    );
    assert!(!attempts[0].join("_SUCCESS").exists());

    // The aggregate never ran; the clean stage was unchanged.
    assert!(!run.stdout.contains("aggregate"), "{run}");
    assert!(run.stdout.contains("unchanged (v000001)"), "{run}");
}

#[test]
fn a_plugin_check_that_fails_gives_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_sales(dir.path(), "2026-03-22", 3, 300);
    let extra = format!(
        "[[stage.checks]]\ncheck = \"plugin\"\nplugin = \"{CHECK_RANGE}\"\nname = \"small sums\"\n\
         params = {{ field = \"sum_cents\", max = \"10\" }}\n"
    );
    let file = write_pipeline(dir.path(), false, &extra);
    let run = pipeline(&["run", arg(&file)]);
    let error = run.assert_error();
    run.assert_exit(ExitClass::Rejected);
    assert!(error.contains("stage aggregate:"), "{error}");
    assert!(
        error
            .contains("check plugin small sums failed: 6 of 6 records have sum_cents outside ..10"),
        "{error}"
    );
    assert!(
        !dir.path().join("warehouse").exists(),
        "nothing was ever published"
    );
}

#[test]
fn a_daily_backfill_runs_the_days_in_order_and_a_rerun_of_one_day_changes_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let days = ["2026-03-20", "2026-03-21", "2026-03-22"];
    for (i, day) in days.iter().enumerate() {
        write_sales(dir.path(), day, 100 + i as u64, 500);
    }
    let file = write_pipeline(dir.path(), true, "");
    let run = pipeline(&[
        "backfill",
        arg(&file),
        "--param",
        "date=2026-03-20..2026-03-22",
    ]);
    run.assert_success();
    for (i, day) in days.iter().enumerate() {
        assert!(run.stdout.contains(&format!("date={day}")), "{run}");
        let version = format!("warehouse: v{:06} published", i + 1);
        assert!(run.stdout.contains(&version), "{version}\n{run}");
        assert_eq!(
            lines_of(dir.path(), &format!("revenue/date={day}")),
            reference(dir.path(), &[day]),
            "{day}"
        );
    }
    let before = seen(dir.path());

    // New data for the 21st, and that day run again: only its partitions change.
    write_sales(dir.path(), "2026-03-21", 999, 700);
    let rerun = pipeline(&["run", arg(&file), "--param", "date=2026-03-21"]);
    rerun.assert_success();
    assert!(
        rerun.stdout.contains("warehouse: v000004 published"),
        "{rerun}"
    );
    let after = seen(dir.path());
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(!changed.is_empty());
    for name in &changed {
        assert!(
            name.contains("date=2026-03-21/") || name.ends_with(".json"),
            "{name} changed; only the 21st's partitions (and manifests) may"
        );
    }
    assert_eq!(
        lines_of(dir.path(), "revenue/date=2026-03-21"),
        reference(dir.path(), &["2026-03-21"])
    );
    assert_eq!(before.len(), after.len(), "no partition appeared or went");

    // The same day once more: every stage unchanged.
    let same = pipeline(&["run", arg(&file), "--param", "date=2026-03-21"]);
    same.assert_success();
    assert!(same.stdout.contains("warehouse: unchanged"), "{same}");
}

/// The versions in `versions/` of a dataset home.
fn version_ids(home: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(home.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn keep_deletes_old_snapshots_with_the_stage_versions_only_they_show() {
    let dir = tempfile::tempdir().unwrap();
    let days = ["2026-03-20", "2026-03-21", "2026-03-22"];
    for (i, day) in days.iter().enumerate() {
        write_sales(dir.path(), day, 200 + i as u64, 300);
    }
    let file = write_pipeline(dir.path(), true, "");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("keep = 2\n{text}")).unwrap();
    let run = pipeline(&[
        "backfill",
        arg(&file),
        "--param",
        "date=2026-03-20..2026-03-22",
    ]);
    run.assert_success();
    assert!(
        run.stdout.contains(
            "deleted (keep): snapshots v000001; events v000001; joined v000001; revenue v000001"
        ),
        "{run}"
    );
    let home = dir.path().join(".warehouse.sandmill");
    assert_eq!(version_ids(&home), ["v000002", "v000003"]);
    for stage in ["events", "joined", "revenue"] {
        let stage_home = home.join(format!("stages/.{stage}.sandmill"));
        assert_eq!(version_ids(&stage_home), ["v000002", "v000003"], "{stage}");
    }
    // Every kept snapshot still reads whole: the previous one after a rollback too.
    let rollback = sandmill(["rollback", arg(&dir.path().join("warehouse"))]);
    rollback.assert_success();
    for day in &days[..2] {
        assert_eq!(
            lines_of(dir.path(), &format!("revenue/date={day}")),
            reference(dir.path(), &[day]),
            "{day}"
        );
    }

    // A stage cannot keep versions of its own: a snapshot may still show them.
    std::fs::write(
        &file,
        text.replace("reducers = 3", "reducers = 3\nkeep = 1"),
    )
    .unwrap();
    let err = pipeline(&["run", arg(&file)]).assert_error().to_owned();
    assert!(err.contains("run.keep is not a run setting here"), "{err}");
    std::fs::write(&file, format!("keep = 0\n{text}")).unwrap();
    let err = pipeline(&["run", arg(&file)]).assert_error().to_owned();
    assert!(err.contains("keep must be at least 1"), "{err}");
}

#[test]
fn status_shows_the_stages_in_waves_and_a_cycle_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_sales(dir.path(), "2026-03-22", 5, 100);
    let file = write_pipeline(dir.path(), false, "");
    let status = pipeline(&["status", arg(&file)]);
    status.assert_success();
    let text = &status.stdout;
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s:?} in\n{text}"));
    assert!(
        at("wave 1") < at("clean") && at("clean") < at("wave 2"),
        "{text}"
    );
    assert!(
        at("wave 2") < at("join") && at("join") < at("wave 3"),
        "{text}"
    );
    assert!(text.contains("@events → joined"), "{text}");
    assert!(text.contains("check null-share(category) ≤ 0.2"), "{text}");

    let cyclic = dir.path().join("cyclic.toml");
    std::fs::write(
        &cyclic,
        format!(
            "output = \"w\"\n\
             [[stage]]\nname = \"a\"\nplugin = \"{SALES_CLEAN}\"\ninputs = [\"@b-out\"]\noutput = \"a-out\"\n\
             [[stage]]\nname = \"b\"\nplugin = \"{SALES_CLEAN}\"\ninputs = [\"@a-out\"]\noutput = \"b-out\"\n"
        ),
    )
    .unwrap();
    let run = pipeline(&["run", arg(&cyclic)]);
    let error = run.assert_error();
    run.assert_exit(ExitClass::Usage);
    assert!(error.contains("in a cycle: a → b → a"), "{error}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "output = \"w\"\n[[stage]]\nname = \"a\"\nplugin = \"{SALES_CLEAN}\"\n\
             inputs = [\"raw/date=${{day}}/\"]\noutput = \"a-out\"\nrun = {{ reducerz = 2 }}\n"
        ),
    )
    .unwrap();
    let error = pipeline(&["run", arg(&bad)]).assert_error().to_owned();
    assert!(error.contains("\"day\", which is not given"), "{error}");
    let bad_flag = std::fs::read_to_string(&bad)
        .unwrap()
        .replace("${day}", "x");
    std::fs::write(&bad, bad_flag).unwrap();
    let error = pipeline(&["run", arg(&bad)]).assert_error().to_owned();
    assert!(
        error.contains("stage \"a\"") && error.contains("--reducerz"),
        "{error}"
    );
}
