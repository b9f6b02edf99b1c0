#!/usr/bin/env bash
# The votes benchmark (BENCHMARKS.md, "votes"): VOTERS citizens each cast one ballot in a
# secret poll with live results, against a fresh release build of convene with a fresh --data
# directory per run, both processes started with the open-files limit raised (at most 20000).
# OVER=0 is the burst (every voter at once); OVER=S spreads the ballots: voter i casts at
# i × S / VOTERS seconds after the poll opens.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/votes.sh [OUTDIR]    env: VOTERS (1000), OVER (0), RUNS (2), TIMEOUT (s, 1800),
#                              BIN (directory of the two binaries: target/release)
#   bench/votes.sh --table DIR...   only print the table of runs already made
set -euo pipefail

# One row per run: run-N.json and run-N.load of each directory.
table() {
  printf '| run | load | connect s | ballots/s | ack p50 / p90 / p99 / max ms | ballot→tally p50 / p99 ms | appends (mean ms) | frames queued | server CPU s | RSS held server / load tester MiB | acknowledged = final tally | ok |\n'
  printf '|---|---:|---:|---:|---|---|---|---:|---:|---|---|---|\n'
  for dir in "$@"; do
    for f in "$dir"/run-*.json; do
      [ -f "$f" ] || continue
      load=$(grep -o 'load [0-9.]*' "${f%.json}.load" 2>/dev/null | cut -d' ' -f2)
      jq -r --arg run "$(basename "$dir")/$(basename "$f" .json)" --arg load "${load:-?}" '
        def f: (. * 10 | round) / 10;
        def l: "\(.p50_ms|f) / \(.p90_ms|f) / \(.p99_ms|f) / \(.max_ms|f)";
        (.server_metrics.burst // {}) as $b
        | "| \($run) | \($load) | \(.phases_s.connect|f) | \(.rates.ballots_per_s // 0 | round) | \(.latencies.ack | l) | \(.latencies.ballot_to_tally | "\(.p50_ms|f) / \(.p99_ms|f)") | \($b.appends // "-") (\($b.append_ms_mean // 0 | f)) | \($b.deliveries // "-") | \(.server.cpu_s_used // 0 | f) | \((.server.held.rss_kib // 0) / 1024 | round) / \((.loadtest_process.held.rss_kib // 0) / 1024 | round) | \(.checks.acknowledged) = \(.checks.final_tally_ballots) | \(if .ok then "yes" else "FAILED" end) |"' "$f"
    done
  done
}
if [ "${1:-}" = --table ]; then
  shift
  table "$@"
  exit 0
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOTERS=${VOTERS:-1000}
OVER=${OVER:-0}
RUNS=${RUNS:-2}
TIMEOUT=${TIMEOUT:-1800}
BIN=${BIN:-$ROOT/target/release}
OUT=${1:-$ROOT/target/bench/votes-$VOTERS-over$OVER}
PORT=${PORT:-18474}
TOKEN=bench-organizer-token
for b in "$BIN/convene" "$BIN/convene-loadtest"; do
  [ -x "$b" ] || { echo "no $b: cargo build --release -p convene -p convene-loadtest" >&2; exit 1; }
done
over=()
[ "$OVER" = 0 ] || over=(--over "$OVER")
hard=$(ulimit -Hn)
limit=$(( hard < 20000 ? hard : 20000 ))
ulimit -n "$limit"
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"
for i in $(seq "$RUNS"); do
  data=$(mktemp -d "$OUT/convene-data.XXXXXX")
  CONVENE_LOG=warn "$BIN/convene" serve --listen "127.0.0.1:$PORT" --data "$data" \
    --organizer-token "$TOKEN" >"$OUT/server-$i.log" 2>&1 &
  PID=$!
  wait_listening "$OUT/server-$i.log" || true
  echo "run $i: load $(cut -d' ' -f1 /proc/loadavg), free $(free -g | awk '/Mem:/ {print $7}') GiB" \
    | tee "$OUT/run-$i.load"
  "$BIN/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" \
    --quiet --timeout "$TIMEOUT" --server-pid "$PID" --json "$OUT/run-$i.json" --plot "$OUT/run-$i.svg" \
    votes --voters "$VOTERS" "${over[@]}" | tee "$OUT/run-$i.txt" || true
  stop_server
  rm -rf "$data"
  sleep 2
done
printf '\n'
table "$OUT"
