#!/usr/bin/env bash
# Everything the web client's tests need, on a fresh Debian machine (as root), then the tests:
# Debian's Chromium, the pinned npm packages, the check that web/dist is exactly what
# web/src builds, the convene binary, and the end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends chromium
fi
/usr/bin/chromium --version

step "npm ci (web/ and tests/web/)"
node --version
(cd web && npm ci --no-audit --no-fund)
(cd tests/web && npm ci --no-audit --no-fund)

step "web/dist is what web/src builds"
node web/build.mjs --check

step "the convene binary"
cargo build -p convene --bin convene

step "web tests (headless Chromium against the real server)"
node --test tests/web/
