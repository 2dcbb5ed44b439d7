//! The web pages under `/ui`: server-rendered HTML (maud) of the API's data (`model.rs`), and
//! the static files they load. The routes, the login cookie and the database are the server's;
//! this module only turns data into pages.
//!
//! Every page is plain HTML that works without scripts, except the history plots (uPlot,
//! served by us from `static/`); the job page has one line that scrolls its log to the end.
//! Nothing is loaded from another origin.
//!
//! Its tests render each page from sample data (`testutil`), and `browser` opens them in
//! headless Chromium through the WebDriver client of the end-to-end tests.

mod assets;
mod dataset;
mod format;
mod history;
mod job;
mod jobs;
mod layout;
mod login;
mod parts;
mod timeline;

use super::model;

// The pages and assets the server's `/ui` routes call.
pub use self::{
    assets::{STATIC_PREFIX, static_asset},
    dataset::dataset_page,
    history::history_page,
    job::job_page,
    jobs::jobs_page,
    login::login_page,
};

#[cfg(test)]
mod browser;
#[cfg(test)]
mod testutil;
/// The end-to-end tests' WebDriver client, shared so that the pages can be checked in a real
/// browser without a server (it is self-contained: ureq, serde_json, png and tempfile only).
#[cfg(test)]
#[path = "../../../../../../tests/all/service/webdriver.rs"]
mod webdriver;
