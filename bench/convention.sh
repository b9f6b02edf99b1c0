#!/usr/bin/env bash
# The convention-day benchmark (docs/bench/convention.md): a whole day compressed (plenary,
# breakout rooms, expert rotation, polls, drafting) with CITIZENS citizens and EXPERTS
# experts, each run against a fresh release build of convene with a fresh --data directory.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/convention.sh [OUTDIR]   env: CITIZENS (200), EXPERTS (40), SPEED (180), RUNS (2),
#                                  ARGS (more scenario flags), BIN (target/release: where the
#                                  two binaries are; copy them aside when others build too)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
CITIZENS=${CITIZENS:-200}
EXPERTS=${EXPERTS:-40}
SPEED=${SPEED:-180}
RUNS=${RUNS:-2}
ARGS=${ARGS:-}
BIN=${BIN:-$ROOT/target/release}
OUT=${1:-$ROOT/target/bench/convention-$CITIZENS}
PORT=${PORT:-18473}
TOKEN=bench-organizer-token
mkdir -p "$OUT"
for i in $(seq "$RUNS"); do
  data=$(mktemp -d "$OUT/convene-data.XXXXXX")
  CONVENE_LOG=warn "$BIN/convene" serve --listen "127.0.0.1:$PORT" --data "$data" \
    --organizer-token "$TOKEN" >"$OUT/server-$i.log" 2>&1 &
  PID=$!
  wait_listening "$OUT/server-$i.log" || true
  echo "run $i: load $(cut -d' ' -f1 /proc/loadavg)" | tee "$OUT/run-$i.load"
  # shellcheck disable=SC2086
  "$BIN/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" \
    --quiet --timeout 300 --server-pid "$PID" --json "$OUT/run-$i.json" --plot "$OUT/run-$i.svg" \
    convention --citizens "$CITIZENS" --experts "$EXPERTS" --speed "$SPEED" $ARGS \
    | tee "$OUT/run-$i.txt" || true
  stop_server
done
printf '\n| run | ok | errors | day s | deliveries | delivery p50 / p90 / p99 / max ms | moves p99 / max | doc_update p99 / max | ack p50 / p99 / max | deliveries/s (peak 1 s) | timer late max ms | server CPU s, RSS held MiB |\n|---|---|---:|---:|---:|---|---|---|---|---|---:|---|\n'
for i in $(seq "$RUNS"); do
  jq -r --arg i "$i" '
    def f: (. * 10 | round) / 10;
    def l(n): .latencies[n] | "\(.p50_ms|f) / \(.p90_ms|f) / \(.p99_ms|f) / \(.max_ms|f)";
    "| \($i) | \(.ok) | \(.errors_total) | \(.phases_s.day|f) | \(.latencies.delivery.count) | \(l("delivery")) | \(.latencies.moves | "\(.p99_ms|f) / \(.max_ms|f)") | \(.latencies.doc_update | "\(.p99_ms|f) / \(.max_ms|f)") | \(.latencies.ack | "\(.p50_ms|f) / \(.p99_ms|f) / \(.max_ms|f)") | \(.rates.deliveries_per_s|round) (\(.rates.deliveries_per_s_peak_1s|round)) | \(.checks.timer_late_ms_max) | \(.server.cpu_s_used|f), \((.server.held.rss_kib // 0) / 1024 | f) |"' "$OUT/run-$i.json"
done
