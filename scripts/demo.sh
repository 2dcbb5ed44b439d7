#!/usr/bin/env bash
# Sets up everything Sandmill needs, builds it, generates a small sample data set and runs the
# word-count example job end to end. Needs only a rustup-managed Rust toolchain.
#
#   ./scripts/demo.sh [SIZE]     SIZE of sample text to generate, default 20MiB
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-20MiB}"

step() { printf '\n==> %s\n' "$*"; }

step "rustup target add wasm32-wasip2"
rustup target add wasm32-wasip2

step "building sandmill and the example plugins (the first time: 8 to 12 minutes on two cores)"
# The fixtures crate builds the example plugins (tests/build.rs) and generates data. The whole
# workspace is named so that its features are the ones `./scripts/test.sh` builds with: the
# tests then reuse this build of wasmtime instead of making one of their own.
cargo build --locked --workspace --bins
fixtures=target/debug/sandmill-fixtures
sandmill=target/debug/sandmill

step "generating $size of sample text in sample/text"
rm -rf sample/text
"$fixtures" gen text sample/text --bytes "$size"
ls -l sample/text

wordcount="$("$fixtures" plugin wordcount)"
step "sandmill inspect $wordcount"
"$sandmill" inspect "$wordcount"

step "sandmill run wordcount"
set -x
"$sandmill" run "$wordcount" --input sample/text --output sample/wordcount \
    --reducers 4 --split-size 4MiB --overwrite
set +x

step "the 10 most frequent words"
# `sed` reads all its input: `head` would end the pipe early, and `pipefail` would turn the
# SIGPIPE of `sort` into exit status 141.
sort -t "$(printf '\t')" -k2,2nr sample/wordcount/part-* | sed -n '1,10p'
ls -l sample/wordcount

step "done"
echo "sandmill:  $(pwd)/$sandmill"
echo "plugin:    $wordcount"
echo "output:    $(pwd)/sample/wordcount"
echo "to put sandmill on PATH in this shell: export PATH=\"$(pwd)/target/debug:\$PATH\""
echo "to install it for good (a release build): cargo install --locked --path runtime"
