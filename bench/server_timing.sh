# Shared by the bench scripts that time one bbs binary on an existing SQLite database
# (list_and_startup.sh, desired_reads.sh); sourced, not run.
#
#   start_bbs BINARY DB PORT   starts the server, waits for "bbs.ready" and prints the start-up
#                              line (wall, "load_ms", CPU seconds, RSS, peak RSS, load); sets
#                              PID and LOG, and stops the server on exit.
#   time_route PATH BODY N     POSTs the file BODY ("" for an empty body) to /v1/PATH N times
#                              (curl: first / last byte, bytes) and prints the server CPU per
#                              call (utime + stime from /proc/PID/stat, 10 ms ticks).
#   print_rss LABEL            the server's RSS and peak RSS.

cpu() { awk '{print $14 + $15}' /proc/"$PID"/stat; }

start_bbs() {
  LOG=$(mktemp)
  local start ready
  start=$(date +%s.%N)
  "$1" -address=127.0.0.1:"$3" -healthAddress=127.0.0.1:0 -databaseDriver=sqlite \
    -databaseConnectionString="$2" -logLevel=info >"$LOG" 2>&1 &
  PID=$!
  PORT=$3
  trap 'kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
  until grep -q '"bbs.ready"' "$LOG"; do sleep 0.05; done
  ready=$(date +%s.%N)
  echo "start-up: wall $(echo "$ready - $start" | bc) s, $(grep -o '"load_ms":[0-9.]*' "$LOG"), \
cpu $(echo "$(cpu) / 100" | bc -l | cut -c1-5) s, $(grep VmRSS /proc/$PID/status | tr -s ' '), \
$(grep VmHWM /proc/$PID/status | tr -s ' '), loadavg $(cut -d' ' -f1 /proc/loadavg)"
}

time_route() {
  local c0 c1 times="" data=""
  [ -n "$2" ] && data="@$2"
  c0=$(cpu)
  for _ in $(seq "$3"); do
    times="$times $(curl -s -o /dev/null -w '%{time_starttransfer}/%{time_total}/%{size_download}' \
      -X POST -H 'Content-Type: application/x-protobuf' --data-binary "$data" \
      "http://127.0.0.1:$PORT/v1/$1")"
  done
  c1=$(cpu)
  echo "$1: first/last byte/bytes:$times; server cpu per call $(((c1 - c0) * 10 / $3)) ms," \
    "loadavg $(cut -d' ' -f1 /proc/loadavg)"
}

print_rss() {
  echo "$1: $(grep VmRSS /proc/$PID/status | tr -s ' '), $(grep VmHWM /proc/$PID/status | tr -s ' ')"
}
