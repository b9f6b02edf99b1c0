# Helpers shared by the bench scripts (sourced, not run).

# The server the script started last: `PID=$!` after starting it; stopped on exit.
PID=
stop_server() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  PID=
}
trap stop_server EXIT

# Wait (up to $2 tenths of a second, default 100) until the log $1 says "listening on".
wait_listening() {
  for _ in $(seq "${2:-100}"); do
    grep -q "listening on" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
