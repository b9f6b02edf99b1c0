#!/usr/bin/env bash
# The idle-connections benchmark (docs/bench/idle.md): CONNECTIONS idle participant
# connections held by PROCESSES load-tester processes against a release build of convene
# (fresh --data), started with the open-files limit raised to its hard limit (at most 20000).
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/idle.sh [OUTDIR]     env: CONNECTIONS (19000), PROCESSES (2), PER_CONVENTION (200), DURATION (30)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
OUT=${1:-$ROOT/target/bench/idle}
CONNECTIONS=${CONNECTIONS:-19000}
PROCESSES=${PROCESSES:-2}
PER_CONVENTION=${PER_CONVENTION:-200}
DURATION=${DURATION:-30}
PORT=${PORT:-18472}
TOKEN=bench-organizer-token
mkdir -p "$OUT"
data=$(mktemp -d "$OUT/convene-data.XXXXXX")
hard=$(ulimit -Hn)
limit=$(( hard < 20000 ? hard : 20000 ))
( ulimit -n "$limit"; CONVENE_LOG=warn exec "$ROOT/target/release/convene" serve \
    --listen "127.0.0.1:$PORT" --data "$data" --organizer-token "$TOKEN" ) >"$OUT/server.log" 2>&1 &
PID=$!
wait_listening "$OUT/server.log" || true
echo "server pid $PID, open-files limit $(awk '/Max open files/ {print $4}' /proc/$PID/limits)"
"$ROOT/target/release/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" \
  --quiet --timeout 900 --server-pid "$PID" --json "$OUT/idle.json" \
  idle --connections "$CONNECTIONS" --processes "$PROCESSES" --per-convention "$PER_CONVENTION" \
  --duration "$DURATION" | tee "$OUT/idle.txt"
