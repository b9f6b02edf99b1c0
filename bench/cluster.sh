#!/usr/bin/env bash
# The cluster benchmark (docs/bench/cluster.md): commands per second (votes: ballots/s, ack
# p50/p99) and fan-out deliveries per second (plenary at 20 broadcasts/s, and at 100/s from 5
# facilitators) with (i) one node on SQLite, (ii) one node on Redis, (iii) three nodes on Redis
# with the load tester spread over the three; the round trip of Redis itself (redis-benchmark
# PING, one client, idle and during each run); each node's peak memory (VmHWM), CPU time and
# counters (/metrics: commands, events, appends, append conflicts, deliveries), and Redis's
# CPU and memory. Fresh nodes (and a flushed Redis database) for every run.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/cluster.sh [OUTDIR]
#     env: RUNS (3), VOTERS (1000), LISTENERS (1000), RATE (20), FAST_RATE (100), DURATION (10),
#          CONFIGS ("sqlite redis1 redis3"), SCENARIOS ("votes plenary plenary100"; add
#          "failover" for redis3: the plenary at RATE, node 1 killed with -9 3 s after it holds
#          its share of the listeners),
#          REDIS (redis://127.0.0.1:6379), REDIS_DB (3, flushed), BIN (target/release)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/bench/cluster}
RUNS=${RUNS:-3}
VOTERS=${VOTERS:-1000}
LISTENERS=${LISTENERS:-1000}
RATE=${RATE:-20}
FAST_RATE=${FAST_RATE:-100}
DURATION=${DURATION:-10}
CONFIGS=${CONFIGS:-sqlite redis1 redis3}
SCENARIOS=${SCENARIOS:-votes plenary plenary100}
REDIS=${REDIS:-redis://127.0.0.1:6379}
REDIS_DB=${REDIS_DB:-3}
BIN=${BIN:-$ROOT/target/release}
BASE_PORT=${BASE_PORT:-18501}
TOKEN=bench-organizer-token
REDIS_URL="$REDIS/$REDIS_DB"
mkdir -p "$OUT"

PIDS=()
stop_nodes() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap stop_nodes EXIT

# utime + stime of a process, in seconds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# Peak resident memory (VmHWM) of a process, MiB.
peak_mib() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
redis_pid() { redis-cli -u "$REDIS" info server | tr -d '\r' | awk -F: '/^process_id/ { print $2 }'; }
redis_mem_mib() { redis-cli -u "$REDIS" info memory | tr -d '\r' | awk -F: '/^used_memory:/ { printf "%.1f", $2 / 1048576 }'; }

# Start N nodes for a configuration; URLS is the load tester's --url.
start_nodes() {
  local config=$1 n=1 i
  [ "$config" = redis3 ] && n=3
  [ "$config" != sqlite ] && redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
  URLS=""
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i)) data
    data=$(mktemp -d "$OUT/data.XXXXXX")
    local store=() try pid
    [ "$config" != sqlite ] && store=(--redis "$REDIS_URL")
    # A node that says nothing for 30 s (seen once on the shared machine) is tried again.
    for try in 1 2; do
      CONVENE_LOG=warn "$BIN/convene" serve --listen "127.0.0.1:$port" --data "$data" \
        --organizer-token "$TOKEN" "${store[@]}" >"$OUT/node$i.log" 2>&1 &
      pid=$!
      for _ in $(seq 300); do grep -q "listening on" "$OUT/node$i.log" 2>/dev/null && break; sleep 0.1; done
      grep -q "listening on" "$OUT/node$i.log" && break
      echo "node$i did not start (try $try): $(cat "$OUT/node$i.log")" >&2
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      [ "$try" = 2 ] && exit 1
    done
    PIDS+=("$pid")
    URLS="${URLS:+$URLS,}http://127.0.0.1:$port"
  done
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); convene $("$BIN/convene" --version)"
echo "Redis round trip, idle (redis-benchmark, 1 client, 20000 PINGs):"
redis-benchmark -u "$REDIS" -n 20000 -c 1 -t ping --csv -q | tee "$OUT/redis-ping.csv"

for config in $CONFIGS; do
  for scenario in $SCENARIOS; do
    for run in $(seq "$RUNS"); do
      name="$config-$scenario-$run"
      load=$(cut -d' ' -f1 /proc/loadavg)
      start_nodes "$config"
      rpid=""
      [ "$config" != sqlite ] && rpid=$(redis_pid)
      before=()
      for p in "${PIDS[@]}"; do before+=("$(cpu_s "$p")"); done
      rbefore=0
      [ -n "$rpid" ] && rbefore=$(cpu_s "$rpid")
      case $scenario in
        votes) args=(votes --voters "$VOTERS") ;;
        plenary) args=(plenary --listeners "$LISTENERS" --rate "$RATE" --duration "$DURATION") ;;
        plenary100) args=(plenary --listeners "$LISTENERS" --rate "$FAST_RATE" --duration "$DURATION") ;;
        failover) args=(plenary --listeners "$LISTENERS" --rate "$RATE" --duration "$DURATION") ;;
      esac
      # During the run, Redis's round trip as a client beside the nodes sees it.
      lat=""
      if [ -n "$rpid" ]; then
        (sleep 2; redis-benchmark -u "$REDIS" -n 2000 -c 1 -t ping --csv -q 2>/dev/null |
          awk -F'"' '/PING_MBULK/ { print $10 " / " $14 }' >"$OUT/$name.redis-ping") &
        lat=$!
      fi
      killer=""
      if [ "$scenario" = failover ] && [ "${#PIDS[@]}" -gt 1 ]; then
        (
          share=$((LISTENERS / ${#PIDS[@]}))
          for _ in $(seq 600); do
            held=$(curl -s "http://127.0.0.1:$((BASE_PORT + 1))/metrics" | awk '/^convene_connections / { print $2 }')
            [ "${held:-0}" -ge "$share" ] && break
            sleep 0.1
          done
          sleep 3
          kill -9 "${PIDS[1]}"
          echo "node1 killed at $(date +%s.%N)" >"$OUT/$name.killed"
        ) &
        killer=$!
      fi
      code=0
      "$BIN/convene-loadtest" --url "$URLS" --organizer-token "$TOKEN" --quiet --timeout 180 \
        --server-pid "${PIDS[0]}" --json "$OUT/$name.json" --plot "$OUT/$name.svg" \
        "${args[@]}" >"$OUT/$name.txt" || code=$?
      [ -n "$lat" ] && wait "$lat" || true
      [ -n "$killer" ] && wait "$killer" || true
      nodes=""
      for i in "${!PIDS[@]}"; do
        p=${PIDS[$i]}
        if [ ! -e "/proc/$p/stat" ]; then
          nodes="${nodes:+$nodes; }node$i killed"
          continue
        fi
        cpu=$(awk -v a="$(cpu_s "$p")" -v b="${before[$i]}" 'BEGIN { printf "%.1f", a - b }')
        curl -s "http://127.0.0.1:$((BASE_PORT + i))/metrics" >"$OUT/$name.node$i.prom" || true
        counts=$(awk '/^convene_(commands|events|append_conflicts|deliveries)_total / { sub(/^convene_/, "", $1); sub(/_total$/, "", $1); printf "%s %d, ", $1, $2 }
          /^convene_append_seconds_count / { printf "appends %d, ", $2 }' "$OUT/$name.node$i.prom")
        nodes="${nodes:+$nodes; }node$i peak $(peak_mib "$p") MiB, CPU $cpu s, ${counts%, }"
      done
      redis=""
      if [ -n "$rpid" ]; then
        rcpu=$(awk -v a="$(cpu_s "$rpid")" -v b="$rbefore" 'BEGIN { printf "%.1f", a - b }')
        redis="redis CPU $rcpu s, used_memory $(redis_mem_mib) MiB, PING p50/p99 during the run $(cat "$OUT/$name.redis-ping" 2>/dev/null) ms"
      fi
      printf '%s\tload %s\texit %s\t%s\t%s\n' "$name" "$load" "$code" "$nodes" "$redis" | tee -a "$OUT/resources.tsv"
      stop_nodes
      rm -rf "$OUT"/data.*
    done
  done
done

echo
echo "| run | ballots/s | ack p50 / p99 ms | appends × mean ms | node 0 RSS held MiB | errors |"
echo "|---|---:|---|---|---:|---|"
for f in "$OUT"/*-votes-*.json; do
  [ -e "$f" ] || continue
  jq -r --arg n "$(basename "$f" .json)" '"| \($n) | \(.rates.ballots_per_s | floor) | \(.latencies.ack.p50_ms) / \(.latencies.ack.p99_ms) | \(.server_metrics.burst.appends // "-") × \((.server_metrics.burst.append_ms_mean // 0) * 100 | round / 100) | \((.server.held.rss_kib // 0) / 1024 | floor) | \(.errors_total) |"' "$f"
done
echo
echo "| run | deliveries/s | delivery p50 / p99 / max ms | broadcast ack p50 / p99 ms | reconnections | covered by a resume | missing, duplicates | errors |"
echo "|---|---:|---|---|---:|---:|---|---|"
for f in "$OUT"/*-plenary*-*.json "$OUT"/*-failover-*.json; do
  [ -e "$f" ] || continue
  jq -r --arg n "$(basename "$f" .json)" '"| \($n) | \(.rates.deliveries_per_s | floor) | \(.latencies.delivery.p50_ms) / \(.latencies.delivery.p99_ms) / \(.latencies.delivery.max_ms) | \(.latencies.broadcast_ack.p50_ms) / \(.latencies.broadcast_ack.p99_ms) | \(.connections.reconnections) | \(.checks.covered_by_resume) | \(.checks.missing_on_open_connections), \(.checks.duplicates) | \(.errors_total) |"' "$f"
done
