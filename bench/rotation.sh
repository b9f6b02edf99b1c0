#!/usr/bin/env bash
# The rotation benchmark (docs/bench/rotation.md): E experts and C citizens connected, a
# rotation with short rounds; the notifications at the round boundary, against a release
# build of convene with a fresh --data directory.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/rotation.sh [OUTDIR]        env: EXPERTS (40), CITIZENS (200), ROUND_MS (3000), RUNS (3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
OUT=${1:-$ROOT/target/bench/rotation}
EXPERTS=${EXPERTS:-40}
CITIZENS=${CITIZENS:-200}
ROUND_MS=${ROUND_MS:-3000}
RUNS=${RUNS:-3}
PORT=${PORT:-18471}
TOKEN=bench-organizer-token
mkdir -p "$OUT"
data=$(mktemp -d "$OUT/convene-data.XXXXXX")
CONVENE_LOG=warn "$ROOT/target/release/convene" serve --listen "127.0.0.1:$PORT" --data "$data" \
  --organizer-token "$TOKEN" >"$OUT/server.log" 2>&1 &
PID=$!
wait_listening "$OUT/server.log" || true
for i in $(seq "$RUNS"); do
  "$ROOT/target/release/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" \
    --quiet --timeout 120 --server-pid "$PID" --json "$OUT/run-$i.json" \
    rotation --experts "$EXPERTS" --citizens "$CITIZENS" --round-ms "$ROUND_MS" | tee "$OUT/run-$i.txt"
done
printf '\n| run | movers | moved right | timer late ms | server p50/p99/max ms | client p50/p99/max ms | last notification ms | end: movers, last ms |\n|---|---:|---:|---:|---|---|---:|---|\n'
for i in $(seq "$RUNS"); do
  jq -r --arg i "$i" '"| \($i) | \(.checks.round1_movers_expected) | \(.checks.round1_moved_right) | \(.checks.round1_timer_late_ms) | \(.latencies.round1_server | "\(.p50_ms) / \(.p99_ms) / \(.max_ms)") | \(.latencies.round1_client | "\(.p50_ms) / \(.p99_ms) / \(.max_ms)") | \(.checks.round1_last_notification_client_ms) | \(.checks.end_movers_expected), \(.checks.end_last_notification_client_ms) |"' "$OUT/run-$i.json"
done
