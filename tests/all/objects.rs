//! Jobs on object storage, in this process, against an in-memory S3 (`object_store`'s
//! `InMemory`, which keeps the conditional-put rules): the example jobs read `s3://` input and
//! publish an `s3://` dataset whose files are byte for byte those of a local run; attempts of
//! one task racing each other commit once; a rollback restores the earlier version byte for
//! byte; a run that stopped part way resumes with only the tasks not committed.

use sandmill::object::log::ObjectDataset;
use sandmill::object::{self, ObjectUrl};
use sandmill::{InputFormat, JobSpec, Quiet};
use sandmill_tests::generate;
use sandmill_tests::output::part_bytes;
use sandmill_tests::plugins;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A new in-memory bucket for this process, and its root URL.
fn bucket(name: &str) -> ObjectUrl {
    object::use_store(name, Arc::new(object_store::memory::InMemory::new()));
    ObjectUrl::parse(Path::new(&format!("s3://{name}"))).unwrap()
}

/// Uploads every file below `dir` to `prefix`, keeping relative paths.
fn upload_dir(dir: &Path, prefix: &ObjectUrl) {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                object::upload(&path, &prefix.join(&rel)).unwrap();
            }
        }
    }
}

fn spec(
    plugin: &str,
    input: impl Into<PathBuf>,
    output: impl Into<PathBuf>,
) -> sandmill::JobSpecBuilder {
    JobSpec::builder(plugin)
        .input(input)
        .output(output)
        .reducers(3)
        .threads(2)
        .split_size(64 << 10)
}

/// The current version's part files, downloaded.
fn current_parts(dataset: &ObjectUrl) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    ObjectDataset::new(&dataset.to_path())
        .unwrap()
        .download(None, dir.path())
        .unwrap();
    part_bytes(dir.path())
}

#[test]
fn the_example_jobs_on_s3_match_local_runs_byte_for_byte() {
    let root = bucket("examples");
    let dir = tempfile::tempdir().unwrap();
    for sub in ["text", "docs", "events"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    generate::text(&dir.path().join("text"), 7, 600 << 10);
    // A gzip file among them, read whole from the store as from disk.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, "zipped words zipped\n".repeat(5000).as_bytes()).unwrap();
    std::fs::write(dir.path().join("text/zipped.txt.gz"), gz.finish().unwrap()).unwrap();
    generate::documents(&dir.path().join("docs"), 8, 300 << 10);
    let events = generate::events(&dir.path().join("events"), 9, 400 << 10);
    assert!(!events.jsonl.is_empty());
    for sub in ["text", "docs", "events"] {
        upload_dir(&dir.path().join(sub), &root.join(&format!("in/{sub}")));
    }
    let jobs = [
        (
            plugins::WORDCOUNT,
            "text",
            InputFormat::Lines,
            "text".to_owned(),
        ),
        (
            plugins::INVERTED_INDEX,
            "docs",
            InputFormat::JsonLines,
            "docs".to_owned(),
        ),
        // A glob over keys, as over local paths.
        (
            plugins::REVENUE_BY_USER,
            "events",
            InputFormat::JsonLines,
            "events/jsonl/*.jsonl".to_owned(),
        ),
    ];
    for (plugin, name, format, input) in jobs {
        let local = dir.path().join(format!("out-{name}"));
        let local_input = dir.path().join(&input);
        sandmill::run(
            &spec(plugin, &local_input, &local)
                .format(format)
                .build()
                .unwrap(),
            &Quiet,
        )
        .unwrap();
        let dataset = root.join(&format!("datasets/{name}"));
        let s3_job = spec(
            plugin,
            root.join(&format!("in/{input}")).to_path(),
            dataset.to_path(),
        )
        .format(format)
        .build()
        .unwrap();
        let report = sandmill::run(&s3_job, &Quiet).unwrap();
        assert!(
            report.map.tasks > 3,
            "{name}: {} map tasks",
            report.map.tasks
        );
        let want = part_bytes(&local);
        assert!(!want.is_empty());
        assert_eq!(
            current_parts(&dataset),
            want,
            "{name}: the s3 dataset differs from the local run"
        );
        let traffic = report
            .object_storage
            .expect("traffic of a job on object storage");
        assert!(
            traffic.read >= report.map.counts.bytes_in,
            "{name}: {traffic:?}"
        );
        // Nothing of the job's work is left: no commit records, runs or losing attempts.
        let left: Vec<String> = object::list(&dataset)
            .unwrap()
            .into_iter()
            .map(|m| m.url.relative_to(&dataset).unwrap().to_owned())
            .filter(|k| !k.starts_with("_log/") && !k.starts_with("data/"))
            .collect();
        assert!(left.is_empty(), "{name}: left behind: {left:?}");
        // The same job again publishes nothing.
        let again = sandmill::run(&s3_job, &Quiet).unwrap();
        assert!(again.unchanged, "{name}");
    }
}

/// Generated text uploaded to `root/in`, and a word count of it into `root/ds`.
fn text_job(root: &ObjectUrl, seed: u64, bytes: usize) -> (tempfile::TempDir, ObjectUrl, JobSpec) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("text")).unwrap();
    generate::text(&dir.path().join("text"), seed, bytes);
    upload_dir(&dir.path().join("text"), &root.join("in"));
    let dataset = root.join("ds");
    let job = spec(
        plugins::WORDCOUNT,
        root.join("in").to_path(),
        dataset.to_path(),
    )
    .build()
    .unwrap();
    (dir, dataset, job)
}

#[test]
fn racing_attempts_of_one_task_commit_once_and_all_report_the_winner() {
    let root = bucket("racing");
    let (_dir, dataset, job) = text_job(&root, 3, 200 << 10);
    let plugin = sandmill::plugin::Plugin::from_file(job.plugin(), job.limits(), None).unwrap();
    let plan = sandmill::plan::plan(&job, &plugin).unwrap();
    let split = &plan.splits[0];
    let task = plan.map_task(&job, split, 1);
    let done: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| sandmill::run_task_alone(&task, None).unwrap()))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let winner = done[0].record.run_file.clone().expect("a map task's run");
    for d in &done {
        assert_eq!(
            d.record.run_file.as_ref(),
            Some(&winner),
            "every racer reports the winner's run"
        );
    }
    let work = dataset.join(&format!("_work/{}", plan.fingerprint));
    let records = object::list(&work.join("commit")).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let runs = object::list(&work.join("runs/map-0")).unwrap();
    assert_eq!(runs.len(), 1, "the losers' runs are removed: {runs:?}");
    assert_eq!(runs[0].url.to_path(), winner.path);
}

#[test]
fn rollback_restores_the_earlier_version_byte_for_byte() {
    let root = bucket("rollback");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one two two\n".repeat(500)).unwrap();
    std::fs::write(dir.path().join("b.txt"), "three three three\n".repeat(500)).unwrap();
    object::upload(&dir.path().join("a.txt"), &root.join("in/a.txt")).unwrap();
    object::upload(&dir.path().join("b.txt"), &root.join("in/b.txt")).unwrap();
    let dataset = root.join("ds");
    let run = |input: &str| {
        sandmill::run(
            &spec(
                plugins::WORDCOUNT,
                root.join(input).to_path(),
                dataset.to_path(),
            )
            .build()
            .unwrap(),
            &Quiet,
        )
        .unwrap()
    };
    let v1 = run("in/a.txt").version;
    let first = current_parts(&dataset);
    let v2 = run("in").version;
    let second = current_parts(&dataset);
    assert_ne!(first, second);
    let ds = ObjectDataset::new(&dataset.to_path()).unwrap();
    assert_eq!(ds.rollback(None).unwrap(), v1);
    assert_eq!(current_parts(&dataset), first);
    assert_eq!(ds.rollback(Some(v2)).unwrap(), v2);
    assert_eq!(current_parts(&dataset), second);
}

#[test]
fn a_run_that_stopped_part_way_resumes_with_the_tasks_left() {
    let root = bucket("resume");
    let (dir, dataset, job) = text_job(&root, 5, 300 << 10);
    // Commit two map tasks and one reduce task's worth of nothing: as if the driver died
    // after two map tasks committed.
    let plugin = sandmill::plugin::Plugin::from_file(job.plugin(), job.limits(), None).unwrap();
    let plan = sandmill::plan::plan(&job, &plugin).unwrap();
    assert!(plan.splits.len() >= 4);
    for split in &plan.splits[..2] {
        sandmill::run_task_alone(&plan.map_task(&job, split, 1), None).unwrap();
    }
    let report = sandmill::run(&job, &Quiet).unwrap();
    assert_eq!(report.resumed_tasks, 2);
    let local = dir.path().join("local");
    sandmill::run(
        &spec(plugins::WORDCOUNT, dir.path().join("text"), &local)
            .build()
            .unwrap(),
        &Quiet,
    )
    .unwrap();
    assert_eq!(current_parts(&dataset), part_bytes(&local));
}

#[test]
fn temp_dir_on_s3_holds_the_job_runs_work_and_is_emptied_after() {
    let root = bucket("tempdir");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a b c a\n".repeat(3000)).unwrap();
    object::upload(&dir.path().join("a.txt"), &root.join("in/a.txt")).unwrap();
    let job = spec(
        plugins::WORDCOUNT,
        root.join("in").to_path(),
        root.join("ds").to_path(),
    )
    .temp_dir(root.join("tmp").to_path())
    .build()
    .unwrap();
    let plugin = sandmill::plugin::Plugin::from_file(job.plugin(), job.limits(), None).unwrap();
    let plan = sandmill::plan::plan(&job, &plugin).unwrap();
    sandmill::run_task_alone(&plan.map_task(&job, &plan.splits[0], 1), None).unwrap();
    let work = root.join(&format!("tmp/{}", plan.fingerprint));
    assert_eq!(object::list(&work.join("commit")).unwrap().len(), 1);
    assert!(object::list(&root.join("ds/_work")).unwrap().is_empty());
    let report = sandmill::run(&job, &Quiet).unwrap();
    assert_eq!(
        report.resumed_tasks, 1,
        "the run found the task committed under --temp-dir"
    );
    assert!(object::list(&root.join("tmp")).unwrap().is_empty());
    let local = dir.path().join("local");
    sandmill::run(
        &spec(plugins::WORDCOUNT, dir.path().join("a.txt"), &local)
            .build()
            .unwrap(),
        &Quiet,
    )
    .unwrap();
    assert_eq!(current_parts(&root.join("ds")), part_bytes(&local));
}

#[test]
fn a_prefix_holding_other_objects_is_not_taken_over_without_overwrite() {
    let root = bucket("foreign");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a b\n").unwrap();
    object::upload(&dir.path().join("a.txt"), &root.join("in/a.txt")).unwrap();
    object::upload(&dir.path().join("a.txt"), &root.join("ds/report.csv")).unwrap();
    let job = |overwrite| {
        spec(
            plugins::WORDCOUNT,
            root.join("in").to_path(),
            root.join("ds").to_path(),
        )
        .overwrite(overwrite)
        .build()
        .unwrap()
    };
    let err = sandmill::run(&job(false), &Quiet).unwrap_err();
    assert!(err.to_string().contains("not a Sandmill dataset"), "{err}");
    assert!(object::list(&root.join("ds/_log")).unwrap().is_empty());
    sandmill::run(&job(true), &Quiet).unwrap();
    // Published beside what was there, which is left alone.
    assert_eq!(object::list(&root.join("ds/_log")).unwrap().len(), 1);
    assert!(object::head(&root.join("ds/report.csv")).is_ok());
}
