//! The web pages under `/ui`: the routes, and the login that keeps a tenant's token in an
//! `HttpOnly`, `SameSite=Strict` cookie. The pages themselves are rendered by `ui`; every
//! page shows only the tenant's own things, as the API does.

use super::Service;
use super::api::{self, ApiError, Caller};
use super::model::JobState;
use super::ui;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;
use std::sync::Arc;

/// The cookie that holds the token.
pub const COOKIE: &str = "sandmill_token";

/// Jobs on one page of the list.
const PAGE: u64 = 500;

/// Finished jobs the history page plots.
const HISTORY: u64 = 1000;

/// The routes of the web pages.
pub fn routes() -> axum::Router<Arc<Service>> {
    axum::Router::new()
        .route("/ui", get(jobs))
        .route("/ui/", get(jobs))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/jobs/{id}", get(job))
        .route("/ui/history", get(history))
        .route("/ui/datasets/{name}", get(dataset))
        .route(&format!("{}{{*name}}", ui::STATIC_PREFIX), get(asset))
}

/// A page, or why there is none.
type Page = Result<Markup, NoPage>;

/// Why a page is not shown.
pub enum NoPage {
    /// The request has no valid token: to the login.
    Login,
    /// An error of the API's: its status and message.
    Api(ApiError),
}

impl IntoResponse for NoPage {
    fn into_response(self) -> Response {
        match self {
            NoPage::Login => Redirect::to("/ui/login").into_response(),
            NoPage::Api(e) => (e.0, maud::html! { p { (e.1) } }).into_response(),
        }
    }
}

/// The caller, or the way to the login page.
fn signed_in(caller: Result<Caller, ApiError>) -> Result<String, NoPage> {
    caller
        .map(|Caller(tenant)| tenant)
        .map_err(|_| NoPage::Login)
}

/// Runs `f` on a blocking thread; an error becomes a page.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, NoPage> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(NoPage::Api),
        Err(e) => Err(NoPage::Api(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        ))),
    }
}

async fn login_form() -> Markup {
    ui::login_page(None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(svc): State<Arc<Service>>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim().to_owned();
    let check = token.clone();
    let found = tokio::task::spawn_blocking(move || {
        let tenants = svc.db.tenants().unwrap_or_default();
        super::tenant::authenticate(&tenants, &check).is_some()
    })
    .await
    .unwrap_or(false);
    if !found {
        return (
            StatusCode::UNAUTHORIZED,
            ui::login_page(Some(
                "unknown token: use the one `sandmill tenant add` printed",
            )),
        )
            .into_response();
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
        )],
        Redirect::to("/ui"),
    )
        .into_response()
}

async fn logout() -> Response {
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        )],
        Redirect::to("/ui/login"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    before: Option<String>,
}

async fn jobs(
    State(svc): State<Arc<Service>>,
    caller: Result<Caller, ApiError>,
    Query(q): Query<JobsQuery>,
) -> Page {
    let tenant = signed_in(caller)?;
    blocking(move || {
        let usage = svc.usage(&tenant)?;
        let jobs = svc.db.jobs(&tenant, None, q.before.as_deref(), PAGE)?;
        let next = (jobs.len() as u64 == PAGE)
            .then(|| jobs.last().map(|j| j.id.clone()))
            .flatten();
        Ok(ui::jobs_page(&tenant, &usage, &jobs, next.as_deref()))
    })
    .await
}

async fn job(
    State(svc): State<Arc<Service>>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Page {
    let tenant = signed_in(caller)?;
    blocking(move || {
        let row = svc
            .db
            .job(Some(&tenant), &id)?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job {id}")))?;
        let job = api::shown(&svc, &row);
        let attempts = svc.db.attempts(&id)?;
        let log = svc.db.log_tail(&id, 500)?;
        let files = match (&job.state, &job.version) {
            (JobState::Succeeded, Some(v)) => {
                api::version_files(&svc, &tenant, &job.output, Some(v))
                    .map(|(_, files)| files)
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Ok(ui::job_page(&tenant, &job, &attempts, &log, &files))
    })
    .await
}

async fn history(State(svc): State<Arc<Service>>, caller: Result<Caller, ApiError>) -> Page {
    let tenant = signed_in(caller)?;
    blocking(move || {
        let jobs = svc
            .db
            .jobs(&tenant, Some(JobState::Succeeded), None, HISTORY)?;
        Ok(ui::history_page(&tenant, &jobs))
    })
    .await
}

async fn dataset(
    State(svc): State<Arc<Service>>,
    caller: Result<Caller, ApiError>,
    Path(name): Path<String>,
) -> Page {
    let tenant = signed_in(caller)?;
    blocking(move || {
        let versions = api::versions_json(&svc, &tenant, &name)?;
        let files = api::version_files(&svc, &tenant, &name, None)
            .map(|(_, files)| files)
            .unwrap_or_default();
        Ok(ui::dataset_page(&tenant, &name, &versions, &files))
    })
    .await
}

async fn asset(Path(name): Path<String>) -> Response {
    match ui::static_asset(&name) {
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
