//! Two tenants on one server: a job runs end to end for one, and the other gets 404 for every
//! id and name of the first on every endpoint, and sees none of them in a list.

use super::{Server, text};
use sandmill_tests::plugins::WORDCOUNT;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_tenant_sees_and_touches_only_its_own_things() {
    let server = Server::start(2);
    let alice = server.tenant("alice", &[]);
    let bob = server.tenant("bob", &[]);
    assert_ne!(alice, bob);

    // Alice's job, end to end.
    let sha = server.plugin(&alice, std::path::Path::new(WORDCOUNT));
    let (a, b) = (text(3000, 1), text(2000, 2));
    server.put(&alice, "books", &[("a.txt", &a), ("more/b.txt", &b)]);
    let id = server.submit_ok(
        &alice,
        &sha,
        &["books"],
        "counts",
        &["--reducers=3", "--split-size=16KiB"],
    );
    let job = server.wait_for(&alice, &id, "succeeded", Duration::from_secs(120));
    assert_eq!(job["progress"]["reduce"]["done"], 3, "{job:#}");
    assert!(
        job["progress"]["map"]["done"].as_u64().unwrap() > 3,
        "{job:#}"
    );
    assert_eq!(job["input_bytes"], (a.len() + b.len()) as u64);

    // The same job run locally writes the same bytes.
    let local_in = server.scratch().join("in");
    std::fs::create_dir_all(local_in.join("more")).unwrap();
    std::fs::write(local_in.join("a.txt"), &a).unwrap();
    std::fs::write(local_in.join("more/b.txt"), &b).unwrap();
    let local = server.scratch().join("local");
    crate::sandmill([
        "run",
        WORDCOUNT,
        "--input",
        crate::arg(&local_in),
        "--output",
        crate::arg(&local),
        "--reducers=3",
        "--split-size=16KiB",
        "--quiet",
    ])
    .assert_success();
    let files = server.get(&alice, "/v1/datasets/counts/files");
    assert_eq!(files.status, 200, "{files:?}");
    let parts: Vec<&str> = files.json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.starts_with("part-"))
        .collect();
    assert_eq!(parts.len(), 3, "{files:?}");
    for part in &parts {
        let got = server.get(&alice, &format!("/v1/datasets/counts/files/{part}"));
        assert_eq!(got.status, 200);
        assert_eq!(
            got.text.as_bytes(),
            std::fs::read(local.join(part)).unwrap(),
            "{part}"
        );
    }

    // Jobs chain: a dataset is an input of the next job, read at its current version.
    let chained = server.submit_ok(&alice, &sha, &["counts"], "recount", &["--reducers=1"]);
    let chained = server.wait_for(&alice, &chained, "succeeded", Duration::from_secs(120));
    let counts_bytes: u64 = parts
        .iter()
        .map(|p| std::fs::metadata(local.join(p)).unwrap().len())
        .sum();
    assert_eq!(chained["input_bytes"], counts_bytes, "{chained:#}");
    let recount =
        std::fs::read_to_string(server.dataset_dir("alice", "recount").join("part-00000")).unwrap();
    // Every word of the counts ("word\tN") once, and each count's digits.
    assert!(
        recount.lines().any(|l| l.starts_with("alpha\t")),
        "{recount}"
    );

    // Bob, against every endpoint with Alice's ids and names.
    let staging = server.post(&alice, "/v1/uploads/books/staging", &json!({}));
    let staging_id = staging.json["staging"].as_str().unwrap();
    let not_found = [
        ("GET", format!("/v1/plugins/{sha}")),
        ("GET", format!("/v1/jobs/{id}")),
        ("GET", format!("/v1/jobs/{id}/logs")),
        ("GET", format!("/v1/jobs/{id}/attempts")),
        ("POST", format!("/v1/jobs/{id}/cancel")),
        ("DELETE", "/v1/uploads/books".to_owned()),
        (
            "PUT",
            format!("/v1/uploads/books/staging/{staging_id}/x.txt"),
        ),
        (
            "POST",
            format!("/v1/uploads/books/staging/{staging_id}/commit"),
        ),
        ("GET", "/v1/datasets/counts/versions".to_owned()),
        ("POST", "/v1/datasets/counts/rollback".to_owned()),
        ("GET", "/v1/datasets/counts/files".to_owned()),
        ("GET", "/v1/datasets/counts/files/part-00000".to_owned()),
        ("GET", "/v1/datasets/counts/files/_MANIFEST.json".to_owned()),
    ];
    for (method, path) in &not_found {
        let answer = match *method {
            "GET" => server.get(&bob, path),
            m => server.send(&bob, m, path, b"{}"),
        };
        assert_eq!(answer.status, 404, "{method} {path} as bob: {answer:?}");
        assert!(answer.json["error"].is_string(), "{answer:?}");
        // Alice still gets hers (the same request is not 404 for her for a reason of its own).
        if *method == "GET" {
            assert_eq!(server.get(&alice, path).status, 200, "{path} as alice");
        }
    }
    for (path, list) in [
        ("/v1/plugins", "plugins"),
        ("/v1/jobs", "jobs"),
        ("/v1/uploads", "uploads"),
        ("/v1/datasets", "datasets"),
    ] {
        let mine = server.get(&alice, path);
        assert!(
            !mine.json[list].as_array().unwrap().is_empty(),
            "{path} as alice: {mine:?}"
        );
        let theirs = server.get(&bob, path);
        assert_eq!(theirs.status, 200);
        assert_eq!(theirs.json[list], json!([]), "{path} as bob: {theirs:?}");
    }
    assert_eq!(server.get(&bob, "/v1/usage").json["jobs_run"], 0);
    assert_eq!(server.get(&alice, "/v1/usage").json["jobs_run"], 2);
    assert!(
        server.get(&alice, "/v1/usage").json["bytes_read"]
            .as_u64()
            .unwrap()
            >= (a.len() + b.len()) as u64
    );

    // Bob cannot reach Alice's data through a job: not by name, not by path, not with her
    // plugin.
    let bob_sha = server.plugin(&bob, std::path::Path::new(WORDCOUNT));
    assert_eq!(bob_sha, sha);
    for (inputs, status) in [
        (vec!["books"], 400),
        (vec!["counts"], 400),
        (
            vec![server.dataset_dir("alice", "counts").to_str().unwrap()],
            400,
        ),
        (
            vec![
                server
                    .data
                    .join("tenants/alice/uploads/books")
                    .to_str()
                    .unwrap(),
            ],
            400,
        ),
        (vec!["/etc"], 400),
    ] {
        let a = server.submit(&bob, &bob_sha, &inputs, "mine", &[]);
        assert_eq!(a.status, status, "{inputs:?}: {a:?}");
    }
    assert_eq!(
        server
            .submit(&bob, &"0".repeat(64), &["x"], "mine", &[])
            .status,
        404
    );

    // No token, or a wrong one.
    let anonymous = server.get("", "/v1/jobs");
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(server.get(&format!("{alice}x"), "/v1/jobs").status, 401);
    assert_eq!(server.get("", "/v1/health").status, 200);
}
