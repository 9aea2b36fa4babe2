#!/usr/bin/env bash
# Takeover benchmark (docs/ha.md): two bbs processes on one store (a SQLite file, or a
# PostgreSQL database with the lease-row lock), the active one under load from bbs-bench; kill -9
# the active and measure until the passive answers /v1/ping with 200, with the passive's
# start-up broken down from its own log. Not a test: it prints figures.
#
#   bench/takeover.sh [-b build/release] [-n 20000] [-c 100] [-l 5] [-d sqlite|postgres]
#                     [-p postgres-url] [-t 15s] [-r 5s]
#     -b  build directory holding src/bbs/daemon/bbs and bench/bbs-bench (default build/release,
#         else build/dev)
#     -n  desired LRPs, one RUNNING instance each (default 20000)
#     -c  simulated cells (default 100)
#     -l  seconds of load on the active before the kill (default 5)
#     -d  store: sqlite (default; the flock) or postgres (the lease row of docs/ha.md)
#     -p  postgres: URL of an empty database (default: a private server started with
#         scripts/servers/postgres.sh in the work directory, stopped at the end)
#     -t  lock_ttl, -r  lock_retry_interval (postgres; defaults are BOSH's 15s and 5s)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=""
desired=20000
cells=100
load_seconds=5
driver=sqlite
pg_url=""
lock_ttl=15s
retry_interval=5s
while getopts "b:n:c:l:d:p:t:r:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    n) desired=$OPTARG ;;
    c) cells=$OPTARG ;;
    l) load_seconds=$OPTARG ;;
    d) driver=$OPTARG ;;
    p) pg_url=$OPTARG ;;
    t) lock_ttl=$OPTARG ;;
    r) retry_interval=$OPTARG ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
[[ $driver == sqlite || $driver == postgres ]] || { echo "-d sqlite|postgres" >&2; exit 2; }
if [[ -z $build ]]; then
  build=$root/build/release
  [[ -x $build/src/bbs/daemon/bbs ]] || build=$root/build/dev
fi
bbs=$build/src/bbs/daemon/bbs
bench=$build/bench/bbs-bench
[[ -x $bbs && -x $bench ]] || { echo "build bbs and bbs-bench in $build first" >&2; exit 2; }

work=$(mktemp -d /tmp/bbs-takeover-XXXXXX)
chmod 755 "$work"
pids=()
private_pg=""
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $private_pg ]] && "$root/scripts/servers/postgres.sh" stop "$private_pg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# Waits (up to 600 s) for a line containing $2 in log $1.
wait_for() {
  for _ in $(seq 1 60000); do grep -q "$2" "$1" && return 0; sleep 0.01; done
  echo "timed out waiting for $2 in $1" >&2; exit 1
}
# The log timestamp (unix seconds) of the first line containing $2 in $1.
stamp() { grep -m1 "$2" "$1" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["timestamp"])'; }
ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

if [[ $driver == postgres && -z $pg_url ]]; then
  private_pg=$work/pg
  mkdir -p "$private_pg"
  eval "$("$root/scripts/servers/postgres.sh" start "$private_pg")"
  pg_url=$BBS_TEST_POSTGRES_URL
fi

start_bbs() {  # name api_port
  if [[ $driver == sqlite ]]; then
    "$bbs" -address=127.0.0.1:"$2" -healthAddress=127.0.0.1:0 \
      -databaseConnectionString="$work/bbs.db" -logLevel=info >"$work/$1.log" 2>&1 &
  else
    cat >"$work/$1.json" <<JSON
{"uuid": "takeover-$1", "database_driver": "postgres", "database_connection_string": "$pg_url",
 "encryption_keys": {"k1": "takeover bench passphrase"}, "active_key_label": "k1",
 "lock_ttl": "$lock_ttl", "lock_retry_interval": "$retry_interval"}
JSON
    "$bbs" -config="$work/$1.json" -address=127.0.0.1:"$2" -healthAddress=127.0.0.1:0 \
      -logLevel=info >"$work/$1.log" 2>&1 &
  fi
  pids+=($!)
  echo $!
}

if [[ $driver == sqlite ]]; then
  lock_session=file-lock
  echo "build: $build; $desired desired LRPs on $cells cells; SQLite in $work"
else
  lock_session=sql-lock
  echo "build: $build; $desired desired LRPs on $cells cells; PostgreSQL ${pg_url%%\?*};" \
    "lock_ttl $lock_ttl, lock_retry_interval $retry_interval"
fi
port_a=$(free_port)
port_b=$(free_port)
pid_a=$(start_bbs a "$port_a")
wait_for "$work/a.log" '"bbs.ready"'
start_bbs b "$port_b" >/dev/null
wait_for "$work/b.log" "\"bbs.$lock_session.waiting-for-lock\""
echo "A (pid $pid_a) active on :$port_a; B passive on :$port_b; load average $(cut -d' ' -f1-3 /proc/loadavg)"

t=$(now)
"$bench" --address 127.0.0.1:"$port_a" --desired "$desired" --cells "$cells" --trials 0 \
  >"$work/populate.txt" 2>&1 || { cat "$work/populate.txt"; exit 1; }
echo "populated in $(ms "$t" "$(now)") ms"

# Load: the bench's own workload (re-desires, claims, starts, then cell loops, list syncs and
# event subscribers) against the active, until the active dies under it.
"$bench" --address 127.0.0.1:"$port_a" --desired "$desired" --cells "$cells" --trials 1 \
  --cycle-seconds 600 >"$work/load.txt" 2>&1 &
load_pid=$!
pids+=($load_pid)
sleep "$load_seconds"

echo "load average before the kill: $(cut -d' ' -f1-3 /proc/loadavg)"
killed=$(now)
kill -9 "$pid_a"
until [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port_b/v1/ping" \
          2>/dev/null) == 200 ]]; do
  sleep 0.005
done
serving=$(now)
kill "$load_pid" 2>/dev/null || true

wait_for "$work/b.log" '"bbs.start-up-durations"'
acquired=$(stamp "$work/b.log" "\"bbs.$lock_session.acquired-lock\"")
ready=$(stamp "$work/b.log" '"bbs.ready"')
loaded=$(grep -m1 '"bbs.state.loaded"' "$work/b.log")
durations=$(grep -m1 '"bbs.start-up-durations"' "$work/b.log")
migrations=$(grep -m1 '"bbs.migration-manager.finished-migrations"' "$work/b.log" || echo '{}')
encryption=$(grep -m1 '"bbs.encryptor.encryption-finished"' "$work/b.log" || echo '{}')

echo
echo "kill -9 of the active -> passive holds the lock  : $(ms "$killed" "$acquired") ms"
echo "lock -> passive ready (loaded, serving)           : $(ms "$acquired" "$ready") ms"
echo "ready -> first 200 on /v1/ping seen by a client   : $(ms "$ready" "$serving") ms"
echo "total: kill -9 -> passive serves                  : $(ms "$killed" "$serving") ms"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "passive start-up after the lock (ms):"
python3 - "$durations" "$loaded" "$migrations" "$encryption" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["data"]
m = json.loads(sys.argv[3]).get("data", {})
e = json.loads(sys.argv[4]).get("data", {})
if "MigrationDuration" in m:
    print(f"  {'migrations':<18} {m['MigrationDuration'] / 1e6:10.1f}   (part of open_store)")
if "EncryptionDuration" in e:
    print(f"  {'encryptor':<18} {e['EncryptionDuration'] / 1e6:10.1f}   (part of open_store)")
for k in ["open_store_ms", "wire_and_listen_ms", "load_ms", "load_read_store_ms",
          "load_build_model_ms", "start_serving_ms", "total_ms"]:
    print(f"  {k[:-3]:<18} {d.get(k, float('nan')):10.1f}")
print("  loaded:", json.loads(sys.argv[2])["data"])
PY
