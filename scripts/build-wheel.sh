#!/usr/bin/env bash
# Builds the `sandmill` Python package (python/: the `sandmill` binary and the Ray driver
# `sandmill_ray`) as a wheel in target/wheels/, with the maturin of scripts/setup-cluster.sh.
# The dev profile (the default) reuses the build of the tests; pass `release` for a wheel to
# install on a cluster. Prints the wheel's path on its last line.
#
#   ./scripts/build-wheel.sh [dev|release]
#
# scripts/test.sh runs it before `cargo test`, whose cluster test installs the wheel: building
# it from inside a test would relink target/debug/sandmill under the other tests' feet.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-dev}"
venv=$(./scripts/setup-cluster.sh | tail -n 1)
rm -f target/wheels/sandmill-*.whl
(cd python && "$venv/bin/maturin" build --quiet --profile "$profile" --out ../target/wheels >&2)
ls target/wheels/sandmill-*.whl
