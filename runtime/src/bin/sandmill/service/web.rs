//! The web pages under `/ui`: the routes, and the login that keeps a tenant's token in an
//! `HttpOnly` cookie. The pages themselves are rendered by `ui`.

use super::Service;
use std::sync::Arc;

/// The routes of the web pages.
pub fn routes() -> axum::Router<Arc<Service>> {
    axum::Router::new()
}
