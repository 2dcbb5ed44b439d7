//! The pages in a real browser: rendered from sample data, served with their static files by
//! a tiny HTTP server on a test thread, and opened in headless Chromium (the end-to-end tests'
//! WebDriver client). Checks what only a browser shows: links lead where they say, the
//! timeline and uPlot's plots draw, the login form posts its token, the page is not blank.

use super::model::JobState;
use super::testutil::{attempt, attempts, files, job, log, usage};
use super::webdriver::{Browser, assert_real_rendering};
use super::{
    STATIC_PREFIX, dataset_page, history_page, job_page, jobs_page, login_page, static_asset,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An answer: status, content type, body.
type Answer = (u16, &'static str, Vec<u8>);

/// Serves `route(method, path, body)` on a free local port, one thread per connection (the
/// browser opens some it sends nothing on), and returns `http://127.0.0.1:PORT`. The server
/// lives as long as the test process.
fn serve(route: impl Fn(&str, &str, &[u8]) -> Answer + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let route = Arc::new(route);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let route = Arc::clone(&route);
            std::thread::spawn(move || answer(stream, &*route));
        }
    });
    base
}

/// Reads one request from `stream` and writes `route`'s answer, closing the connection.
fn answer(stream: TcpStream, route: &dyn Fn(&str, &str, &[u8]) -> Answer) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, bytes) = route(method, path, &body);
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        bytes.len()
    );
    let mut stream = &stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&bytes);
}

/// An HTML page as an answer.
fn html(markup: maud::Markup) -> Answer {
    (
        200,
        "text/html; charset=utf-8",
        markup.into_string().into_bytes(),
    )
}

/// The static files under `/ui/static/`, or `None` for another path.
fn static_file(path: &str) -> Option<Answer> {
    let (content_type, bytes) = static_asset(path.strip_prefix(STATIC_PREFIX)?)?;
    Some((200, content_type, bytes.to_vec()))
}

/// A 404.
fn not_found() -> Answer {
    (404, "text/plain", b"not found".to_vec())
}

/// The jobs page links to a job's page, which shows its state, progress, timeline and log,
/// and links to its output dataset's page.
#[test]
fn jobs_page_to_job_page() {
    let jobs: Vec<_> = (0..40)
        .map(|i| {
            let state = [JobState::Running, JobState::Succeeded, JobState::Failed][i % 3];
            job(&format!("j-{i:012x}"), state)
        })
        .collect();
    let base = serve(move |_, path, _| match path {
        "/ui" => html(jobs_page("alice", &usage(), &jobs, Some("j-000000000027"))),
        "/ui/jobs/j-000000000000" => html(job_page(
            "alice",
            &job("j-000000000000", JobState::Running),
            &attempts(),
            &log(30),
            &files(),
        )),
        "/ui/datasets/counts" => html(dataset_page(
            "alice",
            "counts",
            &serde_json::json!({"versions": [
                {"version": "v1", "current": true, "published": "2026-12-02T13:00:13Z",
                 "files": 2, "records": 80, "bytes": 2148, "format": "lines", "reducers": 2},
            ]}),
            &files(),
        )),
        _ => static_file(path).unwrap_or_else(not_found),
    });
    let browser = Browser::start();
    browser.goto(&format!("{base}/ui"));
    assert_eq!(browser.title(), "Jobs — Sandmill");
    assert_eq!(browser.count("#jobs tbody tr"), 40);
    assert!(
        browser.text("#usage").starts_with("3 jobs run"),
        "{}",
        browser.text("#usage")
    );
    assert_eq!(
        browser.text("#jobs tbody tr:first-child td:nth-child(2)"),
        "running"
    );
    assert_real_rendering(&browser.screenshot());

    browser.click("#jobs tbody tr:first-child a");
    browser.wait_for("#job-state", Duration::from_secs(10));
    assert_eq!(browser.url(), format!("{base}/ui/jobs/j-000000000000"));
    assert_eq!(browser.text("#job-state"), "running");
    assert_eq!(browser.text("#progress-map .count"), "5/12");
    assert_eq!(browser.text("#progress-reduce .count"), "0/4");
    assert_eq!(
        browser.count("#timeline svg rect.attempt"),
        attempts().len()
    );
    assert_eq!(browser.count("#counters tr"), 2);
    assert!(
        browser.text("#log").ends_with("line 30"),
        "{}",
        browser.text("#log")
    );
    let scrolled = "const log = document.getElementById('log'); \
                    return log.scrollTop + log.clientHeight >= log.scrollHeight - 1";
    assert_eq!(
        browser.execute(scrolled),
        serde_json::json!(true),
        "the log shows its end"
    );
    assert_real_rendering(&browser.screenshot());
}

/// The history page draws both plots with uPlot (served by us) from the embedded data.
#[test]
fn history_plots_draw() {
    let jobs: Vec<_> = (0..30u32)
        .map(|i| {
            let mut j = job(&format!("j-{i:012x}"), JobState::Succeeded);
            j.finished = Some(format!("2026-12-02T{:02}:{:02}:00Z", 8 + i / 6, i % 6 * 10));
            j.duration_seconds = Some(10.0 + f64::from(i % 7) * 3.0);
            j.input_bytes = u64::from(i + 1) << 22;
            j
        })
        .collect();
    let base = serve(move |_, path, _| match path {
        "/ui/history" => html(history_page("alice", &jobs)),
        _ => static_file(path).unwrap_or_else(not_found),
    });
    let browser = Browser::start();
    browser.goto(&format!("{base}/ui/history"));
    browser.wait_for("#plot-duration canvas", Duration::from_secs(10));
    browser.wait_for("#plot-throughput canvas", Duration::from_secs(10));
    assert_eq!(browser.text("#plot-duration .u-title"), "duration (s)");
    assert_eq!(browser.count("#history tbody tr"), 30);
    assert_real_rendering(&browser.screenshot());
}

/// The login form posts the token, form-encoded, to `/ui/login`.
#[test]
fn login_form_posts_the_token() {
    let posted = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&posted);
    let base = serve(move |method, path, body| match (method, path) {
        ("GET", "/ui/login") => html(login_page(Some("unknown token"))),
        ("POST", "/ui/login") => {
            *seen.lock().unwrap() = Some(String::from_utf8_lossy(body).into_owned());
            html(maud::html! { p #done { "logged in" } })
        }
        _ => static_file(path).unwrap_or_else(not_found),
    });
    let browser = Browser::start();
    browser.goto(&format!("{base}/ui/login"));
    assert_eq!(browser.text("#login-error"), "unknown token");
    browser.fill("#token", "tok en+/=");
    browser.click("button[type=submit]");
    browser.wait_for("#done", Duration::from_secs(10));
    assert_eq!(
        posted.lock().unwrap().as_deref(),
        Some("token=tok+en%2B%2F%3D")
    );
}

/// Thousands of jobs and of task attempts: the pages load in Chromium in about a second
/// (printed, not asserted: the machine's speed varies), and every row and bar is there.
#[test]
fn thousands_of_rows_load() {
    let jobs: Vec<_> = (0..5000)
        .map(|i| job(&format!("j-{i:012x}"), JobState::Succeeded))
        .collect();
    let many: Vec<_> = (0..2000u32)
        .map(|i| attempt(&format!("map-{i}"), 1, "ok", i % 60, Some(i % 60 + 30)))
        .collect();
    let big_job = job("j-000000000001", JobState::Succeeded);
    let base = serve(move |_, path, _| match path {
        "/ui" => html(jobs_page("alice", &usage(), &jobs, None)),
        "/ui/jobs/j-000000000001" => html(job_page("alice", &big_job, &many, &log(500), &[])),
        _ => static_file(path).unwrap_or_else(not_found),
    });
    let browser = Browser::start();
    for (path, rows, css) in [
        ("/ui", 5000, "#jobs tbody tr"),
        ("/ui/jobs/j-000000000001", 2000, "#timeline rect.attempt"),
    ] {
        let start = std::time::Instant::now();
        browser.goto(&format!("{base}{path}"));
        println!(
            "Chromium loaded {path} with {rows} rows in {:?}",
            start.elapsed()
        );
        let timing = "const n = performance.getEntriesByType('navigation')[0]; \
                      return [n.responseEnd, n.domInteractive, n.loadEventEnd].map(Math.round)";
        println!(
            "  ms to the last byte, parsed, loaded: {}",
            browser.execute(timing)
        );
        assert_eq!(browser.count(css), rows, "{path}");
        assert_real_rendering(&browser.screenshot());
    }
}
