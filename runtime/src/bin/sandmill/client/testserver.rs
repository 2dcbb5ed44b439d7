//! A small stand-in for `sandmill serve` for the client's tests: an axum router on
//! 127.0.0.1:0 answering the documented endpoints (`docs/service.md`) from memory, with
//! switches to lose answers and to finish a job after some polls. Not the real server: it
//! checks no names, limits or flags.

use crate::args::{Args, Command, RunArgs, ServerArgs};
use crate::client::http::Client;
use crate::service::model::{Job, JobState, LogLine};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use clap::Parser as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The token the server takes.
pub const TOKEN: &str = "secret";

/// A dataset version's files: (path, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

/// What the server holds, for a test to set up and look at.
#[derive(Default)]
pub struct ServerState {
    /// Plugins by SHA-256: their size.
    pub plugins: BTreeMap<String, usize>,
    /// Jobs, oldest first.
    pub jobs: Vec<Job>,
    /// Idempotency keys: the index of their job.
    pub keys: BTreeMap<String, usize>,
    /// `POST /v1/jobs` requests received.
    pub job_posts: u32,
    /// How many answers to `POST /v1/jobs` to lose (as a 503) after storing the job.
    pub lose_job_answers: u32,
    /// Log lines by job.
    pub logs: BTreeMap<String, Vec<LogLine>>,
    /// How many `logs` requests to answer with a 503.
    pub lose_log_answers: u32,
    /// When set, `logs` polls after which a running job succeeds.
    pub finish_after_polls: Option<u32>,
    /// Committed uploads: path → bytes.
    pub uploads: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Staging areas by id: (upload, files).
    pub staging: BTreeMap<String, (String, BTreeMap<String, Vec<u8>>)>,
    /// Datasets: (current version, its files).
    pub datasets: BTreeMap<String, (String, Files)>,
}

impl ServerState {
    /// Adds a line to a job's log.
    pub fn log(&mut self, job: &str, mut line: LogLine) {
        let lines = self.logs.entry(job.to_owned()).or_default();
        line.seq = lines.len() as u64 + 1;
        lines.push(line);
    }

    /// Makes dataset `name` with `version` current, holding `files`.
    pub fn dataset(&mut self, name: &str, version: &str, files: &[(&str, &str)]) {
        let files = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect();
        self.datasets
            .insert(name.to_owned(), (version.to_owned(), files));
    }
}

/// A running stand-in server; it stops with the test process.
pub struct TestServer {
    url: String,
    state: Arc<Mutex<ServerState>>,
}

impl TestServer {
    /// Starts one on a free port of 127.0.0.1.
    pub fn start() -> TestServer {
        let state = Arc::new(Mutex::new(ServerState::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = router(Arc::clone(&state));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        TestServer { url, state }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What it holds.
    pub fn state(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap()
    }
}

/// A client of `server` with the right token.
pub fn client_of(server: &TestServer) -> Client {
    Client::new(&server_args(server, TOKEN)).unwrap()
}

/// `--server` of `server` and `--token token`.
pub fn server_args(server: &TestServer, token: &str) -> ServerArgs {
    ServerArgs {
        server: Some(server.url().to_owned()),
        token: Some(token.to_owned()),
    }
}

/// The `RunArgs` of `sandmill run PLUGIN --input INPUTS... --output OUTPUT`.
pub fn run_args(plugin: &std::path::Path, inputs: &[&str], output: &str) -> Box<RunArgs> {
    let mut argv = vec!["sandmill".to_owned(), "run".to_owned()];
    argv.push(plugin.display().to_string());
    argv.push("--input".into());
    argv.extend(inputs.iter().map(|i| (*i).to_owned()));
    argv.push(format!("--output={output}"));
    match Args::try_parse_from(argv).unwrap().command {
        Command::Run(run) => run,
        _ => unreachable!(),
    }
}

/// A job with nothing done yet.
pub fn job(id: &str, state: JobState) -> Job {
    Job {
        id: id.to_owned(),
        state,
        pending_reason: None,
        plugin: "ab".repeat(32),
        inputs: vec!["books".into()],
        output: "counts".into(),
        flags: vec![],
        submitted: "2026-12-02T13:04:05Z".into(),
        started: None,
        finished: None,
        duration_seconds: None,
        input_bytes: 0,
        progress: Default::default(),
        attempts: 0,
        counters: BTreeMap::new(),
        version: None,
        error: None,
    }
}

/// A plugin log line saying `text`.
pub fn log_line(text: &str) -> LogLine {
    LogLine {
        seq: 0,
        time: "2026-12-02T13:04:05Z".into(),
        source: "plugin".into(),
        text: text.into(),
    }
}

type Shared = Arc<Mutex<ServerState>>;

/// An error answer as the service gives them.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Runs `answer` with the state if the request carries the token; 401 if not.
fn with_state(
    state: &Shared,
    headers: &HeaderMap,
    answer: impl FnOnce(&mut ServerState) -> Response,
) -> Response {
    let expected = format!("Bearer {TOKEN}");
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == expected => answer(&mut state.lock().unwrap()),
        _ => error(StatusCode::UNAUTHORIZED, "unknown token"),
    }
}

fn router(state: Shared) -> axum::Router {
    axum::Router::new()
        .route("/v1/plugins", post(post_plugin))
        .route("/v1/jobs", post(post_job).get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/v1/jobs/{id}/logs", get(get_logs))
        .route("/v1/uploads/{name}/staging", post(new_staging))
        .route(
            "/v1/uploads/{name}/staging/{id}/commit",
            post(commit_staging),
        )
        .route("/v1/uploads/{name}/staging/{id}/{*path}", put(put_staged))
        .route("/v1/datasets/{name}/versions", get(versions))
        .route("/v1/datasets/{name}/rollback", post(rollback))
        .route("/v1/datasets/{name}/files", get(list_files))
        .route("/v1/datasets/{name}/files/{*path}", get(get_file))
        .with_state(state)
}

async fn post_plugin(AxumState(s): AxumState<Shared>, h: HeaderMap, body: Bytes) -> Response {
    with_state(&s, &h, |s| {
        use sha2::Digest as _;
        let sha = format!("{:x}", sha2::Sha256::digest(&body));
        let status = if s.plugins.insert(sha.clone(), body.len()).is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let plugin = json!({"sha256": sha, "size": body.len(), "uploaded": "2026-12-02T13:04:05Z", "exports": []});
        (status, Json(plugin)).into_response()
    })
}

async fn post_job(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    with_state(&s, &h, |s| {
        s.job_posts += 1;
        let key = body["idempotency_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (status, index) = match s.keys.get(&key) {
            Some(&i) => (StatusCode::OK, i),
            None => {
                if !s
                    .plugins
                    .contains_key(body["plugin"].as_str().unwrap_or_default())
                {
                    return error(StatusCode::BAD_REQUEST, "no such plugin");
                }
                let mut new = job(&format!("j-{:012x}", s.jobs.len() + 1), JobState::Queued);
                new.inputs = serde_json::from_value(body["inputs"].clone()).unwrap();
                new.output = body["output"].as_str().unwrap().to_owned();
                new.flags = serde_json::from_value(body["flags"].clone()).unwrap();
                s.jobs.push(new);
                s.keys.insert(key, s.jobs.len() - 1);
                (StatusCode::CREATED, s.jobs.len() - 1)
            }
        };
        if s.lose_job_answers > 0 {
            s.lose_job_answers -= 1;
            return error(StatusCode::SERVICE_UNAVAILABLE, "overloaded");
        }
        (status, Json(s.jobs[index].clone())).into_response()
    })
}

async fn list_jobs(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    with_state(&s, &h, |s| {
        let jobs: Vec<&Job> = s
            .jobs
            .iter()
            .rev()
            .filter(|j| q.get("state").is_none_or(|st| j.state.name() == st))
            .collect();
        Json(json!({ "jobs": jobs })).into_response()
    })
}

async fn get_job(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    with_state(&s, &h, |s| match s.jobs.iter().find(|j| j.id == id) {
        Some(job) => Json(job.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no job {id}")),
    })
}

async fn cancel_job(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    with_state(&s, &h, |s| match s.jobs.iter_mut().find(|j| j.id == id) {
        Some(job) if job.state.is_finished() => error(
            StatusCode::CONFLICT,
            &format!("job {id} has finished already ({})", job.state.name()),
        ),
        Some(job) => {
            job.state = JobState::Cancelled;
            Json(job.clone()).into_response()
        }
        None => error(StatusCode::NOT_FOUND, &format!("no job {id}")),
    })
}

/// At most two lines per answer, so that the client has to page.
async fn get_logs(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    with_state(&s, &h, |s| {
        if s.lose_log_answers > 0 {
            s.lose_log_answers -= 1;
            return error(StatusCode::SERVICE_UNAVAILABLE, "restarting");
        }
        let after: u64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
        if let Some(polls) = &mut s.finish_after_polls {
            *polls = polls.saturating_sub(1);
            if *polls == 0 {
                s.finish_after_polls = None;
                s.log(&id, log_line("job succeeded"));
                if let Some(job) = s.jobs.iter_mut().find(|j| j.id == id) {
                    job.state = JobState::Succeeded;
                }
            }
        }
        let Some(job) = s.jobs.iter().find(|j| j.id == id) else {
            return error(StatusCode::NOT_FOUND, &format!("no job {id}"));
        };
        let all = s.logs.get(&id).cloned().unwrap_or_default();
        let lines: Vec<&LogLine> = all.iter().filter(|l| l.seq > after).take(2).collect();
        let next = lines.last().map_or(after, |l| l.seq);
        let done = job.state.is_finished() && next == all.len() as u64;
        Json(json!({ "lines": lines, "next": next, "done": done })).into_response()
    })
}

async fn new_staging(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    with_state(&s, &h, |s| {
        let id = format!("s{}", s.staging.len() + 1);
        s.staging.insert(id.clone(), (name, BTreeMap::new()));
        Json(json!({ "staging": id })).into_response()
    })
}

async fn put_staged(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path((name, id, path)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    with_state(&s, &h, |s| match s.staging.get_mut(&id) {
        Some((upload, files)) if *upload == name => {
            files.insert(path, body.to_vec());
            StatusCode::CREATED.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, &format!("no staging {id}")),
    })
}

async fn commit_staging(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    with_state(&s, &h, |s| match s.staging.remove(&id) {
        Some((upload, files)) if upload == name => {
            let bytes: usize = files.values().map(Vec::len).sum();
            let count = files.len();
            s.uploads.insert(name.clone(), files);
            Json(json!({ "name": name, "files": count, "bytes": bytes })).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, &format!("no staging {id}")),
    })
}

/// Two versions: `v1`, and the current one.
async fn versions(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    with_state(&s, &h, |s| match s.datasets.get(&name) {
        Some((current, files)) => {
            let version = |id: &str, current: bool| {
                json!({
                    "version": id, "current": current, "published": "2026-12-02T13:04:05Z",
                    "files": files.len(), "records": 2, "bytes": 10, "path": "/srv/x",
                    "plugin": {"path": "/srv/p/wc.wasm", "sha256": "ab".repeat(32), "bytes": 5},
                    "params": [{"key": "min", "value": "2"}], "format": "lines", "reducers": 4,
                    "inputs": [{"path": "/srv/u/books/a.txt", "bytes": 7, "modified_ns": 0,
                                "modified": "1970-01-01T00:00:00Z"}],
                    "job_digest": "d", "sandmill_version": "0.1.0",
                })
            };
            Json(json!({ "versions": [version("v1", false), version(current, true)] }))
                .into_response()
        }
        None => error(StatusCode::NOT_FOUND, &format!("no dataset {name}")),
    })
}

async fn rollback(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    with_state(&s, &h, |s| match s.datasets.get_mut(&name) {
        Some((current, _)) => {
            let to = body["to"].as_str().unwrap_or("v1").to_owned();
            let from = std::mem::replace(current, to.clone());
            Json(json!({ "from": from, "to": to })).into_response()
        }
        None => error(StatusCode::NOT_FOUND, &format!("no dataset {name}")),
    })
}

async fn list_files(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    with_state(&s, &h, |s| match s.datasets.get(&name) {
        Some((version, files)) => {
            let files: Vec<Value> = files
                .iter()
                .map(|(p, b)| json!({ "path": p, "bytes": b.len() }))
                .collect();
            Json(json!({ "version": version, "files": files })).into_response()
        }
        None => error(StatusCode::NOT_FOUND, &format!("no dataset {name}")),
    })
}

async fn get_file(
    AxumState(s): AxumState<Shared>,
    h: HeaderMap,
    Path((name, path)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    with_state(&s, &h, |s| match s.datasets.get(&name) {
        Some((version, files)) if q.get("version") == Some(version) => {
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, bytes)) => bytes.clone().into_response(),
                None => error(StatusCode::NOT_FOUND, &format!("no file {path}")),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("no dataset {name} at that version"),
        ),
    })
}
