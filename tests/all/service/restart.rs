//! Nothing lost: `kill -9` of the server mid-job and a restart, a worker killed mid-task, and
//! a clean stop on SIGTERM. Each job ends with the bytes an uninterrupted local run writes,
//! once, with its committed tasks reused.

use super::queue::worker_processes;
use super::{Server, assert_same_as_local, text};
use sandmill_tests::plugins::{HOSTILE, WORDCOUNT};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const FLAGS: [&str; 2] = ["--reducers=3", "--split-size=8KiB"];

/// Alice's books (three files) uploaded, and the same files in `dir` for a local run.
fn books(server: &Server, token: &str, dir: &Path) {
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("b{i}.txt"), text(2500, 10 + i)))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    server.put(token, "books", &files);
}

/// Waits until `ready(job)`.
fn wait_until(server: &Server, token: &str, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = server.job(token, id);
        if ready(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "{job:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each task's attempts by state.
fn attempts(server: &Server, token: &str, id: &str) -> BTreeMap<String, Vec<String>> {
    let a = server.get(token, &format!("/v1/jobs/{id}/attempts"));
    let mut by_task: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attempt in a.json["attempts"].as_array().unwrap() {
        by_task
            .entry(attempt["task"].as_str().unwrap().to_owned())
            .or_default()
            .push(attempt["state"].as_str().unwrap().to_owned());
    }
    by_task
}

#[test]
fn kill_9_of_the_server_mid_job_loses_nothing_and_duplicates_nothing() {
    let mut server = Server::start(2);
    let token = server.tenant("alice", &[]);
    let sha = server.plugin(&token, Path::new(WORDCOUNT));
    let input = server.scratch().join("books");
    books(&server, &token, &input);
    let id = server.submit_ok(&token, &sha, &["books"], "counts", &FLAGS);
    let before = wait_until(&server, &token, &id, |job| {
        job["progress"]["map"]["done"].as_u64().unwrap_or(0) >= 4
    });
    server.kill();
    // Its workers die with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !worker_processes(&server.data).is_empty() {
        assert!(Instant::now() < deadline, "workers outlived the server");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.restart();
    let job = server.wait_for(&token, &id, "succeeded", Duration::from_secs(120));
    let parts = assert_same_as_local(
        &server,
        &[&input],
        &FLAGS,
        &server.dataset_dir("alice", "counts"),
    );
    assert_eq!(parts, 3);
    // One job, once; no task committed twice, and the ones committed before the kill were
    // not run again. (A task whose process committed just before the kill, before the server
    // recorded it, has only a `lost` attempt: plan found it committed.)
    let jobs = server.get(&token, "/v1/jobs");
    assert_eq!(jobs.json["jobs"].as_array().unwrap().len(), 1, "{jobs:?}");
    let by_task = attempts(&server, &token, &id);
    let maps = by_task.keys().filter(|t| t.starts_with("map-")).count() as u64;
    assert_eq!(job["progress"]["map"]["tasks"], maps, "{job:#} {by_task:?}");
    let mut rerun = 0;
    for (task, states) in &by_task {
        if task.starts_with("map-") || task.starts_with("reduce-") {
            let ok = states.iter().filter(|s| *s == "ok").count();
            assert!(
                ok == 1 || (ok == 0 && states.iter().all(|s| s == "lost")),
                "{task}: {states:?}"
            );
            rerun += usize::from(states.len() > 1);
        }
    }
    let committed_before = before["progress"]["map"]["done"].as_u64().unwrap();
    assert!(
        maps - (rerun as u64) >= committed_before,
        "tasks committed before the kill ran again: {by_task:?}"
    );
    let log = server.get(&token, &format!("/v1/jobs/{id}/logs"));
    assert!(log.text.contains("the server restarted"), "{}", log.text);
}

#[test]
fn a_worker_killed_mid_task_costs_one_attempt() {
    let server = Server::start(1);
    let token = server.tenant("alice", &[]);
    let sha = server.plugin(&token, Path::new(HOSTILE));
    // One task that spins for 3 s: time enough to kill its worker. (A plugin's `sleep`
    // returns at once: its clock is virtual.)
    server.put(&token, "sleepy", &[("a.txt", b"spin=3000\n")]);
    let id = server.submit_ok(
        &token,
        &sha,
        &["sleepy"],
        "slept",
        &["--reducers=1", "--split-size=10"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        let running: Vec<u32> = worker_processes(&server.data)
            .into_iter()
            .filter(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmd).contains("map-0")
            })
            .collect();
        if let Some(pid) = running.first() {
            break *pid;
        }
        assert!(Instant::now() < deadline, "the map task never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let job = server.wait_for(&token, &id, "succeeded", Duration::from_secs(60));
    let by_task = attempts(&server, &token, &id);
    assert_eq!(by_task["map-0"], ["failed", "ok"], "{by_task:?} {job:#}");
    let a = server.get(&token, &format!("/v1/jobs/{id}/attempts"));
    let failed = &a.json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["state"] == "failed")
        .unwrap()["error"];
    assert!(failed.as_str().unwrap().contains("signal 9"), "{failed}");
    let part =
        std::fs::read_to_string(server.dataset_dir("alice", "slept").join("part-00000")).unwrap();
    assert_eq!(part, "spun\t1\n");
}

#[test]
fn sigterm_lets_running_tasks_finish_and_the_job_resumes_on_restart() {
    let mut server = Server::start(2);
    let token = server.tenant("alice", &[]);
    let sha = server.plugin(&token, Path::new(HOSTILE));
    server.put(
        &token,
        "sleepy",
        &[
            ("a.txt", b"spin=2000\n"),
            ("b.txt", b"spin=2000\n"),
            ("c.txt", b"spin=2000\n"),
        ],
    );
    let id = server.submit_ok(
        &token,
        &sha,
        &["sleepy"],
        "slept",
        &["--reducers=1", "--split-size=10"],
    );
    wait_until(&server, &token, &id, |job| {
        job["progress"]["phase"] == "map"
    });
    std::thread::sleep(Duration::from_millis(300));
    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.log());
    assert!(
        server.log().contains("sandmill serve: stopped"),
        "{}",
        server.log()
    );
    assert!(worker_processes(&server.data).is_empty());
    server.restart();
    server.wait_for(&token, &id, "succeeded", Duration::from_secs(60));
    // The tasks that were running at SIGTERM finished then, and were not run again.
    let by_task = attempts(&server, &token, &id);
    let map_oks: usize = by_task
        .iter()
        .filter(|(t, _)| t.starts_with("map-"))
        .map(|(_, s)| s.iter().filter(|s| *s == "ok").count())
        .sum();
    assert_eq!(map_oks, 3, "{by_task:?}");
    assert!(
        by_task.iter().all(|(_, s)| !s.contains(&"lost".to_owned())),
        "SIGTERM lost a running attempt: {by_task:?}"
    );
}
