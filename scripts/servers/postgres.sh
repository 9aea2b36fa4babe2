#!/usr/bin/env bash
# A private PostgreSQL server for tests, on a free loopback port inside DIR.
#   postgres.sh start DIR   init + start, wait until ready, print `export BBS_TEST_POSTGRES_URL=...`
#   postgres.sh stop DIR    stop it (DIR is left for the caller to remove)
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A loopback port nothing answers on (bash only: no python in minimal images).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U bbs --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    # A port that looked free can still be taken (e.g. a client's ephemeral port): when the
    # server fails to start, try again on another one.
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      echo "$port" >"$dir/port"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null; then
        break
      fi
      [ "$attempt" = 5 ] && { echo "postgres.sh: the server did not start, see $dir/log" >&2; exit 1; }
    done
    echo "export BBS_TEST_POSTGRES_URL='postgres://bbs@127.0.0.1:$port/postgres?sslmode=disable'"
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
