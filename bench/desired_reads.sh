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
BIN=$1 DB=$2 N=${4:-3}
source "$(dirname "$0")/server_timing.sh"
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
start_bbs "$BIN" "$DB" "${3:-18820}"
trap 'kill $PID 2>/dev/null; rm -f "$LOG" "$BODY" "$BODY.empty"' EXIT
: >"$BODY.empty"
time_route desired_lrps/list.r3 "$BODY.empty" "$N"
print_rss "after the lists"
time_route desired_lrps/get_by_process_guid.r3 "$BODY" 20
