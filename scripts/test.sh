#!/usr/bin/env bash
# The whole test suite, as the README says and as CI runs it (.ci/run calls this script).
# It installs or starts what the tests need on a fresh machine, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest"
    cargo install cargo-nextest --locked
fi

step "services: Redis (cluster-mode tests), redis-server for the outage test"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt-get update && apt-get install -y redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save "" --appendonly no
    for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (the end-to-end tests run the real convene binary)"
cargo build --workspace --bins --locked

step "npm packages for the Yjs interoperability test (stock yjs + y-websocket clients)"
(cd tests/node && npm ci --no-audit --no-fund)

step "tests"
cargo nextest run --workspace --locked --no-fail-fast

step "doc tests"
cargo test --workspace --doc --locked

step "web client: build check and end-to-end tests in headless Chromium"
bash web/test.sh
