#!/usr/bin/env bash
# The public plenary benchmark (docs/bench/public.md, issue 16): N public viewers on
# /public/ws while M members are connected; the floor, then announcements a second apart.
# Two configurations, fresh nodes for every run, each run under the shared lock
# (flock /tmp/bench.lock) with the 1-minute load average noted when it starts:
#   single   one node on SQLite, VIEWERS1 (2,000) viewers, MEMBERS1 (20) members;
#   cluster  two nodes on Redis (database REDIS_DB, flushed), VIEWERS (20,000) viewers spread
#            over both, MEMBERS (200) members, PROCS (2) worker processes.
# Per run: delivery p50/p90/p99/max, the floor's p99, each node's bytes per viewer and CPU,
# the load tester's CPU (workers + main) beside the servers', for the connection phase and the
# broadcast phase apart; then the medians of the runs.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/public.sh [OUTDIR]
#     env: RUNS (3), CONFIGS ("single cluster"), VIEWERS1, MEMBERS1, VIEWERS, MEMBERS, PROCS,
#          BROADCASTS (5), INTERVAL_MS (1000), REDIS (redis://127.0.0.1:6379), REDIS_DB (0,
#          flushed before each run: no test uses it), BIN (target/release),
#          PERF ("" | workers | nodes: perf record -g of those processes during the run, to
#          OUTDIR/NAME.perf.*), ANSWER (0: the fraction of the viewers answering a public poll
#          opened after the announcements, §24), ANSWER_OVER (10: seconds the answers are
#          spread over)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/bench/public}
RUNS=${RUNS:-3}
CONFIGS=${CONFIGS:-single cluster}
VIEWERS1=${VIEWERS1:-2000}
MEMBERS1=${MEMBERS1:-20}
VIEWERS=${VIEWERS:-20000}
MEMBERS=${MEMBERS:-200}
PROCS=${PROCS:-2}
BROADCASTS=${BROADCASTS:-5}
INTERVAL_MS=${INTERVAL_MS:-1000}
REDIS=${REDIS:-redis://127.0.0.1:6379}
REDIS_DB=${REDIS_DB:-0}
BIN=${BIN:-$ROOT/target/release}
PERF=${PERF:-}
ANSWER=${ANSWER:-0}
ANSWER_OVER=${ANSWER_OVER:-10}
BASE_PORT=${BASE_PORT:-18941}
TOKEN=bench-organizer-token
REDIS_URL="$REDIS/$REDIS_DB"
mkdir -p "$OUT"

PIDS=()
PERFS=()
stop_nodes() {
  for p in "${PERFS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PERFS[@]}"; do wait "$p" 2>/dev/null || true; done
  PERFS=()
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap stop_nodes EXIT

start_nodes() {
  local config=$1 n=1 i
  [ "$config" = cluster ] && n=2
  [ "$config" = cluster ] && redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
  URLS=""
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i)) data store=() pid
    data=$(mktemp -d "$OUT/data.XXXXXX")
    [ "$config" = cluster ] && store=(--redis "$REDIS_URL")
    CONVENE_LOG=warn "$BIN/convene" serve --listen "127.0.0.1:$port" --data "$data" \
      --organizer-token "$TOKEN" "${store[@]}" >"$OUT/node$i.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do grep -q "listening on" "$OUT/node$i.log" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$OUT/node$i.log" || { echo "node$i did not start: $(cat "$OUT/node$i.log")" >&2; exit 1; }
    PIDS+=("$pid")
    URLS="${URLS:+$URLS,}http://127.0.0.1:$port"
  done
}

# Record the worker processes (children of the load tester) once they exist, or the nodes.
start_perf() {
  local name=$1 tester=$2 w
  case $PERF in
    nodes)
      for i in "${!PIDS[@]}"; do
        perf record -g -o "$OUT/$name.perf.node$i" -p "${PIDS[$i]}" >/dev/null 2>&1 &
        PERFS+=($!)
      done ;;
    workers)
      (
        for _ in $(seq 200); do
          w=$(pgrep -P "$tester" -d ' ' convene-loadtes || true)
          [ "$(echo "$w" | wc -w)" -ge "$3" ] && break
          sleep 0.1
        done
        i=0
        for p in $w; do
          perf record -g -o "$OUT/$name.perf.worker$i" -p "$p" >/dev/null 2>&1 &
          i=$((i + 1))
        done
        wait
      ) &
      PERFS+=($!) ;;
  esac
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); convene $("$BIN/convene" --version)"
exec 9>/tmp/bench.lock
for config in $CONFIGS; do
  for run in $(seq "$RUNS"); do
    name="$config-$run"
    flock 9
    load=$(cut -d' ' -f1 /proc/loadavg)
    start_nodes "$config"
    if [ "$config" = cluster ]; then
      args=(public --viewers "$VIEWERS" --members "$MEMBERS" --procs "$PROCS" --drain 20)
      extra=(--connect-concurrency 128 --timeout 300)
      procs=$PROCS
    else
      args=(public --viewers "$VIEWERS1" --members "$MEMBERS1" --procs 1)
      extra=(--timeout 120)
      procs=1
    fi
    args+=(--broadcasts "$BROADCASTS" --interval-ms "$INTERVAL_MS" --node-pids "$(IFS=,; echo "${PIDS[*]}")")
    args+=(--answer "$ANSWER" --answer-over "$ANSWER_OVER")
    code=0
    "$BIN/convene-loadtest" --url "$URLS" --organizer-token "$TOKEN" --quiet "${extra[@]}" \
      --server-pid "${PIDS[0]}" --json "$OUT/$name.json" "${args[@]}" >"$OUT/$name.txt" 2>&1 &
    tester=$!
    start_perf "$name" "$tester" "$procs"
    wait "$tester" || code=$?
    stop_nodes
    flock -u 9
    rm -rf "$OUT"/data.*
    echo "$load" >"$OUT/$name.load"
    printf '%s\tload %s\texit %s\n' "$name" "$load" "$code"
  done
done

# One row per run, then the medians of each configuration.
row() {
  jq -r --arg n "$1" --arg load "$2" '
    def r: . * 10 | round / 10;
    def ms: . | round;
    .checks as $c | $c.cpu_s as $cpu |
    [ $n, $load,
      (.latencies.public_delivery | "\(.p50_ms | ms) / \(.p90_ms | ms) / \(.p99_ms | ms) / \(.max_ms | ms)"),
      (.latencies.public_floor.p99_ms | ms),
      ($c.delivery_p99_ms_per_broadcast | map(ms | tostring) | join(" ")),
      ($c.nodes | map(.bytes_per_viewer // 0 | round | tostring) | join(" / ")),
      "\($cpu.broadcast.servers | r) s",
      "\(($cpu.broadcast.workers + ($cpu.broadcast.tester_main // 0)) | r) s",
      "\($cpu.connect.servers | r) / \(($cpu.connect.workers + ($cpu.connect.tester_main // 0)) | r) s",
      "\($c.workers_rss_ready_kib / $c.viewers_connected | r) KiB",
      "\($c.viewers_complete) / \($c.viewers)",
      "\(.latencies.broadcast_ack.p50_ms | ms) / \(.latencies.broadcast_ack.p99_ms | ms)"
    ] | "| " + join(" | ") + " |"' "$OUT/$1.json"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "| run | load | delivery p50 / p90 / p99 / max ms | floor p99 | p99 per broadcast | server bytes per viewer (per node) | servers CPU, broadcasts | tester CPU, broadcasts | CPU connecting (servers / tester) | tester memory per viewer | viewers with everything | ack p50 / p99 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for config in $CONFIGS; do
  for run in $(seq "$RUNS"); do
    name="$config-$run"
    [ -e "$OUT/$name.json" ] && row "$name" "$(cat "$OUT/$name.load")"
  done
done
echo
for config in $CONFIGS; do
  files=("$OUT/$config"-*.json)
  [ -e "${files[0]}" ] || continue
  p50=$(jq '.latencies.public_delivery.p50_ms' "${files[@]}" | median)
  p99=$(jq '.latencies.public_delivery.p99_ms' "${files[@]}" | median)
  max=$(jq '.latencies.public_delivery.max_ms' "${files[@]}" | median)
  bpv=$(jq '.rates.server_bytes_per_viewer' "${files[@]}" | median)
  scpu=$(jq '.checks.cpu_s.broadcast.servers' "${files[@]}" | median)
  tcpu=$(jq '.checks.cpu_s.broadcast.workers + (.checks.cpu_s.broadcast.tester_main // 0)' "${files[@]}" | median)
  loads=$(cat "$OUT/$config"-*.load | tr '\n' ' ')
  printf '%s: median of %d runs (load %s): delivery p50 %.0f ms, p99 %.0f ms, max %.0f ms; server %.0f bytes per viewer (worst node); CPU during the broadcasts: servers %.2f s, tester %.2f s\n' \
    "$config" "${#files[@]}" "${loads% }" "$p50" "$p99" "$max" "$bpv" "$scpu" "$tcpu"
done
# The public poll's answers, when asked for.
if [ "$ANSWER" != 0 ]; then
  echo
  echo "| run | load | answers acknowledged / expected | refused | answers/s | answer ack p50 / p99 / max ms | tally after the close |"
  echo "|---|---|---|---|---|---|---|"
  for config in $CONFIGS; do
    for run in $(seq "$RUNS"); do
      name="$config-$run"
      [ -e "$OUT/$name.json" ] || continue
      jq -r --arg n "$name" --arg load "$(cat "$OUT/$name.load")" '
        .checks as $c | .latencies.public_answer_ack as $a |
        "| \($n) | \($load) | \($c.answers_acknowledged) / \($c.answers_expected) | \($c.answers_refused) | \(.rates.answers_per_s | round) | \($a.p50_ms | round) / \($a.p99_ms | round) / \($a.max_ms | round) | \($c.public_poll_ballots) |"' "$OUT/$name.json"
    done
  done
fi
