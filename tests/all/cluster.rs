//! Sandmill on a real Ray cluster with its data in S3: `scripts/cluster.sh up` starts
//! SeaweedFS, a Ray head and three worker nodes in a loopback-only network namespace, and
//! every command runs inside it. The three example jobs read `s3://` input and write `s3://`
//! datasets with `--executor ray`, and give the bytes a local run gives; a worker node
//! killed (SIGKILL of its raylet and every child) while it runs a map task, and another while
//! it runs a reduce task, change nothing in the output, and each task has exactly one
//! committed attempt; a rollback restores the earlier version byte for byte; a plugin's
//! fault fails the job at once.
//!
//! One cluster for the whole test: starting one takes about 20 s of the machine's two cores.

use crate::{Run, arg, sandmill};
use sandmill_tests::output::part_bytes;
use sandmill_tests::{generate, plugins};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A cluster from `scripts/cluster.sh`, stopped (by pid) when dropped.
struct Cluster {
    state: tempfile::TempDir,
    /// What `up` printed: the store, Ray and the namespace.
    env: BTreeMap<String, String>,
}

impl Cluster {
    fn script(state: &Path) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/cluster.sh"))
            .env("SANDMILL_CLUSTER_DIR", state)
            .env("SANDMILL_BIN", env!("CARGO_BIN_EXE_sandmill"))
            .env("PYTHONPATH", repo().join("python"));
        cmd
    }

    fn up(workers: u32) -> Cluster {
        let state = tempfile::tempdir().unwrap();
        let out = Cluster::script(state.path())
            .args(["up", "--workers", &workers.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/cluster.sh");
        let cluster = Cluster {
            env: String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("export "))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        v.trim_matches('\'').trim_matches('"').to_owned(),
                    )
                })
                .collect(),
            state,
        };
        assert!(
            out.status.success(),
            "scripts/cluster.sh up failed: {}",
            out.status
        );
        for key in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "RAY_ADDRESS",
            "NETNS",
            "SANDMILL_PYTHON",
        ] {
            assert!(
                cluster.env.contains_key(key),
                "cluster.sh up printed no {key}: {:?}",
                cluster.env
            );
        }
        cluster
    }

    /// `sandmill ARGS` inside the namespace, with the cluster's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.env["NETNS"],
            env!("CARGO_BIN_EXE_sandmill"),
        ])
        .args(args)
        .envs(&self.env)
        .env("SANDMILL_CACHE_DIR", crate::shared_compile_cache())
        .env("PYTHONPATH", repo().join("python"));
        cmd
    }

    fn sandmill(&self, args: &[&str]) -> Run {
        let out = self
            .command(args)
            .output()
            .expect("running sandmill in the namespace");
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sandmill in the namespace")
    }

    /// The keys below `prefix` in the bucket, by a signed ListObjectsV2 (curl inside the
    /// namespace: the test itself is outside it).
    fn list(&self, prefix: &str) -> Vec<String> {
        let url = format!(
            "{}/sandmill?list-type=2&max-keys=1000&prefix={}",
            self.env["AWS_ENDPOINT_URL"],
            prefix.replace('/', "%2F")
        );
        let user = format!(
            "{}:{}",
            self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"]
        );
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.env["NETNS"],
                "curl",
                "-sSf",
                "--aws-sigv4",
            ])
            .args(["aws:amz:us-east-1:s3", "--user", &user, &url])
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "listing {prefix}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let xml = String::from_utf8_lossy(&out.stdout).into_owned();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// The pid of worker node `n`'s `ray start`, the leader of its session.
    fn node_pid(&self, n: u32) -> u32 {
        let path = self.state.path().join(format!("pids/node-{n}"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .unwrap()
    }

    /// Whether a task whose name starts with `prefix` (`map-`) runs on worker node `n`: a
    /// thread so named (`sandmill task run` names its task's thread) in the node's session.
    fn runs_on(&self, n: u32, prefix: &str) -> bool {
        let session = self.node_pid(n).to_string();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return false;
        };
        for entry in procs.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid pgrp session ...
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, r)| r.split_whitespace().collect());
            // A process killed but not yet reaped (a zombie) runs nothing.
            if fields.get(3) != Some(&session.as_str()) || fields.first() == Some(&"Z") {
                continue;
            }
            let Ok(threads) = std::fs::read_dir(entry.path().join("task")) else {
                continue;
            };
            for thread in threads.flatten() {
                let comm = std::fs::read_to_string(thread.path().join("comm")).unwrap_or_default();
                if comm.starts_with(prefix) {
                    return true;
                }
            }
        }
        false
    }

    /// Waits until a `prefix` task runs on one of the worker nodes `nodes`, then SIGKILLs
    /// that node whole; returns it.
    fn kill_when_running(&self, nodes: &[u32], prefix: &str, job: &mut Child) -> u32 {
        let started = Instant::now();
        let n = loop {
            if let Some(&n) = nodes.iter().find(|&&n| self.runs_on(n, prefix)) {
                break n;
            }
            if let Some(status) = job.try_wait().unwrap() {
                panic!("the job ended ({status}) before a {prefix} task ran on nodes {nodes:?}");
            }
            if started.elapsed() > Duration::from_secs(300) {
                let status = Cluster::script(self.state.path())
                    .arg("status")
                    .output()
                    .unwrap();
                panic!(
                    "no {prefix} task ran on nodes {nodes:?} in 300 s; the cluster:\n{}{}",
                    String::from_utf8_lossy(&status.stdout),
                    String::from_utf8_lossy(&status.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = Cluster::script(self.state.path())
            .args(["kill-worker", &n.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kill-worker {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "cluster test: killed node {n} running a {prefix} task, {:.1} s after waiting began",
            started.elapsed().as_secs_f64()
        );
        let gone = Instant::now() + Duration::from_secs(5);
        while self.runs_on(n, "") {
            assert!(
                Instant::now() < gone,
                "node {n} still has processes 5 s after kill-worker"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Cluster::script(self.state.path()).arg("down").status();
    }
}

/// Installs the `sandmill` wheel that `scripts/build-wheel.sh` built (maturin, into
/// `target/wheels/`) into a new virtual environment that also sees the cluster venv's packages
/// (Ray); returns the environment. The wheel is built before the tests, not here: building it
/// would relink `target/debug/sandmill` while other tests run it.
fn install_wheel(cluster: &Cluster, dir: &Path) -> PathBuf {
    let tools = Path::new(&cluster.env["SANDMILL_PYTHON"])
        .parent()
        .unwrap()
        .to_path_buf();
    let wheels = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("wheels");
    let wheel = std::fs::read_dir(&wheels)
        .ok()
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .find(|p| {
            arg(p).ends_with(".whl")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("sandmill-")
        })
        .unwrap_or_else(|| {
            panic!(
                "no sandmill wheel in {}: run scripts/build-wheel.sh (scripts/test.sh does)",
                wheels.display()
            )
        });
    let venv = dir.join("venv");
    let python = tools.join("python");
    assert!(
        Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
    );
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-index", "--no-deps"])
        .arg(&wheel)
        .status()
        .unwrap();
    assert!(status.success(), "pip install of the wheel: {status}");
    // The cluster venv's packages (Ray) on the new environment's path.
    let out = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    let cluster_site = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    let site = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::write(site.join("cluster-ray.pth"), format!("{cluster_site}\n")).unwrap();
    assert!(
        venv.join("bin/sandmill").is_file(),
        "the wheel installs bin/sandmill"
    );
    venv
}

/// A local run's part files.
fn local_run(
    plugin: &str,
    input: &Path,
    format: &str,
    extra: &[&str],
    dir: &Path,
) -> BTreeMap<String, Vec<u8>> {
    let out = dir.join(format!("local-{}", dir.read_dir().unwrap().count()));
    let mut args = vec![
        "run",
        plugin,
        "--input",
        arg(input),
        "--output",
        arg(&out),
        "--format",
        format,
    ];
    args.extend(extra);
    sandmill(&args).assert_success();
    part_bytes(&out)
}

/// The current (or given) version's part files of an s3:// dataset, by `sandmill get`.
fn get(
    cluster: &Cluster,
    dataset: &str,
    version: Option<&str>,
    dir: &Path,
) -> BTreeMap<String, Vec<u8>> {
    let to = dir.join(format!("got-{}", dir.read_dir().unwrap().count()));
    let mut args = vec!["get", dataset, "--to", arg(&to)];
    if let Some(v) = version {
        args.extend(["--version", v]);
    }
    let run = cluster.sandmill(&args);
    assert!(run.status.success(), "{run}");
    part_bytes(&to)
}

/// Every reduce task's committed attempts in the dataset's data, and every map task's runs
/// left: what the published version may name, and nothing else.
fn attempts(cluster: &Cluster, dataset_key: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_task: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in cluster.list(&format!("{dataset_key}/data/")) {
        // data/<run>/<task>/<attempt>/<file>
        let parts: Vec<&str> = key.split('/').collect();
        let at = parts.iter().position(|p| *p == "data").unwrap();
        if let (Some(task), Some(token)) = (parts.get(at + 2), parts.get(at + 3)) {
            by_task
                .entry((*task).to_owned())
                .or_default()
                .insert((*token).to_owned());
        }
    }
    by_task
}

#[test]
fn jobs_on_a_ray_cluster_with_s3_survive_killed_nodes_and_match_local_runs() {
    let cluster = Cluster::up(3);
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for sub in ["text", "docs", "events"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    generate::text(&dir.path().join("text"), 11, 3 << 20);
    generate::documents(&dir.path().join("docs"), 12, 1 << 20);
    generate::events(&dir.path().join("events"), 13, 2 << 20);
    for sub in ["text", "docs", "events"] {
        let dest = format!("s3://sandmill/in/{sub}");
        let run = cluster.sandmill(&["put", arg(&dir.path().join(sub)), "--as", &dest]);
        assert!(run.status.success(), "{run}");
    }

    // The three example jobs, against local runs of the same.
    let settings = ["--reducers", "4", "--split-size", "256KiB"];
    let jobs = [
        (plugins::WORDCOUNT, "text", "lines", "text"),
        (plugins::INVERTED_INDEX, "docs", "jsonl", "docs"),
        (
            plugins::REVENUE_BY_USER,
            "events",
            "jsonl",
            "events/jsonl/*.jsonl",
        ),
    ];
    for (i, (plugin, name, format, input)) in jobs.into_iter().enumerate() {
        let want = local_run(plugin, &dir.path().join(input), format, &settings, &work);
        let dataset = format!("s3://sandmill/ds/{name}");
        let s3_input = format!("s3://sandmill/in/{input}");
        let mut args = vec![
            "run",
            plugin,
            "--input",
            &s3_input,
            "--output",
            &dataset,
            "--format",
            format,
            "--executor",
            "ray",
        ];
        args.extend(settings);
        // Once with the address as a flag instead of RAY_ADDRESS.
        let address = cluster.env["RAY_ADDRESS"].clone();
        let mut cmd = cluster.command(&args);
        if i == 1 {
            cmd.env_remove("RAY_ADDRESS")
                .args(["--ray-address", &address]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("object storage:"), "{stdout}");
        assert_eq!(
            get(&cluster, &dataset, None, &work),
            want,
            "{name}: the Ray run's output differs from the local run's"
        );
        let attempts = attempts(&cluster, &format!("ds/{name}"));
        assert_eq!(attempts.len(), 4, "{name}: {attempts:?}");
        assert!(
            attempts.values().all(|a| a.len() == 1),
            "{name}: {attempts:?}"
        );
    }

    // As a user runs it: the `sandmill` Python package built with maturin and installed in a
    // virtual environment of its own (with the cluster's Ray beside it), whose `sandmill`
    // finds the driver through the Python next to it: no SANDMILL_PYTHON, no PYTHONPATH.
    let venv = install_wheel(&cluster, dir.path());
    let want = local_run(
        plugins::WORDCOUNT,
        &dir.path().join("text"),
        "lines",
        &[],
        &work,
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &cluster.env["NETNS"]])
        .arg(venv.join("bin/sandmill"))
        .args([
            "run",
            plugins::WORDCOUNT,
            "--input",
            "s3://sandmill/in/text",
            "--output",
            "s3://sandmill/ds/wheel",
            "--executor",
            "ray",
        ])
        .envs(&cluster.env)
        .env_remove("SANDMILL_PYTHON")
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the wheel's sandmill: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(&cluster, "s3://sandmill/ds/wheel", None, &work), want);

    // Slow map and reduce tasks, and a node killed in each phase.
    let hostile = dir.path().join("hostile");
    std::fs::create_dir(&hostile).unwrap();
    for i in 0..6 {
        let mut text = String::new();
        for j in 0..400 {
            text.push_str(&format!("word{} other{}\n", j % 37, (i * j) % 11));
        }
        text.push_str("spin=1500\n");
        for r in 0..2 {
            text.push_str(&format!("reduce-spin={}\n", 1000 + i * 2 + r));
        }
        std::fs::write(hostile.join(format!("{i}.txt")), text).unwrap();
    }
    let run = cluster.sandmill(&["put", arg(&hostile), "--as", "s3://sandmill/in/hostile"]);
    assert!(run.status.success(), "{run}");
    // One map task per file (each about 5.5 KiB).
    let settings = ["--reducers", "4", "--split-size", "8KiB"];
    let want = local_run(plugins::HOSTILE, &hostile, "lines", &settings, &work);
    let hostile_job = |output: &'static str| {
        let mut args = vec![
            "run",
            plugins::HOSTILE,
            "--input",
            "s3://sandmill/in/hostile",
        ];
        args.extend(["--output", output, "--executor", "ray"]);
        args.extend(settings);
        args
    };
    let mut job = cluster.spawn(&hostile_job("s3://sandmill/ds/killed"));
    let started = Instant::now();
    let first = cluster.kill_when_running(&[1, 2, 3], "map-", &mut job);
    let left: Vec<u32> = [1, 2, 3].into_iter().filter(|&n| n != first).collect();
    cluster.kill_when_running(&left, "reduce-", &mut job);
    let out = job.wait_with_output().unwrap();
    eprintln!(
        "cluster test: the job with two nodes killed took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "the job with killed nodes failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        get(&cluster, "s3://sandmill/ds/killed", None, &work),
        want,
        "killing nodes changed the output"
    );
    let attempts = attempts(&cluster, "ds/killed");
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert!(
        attempts.values().all(|a| a.len() == 1),
        "one committed attempt per reduce task: {attempts:?}"
    );
    assert!(
        cluster.list("ds/killed/_work/").is_empty(),
        "the job's work is removed after publish"
    );

    // Losing the driver loses only the tasks in flight: the same command resumes.
    let args = hostile_job("s3://sandmill/ds/resumed");
    let mut driver = cluster.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !cluster
        .list("ds/resumed/_work/")
        .iter()
        .any(|k| k.contains("/commit/map-"))
    {
        assert!(
            driver.try_wait().unwrap().is_none(),
            "the job ended before a task committed"
        );
        assert!(Instant::now() < deadline, "no task committed in 300 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver.kill().unwrap();
    driver.wait().unwrap();
    let run = cluster.sandmill(&args);
    assert!(run.status.success(), "{run}");
    assert!(
        run.stdout.contains("resumed:"),
        "the rerun reused no committed task\n{run}"
    );
    assert_eq!(
        get(&cluster, "s3://sandmill/ds/resumed", None, &work),
        want,
        "the resumed run's output differs"
    );

    // Rollback on an s3:// dataset: a second version, then back to the first, byte for byte.
    let v1 = get(&cluster, "s3://sandmill/ds/text", None, &work);
    let run = cluster.sandmill(&[
        "run",
        plugins::WORDCOUNT,
        "--input",
        "s3://sandmill/in/text/0-large.txt",
        "--output",
        "s3://sandmill/ds/text",
        "--reducers",
        "4",
        "--executor",
        "ray",
        "-q",
    ]);
    assert!(run.status.success(), "{run}");
    let v2 = get(&cluster, "s3://sandmill/ds/text", None, &work);
    assert_ne!(v1, v2);
    let run = cluster.sandmill(&["rollback", "s3://sandmill/ds/text"]);
    assert!(
        run.status.success() && run.stdout.contains("v000002 -> v000001"),
        "{run}"
    );
    assert_eq!(get(&cluster, "s3://sandmill/ds/text", None, &work), v1);
    assert_eq!(
        get(&cluster, "s3://sandmill/ds/text", Some("v2"), &work),
        v2
    );
    let run = cluster.sandmill(&["versions", "s3://sandmill/ds/text", "--json"]);
    let versions: Vec<serde_json::Value> =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let current: Vec<bool> = versions
        .iter()
        .map(|v| v["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [true, false]);

    // A plugin's fault on a record fails the job at once, not after Ray's retries, as it
    // fails a local run: the same exit status, the task and the record named once.
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "fine\nfail here\n").unwrap();
    let run = cluster.sandmill(&["put", arg(&bad), "--as", "s3://sandmill/in/bad"]);
    assert!(run.status.success(), "{run}");
    let started = Instant::now();
    let run = cluster.sandmill(&[
        "run",
        plugins::FAIL_ON_RECORD,
        "--input",
        "s3://sandmill/in/bad",
        "--output",
        "s3://sandmill/ds/bad",
        "--executor",
        "ray",
        "--param",
        "fail=fail here",
    ]);
    let line = run.assert_error();
    assert!(line.contains("map task 0"), "{line}");
    run.assert_exit(sandmill::error::ExitClass::BadInput);
    assert_eq!(line.matches("map task 0").count(), 1, "{line}");
    assert!(
        line.contains("s3://sandmill/in/bad/bad.txt line 2"),
        "{line}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        cluster.list("ds/bad/_log/").is_empty(),
        "a failed job publishes nothing"
    );
}
