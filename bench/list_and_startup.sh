#!/usr/bin/env bash
# Start-up and full-list figures of one bbs binary on an existing SQLite database (issue #14):
# starts BINARY on DB, reports the start-up (wall, "load_ms", the process's CPU seconds, RSS),
# then times N full lists of /v1/actual_lrps/list and /v1/desired_lrp_scheduling_infos/list
# (curl: time to first / last byte) and the server CPU they cost (utime + stime of the bbs
# process from /proc/PID/stat, 10 ms ticks), then stops the server. Run it for two binaries
# back to back on the same database for an A/B; on a shared machine compare the CPU figures.
#
#   bench/list_and_startup.sh BINARY DB [PORT] [N]
#   e.g. populate first with a hand-started bbs and
#     bbs-bench --address 127.0.0.1:PORT --pid PID --desired 250000 --cells 1000 --workers 32
set -euo pipefail
BIN=$1 DB=$2 PORT=${3:-18810} N=${4:-3}
LOG=$(mktemp)
start=$(date +%s.%N)
"$BIN" -address=127.0.0.1:"$PORT" -healthAddress=127.0.0.1:0 -databaseDriver=sqlite \
  -databaseConnectionString="$DB" -logLevel=info >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
until grep -q '"bbs.ready"' "$LOG"; do sleep 0.05; done
ready=$(date +%s.%N)
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
echo "start-up: wall $(echo "$ready - $start" | bc) s, $(grep -o '"load_ms":[0-9.]*' "$LOG"), \
cpu $(echo "$(cpu) / 100" | bc -l | cut -c1-5) s, $(grep VmRSS /proc/$PID/status | tr -s ' '), \
$(grep VmHWM /proc/$PID/status | tr -s ' '), loadavg $(cut -d' ' -f1 /proc/loadavg)"
for path in actual_lrps/list desired_lrp_scheduling_infos/list; do
  c0=$(cpu)
  times=""
  for _ in $(seq "$N"); do
    times="$times $(curl -s -o /dev/null -w '%{time_starttransfer}/%{time_total}/%{size_download}' \
      -X POST -H 'Content-Type: application/x-protobuf' --data-binary '' \
      "http://127.0.0.1:$PORT/v1/$path")"
  done
  c1=$(cpu)
  echo "$path: first/last byte/bytes:$times; server cpu per list $(((c1 - c0) * 10 / N)) ms," \
    "loadavg $(cut -d' ' -f1 /proc/loadavg)"
done
echo "after the lists: $(grep VmRSS /proc/$PID/status | tr -s ' '), $(grep VmHWM /proc/$PID/status | tr -s ' ')"
