//! The server under test and a client of its API: `sandmill serve` as a child process (started
//! on a free loopback port, stopped with SIGTERM), and plain HTTP requests with a tenant's token
//! that return the status and body without judging them.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A client of the server's HTTP API.
pub struct Api {
    agent: ureq::Agent,
    url: String,
}

/// An answer: its status and body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, or `null` if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The answer if its status is one of `ok`, else an error naming `what` and the server's
    /// own message.
    pub fn expect(self, ok: &[u16], what: &str) -> Result<Answer> {
        if ok.contains(&self.status) {
            return Ok(self);
        }
        let json = self.json();
        let message = json["error"].as_str().map_or_else(
            || String::from_utf8_lossy(&self.body).into_owned(),
            str::to_owned,
        );
        bail!("{what}: the server answered {}: {message}", self.status)
    }
}

impl Api {
    /// A client of the server at `url` (`http://HOST:PORT`).
    pub fn new(url: &str) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Api {
            agent,
            url: url.to_owned(),
        }
    }

    /// `GET path`.
    pub fn get(&self, token: &str, path: &str) -> Result<Answer> {
        let response = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {token}"))
            .call();
        Self::answer(response, "GET", path)
    }

    /// `method path` (POST or PUT) with `body`.
    pub fn send(
        &self,
        method: &str,
        token: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.url);
        let request = match method {
            "POST" => self.agent.post(url),
            "PUT" => self.agent.put(url),
            other => bail!("the benchmark sends no {other} requests"),
        };
        let response = request
            .header("Authorization", format!("Bearer {token}"))
            .content_type(content_type)
            .send(body);
        Self::answer(response, method, path)
    }

    fn answer(
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        method: &str,
        path: &str,
    ) -> Result<Answer> {
        let mut response =
            response.with_context(|| format!("{method} {path}: the server did not answer"))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        Ok(Answer { status, body })
    }
}

/// A `sandmill serve` child process, killed if dropped while running.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its `--data-dir`.
    pub data: PathBuf,
    /// Where its stderr is copied.
    pub log: PathBuf,
}

impl Server {
    /// Starts `sandmill serve` on a free loopback port and waits until it listens.
    pub fn start(sandmill: &Path, data: &Path, slots: u64, log: &Path) -> Result<Server> {
        let mut child = Command::new(sandmill)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "127.0.0.1:0", "--slots", &slots.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} serve", sandmill.display()))?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let mut file =
            fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Copies stderr to the log for as long as the server runs, and hands over the address.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(url);
                }
                let _ = writeln!(file, "{line}");
            }
        });
        let mut server = Server {
            child: Some(child),
            url: String::new(),
            data: data.to_path_buf(),
            log: log.to_path_buf(),
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => server.url = url,
            Err(_) => bail!(
                "sandmill serve did not say it was listening within 60 s; it wrote:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            ),
        }
        Ok(server)
    }

    /// SIGTERM by pid, as an init system sends it; the exit status, within `patience`.
    pub fn terminate(&mut self, patience: Duration) -> Result<ExitStatus> {
        let mut child = self.child.take().context("the server is not running")?;
        let pid = child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status();
        if !kill.is_ok_and(|s| s.success()) {
            self.child = Some(child);
            bail!("could not send SIGTERM to the server (pid {pid}) with kill(1)");
        }
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.child = Some(child);
                bail!(
                    "the server had not exited {} s after SIGTERM",
                    patience.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
