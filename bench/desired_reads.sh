#!/usr/bin/env bash
# The desired LRP reads that return run infos, timed on one bbs binary over an existing SQLite
# database (issue #14, "the run info read from the store"): starts BINARY on DB, reports the
# start-up (wall, "load_ms", CPU seconds, RSS), then times N full lists of
# /v1/desired_lrps/list.r3 and N single reads of /v1/desired_lrps/get_by_process_guid.r3 (curl:
# first / last byte, bytes) with the server CPU they cost (utime + stime from /proc/PID/stat,
# 10 ms ticks), and the RSS after, then stops the server. Run it for two binaries back to back
# on the same database for an A/B.
#
#   bench/desired_reads.sh BINARY DB [PORT] [N]
set -euo pipefail
BIN=$1 DB=$2 PORT=${3:-18820} N=${4:-3}
LOG=$(mktemp)
BODY=$(mktemp)
# A DesiredLRPByProcessGuidRequest for a process guid in the middle of the table.
python3 - "$DB" "$BODY" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("SELECT COUNT(*) FROM desired_lrps").fetchone()[0]
guid = db.execute("SELECT process_guid FROM desired_lrps LIMIT 1 OFFSET ?", (n // 2,)).fetchone()[0]
raw = guid.encode()
open(sys.argv[2], "wb").write(bytes([0x0a, len(raw)]) + raw)
EOF
start=$(date +%s.%N)
"$BIN" -address=127.0.0.1:"$PORT" -healthAddress=127.0.0.1:0 -databaseDriver=sqlite \
  -databaseConnectionString="$DB" -logLevel=info >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG" "$BODY"' EXIT
until grep -q '"bbs.ready"' "$LOG"; do sleep 0.05; done
ready=$(date +%s.%N)
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
echo "start-up: wall $(echo "$ready - $start" | bc) s, $(grep -o '"load_ms":[0-9.]*' "$LOG"), \
cpu $(echo "$(cpu) / 100" | bc -l | cut -c1-5) s, $(grep VmRSS /proc/$PID/status | tr -s ' '), \
$(grep VmHWM /proc/$PID/status | tr -s ' '), loadavg $(cut -d' ' -f1 /proc/loadavg)"
time_route() {  # path, body file, count
  local c0 c1 times=""
  c0=$(cpu)
  for _ in $(seq "$3"); do
    times="$times $(curl -s -o /dev/null -w '%{time_starttransfer}/%{time_total}/%{size_download}' \
      -X POST -H 'Content-Type: application/x-protobuf' --data-binary @"$2" \
      "http://127.0.0.1:$PORT/v1/$1")"
  done
  c1=$(cpu)
  echo "$1: first/last byte/bytes:$times; server cpu per call $(((c1 - c0) * 10 / $3)) ms," \
    "loadavg $(cut -d' ' -f1 /proc/loadavg)"
}
: >"$BODY.empty"
time_route desired_lrps/list.r3 "$BODY.empty" "$N"
echo "after the lists: $(grep VmRSS /proc/$PID/status | tr -s ' '), $(grep VmHWM /proc/$PID/status | tr -s ' ')"
time_route desired_lrps/get_by_process_guid.r3 "$BODY" 20
rm -f "$BODY.empty"
