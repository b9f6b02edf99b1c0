#!/usr/bin/env bash
# Everything the web client's tests need, on a fresh Debian machine (as root), then the tests:
# Debian's Chromium, nginx and systemd-analyze, the pinned npm packages, the check that web/dist is exactly what
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

if [ ! -x /usr/sbin/nginx ]; then
    # proxy.test.mjs runs deploy/nginx.conf in front of the server (the README's deployment).
    # Only the binary is wanted: policy-rc.d keeps the package from starting a service.
    step "installing Debian's nginx"
    export DEBIAN_FRONTEND=noninteractive
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update
    apt-get install -y --no-install-recommends nginx
    if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
/usr/sbin/nginx -v

if ! command -v systemd-analyze >/dev/null 2>&1; then
    # deploy.test.mjs checks deploy/convene.service with systemd's own checker.
    step "installing Debian's systemd (for systemd-analyze)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd
fi

step "npm ci (web/ and tests/web/)"
node --version
(cd web && npm ci --no-audit --no-fund)
(cd tests/web && npm ci --no-audit --no-fund)

step "web/dist is what web/src builds"
node web/build.mjs --check

step "the convene binary"
cargo build -p convene --bin convene

step "web tests (headless Chromium against the real server)"
# Two files at a time: each has its own server and browser, and waits on them most of the time
# (Node's default on two cores is one file at a time: 650-750 s for the suite, 449 s this way).
node --test --test-concurrency=2 tests/web/
