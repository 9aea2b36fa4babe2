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
BIN=$1 DB=$2 N=${4:-3}
source "$(dirname "$0")/server_timing.sh"
start_bbs "$BIN" "$DB" "${3:-18810}"
for path in actual_lrps/list desired_lrp_scheduling_infos/list; do
  time_route "$path" "" "$N"
done
print_rss "after the lists"
