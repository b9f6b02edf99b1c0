#!/usr/bin/env bash
# The fan-out benchmark (docs/bench/fanout.md; issue #16: "server CPU per delivery within 1.2x
# of the bare axum broadcast server measured in the same run"). For each run and each case
# (LISTENERS:RATE), convene and the floor (loadtest/src/bin/broadcast-floor.rs) one after the
# other, a fresh server each (convene with a fresh --data): `convene-loadtest plenary` with
# --server-pid and --json, then stop the server. The whole script holds /tmp/bench.lock (it
# runs itself again under `flock`), so no other benchmark overlaps it. Then the table: per
# case and server, the medians over the runs of the server CPU per delivery (µs, from
# /proc/PID/stat during the broadcasting), delivery p50 / p99 and the load average at the
# start of the runs, and convene's ratio to the floor.
#
#   cargo build --release -p convene -p convene-loadtest
#   bench/fanout.sh [OUTDIR]          env: CASES ("1000:20 1000:100 200:20:30 200:100"),
#                                     each LISTENERS:RATE[:SECONDS of broadcasting],
#                                     RUNS (3), DURATION (s, 10), SERVERS ("convene floor"),
#                                     BIN (target/release), CONVENE ($BIN/convene);
#                                     SERVERS may also name "convene-before", run from
#                                     $BEFORE (another convene binary, to compare builds)
#   bench/fanout.sh --table DIR...    only print the table of runs already made
set -euo pipefail

# One line per run: case, server, run, load, CPU µs/delivery, p50, p99, delivered, expected,
# frame bytes, load tester CPU µs/delivery, ok.
rows() {
  for dir in "$@"; do
    for f in "$dir"/*.json; do
      [ -f "$f" ] || continue
      local load
      load=$(cat "${f%.json}.load" 2>/dev/null || echo 0)
      jq -r --arg load "$load" --arg name "$(basename "$f" .json)" '
        ($name | split("-")) as $p
        | [ "\(.params.listeners):\(.params.rate)", ($p[0:-3] | join("-")), ($p[-1]), $load,
            (.rates.server_cpu_us_per_delivery // 0), (.latencies.delivery.p50_ms // 0),
            (.latencies.delivery.p99_ms // 0), (.checks.deliveries // 0),
            (.checks.deliveries_expected // 0), (.rates.broadcast_frame_bytes // 0),
            (.rates.loadtest_cpu_us_per_delivery // 0), (if .ok then "ok" else "FAILED" end) ]
        | @tsv' "$f"
    done
  done
}

table() {
  local all
  all=$(rows "$@")
  printf '| case (listeners:rate/s) | run | server | load | server CPU µs / delivery | p50 ms | p99 ms | delivered / expected | frame bytes | tester CPU µs / delivery | |\n'
  printf '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
  printf '%s\n' "$all" | sort -t$'\t' -k1,1V -k3,3n -k2,2 | awk -F'\t' 'NF {
    printf "| %s | %s | %s | %s | %.2f | %.1f | %.1f | %d / %d | %.1f | %.2f | %s |\n",
      $1, $3, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
  printf '\nMedians over the runs, and the ratio to the floor'"'"'s median (the goal: convene at most 1.2):\n\n'
  printf '| case (listeners:rate/s) | server | runs | load | server CPU µs / delivery | ÷ floor | ÷ floor run by run | p50 / p99 ms |\n'
  printf '|---|---|---:|---|---:|---:|---|---|\n'
  printf '%s\n' "$all" | awk -F'\t' '
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      if (n == 0) return 0
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NF {
      k = $1 SUBSEP $2
      cpu[k] = cpu[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7; load[k] = load[k] " " $4
      runcpu[$1 SUBSEP $3 SUBSEP $2] = $5; if ($3 + 0 > maxrun) maxrun = $3 + 0
      n[k]++; keys[k] = 1
    }
    END {
      for (k in keys) {
        split(k, cs, SUBSEP); c = cs[1]; s = cs[2]
        m = median(cpu[k]); mf = median(cpu[c SUBSEP "floor"])
        per = ""
        for (r = 1; r <= maxrun; r++) {
          a = runcpu[c SUBSEP r SUBSEP s]; b = runcpu[c SUBSEP r SUBSEP "floor"]
          if (a != "" && b > 0) per = per sprintf("%s%.2f", per == "" ? "" : ", ", a / b)
        }
        split(load[k], L, " "); lo = 1e9; hi = 0
        for (i in L) { if (L[i] + 0 < lo) lo = L[i] + 0; if (L[i] + 0 > hi) hi = L[i] + 0 }
        printf "| %s | %s | %d | %.2f–%.2f | %.2f | %s | %s | %.1f / %.1f |\n",
          c, s, n[k], lo, hi, m, (mf > 0 ? sprintf("%.2f×", m / mf) : "-"), per,
          median(p50[k]), median(p99[k])
      }
    }' | sort -t'|' -k2,2V -k3,3
}

if [ "${1:-}" = --table ]; then
  shift
  table "$@"
  exit 0
fi

if [ -z "${FANOUT_LOCKED:-}" ]; then
  exec env FANOUT_LOCKED=1 flock /tmp/bench.lock "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# 200 listeners at 20/s broadcast for 30 s: 120,000 deliveries, so that the floor's CPU time
# (about 0.2 s) is well above /proc's 10 ms resolution.
CASES=${CASES:-"1000:20 1000:100 200:20:30 200:100"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
SERVERS=${SERVERS:-"convene floor"}
BIN=${BIN:-$ROOT/target/release}
CONVENE=${CONVENE:-$BIN/convene}
OUT=${1:-$ROOT/target/bench/fanout}
PORT=${PORT:-18476}
TOKEN=bench-organizer-token
for b in "$CONVENE" "$BIN/convene-loadtest" "$BIN/broadcast-floor"; do
  [ -x "$b" ] || { echo "no $b: cargo build --release -p convene -p convene-loadtest" >&2; exit 1; }
done
case " $SERVERS " in
  *" convene-before "*) [ -x "${BEFORE:-}" ] || { echo "convene-before: set BEFORE to a convene binary" >&2; exit 1; } ;;
esac
hard=$(ulimit -Hn)
ulimit -n $(( hard < 20000 ? hard : 20000 ))
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"

start_server() { # $1 server, $2 log
  case $1 in
    convene)
      local data; data=$(mktemp -d "$OUT/convene-data.XXXXXX")
      CONVENE_LOG=warn "$CONVENE" serve --listen "127.0.0.1:$PORT" --data "$data" \
        --organizer-token "$TOKEN" >"$2" 2>&1 &
      PID=$! ;;
    convene-before)
      local data; data=$(mktemp -d "$OUT/convene-data.XXXXXX")
      CONVENE_LOG=warn "$BEFORE" serve --listen "127.0.0.1:$PORT" --data "$data" \
        --organizer-token "$TOKEN" >"$2" 2>&1 &
      PID=$! ;;
    floor) "$BIN/broadcast-floor" "$PORT" >"$2" 2>&1 & PID=$! ;;
  esac
  wait_listening "$2" && return 0
  echo "$1 did not start; see $2" >&2
  exit 1
}

for run in $(seq "$RUNS"); do
  for c in $CASES; do
    IFS=: read -r n rate secs <<<"$c"
    secs=${secs:-$DURATION}
    for s in $SERVERS; do
      name="$s-$n-$rate-$run"
      start_server "$s" "$OUT/$name.server.log"
      load=$(cut -d' ' -f1 /proc/loadavg)
      echo "$load" >"$OUT/$name.load"
      echo "== run $run: $s, $n listeners, $rate/s (load $load)" >&2
      "$BIN/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token "$TOKEN" --quiet \
        --timeout $((secs + 120)) --server-pid "$PID" --json "$OUT/$name.json" \
        plenary --listeners "$n" --rate "$rate" --duration "$secs" --target "${s%%-*}" \
        >"$OUT/$name.txt" 2>&1 || echo "  (exit code $?: see $OUT/$name.txt)" >&2
      stop_server
      rm -rf "$OUT"/convene-data.*
      sleep 1
    done
  done
done
table "$OUT"
