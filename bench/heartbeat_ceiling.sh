#!/usr/bin/env bash
# The idempotent start heartbeat at saturation next to the machine's plain HTTP ceiling, in one
# run: starts nginx (Debian package nginx-light) with a private config on a loopback port that
# answers every request with an empty 200, then runs bbs-bench --saturate heartbeat with
# --ceiling-url pointing at it (the same load tool, workers and connections against both), then
# wrk (2 threads, as many connections as workers) against both (--wrk-seconds; needs wrk).
# Prints bbs-bench's JSON line (share_of_ceiling for each tool); stops nginx at the end.
#
#   [BBS=path/to/bbs] bench/heartbeat_ceiling.sh [build dir (default build/release)] [instances (default 20000)]
#                              [workers (default 32)] [seconds (default 10)]
set -euo pipefail

BUILD=${1:-build/release}
INSTANCES=${2:-20000}
WORKERS=${3:-32}
SECONDS_=${4:-10}
NGINX=${NGINX:-/usr/sbin/nginx}
PORT=${CEILING_PORT:-18089}

dir=$(mktemp -d)
cleanup() {
  if [[ -f $dir/nginx.pid ]]; then kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/nginx.conf" <<CONF
daemon on;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$PORT;
    location / { return 200 ""; }
  }
}
CONF
"$NGINX" -c "$dir/nginx.conf" -p "$dir"
for _ in $(seq 50); do [[ -f $dir/nginx.pid ]] && break; sleep 0.1; done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/bbs-bench" --spawn-bbs "${BBS:-$BUILD/src/bbs/daemon/bbs}" --desired "$INSTANCES" \
  --cells 100 --workers "$WORKERS" --saturate heartbeat --saturate-seconds "$SECONDS_" \
  --ceiling-url "http://127.0.0.1:$PORT/" --wrk-seconds "$SECONDS_" | tail -1
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

