#!/usr/bin/env bash
# The profile of docs/bench/fanout.md: `perf record -g` of the server for 8 s in the middle of
# a plenary run (convene or the floor), then the flat profile, under /tmp/bench.lock.
#
#   bench/fanout-profile.sh SERVER LISTENERS RATE TAG    SERVER: convene | floor
#   env: CONVENE (target/release/convene), OUT (target/bench/profile), FREQ (Hz, 999),
#        CALLG (perf's call-graph option, -g; "--call-graph dwarf,16384" names inlined frames),
#        STAT=1 (perf stat's counts instead: CPU, thread switches, migrations),
#        PERTHREAD=1 (with STAT: the counts by thread),
#        DURATION (the run, s, 12) and SETTLE (s from the last connection to the 8 s window, 2):
#        DURATION=45 SETTLE=25 measures after SQLite's first checkpoint (a reused log file)
# Writes OUT/TAG.perf.data, OUT/TAG.report.txt (flat, by symbol), OUT/TAG.dso.txt, OUT/TAG.txt.
set -euo pipefail
if [ -z "${FANOUT_LOCKED:-}" ]; then
  exec env FANOUT_LOCKED=1 flock /tmp/bench.lock "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER=$1 N=$2 RATE=$3 TAG=$4
OUT=${OUT:-$ROOT/target/bench/profile}
CONVENE=${CONVENE:-$ROOT/target/release/convene}
BIN=$ROOT/target/release
PORT=${PORT:-18479}
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
case $SERVER in
  convene)
    data=$(mktemp -d "$OUT/data.XXXXXX")
    CONVENE_LOG=warn "$CONVENE" serve --listen "127.0.0.1:$PORT" --data "$data" \
      --organizer-token t >"$OUT/$TAG.server.log" 2>&1 &
    PID=$! ;;
  floor) "$BIN/broadcast-floor" "$PORT" >"$OUT/$TAG.server.log" 2>&1 & PID=$! ;;
  *) echo "SERVER: convene or floor" >&2; exit 1 ;;
esac
wait_listening "$OUT/$TAG.server.log"
echo "load $(cut -d' ' -f1 /proc/loadavg)" >"$OUT/$TAG.load"
"$BIN/convene-loadtest" --url "http://127.0.0.1:$PORT" --organizer-token t --quiet \
  --server-pid "$PID" --json "$OUT/$TAG.json" \
  plenary --listeners "$N" --rate "$RATE" --duration "${DURATION:-12}" --target "$SERVER" >"$OUT/$TAG.txt" 2>&1 &
LT=$!
# The broadcasting starts once every listener is connected (the server holds their sockets).
for _ in $(seq 300); do
  [ "$(ls "/proc/$PID/fd" 2>/dev/null | wc -l)" -gt "$N" ] && break
  sleep 0.1
done
sleep "${SETTLE:-2}"
if [ -n "${STAT:-}" ]; then
  # Counts instead of samples: thread switches (voluntary: parked; involuntary: preempted)
  # by thread, then perf's counts for the whole server.
  switches() { grep -H ctxt_switches /proc/"$PID"/task/*/status | sed 's|/proc/[0-9]*/task/||;s|/status:| |'; }
  switches >"$OUT/$TAG.switches.before"
  perf stat ${PERTHREAD:+--per-thread} -e task-clock,context-switches,cpu-migrations,page-faults -p "$PID" -o "$OUT/$TAG.stat.txt" -- sleep 8
  switches >"$OUT/$TAG.switches.after"
  join <(awk '{print $1"/"$2, $3}' "$OUT/$TAG.switches.before" | sort) <(awk '{print $1"/"$2, $3}' "$OUT/$TAG.switches.after" | sort) \
    | awk '{d=$3-$2; if (d>0) print $1, d}' >"$OUT/$TAG.switches.txt"
else
  perf record ${EVENT:+-e $EVENT} -F "${FREQ:-999}" ${CALLG:--g} -p "$PID" -o "$OUT/$TAG.perf.data" -- sleep 8 2>"$OUT/$TAG.perf.log"
fi
wait "$LT" || true
stop_server
rm -rf "$OUT"/data.*
if [ -n "${STAT:-}" ]; then
  cat "$OUT/$TAG.stat.txt" "$OUT/$TAG.switches.txt"
  exit 0
fi
perf report -i "$OUT/$TAG.perf.data" --no-children --stdio -g none 2>/dev/null >"$OUT/$TAG.report.txt"
perf report -i "$OUT/$TAG.perf.data" --no-children --stdio -g none --sort dso 2>/dev/null >"$OUT/$TAG.dso.txt"
grep -h "Event count" "$OUT/$TAG.report.txt" || true
