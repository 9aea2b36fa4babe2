#!/usr/bin/env bash
# A private, throwaway etcd for the tests, on free loopback ports.
#
#   scripts/servers/etcd.sh start DIR   # starts etcd with its data and log in DIR, waits until
#                                       # healthy, prints: export BBS_TEST_ETCD_ENDPOINTS=http://...
#   scripts/servers/etcd.sh stop DIR    # stops it and removes its data
#
# Typical use:  eval "$(scripts/servers/etcd.sh start /tmp/etcd)"; ctest ...; scripts/servers/etcd.sh stop /tmp/etcd
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

case "$cmd" in
  start)
    command -v etcd >/dev/null || { echo "etcd not found (apt-get install etcd-server etcd-client)" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "etcd already running in $dir (pid $(cat "$dir/pid"))" >&2
      exit 1
    fi
    client=$(free_port)
    peer=$(free_port)
    while [[ $peer == "$client" ]]; do peer=$(free_port); done
    rm -rf "$dir/data"
    etcd --name bbs-test --data-dir "$dir/data" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "bbs-test=http://127.0.0.1:$peer" \
      >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    echo "http://127.0.0.1:$client" >"$dir/endpoints"
    for _ in $(seq 1 100); do
      if ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$client" --dial-timeout=1s endpoint health >/dev/null 2>&1; then
        echo "export BBS_TEST_ETCD_ENDPOINTS=http://127.0.0.1:$client"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "etcd exited during start-up; log follows" >&2
        cat "$dir/log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "etcd did not become healthy in 10 s; log: $dir/log" >&2
    exit 1
    ;;
  stop)
    if [[ -f $dir/pid ]]; then
      pid=$(cat "$dir/pid")
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$dir/pid"
    fi
    rm -rf "$dir/data" "$dir/endpoints"
    ;;
  *)
    usage
    ;;
esac
