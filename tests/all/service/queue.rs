//! The queue: `--max-running` caps that queue with a reason, `--max-queued` that refuses with
//! 429, idempotent submission, cancellation, limits that bound the sandbox, and the fair share
//! of slots between tenants.

use super::Server;
use sandmill_tests::plugins::{FAIL_ON_RECORD, HOSTILE, WORDCOUNT};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Uploads `lines`, one file each (so one map task each with `--split-size=10`), as upload
/// `name`.
fn put_lines(server: &Server, token: &str, name: &str, lines: &[&str]) {
    let files: Vec<(String, Vec<u8>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("f{i:03}.txt"), format!("{l}\n").into_bytes()))
        .collect();
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    server.put(token, name, &files);
}

#[test]
fn max_running_queues_with_a_reason_max_queued_refuses_and_cancel_stops() {
    let server = Server::start(2);
    let token = server.tenant("alice", &["--max-running", "1", "--max-queued", "1"]);
    let hostile = server.plugin(&token, Path::new(HOSTILE));
    put_lines(&server, &token, "sleepy", &["spin=4000", "spin=4000"]);
    put_lines(&server, &token, "quick", &["spin=1"]);

    let first = server.submit_ok(&token, &hostile, &["sleepy"], "slow", &["--split-size=10"]);
    server.wait_for(&token, &first, "running", Duration::from_secs(30));
    let second = server.submit_ok(&token, &hostile, &["quick"], "fast", &[]);
    let job = server.job(&token, &second);
    assert_eq!(job["state"], "queued", "{job:#}");
    assert_eq!(
        job["pending_reason"], "tenant at max-running 1 (1 running)",
        "{job:#}"
    );
    // One queued already: the next is refused, saying why.
    let third = server.submit(&token, &hostile, &["quick"], "fast", &[]);
    assert_eq!(third.status, 429, "{third:?}");
    assert!(
        third.json["error"]
            .as_str()
            .unwrap()
            .contains("--max-queued"),
        "{third:?}"
    );

    // Cancelling the running job stops its workers and lets the queued one in.
    let cancelled = server.post(&token, &format!("/v1/jobs/{first}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    assert_eq!(cancelled.json["state"], "cancelled", "{cancelled:?}");
    let attempts = server.get(&token, &format!("/v1/jobs/{first}/attempts"));
    let running: Vec<&Value> = attempts.json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "running")
        .collect();
    assert!(running.is_empty(), "{attempts:?}");
    let first_dir = server.data.join("tenants/alice/jobs").join(&first);
    assert!(
        worker_processes(&first_dir).is_empty(),
        "workers left after cancel"
    );
    let done = server.wait_for(&token, &second, "succeeded", Duration::from_secs(60));
    assert_eq!(done["pending_reason"], Value::Null);
    // A finished job cannot be cancelled.
    let again = server.post(&token, &format!("/v1/jobs/{second}/cancel"), &json!({}));
    assert_eq!(again.status, 409, "{again:?}");
    let log = server.get(&token, &format!("/v1/jobs/{first}/logs"));
    assert!(log.text.contains("cancelled"), "{log:?}");
}

/// The pids of worker processes whose command line names `path` (a server's data
/// directory, a job's directory).
pub fn worker_processes(path: &Path) -> Vec<u32> {
    let needle = path.to_str().unwrap();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(" task ") && cmdline.contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn one_idempotency_key_makes_one_job() {
    let server = Server::start(1);
    let token = server.tenant("alice", &[]);
    let sha = server.plugin(&token, Path::new(WORDCOUNT));
    server.put(&token, "books", &[("a.txt", b"a b a\n")]);
    let body = json!({
        "plugin": sha, "inputs": ["books"], "output": "counts",
        "flags": ["--reducers=1"], "idempotency_key": "k-1",
    });
    let first = server.post(&token, "/v1/jobs", &body);
    assert_eq!(first.status, 201, "{first:?}");
    let again = server.post(&token, "/v1/jobs", &body);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json["id"], first.json["id"]);
    let mut other = body.clone();
    other["output"] = json!("elsewhere");
    let conflict = server.post(&token, "/v1/jobs", &other);
    assert_eq!(conflict.status, 409, "{conflict:?}");
    let jobs = server.get(&token, "/v1/jobs");
    assert_eq!(jobs.json["jobs"].as_array().unwrap().len(), 1, "{jobs:?}");
    let id = first.json["id"].as_str().unwrap();
    server.wait_for(&token, id, "succeeded", Duration::from_secs(60));
    // Still the same job once it has run.
    assert_eq!(server.post(&token, "/v1/jobs", &body).json["id"], id);
}

#[test]
fn limits_bound_the_sandbox_and_flags_the_service_decides_are_refused() {
    let server = Server::start(1);
    let token = server.tenant("alice", &["--max-memory", "256MiB"]);
    let sha = server.plugin(&token, Path::new(WORDCOUNT));
    server.put(&token, "books", &[("a.txt", b"a b a\n")]);
    for (flags, says) in [
        (vec!["--plugin-memory=1GiB"], "--max-memory"),
        (vec!["--executor=local"], "--executor"),
        (vec!["--no-such-flag"], "bad flags"),
        (vec!["--output=/tmp/x"], "bad flags"),
    ] {
        let a = server.submit(&token, &sha, &["books"], "counts", &flags);
        assert_eq!(a.status, 400, "{flags:?}: {a:?}");
        assert!(
            a.json["error"].as_str().unwrap().contains(says),
            "{flags:?}: {a:?}"
        );
    }
    for bad in ["../x", "A", ""] {
        assert_eq!(
            server.submit(&token, &sha, &["books"], bad, &[]).status,
            400,
            "{bad}"
        );
    }
    // A plugin that is not a component is refused at upload, saying why.
    let junk = server.send(&token, "POST", "/v1/plugins", b"not wasm at all");
    assert_eq!(junk.status, 400, "{junk:?}");
    assert!(
        junk.json["error"]
            .as_str()
            .unwrap()
            .contains("cannot be used"),
        "{junk:?}"
    );
    // Storage: the plugin fits in 1 MiB, a file that would pass it does not, and a job may
    // not ask to write more than is left.
    let tiny = server.tenant("tiny", &["--max-storage", "1MiB"]);
    let tiny_sha = server.plugin(&tiny, Path::new(WORDCOUNT));
    let staging = server.post(&tiny, "/v1/uploads/big/staging", &json!({}));
    let staging = staging.json["staging"].as_str().unwrap().to_owned();
    let big = vec![b'x'; 1 << 20];
    let refused = server.send(
        &tiny,
        "PUT",
        &format!("/v1/uploads/big/staging/{staging}/a.txt"),
        &big,
    );
    assert_eq!(refused.status, 413, "{refused:?}");
    assert!(
        refused.json["error"]
            .as_str()
            .unwrap()
            .contains("--max-storage"),
        "{refused:?}"
    );
    server.put(&tiny, "small", &[("a.txt", b"a b\n")]);
    let over = server.submit(&tiny, &tiny_sha, &["small"], "out", &["--max-output=1MiB"]);
    assert_eq!(over.status, 400, "{over:?}");
    assert!(
        over.json["error"]
            .as_str()
            .unwrap()
            .contains("--max-storage"),
        "{over:?}"
    );
    // A job within the limits runs with them.
    let id = server.submit_ok(
        &token,
        &sha,
        &["books"],
        "counts",
        &["--plugin-memory=128MiB"],
    );
    server.wait_for(&token, &id, "succeeded", Duration::from_secs(60));
    let versions = server.get(&token, "/v1/datasets/counts/versions");
    assert_eq!(
        versions.json["versions"].as_array().unwrap().len(),
        1,
        "{versions:?}"
    );
}

#[test]
fn equal_weights_get_equal_slot_shares() {
    let server = Server::start(2);
    let alice = server.tenant("alice", &[]);
    let bob = server.tenant("bob", &[]);
    let lines = vec!["spin=150"; 24];
    let mut jobs = Vec::new();
    for token in [&alice, &bob] {
        let sha = server.plugin(token, Path::new(HOSTILE));
        put_lines(&server, token, "spins", &lines);
        jobs.push((token, sha));
    }
    let ids: Vec<String> = jobs
        .iter()
        .map(|(token, sha)| {
            server.submit_ok(
                token,
                sha,
                &["spins"],
                "spun",
                &["--reducers=1", "--split-size=10"],
            )
        })
        .collect();
    for ((token, _), id) in jobs.iter().zip(&ids) {
        server.wait_for(token, id, "succeeded", Duration::from_secs(300));
    }
    // Slot time of each tenant's map tasks while both had map tasks to run.
    let spans: Vec<Vec<(f64, f64)>> = jobs
        .iter()
        .zip(&ids)
        .map(|((token, _), id)| {
            let a = server.get(token, &format!("/v1/jobs/{id}/attempts"));
            a.json["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["task"].as_str().unwrap().starts_with("map-"))
                .map(|a| (time(&a["started"]), time(&a["finished"])))
                .collect()
        })
        .collect();
    assert!(spans.iter().all(|s| s.len() == lines.len()), "{spans:?}");
    let from = spans
        .iter()
        .map(|s| s.iter().map(|a| a.0).fold(f64::MAX, f64::min))
        .fold(f64::MIN, f64::max);
    let to = spans
        .iter()
        .map(|s| s.iter().map(|a| a.1).fold(f64::MIN, f64::max))
        .fold(f64::MAX, f64::min);
    assert!(
        to > from + 1.0,
        "the tenants' map phases hardly overlap: {from} {to}"
    );
    let held: Vec<f64> = spans
        .iter()
        .map(|s| {
            s.iter()
                .map(|(a, b)| (b.min(to) - a.max(from)).max(0.0))
                .sum()
        })
        .collect();
    let ratio = held[0] / held[1];
    assert!(
        (0.9..=1.0 / 0.9).contains(&ratio),
        "slot seconds while both waited: alice {:.2}, bob {:.2}",
        held[0],
        held[1]
    );
}

/// Seconds since the epoch of an attempt's time, `2026-12-02T13:04:05.123Z`.
fn time(value: &Value) -> f64 {
    let text = value.as_str().expect("a time");
    let (seconds, millis) = text.trim_end_matches('Z').split_once('.').unwrap();
    seconds_of(seconds) + millis.parse::<f64>().unwrap() / 1000.0
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (UTC), for times of the same day or
/// days close together.
fn seconds_of(text: &str) -> f64 {
    let (date, clock) = text.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let c: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from a fixed month start are enough: the test runs within a few minutes.
    let days = d[0] * 372 + d[1] * 31 + d[2];
    (days * 86_400 + c[0] * 3600 + c[1] * 60 + c[2]) as f64
}

#[test]
fn a_jobs_plugin_log_and_counters_reach_its_log_and_status() {
    let server = Server::start(2);
    let token = server.tenant("alice", &[]);
    let sha = server.plugin(&token, Path::new(FAIL_ON_RECORD));
    // Two map tasks (one file each): "log" lines are logged and counted by the plugin.
    server.put(
        &token,
        "lines",
        &[("a.txt", b"a\nlog\nb\n"), ("b.txt", b"log\nlog\nc\n")],
    );
    let id = server.submit_ok(
        &token,
        &sha,
        &["lines"],
        "out",
        &["--reducers=1", "--split-size=10"],
    );
    let job = server.wait_for(&token, &id, "succeeded", Duration::from_secs(60));
    assert_eq!(job["progress"]["map"]["tasks"], 2, "{job:#}");
    assert_eq!(job["counters"], json!({"log-lines": 3}), "{job:#}");
    let log = server.get(&token, &format!("/v1/jobs/{id}/logs"));
    let plugin: Vec<&str> = log.json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == "plugin")
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert_eq!(plugin.len(), 3, "{log:?}");
    assert!(
        plugin
            .iter()
            .all(|l| l.starts_with("[map-") && l.ends_with("] info: saw a log line")),
        "{plugin:?}"
    );
}
