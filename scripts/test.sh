#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, doc, plugin-native and the
# end-to-end tests that run the real `sandmill` binary on generated data, with jobs in Rust,
# Python, JavaScript and C, and `sandmill serve` with its pages in headless Chromium).
# Needs only a rustup-managed Rust toolchain; it adds what else it needs: the wasm32-wasip2
# target, the Python, JavaScript and C toolchains (scripts/setup-toolchain.sh, from the
# package registries) and Chromium with chromedriver (scripts/setup-browser.sh, apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
rustup target add wasm32-wasip2
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "toolchains for jobs in Python, JavaScript and C, and the browser"
./scripts/setup-toolchain.sh all
./scripts/setup-browser.sh  # headless Chromium and chromedriver, for the tests of the web pages

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked
