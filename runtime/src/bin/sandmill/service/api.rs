//! The JSON API under `/v1` (`docs/service.md`, "Endpoints"). Every handler finds the
//! tenant from the request's token and looks only at that tenant's things: another tenant's
//! answers 404, as one that does not exist. Database and file work runs on blocking threads,
//! never on the async runtime's.

use super::Service;
use super::db::{Inserted, JobRow, NewJob};
use super::model::{Dataset, DatasetFile, Job, JobState};
use super::store::{self, check_name, check_relative};
use super::tenant;
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Svc = State<Arc<Service>>;

/// An error answer: a status and `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }
    fn not_found(what: &str, name: &str) -> Self {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no {what} {}", sandmill::text::inert(name)),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

type Answer<T> = Result<T, ApiError>;

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Answer<T> + Send + 'static) -> Answer<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The tenant a request's token belongs to.
pub struct Caller(pub String);

/// The token of a request: its bearer token, or, for a request that changes nothing (GET),
/// the web pages' cookie. (A browser sends a cookie with requests other sites make it send:
/// the cookie alone must not submit or cancel anything.)
pub fn token_of(method: &axum::http::Method, headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_owned());
    }
    if method != axum::http::Method::GET {
        return None;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(super::web::COOKIE)?
                .strip_prefix('=')
                .map(str::to_owned)
        })
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Arc<Service>) -> Answer<Self> {
        let token = token_of(&parts.method, &parts.headers).ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "no token: send `Authorization: Bearer TOKEN` (the token `sandmill tenant add` \
                 printed)"
                    .into(),
            )
        })?;
        let svc = svc.clone();
        let tenant = blocking(move || {
            let tenants = svc.db.tenants()?;
            Ok(tenant::authenticate(&tenants, &token))
        })
        .await?;
        tenant.map(|t| Caller(t.name)).ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "unknown token: check SANDMILL_TOKEN (tokens are shown once, by `sandmill \
                 tenant add`)"
                    .into(),
            )
        })
    }
}

/// The API's routes, the web pages' and a log line per request.
pub fn router(svc: Arc<Service>) -> axum::Router {
    let plugin_limit = usize::try_from(svc.config.max_plugin_size).unwrap_or(usize::MAX);
    let upload_limit = usize::try_from(svc.config.max_upload_size).unwrap_or(usize::MAX);
    let v1 = axum::Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route(
            "/plugins",
            post(upload_plugin)
                .get(list_plugins)
                .layer(DefaultBodyLimit::max(plugin_limit)),
        )
        .route("/plugins/{sha}", get(get_plugin))
        .route("/uploads", get(list_uploads))
        .route("/uploads/{name}", axum::routing::delete(delete_upload))
        .route("/uploads/{name}/staging", post(new_staging))
        .route(
            "/uploads/{name}/staging/{id}/{*path}",
            put(put_file).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/uploads/{name}/staging/{id}/commit", post(commit_upload))
        .route("/jobs", post(submit).get(list_jobs))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/logs", get(job_logs))
        .route("/jobs/{id}/attempts", get(job_attempts))
        .route("/datasets", get(list_datasets))
        .route("/datasets/{name}/versions", get(dataset_versions))
        .route("/datasets/{name}/rollback", post(rollback))
        .route("/datasets/{name}/files", get(dataset_files))
        .route("/datasets/{name}/files/{*path}", get(dataset_file))
        .route("/usage", get(usage))
        // JSON bodies are small.
        .layer(DefaultBodyLimit::max(1 << 20));
    axum::Router::new()
        .nest("/v1", v1)
        .merge(super::web::routes())
        .layer(axum::middleware::from_fn(log_request))
        .with_state(svc)
}

/// One structured line per request on stderr.
async fn log_request(request: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    eprintln!(
        "{}",
        json!({
            "time": super::clock::now(),
            "method": method.as_str(),
            "path": sandmill::text::inert(&path),
            "status": response.status().as_u16(),
            "ms": (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        })
    );
    response
}

// Plugins.

async fn upload_plugin(
    State(svc): Svc,
    Caller(tenant): Caller,
    body: axum::body::Bytes,
) -> Answer<(StatusCode, Json<Value>)> {
    blocking(move || {
        use sha2::Digest as _;
        let sha = tenant::hex(&sha2::Sha256::digest(&body));
        if let Some(p) = svc.db.plugins(&tenant, Some(&sha))?.pop() {
            return Ok((StatusCode::OK, Json(p)));
        }
        check_storage(&svc, &tenant, body.len() as u64)?;
        let path = svc.store.plugin(&tenant, &sha);
        let dir = path.parent().expect("a plugin path has a directory");
        std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
        let tmp = dir.join(format!(".{sha}.{}", random_id()));
        std::fs::write(&tmp, &body).map_err(anyhow::Error::from)?;
        // Validating and compiling is the worker's job: a component that crashes the compiler
        // costs a process, not the service.
        let _one_at_a_time = svc.checking.lock().unwrap_or_else(|e| e.into_inner());
        let check = super::process::run(
            &svc.program,
            &[
                "task".into(),
                "check".into(),
                "--plugin".into(),
                tmp.display().to_string(),
                "--compile-cache".into(),
                svc.store.compiled().display().to_string(),
            ],
            &svc.worker_env,
            |_| {},
        );
        let check = match check {
            Ok(exit) if exit.success() => exit,
            Ok(exit) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(ApiError::bad(format!(
                    "the plugin cannot be used: {}",
                    exit.error_line()
                )));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(anyhow::Error::from(e).into());
            }
        };
        let info: Value = serde_json::from_str(check.stdout.trim()).unwrap_or_default();
        let exports: Vec<String> = info["exports"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        std::fs::rename(&tmp, &path).map_err(anyhow::Error::from)?;
        svc.db
            .add_plugin(&tenant, &sha, body.len() as u64, &exports)?;
        let p = svc
            .db
            .plugins(&tenant, Some(&sha))?
            .pop()
            .unwrap_or_default();
        Ok((StatusCode::CREATED, Json(p)))
    })
    .await
}

async fn list_plugins(State(svc): Svc, Caller(tenant): Caller) -> Answer<Json<Value>> {
    blocking(move || Ok(Json(json!({ "plugins": svc.db.plugins(&tenant, None)? })))).await
}

async fn get_plugin(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(sha): Path<String>,
) -> Answer<Json<Value>> {
    blocking(move || {
        svc.db
            .plugins(&tenant, Some(&sha))?
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::not_found("plugin", &sha))
    })
    .await
}

// Uploads.

/// A random id for a staging area or a job: 12 hex digits.
fn random_id() -> String {
    tenant::random_bytes(6).map_or_else(
        |_| format!("{:x}", super::clock::now_ms()),
        |b| tenant::hex(&b),
    )
}

/// A tenant's `--max-storage` and the bytes its space takes now.
fn storage(svc: &Service, tenant: &str) -> Answer<(u64, u64)> {
    let limit = svc.db.tenant(tenant)?.map_or(0, |t| t.max_storage);
    Ok((limit, svc.store.storage(tenant)))
}

/// Refuses when `more` bytes would take the tenant over its `--max-storage`.
fn check_storage(svc: &Service, tenant: &str, more: u64) -> Answer<()> {
    let (limit, used) = storage(svc, tenant)?;
    if used.saturating_add(more) > limit {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "tenant {tenant} would go over its --max-storage of {limit} bytes ({used} used): \
                 delete uploads or dataset versions first"
            ),
        ));
    }
    Ok(())
}

async fn list_uploads(State(svc): Svc, Caller(tenant): Caller) -> Answer<Json<Value>> {
    blocking(move || {
        let dir = svc.store.uploads(&tenant);
        let uploads: Vec<Value> = store::names(&dir)
            .into_iter()
            .map(|name| {
                let files = store::list_files(&dir.join(&name)).unwrap_or_default();
                json!({
                    "name": name,
                    "files": files.len(),
                    "bytes": files.iter().map(|f| f.1).sum::<u64>(),
                })
            })
            .collect();
        Ok(Json(json!({ "uploads": uploads })))
    })
    .await
}

async fn delete_upload(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(name): Path<String>,
) -> Answer<StatusCode> {
    blocking(move || {
        check_name("upload", &name).map_err(ApiError::bad)?;
        let link = svc.store.uploads(&tenant).join(&name);
        let target = std::fs::read_link(&link).map_err(|_| ApiError::not_found("upload", &name))?;
        std::fs::remove_file(&link).map_err(anyhow::Error::from)?;
        let _ = std::fs::remove_dir_all(svc.store.uploads(&tenant).join(target));
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn new_staging(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(name): Path<String>,
) -> Answer<(StatusCode, Json<Value>)> {
    blocking(move || {
        check_name("upload", &name).map_err(ApiError::bad)?;
        let id = random_id();
        std::fs::create_dir_all(svc.store.staging(&tenant, &id)).map_err(anyhow::Error::from)?;
        Ok((StatusCode::CREATED, Json(json!({ "staging": id }))))
    })
    .await
}

/// The staging directory `id` of a tenant, if it exists.
fn staging_dir(svc: &Service, tenant: &str, id: &str) -> Answer<std::path::PathBuf> {
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
    let dir = svc.store.staging(tenant, id);
    if !ok || !dir.is_dir() {
        return Err(ApiError::not_found("staging area", id));
    }
    Ok(dir)
}

async fn put_file(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path((name, id, path)): Path<(String, String, String)>,
    body: Body,
) -> Answer<StatusCode> {
    check_name("upload", &name).map_err(ApiError::bad)?;
    let relative = check_relative(&path).map_err(ApiError::bad)?;
    let (dir, limit, left) = {
        let svc = svc.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let dir = staging_dir(&svc, &tenant, &id)?;
            let (limit, used) = storage(&svc, &tenant)?;
            let left = limit.saturating_sub(used + store::size_of(&dir));
            Ok((dir, svc.config.max_upload_size, left))
        })
        .await?
    };
    let target = dir.join(&relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(anyhow::Error::from)?;
    }
    let tmp = target.with_file_name(format!(".part-{}", random_id()));
    let mut file = std::fs::File::create(&tmp).map_err(anyhow::Error::from)?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    let result: Answer<()> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad(format!("reading the body: {e}")))?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("{path} is over --max-upload-size ({limit} bytes)"),
                ));
            }
            if written > left {
                return Err(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("tenant {tenant} would go over its --max-storage"),
                ));
            }
            tokio::task::block_in_place(|| file.write_all(&chunk)).map_err(anyhow::Error::from)?;
        }
        tokio::task::block_in_place(|| file.sync_all()).map_err(anyhow::Error::from)?;
        std::fs::rename(&tmp, &target).map_err(anyhow::Error::from)?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| StatusCode::NO_CONTENT)
}

async fn commit_upload(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path((name, id)): Path<(String, String)>,
) -> Answer<Json<Value>> {
    blocking(move || {
        check_name("upload", &name).map_err(ApiError::bad)?;
        let staged = staging_dir(&svc, &tenant, &id)?;
        let uploads = svc.store.uploads(&tenant);
        let files_dir = uploads.join(".files");
        std::fs::create_dir_all(&files_dir).map_err(anyhow::Error::from)?;
        let files = store::list_files(&staged).map_err(anyhow::Error::from)?;
        let home = files_dir.join(&id);
        std::fs::rename(&staged, &home).map_err(anyhow::Error::from)?;
        // The switch: a new link renamed over the old one, so a reader sees the old files or
        // the new ones.
        let link = uploads.join(&name);
        let old = std::fs::read_link(&link).ok();
        let tmp = uploads.join(format!(".link-{id}"));
        std::os::unix::fs::symlink(std::path::Path::new(".files").join(&id), &tmp)
            .map_err(anyhow::Error::from)?;
        std::fs::rename(&tmp, &link).map_err(anyhow::Error::from)?;
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(uploads.join(old));
        }
        Ok(Json(json!({
            "name": name,
            "files": files.len(),
            "bytes": files.iter().map(|f| f.1).sum::<u64>(),
        })))
    })
    .await
}

// Jobs.

/// `POST /v1/jobs`.
#[derive(Debug, Deserialize, serde::Serialize)]
struct Submission {
    plugin: String,
    inputs: Vec<String>,
    output: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// A job as the API shows it, with its pending reason as of now.
pub fn shown(svc: &Service, row: &JobRow) -> Job {
    Job {
        pending_reason: svc.pending_reason(row),
        ..row.job.clone()
    }
}

async fn submit(
    State(svc): Svc,
    Caller(tenant): Caller,
    headers: HeaderMap,
    Json(mut request): Json<Submission>,
) -> Answer<(StatusCode, Json<Job>)> {
    if request.idempotency_key.is_none() {
        request.idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let answer = {
        let svc = svc.clone();
        blocking(move || submit_blocking(&svc, &tenant, &request)).await?
    };
    svc.admit();
    let (status, row) = answer;
    let job = blocking(move || {
        let row = svc.db.job(None, &row.job.id)?.unwrap_or(row);
        Ok(shown(&svc, &row))
    })
    .await?;
    Ok((status, Json(job)))
}

fn submit_blocking(
    svc: &Service,
    tenant: &str,
    request: &Submission,
) -> Answer<(StatusCode, JobRow)> {
    let t = svc
        .db
        .tenant(tenant)?
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "tenant removed".into()))?;
    if let Some(key) = &request.idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::bad("an idempotency key is 1 to 200 characters"));
    }
    let plugin = request
        .plugin
        .strip_prefix("sha256:")
        .unwrap_or(&request.plugin);
    if svc.db.plugins(tenant, Some(plugin))?.is_empty() {
        return Err(ApiError::not_found("plugin", plugin));
    }
    check_name("output", &request.output).map_err(ApiError::bad)?;
    if request.inputs.is_empty() {
        return Err(ApiError::bad("a job needs at least one input"));
    }
    let mut resolved = Vec::new();
    let mut input_bytes = 0;
    for input in &request.inputs {
        let r = svc
            .store
            .resolve_input(tenant, &t.input_roots, input)
            .map_err(ApiError::bad)?;
        input_bytes += r.bytes;
        resolved.push(r.path);
    }
    let storage_left = t.max_storage.saturating_sub(svc.store.storage(tenant));
    let checked = super::flags::check(
        &request.flags,
        super::flags::Bounds {
            max_memory: t.max_memory,
            storage_left,
            max_task_cpu: t.max_task_cpu,
            threads: svc.config.slots,
        },
    )
    .map_err(ApiError::bad)?;
    let datasets = svc.store.datasets(tenant);
    std::fs::create_dir_all(&datasets).map_err(anyhow::Error::from)?;
    let mut argv = vec![svc.store.plugin(tenant, plugin).display().to_string()];
    for path in &resolved {
        argv.extend(["--input".to_owned(), path.display().to_string()]);
    }
    argv.extend([
        "--output".to_owned(),
        datasets.join(&request.output).display().to_string(),
        format!("--compile-cache={}", svc.store.compiled().display()),
    ]);
    argv.extend(checked.args);
    let canonical = serde_json::to_string(&Submission {
        plugin: plugin.to_owned(),
        inputs: request.inputs.clone(),
        output: request.output.clone(),
        flags: request.flags.clone(),
        idempotency_key: None,
    })
    .map_err(anyhow::Error::from)?;
    let id = format!("j-{}", random_id());
    let inserted = svc.db.insert_job(
        &NewJob {
            tenant,
            id: &id,
            idempotency_key: request.idempotency_key.as_deref(),
            request: &canonical,
            plugin,
            inputs: &request.inputs,
            output: &request.output,
            flags: &request.flags,
            argv: &argv,
            memory: checked.memory,
            max_attempts: checked.max_attempts,
            input_bytes,
        },
        t.max_queued,
    )?;
    match inserted {
        Inserted::New(row) => {
            let _ = svc.db.append_log(
                &id,
                "service",
                &[format!(
                    "submitted: {} input bytes, output {}",
                    input_bytes, request.output
                )],
                svc.config.max_log_lines,
            );
            Ok((StatusCode::CREATED, *row))
        }
        Inserted::Existing(row) => Ok((StatusCode::OK, *row)),
        Inserted::Conflict(other) => Err(ApiError(
            StatusCode::CONFLICT,
            format!("idempotency key used already, by job {other}, for a different job"),
        )),
        Inserted::QueueFull(n) => Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "tenant {tenant} has {n} jobs queued, its --max-queued; wait for some to start"
            ),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    state: Option<String>,
    limit: Option<u64>,
    before: Option<String>,
}

async fn list_jobs(
    State(svc): Svc,
    Caller(tenant): Caller,
    Query(q): Query<JobsQuery>,
) -> Answer<Json<Value>> {
    blocking(move || {
        let state = match &q.state {
            None => None,
            Some(s) => Some(JobState::from_name(s).ok_or_else(|| {
                ApiError::bad(format!(
                    "state {s:?} is not queued, running, succeeded, failed or cancelled"
                ))
            })?),
        };
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let jobs = svc.db.jobs(&tenant, state, q.before.as_deref(), limit)?;
        Ok(Json(json!({ "jobs": jobs })))
    })
    .await
}

/// The tenant's job `id`, or 404.
fn own_job(svc: &Service, tenant: &str, id: &str) -> Answer<JobRow> {
    svc.db
        .job(Some(tenant), id)?
        .ok_or_else(|| ApiError::not_found("job", id))
}

async fn get_job(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(id): Path<String>,
) -> Answer<Json<Job>> {
    blocking(move || {
        let row = own_job(&svc, &tenant, &id)?;
        Ok(Json(shown(&svc, &row)))
    })
    .await
}

async fn cancel_job(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(id): Path<String>,
) -> Answer<Json<Job>> {
    blocking(move || {
        let row = own_job(&svc, &tenant, &id)?;
        if !svc.cancel(&row)? {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("job {id} has {} already", row.job.state.name()),
            ));
        }
        // A running job's driver records the end once its workers are stopped.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = own_job(&svc, &tenant, &id)?;
            if row.job.state.is_finished() || Instant::now() > deadline {
                return Ok(Json(shown(&svc, &row)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    after: Option<u64>,
    wait: Option<f64>,
}

async fn job_logs(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Answer<Json<Value>> {
    let after = q.after.unwrap_or(0);
    let wait = Duration::from_secs_f64(q.wait.unwrap_or(0.0).clamp(0.0, 30.0));
    let deadline = Instant::now() + wait;
    loop {
        let (lines, finished) = {
            let svc = svc.clone();
            let (tenant, id) = (tenant.clone(), id.clone());
            blocking(move || {
                let row = own_job(&svc, &tenant, &id)?;
                Ok((svc.db.log(&id, after, 1000)?, row.job.state.is_finished()))
            })
            .await?
        };
        if !lines.is_empty() || finished || Instant::now() >= deadline {
            let next = lines.last().map_or(after, |l| l.seq);
            let done = finished && lines.len() < 1000;
            return Ok(Json(json!({ "lines": lines, "next": next, "done": done })));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn job_attempts(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(id): Path<String>,
) -> Answer<Json<Value>> {
    blocking(move || {
        own_job(&svc, &tenant, &id)?;
        Ok(Json(json!({ "attempts": svc.db.attempts(&id)? })))
    })
    .await
}

// Datasets.

/// The tenant's dataset `name`, or 404.
fn own_dataset(svc: &Service, tenant: &str, name: &str) -> Answer<sandmill::dataset::Dataset> {
    check_name("dataset", name).map_err(|_| ApiError::not_found("dataset", name))?;
    let path = svc.store.datasets(tenant).join(name);
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(ApiError::not_found("dataset", name));
    }
    sandmill::dataset::Dataset::open(&path).map_err(|_| ApiError::not_found("dataset", name))
}

/// Every dataset of a tenant.
pub fn datasets(svc: &Service, tenant: &str) -> Vec<Dataset> {
    let mut out = Vec::new();
    for name in store::names(&svc.store.datasets(tenant)) {
        if let Ok(d) = own_dataset(svc, tenant, &name) {
            let versions = d.versions().unwrap_or_default();
            out.push(Dataset {
                name,
                current: versions
                    .iter()
                    .find(|v| v.current)
                    .map(|v| v.id.to_string()),
                versions: versions.len() as u64,
            });
        }
    }
    out
}

async fn list_datasets(State(svc): Svc, Caller(tenant): Caller) -> Answer<Json<Value>> {
    blocking(move || Ok(Json(json!({ "datasets": datasets(&svc, &tenant) })))).await
}

async fn dataset_versions(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(name): Path<String>,
) -> Answer<Json<Value>> {
    blocking(move || versions_json(&svc, &tenant, &name).map(Json)).await
}

/// `{"versions": [...]}` of a tenant's dataset, each as `sandmill versions --json` shows it.
pub fn versions_json(svc: &Service, tenant: &str, name: &str) -> Answer<Value> {
    let d = own_dataset(svc, tenant, name)?;
    let versions = d.versions().map_err(|e| anyhow::anyhow!("{e}"))?;
    let list: Vec<Value> = versions.iter().map(crate::versions::json_of).collect();
    Ok(json!({ "versions": list }))
}

#[derive(Debug, Deserialize)]
struct RollbackBody {
    to: Option<String>,
}

async fn rollback(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(name): Path<String>,
    body: Option<Json<RollbackBody>>,
) -> Answer<Json<Value>> {
    blocking(move || {
        let d = own_dataset(&svc, &tenant, &name)?;
        let to = body
            .and_then(|Json(b)| b.to)
            .map(|v| v.parse::<sandmill::dataset::VersionId>())
            .transpose()
            .map_err(|e| ApiError::bad(format!("to: {e}")))?;
        let guard = d
            .lock()
            .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))?;
        let from = guard.current().map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = guard
            .rollback(to)
            .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))?;
        Ok(Json(json!({
            "from": from.map(|v| v.to_string()),
            "to": now.to_string(),
        })))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

/// The directory of a dataset's version (`None`: the current one), and its id.
fn version_dir(
    d: &sandmill::dataset::Dataset,
    name: &str,
    version: Option<&str>,
) -> Answer<(String, std::path::PathBuf)> {
    let id = match version {
        Some(v) => v
            .parse::<sandmill::dataset::VersionId>()
            .map_err(|e| ApiError::bad(format!("version: {e}")))?,
        None => d
            .current()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .ok_or_else(|| ApiError::not_found("current version of dataset", name))?,
    };
    let dir = d.version_dir(id);
    if !dir.is_dir() {
        return Err(ApiError::not_found("version", &id.to_string()));
    }
    Ok((id.to_string(), dir))
}

/// The files of a tenant's dataset version, for the API and the pages.
pub fn version_files(
    svc: &Service,
    tenant: &str,
    name: &str,
    version: Option<&str>,
) -> Answer<(String, Vec<DatasetFile>)> {
    let d = own_dataset(svc, tenant, name)?;
    let (id, dir) = version_dir(&d, name, version)?;
    let files = store::list_files(&dir)
        .map_err(anyhow::Error::from)?
        .into_iter()
        .map(|(path, bytes)| DatasetFile { path, bytes })
        .collect();
    Ok((id, files))
}

async fn dataset_files(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Answer<Json<Value>> {
    blocking(move || {
        let (version, files) = version_files(&svc, &tenant, &name, q.version.as_deref())?;
        Ok(Json(json!({ "version": version, "files": files })))
    })
    .await
}

async fn dataset_file(
    State(svc): Svc,
    Caller(tenant): Caller,
    Path((name, path)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Answer<Response> {
    let file = blocking(move || {
        let d = own_dataset(&svc, &tenant, &name)?;
        let (_, dir) = version_dir(&d, &name, q.version.as_deref())?;
        // Files a version holds: `_SUCCESS` and `_MANIFEST.json` too, but nothing above it.
        let ok = !path.is_empty()
            && path
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != ".." && !p.starts_with('.'));
        if !ok {
            return Err(ApiError::not_found("file", &path));
        }
        let full = dir.join(&path);
        let meta =
            std::fs::symlink_metadata(&full).map_err(|_| ApiError::not_found("file", &path))?;
        if !meta.is_file() {
            return Err(ApiError::not_found("file", &path));
        }
        std::fs::File::open(&full)
            .map(|f| (f, meta.len()))
            .map_err(|e| anyhow::Error::from(e).into())
    })
    .await?;
    let (file, len) = file;
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 << 10];
        match tokio::task::block_in_place(|| std::io::Read::read(&mut file, &mut buf)) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

// Usage.

async fn usage(State(svc): Svc, Caller(tenant): Caller) -> Answer<Json<super::model::Usage>> {
    blocking(move || Ok(Json(svc.usage(&tenant)?))).await
}
