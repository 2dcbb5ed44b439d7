//! Tests of `sandmill serve` from outside: a real server on a loopback port, its tenants, an
//! HTTP client, and a WebDriver client for its pages.

/// The pages of a real server in headless Chromium.
mod browser;
/// The client commands (put, submit, logs, status, get, versions, rollback, cancel).
mod cli;
/// The WebDriver harness itself, against pages it writes: each `Browser` call, the screenshot
/// check, and the messages when something is missing.
mod harness;
/// Two tenants: every endpoint of one against the other's ids and names.
mod isolation;
/// Caps, pending reasons, 429, idempotency, cancellation, limits, fair share.
mod queue;
/// kill -9 of the server and of a worker, SIGTERM.
mod restart;
/// A WebDriver client for headless Chromium (`./scripts/setup-browser.sh` installs it).
pub mod webdriver;

use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server and its data directory (removed with it).
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its `--data-dir`.
    pub data: PathBuf,
    /// Its `--slots`.
    slots: u64,
    _dir: tempfile::TempDir,
    agent: ureq::Agent,
}

/// An answer: status and JSON body (or `Value::Null`).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON, if it is.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Server {
    /// Starts a server with `slots` worker slots on a fresh data directory.
    pub fn start(slots: u64) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut server = Server {
            child: None,
            url: String::new(),
            data,
            slots,
            _dir: dir,
            agent,
        };
        server.restart();
        server
    }

    /// The data directory's parent, for the test's own files.
    pub fn scratch(&self) -> &Path {
        self.data.parent().unwrap()
    }

    /// Starts the server (again) on the same data directory, and waits until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandmill"))
            .args(["serve", "--data-dir", crate::arg(&self.data)])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--slots",
                &self.slots.to_string(),
            ])
            .args(["--worker-memory", "8GiB", "--shutdown-grace", "20"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sandmill serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.scratch().join("serve.log");
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(url);
                }
                use std::io::Write as _;
                let _ = writeln!(log, "{line}");
            }
        });
        self.url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the server did not start:\n{}", self.log()));
        self.child = Some(child);
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch().join("serve.log")).unwrap_or_default()
    }

    /// `kill -9` of the server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, and the exit status once it has stopped.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        // SIGTERM by pid, as an init system sends it.
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap()
    }

    /// Adds a tenant with `flags`; its token.
    pub fn tenant(&self, name: &str, flags: &[&str]) -> String {
        let run = crate::sandmill(
            ["tenant", "add", name, "--data-dir", crate::arg(&self.data)]
                .iter()
                .chain(flags),
        );
        run.assert_success();
        let token = run.stdout.trim().to_owned();
        assert_eq!(run.stdout.lines().count(), 1, "{run}");
        token
    }

    fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.expect("the server answers");
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, json, text }
    }

    /// `GET path` with `token`.
    pub fn get(&self, token: &str, path: &str) -> Answer {
        Self::answer(
            self.agent
                .get(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .call(),
        )
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, token: &str, path: &str, body: &Value) -> Answer {
        Self::answer(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .send_json(body),
        )
    }

    /// `method path` with raw bytes.
    pub fn send(&self, token: &str, method: &str, path: &str, body: &[u8]) -> Answer {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {token}");
        Self::answer(match method {
            "PUT" => self.agent.put(url).header("Authorization", auth).send(body),
            "POST" => self
                .agent
                .post(url)
                .header("Authorization", auth)
                .send(body),
            "DELETE" => self.agent.delete(url).header("Authorization", auth).call(),
            other => panic!("no method {other}"),
        })
    }

    /// Uploads a plugin; its SHA-256.
    pub fn plugin(&self, token: &str, wasm: &Path) -> String {
        let a = self.send(token, "POST", "/v1/plugins", &std::fs::read(wasm).unwrap());
        assert!(a.status == 201 || a.status == 200, "{a:?}");
        a.json["sha256"].as_str().unwrap().to_owned()
    }

    /// Uploads `files` (name, contents) as upload `name`.
    pub fn put(&self, token: &str, name: &str, files: &[(&str, &[u8])]) {
        let staging = self.post(token, &format!("/v1/uploads/{name}/staging"), &json!({}));
        assert_eq!(staging.status, 201, "{staging:?}");
        let id = staging.json["staging"].as_str().unwrap().to_owned();
        for (path, bytes) in files {
            let a = self.send(
                token,
                "PUT",
                &format!("/v1/uploads/{name}/staging/{id}/{path}"),
                bytes,
            );
            assert_eq!(a.status, 204, "{a:?}");
        }
        let a = self.post(
            token,
            &format!("/v1/uploads/{name}/staging/{id}/commit"),
            &json!({}),
        );
        assert_eq!(a.status, 200, "{a:?}");
    }

    /// Submits a job; the answer.
    pub fn submit(
        &self,
        token: &str,
        plugin: &str,
        inputs: &[&str],
        output: &str,
        flags: &[&str],
    ) -> Answer {
        self.post(
            token,
            "/v1/jobs",
            &json!({ "plugin": plugin, "inputs": inputs, "output": output, "flags": flags }),
        )
    }

    /// Submits a job that must be accepted; its id.
    pub fn submit_ok(
        &self,
        token: &str,
        plugin: &str,
        inputs: &[&str],
        output: &str,
        flags: &[&str],
    ) -> String {
        let a = self.submit(token, plugin, inputs, output, flags);
        assert_eq!(a.status, 201, "{a:?}");
        a.json["id"].as_str().unwrap().to_owned()
    }

    /// The job `id` as its tenant sees it.
    pub fn job(&self, token: &str, id: &str) -> Value {
        let a = self.get(token, &format!("/v1/jobs/{id}"));
        assert_eq!(a.status, 200, "{a:?}");
        a.json
    }

    /// Waits until job `id` is in `state` (or has finished, if `state` is a running one that
    /// it passed), and returns it.
    pub fn wait_for(&self, token: &str, id: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(token, id);
            let now = job["state"].as_str().unwrap_or("").to_owned();
            if now == state {
                return job;
            }
            let finished = ["succeeded", "failed", "cancelled"].contains(&now.as_str());
            assert!(
                !finished && Instant::now() < deadline,
                "job {id} is {now}, not {state}: {job:#}\n--- log ---\n{}\n--- server ---\n{}",
                self.get(token, &format!("/v1/jobs/{id}/logs")).text,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The files of the current version of a tenant's dataset, as the server stores them.
    pub fn dataset_dir(&self, tenant: &str, name: &str) -> PathBuf {
        self.data
            .join("tenants")
            .join(tenant)
            .join("datasets")
            .join(name)
    }
}

/// Runs the word count locally on `inputs` with `flags`, and checks that each of its part
/// files is byte for byte the one in `got`; returns how many there are.
pub fn assert_same_as_local(
    server: &Server,
    inputs: &[&Path],
    flags: &[&str],
    got: &Path,
) -> usize {
    let local = server.scratch().join(format!("local-{}", rand_suffix()));
    let mut args = vec!["run", sandmill_tests::plugins::WORDCOUNT, "--quiet"];
    for input in inputs {
        args.extend(["--input", crate::arg(input)]);
    }
    args.extend(["--output", crate::arg(&local)]);
    args.extend(flags);
    crate::sandmill(args).assert_success();
    let parts = sandmill_tests::output::part_files(&local);
    for part in &parts {
        let name = part.file_name().unwrap();
        assert_eq!(
            std::fs::read(got.join(name)).unwrap(),
            std::fs::read(part).unwrap(),
            "{} differs from a local run's",
            name.to_string_lossy()
        );
    }
    parts.len()
}

/// A name no other call in this process used.
fn rand_suffix() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The words of `lines` lines of text, for inputs big enough to cut into many splits.
pub fn text(lines: usize, seed: u64) -> Vec<u8> {
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut out = Vec::new();
    for _ in 0..lines {
        for w in 0..8 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if w > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(words[(x >> 33) as usize % words.len()].as_bytes());
        }
        out.push(b'\n');
    }
    out
}
