//! The client commands against a real server, as a tenant types them: put, submit (the id
//! alone on stdout), logs --follow, status --json, jobs, get, versions, rollback, cancel; and
//! another tenant's token getting nothing.

use super::{Server, assert_same_as_local, text};
use crate::Run;
use sandmill_tests::plugins::WORDCOUNT;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs `sandmill args` as the tenant with `token` on `server`.
fn client(server: &Server, token: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_sandmill"))
        .args(args)
        .env("SANDMILL_SERVER", &server.url)
        .env("SANDMILL_TOKEN", token)
        .output()
        .unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_tenant_runs_a_job_with_the_client_commands() {
    let server = Server::start(2);
    let granted = server.scratch().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("extra.txt"), text(500, 3)).unwrap();
    let alice = server.tenant("alice", &["--input-root", crate::arg(&granted)]);
    let bob = server.tenant("bob", &[]);
    let books = server.scratch().join("books");
    std::fs::create_dir_all(books.join("sub")).unwrap();
    std::fs::write(books.join("a.txt"), text(2000, 1)).unwrap();
    std::fs::write(books.join("sub/b.txt"), text(1000, 2)).unwrap();

    client(
        &server,
        &alice,
        &["put", crate::arg(&books), "--as", "books"],
    )
    .assert_success();
    let extra = granted.join("extra.txt");
    let submit = [
        "submit",
        WORDCOUNT,
        "--input",
        "books",
        "--input",
        crate::arg(&extra),
        "--output",
        "counts",
        "--reducers",
        "2",
        "--split-size",
        "16KiB",
    ];
    let run = client(&server, &alice, &submit);
    run.assert_success();
    let id = run.stdout.trim().to_owned();
    assert_eq!(run.stdout, format!("{id}\n"), "the id alone: {run}");
    assert!(id.starts_with("j-"), "{run}");

    let logs = client(&server, &alice, &["logs", &id, "--follow"]);
    logs.assert_success();
    assert!(logs.stdout.contains("job succeeded"), "{logs}");
    let status = client(&server, &alice, &["status", &id, "--json"]);
    status.assert_success();
    let job: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["pending_reason"], Value::Null);
    assert_eq!(job["error"], Value::Null);
    assert_eq!(job["progress"]["reduce"]["done"], 2, "{job:#}");
    assert!(
        client(&server, &alice, &["jobs"])
            .assert_success()
            .stdout
            .contains(&id)
    );

    // The output, downloaded, is what a local run of the same job writes.
    let out = server.scratch().join("got");
    client(
        &server,
        &alice,
        &["get", "counts", "--to", crate::arg(&out)],
    )
    .assert_success();
    let local_in = server.scratch().join("local-in");
    std::fs::create_dir_all(local_in.join("sub")).unwrap();
    for (from, to) in [
        (books.join("a.txt"), local_in.join("a.txt")),
        (books.join("sub/b.txt"), local_in.join("sub/b.txt")),
    ] {
        std::fs::copy(from, to).unwrap();
    }
    let parts = assert_same_as_local(
        &server,
        &[&local_in, &extra],
        &["--reducers", "2", "--split-size", "16KiB"],
        &out,
    );
    assert_eq!(parts, 2);

    // The same idempotency key, twice: one job.
    let keyed: Vec<&str> = submit
        .iter()
        .copied()
        .chain(["--force", "--idempotency-key", "again-1"])
        .collect();
    let first = client(&server, &alice, &keyed);
    let second = client(&server, &alice, &keyed);
    assert_eq!(
        first.assert_success().stdout,
        second.assert_success().stdout
    );
    let second_id = first.stdout.trim().to_owned();
    client(&server, &alice, &["logs", &second_id, "--follow"]).assert_success();
    let versions = client(&server, &alice, &["versions", "counts", "--json"]);
    let list: Value = serde_json::from_str(&versions.assert_success().stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{versions}");
    client(&server, &alice, &["rollback", "counts"]).assert_success();
    let dataset = sandmill::dataset::Dataset::open(&server.dataset_dir("alice", "counts")).unwrap();
    assert_eq!(dataset.current().unwrap().unwrap().to_string(), "v000001");

    // A finished job cannot be cancelled; Bob cannot see Alice's job or dataset at all.
    let cancel = client(&server, &alice, &["cancel", &id]);
    assert!(
        cancel.assert_error().contains("succeeded already"),
        "{cancel}"
    );
    for args in [
        vec!["status", id.as_str()],
        vec!["logs", id.as_str()],
        vec!["cancel", id.as_str()],
        vec!["versions", "counts"],
        vec!["get", "counts", "--to", "/nonexistent-never-written"],
    ] {
        let run = client(&server, &bob, &args);
        let error = run.assert_error();
        assert!(error.contains("no "), "bob {args:?}: {run}");
        assert_eq!(run.status.code(), Some(2), "{args:?}: {run}");
    }
    assert!(!Path::new("/nonexistent-never-written").exists());
    let bob_jobs = client(&server, &bob, &["jobs", "--json"]);
    let list: Value = serde_json::from_str(&bob_jobs.assert_success().stdout).unwrap();
    assert_eq!(list["jobs"], serde_json::json!([]), "{bob_jobs}");
    // A wrong token is named as the problem.
    let wrong = client(&server, "smt_0000", &["jobs"]);
    assert!(wrong.assert_error().contains("SANDMILL_TOKEN"), "{wrong}");
}
