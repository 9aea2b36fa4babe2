#!/usr/bin/env bash
# A private MariaDB server for tests, on a free loopback port inside DIR.
#   mariadb.sh start DIR   init + start, wait until ready, create user bbs and database bbs,
#                          print `export BBS_TEST_MYSQL_URL=...`
#   mariadb.sh stop DIR    stop it (DIR is left for the caller to remove)
set -euo pipefail

cmd=${1:?usage: mariadb.sh start|stop DIR}
dir=${2:?usage: mariadb.sh start|stop DIR}
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
  { echo "mariadb.sh: MariaDB is not installed (apt-get install mariadb-server)" >&2; exit 1; }
server=$(command -v mariadbd || echo /usr/sbin/mariadbd)

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
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --auth-root-authentication-method=socket \
      >"$dir/install.log" 2>&1
    # A port that looked free can still be taken (e.g. a client's ephemeral port): when the
    # server exits at start-up, try again on another one.
    for _attempt in 1 2 3 4 5; do
      port=$(free_port)
      echo "$port" >"$dir/port"
      "$server" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
        --socket="$dir/s" --pid-file="$dir/pid" --user=root --innodb-flush-log-at-trx-commit=2 \
        --skip-log-bin --max-connections=500 >"$dir/log" 2>&1 &
      pid=$!
      ready=0
      for _ in $(seq 1 300); do
        if mariadb --no-defaults -uroot -S "$dir/s" -e 'select 1' >/dev/null 2>&1; then
          ready=1
          break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      [ "$ready" = 1 ] && break
    done
    mariadb --no-defaults -uroot -S "$dir/s" -e "
      CREATE USER 'bbs'@'127.0.0.1' IDENTIFIED BY 'pw';
      GRANT ALL ON *.* TO 'bbs'@'127.0.0.1';
      CREATE DATABASE bbs;"
    echo "export BBS_TEST_MYSQL_URL='bbs:pw@tcp(127.0.0.1:$port)/bbs'"
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    if [ -S "$dir/s" ]; then
      mariadb-admin --no-defaults -uroot -S "$dir/s" shutdown >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: mariadb.sh start|stop DIR" >&2
    exit 2
    ;;
esac
