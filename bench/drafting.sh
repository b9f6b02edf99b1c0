#!/usr/bin/env bash
# The drafting benchmark (docs/bench/drafting.md): N editors write one document, against
# convene (release build, fresh --data), the reference y-websocket server and Hocuspocus.
# For each server and each N, start the server, run `convene-loadtest drafting` with
# --server-pid and --json, stop the server; then print the comparison table.
#
#   cargo build --release -p convene -p convene-loadtest && (cd bench && npm ci)
#   bench/drafting.sh [OUTDIR]
#
# Environment: SIZES (default "10 50 200"), SERVERS (default "convene ywss hocuspocus"; also
# "floor" and "floor-durable": loadtest/src/bin/relay-floor.rs, the least any server does),
# DURATION (s, default 20), INTERVAL_MS (default 200), EXTRA (more drafting flags).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/bench/drafting}
SIZES=${SIZES:-"10 50 200"}
SERVERS=${SERVERS:-"convene ywss hocuspocus"}
DURATION=${DURATION:-20}
INTERVAL_MS=${INTERVAL_MS:-200}
EXTRA=${EXTRA:-}
PORT=${PORT:-18470}
TOKEN=bench-organizer-token
CONVENE="$ROOT/target/release/convene"
LOADTEST="$ROOT/target/release/convene-loadtest"
FLOOR="$ROOT/target/release/relay-floor"
for b in "$CONVENE" "$LOADTEST" "$FLOOR"; do
  [ -x "$b" ] || { echo "no $b: cargo build --release -p convene -p convene-loadtest" >&2; exit 1; }
done
[ -d "$ROOT/bench/node_modules" ] || { echo "no bench/node_modules: (cd bench && npm ci)" >&2; exit 1; }
mkdir -p "$OUT"

. "$ROOT/bench/lib.sh"

start_server() { # $1 server, $2 log
  case $1 in
    convene)
      local data; data=$(mktemp -d "$OUT/convene-data.XXXXXX")
      CONVENE_LOG=warn "$CONVENE" serve --listen "127.0.0.1:$PORT" --data "$data" \
        --organizer-token "$TOKEN" >"$2" 2>&1 &
      PID=$! ;;
    ywss) node "$ROOT/bench/ywss.mjs" "$PORT" >"$2" 2>&1 & PID=$! ;;
    floor) "$FLOOR" "$PORT" >"$2" 2>&1 & PID=$! ;;
    floor-durable)
      local dir; dir=$(mktemp -d "$OUT/floor-data.XXXXXX")
      "$FLOOR" "$PORT" --durable "$dir" >"$2" 2>&1 & PID=$! ;;
    hocuspocus) node "$ROOT/bench/hocuspocus.mjs" "$PORT" >"$2" 2>&1 & PID=$! ;;
  esac
  wait_listening "$2" && return 0
  echo "$1 did not start; see $2" >&2
  exit 1
}

for n in $SIZES; do
  for s in $SERVERS; do
    echo "== $s, $n editors" >&2
    start_server "$s" "$OUT/$s-$n.server.log"
    target=(--target "$s")
    case $s in floor*) target=(--target ywss) ;; esac
    [ "$s" = convene ] || target+=(--target-url "ws://127.0.0.1:$PORT")
    # The timeout covers connecting, the editing and the drain.
    "$LOADTEST" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" --quiet \
      --timeout $((DURATION + 90)) --server-pid "$PID" --json "$OUT/$s-$n.json" \
      drafting --editors "$n" --duration "$DURATION" --interval-ms "$INTERVAL_MS" \
      "${target[@]}" $EXTRA >"$OUT/$s-$n.txt" 2>&1 || echo "  (exit code $?: see $OUT/$s-$n.txt)" >&2
    stop_server
    sleep 1
  done
done

# The table: one row per run, then convene's ratios to each reference.
row() { # $1 json
  jq -r '[.scenario, (.params.target), (.params.editors|tostring),
          ((.rates.server_cpu_us_per_delivery // 0)*100|round/100|tostring),
          ((.rates.deliveries_per_s // 0)|round|tostring),
          ((.latencies.delivery.p50_ms // 0)*100|round/100|tostring),
          ((.latencies.delivery.p99_ms // 0)*100|round/100|tostring),
          (((.server.held.rss_kib // 0)/1024)*10|round/10|tostring),
          ((.rates.server_cpu_pct // 0)|round|tostring),
          (.checks.deliveries|tostring), (.checks.deliveries_expected_open|tostring),
          (if .ok then "ok" else "FAILED" end)] | @tsv' "$1"
}
printf '\n| server | editors | server CPU µs / delivery | deliveries/s | p50 ms | p99 ms | server RSS MiB | server CPU %% | delivered / expected | run |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
for n in $SIZES; do
  for s in $SERVERS; do
    f="$OUT/$s-$n.json"
    [ -f "$f" ] || { printf '| %s | %s | (no report) |||||||\n' "$s" "$n"; continue; }
    row "$f" | awk -F'\t' -v s="$s" '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n",s,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12}'
  done
done
printf '\nRatios (reference ÷ convene: above 1, convene is better):\n\n'
printf '| editors | vs | CPU per delivery | p99 | RSS |\n|---:|---|---:|---:|---:|\n'
for n in $SIZES; do
  c="$OUT/convene-$n.json"
  [ -f "$c" ] || continue
  for s in $SERVERS; do
    [ "$s" = convene ] && continue
    f="$OUT/$s-$n.json"
    [ -f "$f" ] || continue
    jq -rn --slurpfile c "$c" --slurpfile r "$f" --arg n "$n" --arg s "$s" '
      def ratio(a; b): if (b // 0) > 0 then ((a // 0) / b * 100 | round / 100 | tostring) + "×" else "-" end;
      "| \($n) | \($s) | \(ratio($r[0].rates.server_cpu_us_per_delivery; $c[0].rates.server_cpu_us_per_delivery)) | \(ratio($r[0].latencies.delivery.p99_ms; $c[0].latencies.delivery.p99_ms)) | \(ratio($r[0].server.held.rss_kib; $c[0].server.held.rss_kib)) |"'
  done
done
