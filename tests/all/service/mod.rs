//! Tests of `sandmill serve` from outside, and what they drive it with.

/// The harness itself, against pages it writes: each `Browser` call, the screenshot check,
/// and the messages when something is missing.
mod harness;
/// A WebDriver client for headless Chromium (`./scripts/setup-browser.sh` installs it).
pub mod webdriver;
