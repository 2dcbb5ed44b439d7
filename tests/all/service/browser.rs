//! The pages of a real server in headless Chromium: log in with a token, find the job in the
//! list, open its page (state, progress per phase, the timeline of attempts, counters, the
//! log, links to its output), follow a link to an output file, the history plots; and another
//! tenant's job page is not shown.

use super::webdriver::{Browser, assert_real_rendering};
use super::{Server, text};
use sandmill_tests::plugins::WORDCOUNT;
use std::path::Path;
use std::time::Duration;

/// Logs `browser` in to `server` with `token`.
fn log_in(browser: &Browser, server: &Server, token: &str) {
    browser.goto(&format!("{}/ui/login", server.url));
    browser.fill("#token", token);
    browser.click("button[type=submit]");
}

#[test]
fn the_job_page_shows_the_job_and_its_progress() {
    let server = Server::start(2);
    let alice = server.tenant("alice", &[]);
    let bob = server.tenant("bob", &[]);
    let sha = server.plugin(&alice, Path::new(WORDCOUNT));
    server.put(&alice, "books", &[("a.txt", &text(4000, 7))]);
    let id = server.submit_ok(
        &alice,
        &sha,
        &["books"],
        "counts",
        &["--reducers=2", "--split-size=16KiB"],
    );
    let job = server.wait_for(&alice, &id, "succeeded", Duration::from_secs(120));
    let maps = job["progress"]["map"]["tasks"].as_u64().unwrap();

    let browser = Browser::start();
    // Without a token, the pages send to the login.
    browser.goto(&format!("{}/ui/jobs/{id}", server.url));
    browser.wait_for("#token", Duration::from_secs(10));
    log_in(&browser, &server, &alice);
    browser.wait_for(&format!("a[href='/ui/jobs/{id}']"), Duration::from_secs(10));
    assert_real_rendering(&browser.screenshot());

    browser.click(&format!("a[href='/ui/jobs/{id}']"));
    browser.wait_for("#job-state", Duration::from_secs(10));
    assert_eq!(browser.text("#job-state"), "succeeded");
    let map = browser.text("#progress-map");
    assert!(map.contains(&format!("{maps}/{maps}")), "{map}");
    assert!(browser.text("#progress-reduce").contains("2/2"));
    // One rect per attempt: plans, map and reduce tasks, publish.
    let attempts = server.get(&alice, &format!("/v1/jobs/{id}/attempts"));
    let n = attempts.json["attempts"].as_array().unwrap().len();
    assert_eq!(browser.count("#timeline rect"), n);
    assert!(
        browser.text("#log").contains("published counts"),
        "{}",
        browser.text("#log")
    );
    assert_real_rendering(&browser.screenshot());

    // The output's files are links that download them, with the page's login.
    let part = browser.execute(
        "return fetch(document.querySelector(\"a[href*='/v1/datasets/counts/files/part-00000']\")\
         .href).then(r => r.text())",
    );
    let stored =
        std::fs::read_to_string(server.dataset_dir("alice", "counts").join("part-00000")).unwrap();
    assert_eq!(part.as_str(), Some(stored.as_str()));

    browser.goto(&format!("{}/ui/history", server.url));
    browser.wait_for("#plot-duration canvas", Duration::from_secs(10));
    browser.wait_for("#plot-throughput canvas", Duration::from_secs(10));
    assert_real_rendering(&browser.screenshot());

    // Bob, logged in, gets no page of Alice's job and no row of it.
    log_in(&browser, &server, &bob);
    browser.wait_for("body", Duration::from_secs(10));
    assert_eq!(browser.count(&format!("a[href='/ui/jobs/{id}']")), 0);
    browser.goto(&format!("{}/ui/jobs/{id}", server.url));
    assert_eq!(browser.count("#job-state"), 0);
    assert!(
        browser.text("body").contains("no job"),
        "{}",
        browser.text("body")
    );
}
